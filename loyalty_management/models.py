"""The loyalty ledger: programs and tiers, accounts with cached balances, the append-only
transaction ledger, and the lots that say which credit each debit consumed.

Balances, all in whole points:

- `LoyaltyTransaction` rows are never updated or deleted. The sum of an account's `points` is
  its balance, `available_points + pending_points`.
- Every credit (earned, bonus, cashback, released, positive adjustment) opens one `LoyaltyLot`
  that keeps what remains of it, when it becomes available and when it expires. Every debit
  (redeemed, held, expired, reversed, cashback reversed, negative adjustment) records the lots it
  consumed in `LoyaltyLotConsumption`. A redemption request holds its points (`held`); a request
  given back releases them (`released`, a lot expiring when the held lots would have).
- `pending_points` is what remains of the lots still pending. A debit that no lot covers
  (points already spent before a refund) leaves the account negative; the next lot that becomes
  available settles that debt first, recorded as a consumption of the debit, so a lot is never
  spent twice and `available_points` equals what remains of available lots less the debt.
- The cached balances on `LoyaltyAccount` change only in the transaction that writes the
  ledger rows, under a row lock on the account (`loyalty_management.services.ledger`).
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from core.models import TimeStampedModel
from core.money import MoneyField


class LoyaltyProgram(TimeStampedModel):
    """One program per brand: how points are earned, when they become available and expire."""

    class ExpiryPolicy(models.TextChoices):
        NEVER = "never", "Never"
        AFTER_DAYS = "after_days", "N days after earning"

    class TierBasis(models.TextChoices):
        POINTS = "points", "Points earned in the window"
        SPEND = "spend", "Amount spent in the window"

    brand = models.OneToOneField(
        "brands.Brand", on_delete=models.PROTECT, related_name="loyalty_program"
    )
    name = models.CharField(max_length=120)
    is_active = models.BooleanField(default=True)
    points_per_unit = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        default=Decimal("1.00"),
        help_text="Points earned per `unit_amount` paid, rounded down per order.",
    )
    unit_amount = MoneyField(
        default=Decimal("1.00"), help_text="The amount of the brand's currency one unit is."
    )
    minimum_order_amount = MoneyField(
        default=Decimal("0.00"), help_text="Orders paying less earn nothing."
    )
    pending_days = models.PositiveIntegerField(
        default=0, help_text="Points stay pending this many days (the return window); 0: none."
    )
    expiry_policy = models.CharField(
        max_length=16, choices=ExpiryPolicy.choices, default=ExpiryPolicy.NEVER
    )
    expiry_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="With the `after_days` policy: days after earning."
    )
    cashback_points_per_unit = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=(
            "Points credited per unit amount of cashback, rounded down per order. Empty: the "
            "earning rate (points per unit)."
        ),
    )
    tier_basis = models.CharField(max_length=8, choices=TierBasis.choices, default=TierBasis.POINTS)
    tier_window_months = models.PositiveIntegerField(
        default=12, help_text="The rolling window tiers qualify over."
    )

    class Meta:
        ordering = ["brand__name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(points_per_unit__gt=0) & Q(unit_amount__gt=0),
                name="loyalty_program_earn_rate_positive",
                violation_error_message="Points per unit and the unit amount must be above 0.",
            ),
            models.CheckConstraint(
                condition=Q(expiry_policy="never", expiry_days__isnull=True)
                | Q(expiry_policy="after_days", expiry_days__isnull=False, expiry_days__gt=0),
                name="loyalty_program_expiry_days_match_policy",
                violation_error_message=(
                    "Give expiry days (above 0) with the after-days policy, and none without it."
                ),
            ),
            models.CheckConstraint(
                condition=Q(cashback_points_per_unit__isnull=True)
                | Q(cashback_points_per_unit__gt=0),
                name="loyalty_program_cashback_rate_positive",
                violation_error_message="Cashback points per unit must be above 0, or empty.",
            ),
            models.CheckConstraint(
                condition=Q(tier_window_months__gt=0),
                name="loyalty_program_tier_window_positive",
                violation_error_message="The tier window is at least 1 month.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Tier(models.Model):
    program = models.ForeignKey(LoyaltyProgram, on_delete=models.CASCADE, related_name="tiers")
    name = models.CharField(max_length=80)
    position = models.PositiveIntegerField(help_text="Order of the tiers, lowest first.")
    threshold = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        default=Decimal("0.00"),
        help_text="Points earned, or amount spent, in the program's window to qualify.",
    )
    multiplier = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("1.00"), help_text="Earn multiplier."
    )
    benefits = models.TextField(blank=True)

    class Meta:
        ordering = ["program", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "position"], name="loyalty_tier_position_unique"
            ),
            models.UniqueConstraint(fields=["program", "name"], name="loyalty_tier_name_unique"),
            models.CheckConstraint(
                condition=Q(multiplier__gt=0) & Q(threshold__gte=0),
                name="loyalty_tier_multiplier_positive",
                violation_error_message=(
                    "A tier's multiplier is above 0 and its threshold not negative."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class LoyaltyAccount(TimeStampedModel):
    """A customer in a program. The balances are a cache of the ledger (see the module doc)."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="loyalty_accounts"
    )
    program = models.ForeignKey(LoyaltyProgram, on_delete=models.PROTECT, related_name="accounts")
    available_points = models.BigIntegerField(
        default=0, help_text="Spendable; negative after a refund of points already spent."
    )
    pending_points = models.BigIntegerField(default=0)
    lifetime_points = models.BigIntegerField(
        default=0, help_text="Earned and bonus points, less what refunds reversed."
    )
    tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="accounts"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "program"], name="loyalty_account_unique_per_program"
            ),
            models.CheckConstraint(
                condition=Q(pending_points__gte=0) & Q(lifetime_points__gte=0),
                name="loyalty_account_pending_lifetime_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer} in {self.program}"

    @property
    def balance(self) -> int:
        return self.available_points + self.pending_points


class LoyaltyTierPeriod(models.Model):
    """A dated tier record: the account held `tier` from `started_at` until `ended_at`."""

    account = models.ForeignKey(
        LoyaltyAccount, on_delete=models.PROTECT, related_name="tier_periods"
    )
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=255)

    class Meta:
        ordering = ["account", "started_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(ended_at__isnull=True),
                name="loyalty_tier_period_one_open_per_account",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="loyalty_tier_period_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.tier} from {self.started_at:%Y-%m-%d}"


class LoyaltyTransaction(models.Model):
    """The append-only ledger. Credits are positive, debits negative."""

    class Kind(models.TextChoices):
        EARNED = "earned", "Earned"
        REDEEMED = "redeemed", "Redeemed"
        EXPIRED = "expired", "Expired"
        REVERSED = "reversed", "Reversed"
        ADJUSTED = "adjusted", "Adjusted"
        BONUS = "bonus", "Bonus"
        CASHBACK = "cashback", "Cashback"
        CASHBACK_REVERSED = "cashback_reversed", "Cashback reversed"
        HELD = "held", "Held for a redemption"
        RELEASED = "released", "Released from a redemption"

    account = models.ForeignKey(
        LoyaltyAccount, on_delete=models.PROTECT, related_name="transactions"
    )
    kind = models.CharField(max_length=24, choices=Kind.choices)
    points = models.BigIntegerField()
    order = models.ForeignKey(
        "orders.Order",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="loyalty_transactions",
    )
    idempotency_key = models.CharField(max_length=160, unique=True)
    reason = models.CharField(max_length=255, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who made a manual adjustment.",
    )
    multiplier = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True, help_text="Tier multiplier used."
    )
    rule = models.JSONField(
        default=dict, blank=True, help_text="The earning rule of the time (program snapshot)."
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "-created_at"], name="loyalty_tx_account")]
        constraints = [
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(kind="earned"),
                name="loyalty_tx_one_earned_per_order",
            ),
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(kind="cashback"),
                name="loyalty_tx_one_cashback_per_order",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["earned", "bonus", "cashback", "released"], points__gt=0)
                | Q(
                    kind__in=["redeemed", "expired", "reversed", "cashback_reversed", "held"],
                    points__lt=0,
                )
                | Q(kind="adjusted"),
                name="loyalty_tx_points_sign_matches_kind",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["earned", "reversed", "cashback", "cashback_reversed"])
                | Q(order__isnull=False),
                name="loyalty_tx_order_kinds_have_order",
            ),
            models.CheckConstraint(
                condition=~Q(kind="adjusted") | ~Q(reason=""),
                name="loyalty_tx_adjustment_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.points:+d} ({self.account_id})"


class LoyaltyLot(models.Model):
    """What remains of one credit. Only `remaining_points`, `is_pending` and
    `expiry_notified_at` change, under the account's lock."""

    credit = models.OneToOneField(LoyaltyTransaction, on_delete=models.PROTECT, related_name="lot")
    account = models.ForeignKey(LoyaltyAccount, on_delete=models.PROTECT, related_name="lots")
    points = models.BigIntegerField()
    remaining_points = models.BigIntegerField()
    is_pending = models.BooleanField(default=False)
    available_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    expiry_notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["account", "created_at", "id"]
        indexes = [
            models.Index(
                fields=["account", "expires_at", "created_at"],
                condition=Q(remaining_points__gt=0),
                name="loyalty_lot_spendable",
            ),
            models.Index(
                fields=["expires_at"],
                condition=Q(remaining_points__gt=0),
                name="loyalty_lot_to_expire",
            ),
            models.Index(
                fields=["available_at"], condition=Q(is_pending=True), name="loyalty_lot_pending"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(points__gt=0)
                & Q(remaining_points__gte=0)
                & Q(remaining_points__lte=F("points")),
                name="loyalty_lot_remaining_within_points",
            ),
        ]

    def __str__(self) -> str:
        return f"Lot {self.pk}: {self.remaining_points}/{self.points}"


class LoyaltyLotConsumption(models.Model):
    """`points` of `lot` consumed by the debit transaction `debit`."""

    debit = models.ForeignKey(
        LoyaltyTransaction, on_delete=models.PROTECT, related_name="consumptions"
    )
    lot = models.ForeignKey(LoyaltyLot, on_delete=models.PROTECT, related_name="consumptions")
    points = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(points__gt=0), name="loyalty_lot_consumption_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.points} of lot {self.lot_id} by {self.debit_id}"


class LoyaltyAdjustment(models.Model):
    """A manual adjustment asked for by staff. Within the limits of the requester's role
    (`brands.roles.ADJUSTMENT_LIMITS`) it is approved at once; above them it waits, pending,
    until a brand admin approves it (then it goes through the ledger) or rejects it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    account = models.ForeignKey(
        LoyaltyAccount, on_delete=models.PROTECT, related_name="adjustments"
    )
    points = models.BigIntegerField(help_text="Positive credits, negative debits.")
    reason = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=Status.choices, db_index=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who approved or rejected it; empty when it was within the requester's limits.",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    transaction = models.OneToOneField(
        LoyaltyTransaction,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="adjustment",
    )
    idempotency_key = models.CharField(max_length=160, unique=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("approve_loyaltyadjustment", "Can approve or reject point adjustments")]
        indexes = [
            models.Index(fields=["requested_by", "created_at"], name="loyalty_adj_requester_day")
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(points=0), name="loyalty_adj_points_not_zero"),
            models.CheckConstraint(condition=~Q(reason=""), name="loyalty_adj_has_reason"),
            models.CheckConstraint(
                condition=Q(status="approved", transaction__isnull=False)
                | (~Q(status="approved") & Q(transaction__isnull=True)),
                name="loyalty_adj_approved_has_transaction",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.points:+d} points ({self.get_status_display()})"


class BadgeDefinition(TimeStampedModel):
    """A badge a brand's customers can earn: by a count of paid orders, a lifetime spend, a
    number of different stores, a tier reached, or by hand (a rule action or staff)."""

    class Kind(models.TextChoices):
        ORDER_COUNT = "order_count", "A number of paid orders"
        LIFETIME_SPEND = "lifetime_spend", "A lifetime spend"
        STORE_COUNT = "store_count", "A number of different stores"
        TIER = "tier", "A tier reached"
        MANUAL = "manual", "Awarded by a rule or by staff"

    brand = models.ForeignKey("brands.Brand", on_delete=models.PROTECT, related_name="badges")
    name = models.CharField(max_length=80)
    description = models.TextField(blank=True)
    icon = models.CharField(
        max_length=40,
        blank=True,
        validators=[
            RegexValidator(
                r"^[a-z0-9][a-z0-9-]*$",
                "Use lower-case letters, digits and dashes, for example star or gold-medal.",
            )
        ],
        help_text="Name of the icon shown with the badge, e.g. star.",
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    order_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="Paid orders needed (kind: paid orders)."
    )
    store_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="Different stores needed (kind: different stores)."
    )
    spend_amount = MoneyField(
        null=True, blank=True, help_text="Spend needed, net of refunds (kind: lifetime spend)."
    )
    tier = models.ForeignKey(
        Tier,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="badges",
        help_text="The tier to reach, or any above it (kind: tier reached).",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["brand", "name"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "name"], name="loyalty_badge_name_unique"),
            models.CheckConstraint(
                condition=(
                    Q(
                        kind="order_count",
                        order_count__isnull=False,
                        order_count__gt=0,
                        store_count__isnull=True,
                        spend_amount__isnull=True,
                        tier__isnull=True,
                    )
                    | Q(
                        kind="store_count",
                        store_count__isnull=False,
                        store_count__gt=0,
                        order_count__isnull=True,
                        spend_amount__isnull=True,
                        tier__isnull=True,
                    )
                    | Q(
                        kind="lifetime_spend",
                        spend_amount__isnull=False,
                        spend_amount__gt=0,
                        order_count__isnull=True,
                        store_count__isnull=True,
                        tier__isnull=True,
                    )
                    | Q(
                        kind="tier",
                        tier__isnull=False,
                        order_count__isnull=True,
                        store_count__isnull=True,
                        spend_amount__isnull=True,
                    )
                    | Q(
                        kind="manual",
                        order_count__isnull=True,
                        store_count__isnull=True,
                        spend_amount__isnull=True,
                        tier__isnull=True,
                    )
                ),
                name="loyalty_badge_threshold_matches_kind",
                violation_error_message=(
                    "Give the one threshold the badge's kind needs (above 0), and no other."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CustomerBadge(models.Model):
    """A badge a customer earned: once, whatever delivered it (unique customer and badge).
    Never taken back, not even when the orders that earned it are refunded."""

    class Source(models.TextChoices):
        ORDER = "order", "A paid order"
        TIER = "tier", "A tier change"
        SWEEP = "sweep", "The daily review"
        RULE = "rule", "A rule"
        STAFF = "staff", "Staff"

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="badges"
    )
    badge = models.ForeignKey(BadgeDefinition, on_delete=models.PROTECT, related_name="awards")
    awarded_at = models.DateTimeField(default=timezone.now, db_index=True)
    source = models.CharField(max_length=8, choices=Source.choices)
    order = models.ForeignKey(
        "orders.Order", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    rule = models.ForeignKey(
        "rules.Rule", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    awarded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The staff member who awarded it by hand.",
    )
    note = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-awarded_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "badge"],
                name="loyalty_customer_badge_once",
                violation_error_message="The customer already has this badge.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.badge} for {self.customer_id}"


# --- Points catalogue and redemptions ----------------------------------------------------------


class RedemptionCategory(TimeStampedModel):
    """A shelf of a brand's points catalogue."""

    brand = models.ForeignKey(
        "brands.Brand", on_delete=models.PROTECT, related_name="redemption_categories"
    )
    name = models.CharField(max_length=80)
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0, help_text="Order in the catalogue.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["brand", "position", "name"]
        verbose_name_plural = "redemption categories"
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "name"],
                name="loyalty_redemption_category_name_unique",
                violation_error_message="The brand already has a category with this name.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


# What an item that gives no code leaves empty, and what a code item leaves empty besides its
# own field (`_code_fields(field)`); every code item has its days of validity.
_NO_CODE = {
    "discount_amount__isnull": True,
    "discount_percentage__isnull": True,
    "product__isnull": True,
    "code_valid_days__isnull": True,
}


def _code_fields(own: str) -> dict:
    return {
        **{key: True for key in _NO_CODE if not key.startswith(own + "__")},
        "wallet_amount__isnull": True,
        "code_valid_days__isnull": False,
        "code_valid_days__gt": 0,
    }


class RedemptionItem(TimeStampedModel):
    """Something a customer can spend points on. Stock moves only by conditional updates in
    `loyalty_management.services.redemptions` (reserved on request, given back on release)."""

    class Kind(models.TextChoices):
        WALLET_CREDIT = "wallet_credit", "Wallet credit"
        PHYSICAL = "physical", "A physical item fulfilled by hand"
        DISCOUNT_AMOUNT = "discount_amount", "A discount code of an amount"
        DISCOUNT_PERCENTAGE = "discount_percentage", "A discount code of a percentage"
        FREE_PRODUCT = "free_product", "A code for one product free"

    brand = models.ForeignKey(
        "brands.Brand", on_delete=models.PROTECT, related_name="redemption_items"
    )
    category = models.ForeignKey(
        RedemptionCategory,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="items",
    )
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    image_url = models.URLField(blank=True, help_text="Optional picture shown in the catalogue.")
    points_cost = models.PositiveIntegerField(help_text="Points a customer spends on one.")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    wallet_amount = MoneyField(
        null=True, blank=True, help_text="Amount credited to the wallet (kind: wallet credit)."
    )
    discount_amount = MoneyField(
        null=True, blank=True, help_text="What the code takes off an order (kind: discount code)."
    )
    discount_percentage = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Percentage the code takes off an order (kind: percentage code).",
    )
    product = models.ForeignKey(
        "catalog.Product",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The product one unit of which the code makes free (kind: free product).",
    )
    code_valid_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Days the code stays valid once issued (codes only)."
    )
    stock = models.PositiveIntegerField(
        null=True, blank=True, help_text="Units left; empty means unlimited."
    )
    limit_per_customer = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most a customer may ever redeem; empty: no limit."
    )
    limit_per_period = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most a customer may redeem within the period."
    )
    period_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Length of that period in days."
    )
    minimum_tier = models.ForeignKey(
        Tier,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="redemption_items",
        help_text="Customers below this tier cannot redeem it.",
    )
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    auto_approve = models.BooleanField(
        default=True, help_text="Approve requests at once; otherwise they wait for staff."
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["brand", "points_cost", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "name"],
                name="loyalty_redemption_item_name_unique",
                violation_error_message="The brand already has an item with this name.",
            ),
            models.CheckConstraint(
                condition=Q(points_cost__gt=0),
                name="loyalty_redemption_item_cost_positive",
                violation_error_message="An item costs at least 1 point.",
            ),
            models.CheckConstraint(
                condition=Q(
                    kind="wallet_credit",
                    wallet_amount__isnull=False,
                    wallet_amount__gt=0,
                    **_NO_CODE,
                )
                | Q(kind="physical", wallet_amount__isnull=True, **_NO_CODE)
                | Q(
                    kind="discount_amount",
                    discount_amount__isnull=False,
                    discount_amount__gt=0,
                    **_code_fields("discount_amount"),
                )
                | Q(
                    kind="discount_percentage",
                    discount_percentage__isnull=False,
                    discount_percentage__gt=0,
                    discount_percentage__lte=100,
                    **_code_fields("discount_percentage"),
                )
                | Q(kind="free_product", product__isnull=False, **_code_fields("product")),
                name="loyalty_redemption_item_fields_match_kind",
                violation_error_message=(
                    "Wallet credit needs an amount above 0. A discount code needs its amount, a "
                    "percentage code a percentage between 0 and 100, a free product code its "
                    "product, and every code the days it stays valid. A physical item has none "
                    "of these."
                ),
            ),
            models.CheckConstraint(
                condition=Q(limit_per_period__isnull=True, period_days__isnull=True)
                | Q(
                    limit_per_period__isnull=False,
                    limit_per_period__gt=0,
                    period_days__isnull=False,
                    period_days__gt=0,
                ),
                name="loyalty_redemption_item_period_limit_complete",
                violation_error_message="A limit per period needs both the limit and the days.",
            ),
            models.CheckConstraint(
                condition=Q(limit_per_customer__isnull=True) | Q(limit_per_customer__gt=0),
                name="loyalty_redemption_item_customer_limit_positive",
                violation_error_message="The limit per customer is at least 1, or empty.",
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_until__gt=F("valid_from")),
                name="loyalty_redemption_item_window_ordered",
                violation_error_message="The end of the validity window is after its start.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RedemptionRequest(TimeStampedModel):
    """A customer spending points on an item. The points are held on the ledger (`held`) when
    it is made, kept on approval and given back (`released`) when it is rejected, cancelled or
    expires; one unit of stock is reserved and given back the same way."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Waiting for approval"
        APPROVED = "approved", "Approved"
        FULFILLED = "fulfilled", "Fulfilled"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"

    class Fulfilment(models.TextChoices):
        NONE = "", "Nothing to send"
        TO_SEND = "to_send", "To send"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"

    brand = models.ForeignKey(
        "brands.Brand", on_delete=models.PROTECT, related_name="redemption_requests"
    )
    item = models.ForeignKey(RedemptionItem, on_delete=models.PROTECT, related_name="requests")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="redemption_requests"
    )
    account = models.ForeignKey(
        LoyaltyAccount, on_delete=models.PROTECT, related_name="redemption_requests"
    )
    points = models.PositiveIntegerField()
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.REQUESTED, db_index=True
    )
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)
    hold = models.OneToOneField(
        LoyaltyTransaction, on_delete=models.PROTECT, related_name="redemption_hold"
    )
    release = models.OneToOneField(
        LoyaltyTransaction,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="redemption_release",
    )
    stock_reserved = models.BooleanField(default=False)
    wallet_transaction = models.ForeignKey(
        "wallets.WalletTransaction",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    reward = models.OneToOneField(
        "rewards.CustomerReward",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="redemption",
        help_text="The code issued for a discount or free product item.",
    )
    reason = models.CharField(max_length=255, blank=True, help_text="Why it was rejected.")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    fulfilment_status = models.CharField(
        max_length=12, choices=Fulfilment.choices, default=Fulfilment.NONE, blank=True
    )
    fulfilment_note = models.CharField(max_length=255, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="loyalty_redemption_idempotency_key_unique",
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(reason=""),
                name="loyalty_redemption_rejection_has_reason",
                violation_error_message="A rejection needs a reason.",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["rejected", "cancelled", "expired"])
                | Q(release__isnull=False),
                name="loyalty_redemption_closed_released",
                violation_error_message="A closed request gives its points back.",
            ),
        ]
        indexes = [
            models.Index(fields=["item", "customer", "status"], name="loyalty_redemption_item"),
        ]

    def __str__(self) -> str:
        return f"{self.item} for {self.customer_id} ({self.status})"
