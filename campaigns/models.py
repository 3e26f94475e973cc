"""Cross-brand campaigns: a brand runs a campaign over a period with other brands; a customer
who spends enough across them (in each of N brands, or in total across M brands) gets the
campaign's reward once.

What an order counts is kept per (campaign, order) in `CampaignOrder`, so a duplicate delivery of
an order's change overwrites its own row and never counts twice; `CampaignProgress` is the
customer's summary, recomputed from those rows under a lock on itself (`campaigns.services`).
"""

from django.db import models
from django.db.models import F, Q

from core.models import TimeStampedModel
from core.money import MoneyField


class CrossBrandCampaign(TimeStampedModel):
    class Requirement(models.TextChoices):
        EACH_BRAND = "each_brand", "Spend at least an amount in each of several brands"
        TOTAL = "total", "Spend at least a total across several brands"

    class RewardKind(models.TextChoices):
        POINTS = "points", "Loyalty points (the owner brand's programme)"
        TEMPLATE = "template", "A reward of the owner brand"
        WALLET_CREDIT = "wallet_credit", "Wallet credit (the owner brand's wallet)"

    brand = models.ForeignKey(
        "brands.Brand",
        on_delete=models.PROTECT,
        related_name="owned_campaigns",
        help_text="The brand that runs the campaign and gives the reward.",
    )
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    brands = models.ManyToManyField(
        "brands.Brand",
        related_name="campaigns",
        help_text="The participating brands, the owner included: at least two, one currency.",
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    requirement = models.CharField(max_length=12, choices=Requirement.choices)
    min_spend_per_brand = MoneyField(
        null=True, blank=True, help_text="Each brand: the least spent at each counted brand."
    )
    min_total_spend = MoneyField(
        null=True, blank=True, help_text="Total: the least spent across the brands together."
    )
    min_brands = models.PositiveIntegerField(
        help_text="How many different participating brands the customer must buy at."
    )
    reward_kind = models.CharField(max_length=16, choices=RewardKind.choices)
    reward_points = models.PositiveIntegerField(null=True, blank=True)
    reward_template = models.ForeignKey(
        "rewards.RewardTemplate",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="A reward of the owner brand.",
    )
    reward_amount = MoneyField(null=True, blank=True, help_text="Wallet credit given.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "name"],
                name="campaigns_campaign_name_unique",
                violation_error_message="The brand already has a campaign with this name.",
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")),
                name="campaigns_campaign_ends_after_start",
                violation_error_message="A campaign ends after it starts.",
            ),
            models.CheckConstraint(
                condition=Q(min_brands__gte=1),
                name="campaigns_campaign_min_brands_positive",
                violation_error_message="A campaign counts at least one brand.",
            ),
            models.CheckConstraint(
                condition=Q(
                    requirement="each_brand",
                    # NULL > 0 is unknown, which a CHECK lets pass: not null, said explicitly.
                    min_spend_per_brand__isnull=False,
                    min_spend_per_brand__gt=0,
                    min_total_spend__isnull=True,
                )
                | Q(
                    requirement="total",
                    min_total_spend__isnull=False,
                    min_total_spend__gt=0,
                    min_spend_per_brand__isnull=True,
                ),
                name="campaigns_campaign_requirement_fields",
                violation_error_message=(
                    "A campaign for each brand needs the amount to spend at each brand, and a "
                    "campaign on the total needs the total to spend."
                ),
            ),
            models.CheckConstraint(
                condition=Q(
                    reward_kind="points",
                    reward_points__isnull=False,
                    reward_points__gt=0,
                    reward_template__isnull=True,
                    reward_amount__isnull=True,
                )
                | Q(
                    reward_kind="template",
                    reward_points__isnull=True,
                    reward_template__isnull=False,
                    reward_amount__isnull=True,
                )
                | Q(
                    reward_kind="wallet_credit",
                    reward_points__isnull=True,
                    reward_template__isnull=True,
                    reward_amount__isnull=False,
                    reward_amount__gt=0,
                ),
                name="campaigns_campaign_reward_fields",
                violation_error_message=(
                    "A points reward needs a number of points, a reward of the brand needs the "
                    "reward, and wallet credit needs an amount."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def reward_description(self) -> str:
        if self.reward_kind == self.RewardKind.POINTS:
            return f"{self.reward_points} points"
        if self.reward_kind == self.RewardKind.WALLET_CREDIT:
            return f"{self.reward_amount} {self.brand.currency} of wallet credit"
        return self.reward_template.name if self.reward_template_id else ""


class CampaignOrder(models.Model):
    """What one order counts towards one campaign: the money it paid, net of refunds (0 once
    refunded in full or cancelled). One row per (campaign, order)."""

    campaign = models.ForeignKey(
        CrossBrandCampaign, on_delete=models.CASCADE, related_name="orders"
    )
    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    brand = models.ForeignKey("brands.Brand", on_delete=models.CASCADE, related_name="+")
    amount = MoneyField(help_text="What the order counts: money paid less refunds.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "order"],
                name="campaigns_order_once_per_campaign",
                violation_error_message="The order already counts towards this campaign.",
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0),
                name="campaigns_order_amount_not_negative",
                violation_error_message="An order counts no less than nothing.",
            ),
        ]
        indexes = [models.Index(fields=["campaign", "customer"], name="campaigns_order_customer")]

    def __str__(self) -> str:
        return f"Order {self.order_id} counts {self.amount}"


class CampaignProgress(models.Model):
    """One customer's progress in one campaign, derived from their `CampaignOrder` rows."""

    campaign = models.ForeignKey(
        CrossBrandCampaign, on_delete=models.CASCADE, related_name="progress"
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="campaign_progress"
    )
    spend_by_brand = models.JSONField(
        default=dict, blank=True, help_text='Derived: {"<brand id>": "<amount>"}.'
    )
    total_spend = MoneyField(default=0)
    brands_counted = models.PositiveIntegerField(
        default=0, help_text="Brands where the customer spent enough to count."
    )
    is_met = models.BooleanField(default=False, help_text="The requirement is met right now.")
    completed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the requirement was first met (kept after refunds)."
    )
    reward = models.ForeignKey(
        "rewards.CustomerReward",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["campaign", "-total_spend", "pk"]
        verbose_name_plural = "campaign progress"
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "customer"],
                name="campaigns_progress_once_per_customer",
                violation_error_message="The customer already has progress in this campaign.",
            ),
        ]

    def __str__(self) -> str:
        return f"Progress of customer {self.customer_id}"
