"""Cashback driven by orders: credited when an order is paid, as loyalty points or as credit
in the customer's wallet at the brand (each promotion says which, `Promotion.cashback_to`),
taken back in proportion on refunds and in full on a cancellation, and a reconciliation sweep
for work whose task was lost.

What an order earns as cashback is what the promotion engine reported when it was priced: the
order's `OrderPromotion` rows of kind `cashback` (their sum is `Order.cashback_total`). Where it
goes is read from each row's promotion when the order is paid (the engines do not know); a
row whose promotion was deleted goes to points. An order with several cashback promotions
splits them by target.

Points: the program's `cashback_points_per_unit` points per `unit_amount` of the points part
(empty: its earning rate `points_per_unit`), rounded down once per order, without the tier
multiplier (the promotion already set how much is given back). The credit is pending for the
program's `pending_days`, like the points the order earned. One `cashback` transaction per
order (a partial unique constraint, and the idempotency key `cashback:order:<id>`); reversals
are cumulative `cashback_reversed` transactions keyed by the total they bring the order to.
Points already spent take the account below zero, as for earned points.

Wallet: one `credit` per order and promotion, keyed `cashback:wallet:order:<id>:promotion:<id>`,
available at once. Refunds take back the refunded share of what was credited (rounded down to
the cent; all of it after a full refund or a cancellation) with cumulative claw-back steps
(`wallets.services.wallet_claw_back`) keyed by the total they bring the order to. A wallet
never goes below zero: a step takes what the wallet holds, and what the customer already spent
is recorded on the step as not recovered and is not asked again.

Exactly once: a duplicate delivery finds its key and does nothing. Each service locks the order
row first, then the loyalty account, then the wallet (the lock order of points awards and
redemptions).
"""

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from loyalty_management.lock_objects import account_lock
from loyalty_management.models import LoyaltyProgram, LoyaltyTransaction
from loyalty_management.services.earning import points_for_amount
from loyalty_management.services.ledger import account_get_or_create, ledger_credit
from marketing.services import (
    EARNING_STATUSES,
    FULLY_REVERSED_STATUSES,
    REVERSAL_STATUSES,
    _order_lock,
    points_reverse_up_to,
)
from orders.models import Order, OrderPromotion
from promotions.models import Promotion
from wallets.models import WalletClawback, WalletTransaction
from wallets.selectors import wallet_clawed_back_total, wallet_credits_for_order
from wallets.services import wallet_claw_back, wallet_credit

logger = logging.getLogger(__name__)

PS = Order.PaymentStatus
Kind = LoyaltyTransaction.Kind
To = Promotion.CashbackTo
NO_MULTIPLIER = Decimal("1.00")
CENT = Decimal("0.01")
CLAWBACK_CAUSE = WalletClawback.Cause.CASHBACK


def cashback_idempotency_key(order_id: int) -> str:
    return f"cashback:order:{order_id}"


def cashback_wallet_key_prefix(order_id: int) -> str:
    return f"cashback:wallet:order:{order_id}:"


def cashback_wallet_idempotency_key(order_id: int, promotion_id: int) -> str:
    return f"{cashback_wallet_key_prefix(order_id)}promotion:{promotion_id}"


def cashback_rate(program: LoyaltyProgram) -> Decimal:
    """Points per `unit_amount` of cashback: the program's cashback rate, or its earning rate."""
    return program.cashback_points_per_unit or program.points_per_unit


@dataclass(frozen=True)
class CashbackRows:
    """The cashback an order's promotions give, one row per promotion, split by target."""

    points: list[OrderPromotion]
    wallet: list[OrderPromotion]


def _cashback_rows(order: Order) -> CashbackRows:
    rows = (
        order.applied_promotions.filter(kind=OrderPromotion.Kind.CASHBACK, amount__gt=0)
        .annotate(cashback_to=F("promotion__cashback_to"))
        .order_by("id")
    )
    split = CashbackRows(points=[], wallet=[])
    for row in rows:
        (split.wallet if row.cashback_to == To.WALLET else split.points).append(row)
    return split


@dataclass(frozen=True)
class CashbackCredited:
    """What `cashback_credit` credited (or found credited): the points transaction and the
    wallet credits, one per wallet promotion."""

    points: LoyaltyTransaction | None
    wallet: tuple[WalletTransaction, ...]


@dataclass(frozen=True)
class CashbackReversed:
    """What one `cashback_reverse` took back: a points reversal and a wallet claw-back step."""

    points: LoyaltyTransaction | None
    wallet: WalletClawback | None


def cashback_reversal_target(*, credited_points: int, order: Order) -> int:
    """How many of the cashback points an order was credited its refunds and cancellation take
    back in all: everything after a full refund or a cancellation; after partial refunds the
    refunded share of the total, rounded down, so it only grows with `refunded_amount` and
    never exceeds what was credited."""
    if order.payment_status in FULLY_REVERSED_STATUSES:
        return credited_points
    total = int(order.total * 100)
    if order.payment_status != PS.PARTIALLY_REFUNDED or total <= 0:
        return 0
    refunded = min(int(order.refunded_amount * 100), total)
    return credited_points * refunded // total


def cashback_wallet_reversal_target(*, credited: Decimal, order: Order) -> Decimal:
    """How much of the wallet cashback an order was credited its refunds and cancellation take
    back in all: the rule of `cashback_reversal_target` in money, rounded down to the cent."""
    if order.payment_status in FULLY_REVERSED_STATUSES:
        return credited
    if order.payment_status != PS.PARTIALLY_REFUNDED or order.total <= 0:
        return Decimal("0.00")
    refunded = min(order.refunded_amount, order.total)
    return (credited * refunded / order.total).quantize(CENT, rounding=ROUND_DOWN)


def _reverse_locked(order: Order, credit: LoyaltyTransaction) -> LoyaltyTransaction | None:
    return points_reverse_up_to(
        order=order,
        credit=credit,
        kind=Kind.CASHBACK_REVERSED,
        target=cashback_reversal_target(credited_points=credit.points, order=order),
        credit_name="cashback",
    )


def _reverse_wallet_locked(order: Order) -> WalletClawback | None:
    """Take back from the wallet up to the target for the order's refunds, counting the
    earlier steps (what they took and what they could not): cumulative, keyed by the target."""
    credits = wallet_credits_for_order(
        order_id=order.pk, key_prefix=cashback_wallet_key_prefix(order.pk)
    )
    if not credits:
        return None
    credited = sum((row.amount for row in credits), Decimal("0.00"))
    target = cashback_wallet_reversal_target(credited=credited, order=order)
    owed = target - wallet_clawed_back_total(order_id=order.pk, cause=CLAWBACK_CAUSE)
    if owed <= 0:
        return None
    step = wallet_claw_back(
        wallet_id=credits[0].wallet_id,
        order=order,
        owed=owed,
        cause=CLAWBACK_CAUSE,
        idempotency_key=f"cashback:wallet:reversed:order:{order.pk}:upto:{target}",
        reason=f"Cashback of order {order.pk} taken back: order {order.payment_status}.",
    )
    logger.info(
        "Cashback: order %s took %s back from wallet %s (%s not recovered).",
        order.pk,
        step.taken,
        step.wallet_id,
        step.not_recovered,
    )
    return step


def _credit_points(order: Order, rows: list[OrderPromotion]) -> LoyaltyTransaction | None:
    amount = sum((row.amount for row in rows), Decimal("0.00"))
    program = LoyaltyProgram.objects.filter(brand_id=order.brand_id, is_active=True).first()
    if program is None:
        logger.info("Cashback: brand %s has no program (order %s).", order.brand_id, order.pk)
        return None
    account = account_lock(
        account_id=account_get_or_create(customer=order.customer, program=program).pk
    )
    existing = LoyaltyTransaction.objects.filter(order=order, kind=Kind.CASHBACK).first()
    if existing is not None:
        return existing
    rate = cashback_rate(program)
    points = points_for_amount(
        amount=amount,
        points_per_unit=rate,
        unit_amount=program.unit_amount,
        multiplier=NO_MULTIPLIER,
    )
    if points <= 0:
        logger.info("Cashback: order %s gives %s back, which is no point.", order.pk, amount)
        return None
    write = ledger_credit(
        account_id=account.pk,
        kind=Kind.CASHBACK,
        points=points,
        idempotency_key=cashback_idempotency_key(order.pk),
        order=order,
        reason=f"Cashback on order {order.pk}.",
        rule={
            "cashback_amount": str(amount),
            "cashback_points_per_unit": str(rate),
            "unit_amount": str(program.unit_amount),
            "promotions": [
                {
                    "promotion_id": row.promotion_id,
                    "promotion_version": row.promotion_version,
                    "name": row.name,
                    "amount": str(row.amount),
                }
                for row in rows
            ],
        },
        pending_days=program.pending_days,
    )
    if not write.created:
        return write.transaction
    logger.info("Cashback: order %s credited %s points (account %s).", order.pk, points, account.pk)
    if order.payment_status == PS.PARTIALLY_REFUNDED:
        _reverse_locked(order, write.transaction)
    return write.transaction


def _credit_wallet(order: Order, rows: list[OrderPromotion]) -> tuple[WalletTransaction, ...]:
    by_promotion: dict[int, list[OrderPromotion]] = defaultdict(list)
    for row in rows:
        by_promotion[row.promotion_id].append(row)
    credited, created = [], False
    for promotion_id, promotion_rows in by_promotion.items():
        amount = sum((row.amount for row in promotion_rows), Decimal("0.00"))
        write = wallet_credit(
            customer=order.customer,
            brand=order.brand,
            amount=amount,
            idempotency_key=cashback_wallet_idempotency_key(order.pk, promotion_id),
            reason=f"Cashback on order {order.pk}: {promotion_rows[0].name}."[:255],
            order=order,
        )
        credited.append(write.transaction)
        created = created or write.created
    if created:
        logger.info(
            "Cashback: order %s credited %s to the wallet.",
            order.pk,
            sum((row.amount for row in credited), Decimal("0.00")),
        )
        if order.payment_status == PS.PARTIALLY_REFUNDED:
            _reverse_wallet_locked(order)
    return tuple(credited)


@transaction.atomic
def cashback_credit(*, order_id: int) -> CashbackCredited | None:
    """Credit the cashback a paid order earned, once: as points for the promotions that give
    points, to the customer's wallet at the brand for those that give wallet credit.

    Idempotent: a second call returns the existing credits, whatever the promotions' targets
    say by then (where the cashback went is decided once). When the order was already partly
    refunded, the refunded share is taken back in the same transaction. Returns None, with a
    log line, when there is nothing to credit: the order is gone or not paid, has no customer
    or no cashback, or its cashback is all points and its brand has no active program or it
    rounds down to zero points.
    """
    order = _order_lock(order_id)
    if order is None:
        logger.warning("Cashback: order %s not found, nothing credited.", order_id)
        return None
    if order.payment_status not in EARNING_STATUSES:
        logger.info("Cashback: order %s is %s, not paid; skipped.", order.pk, order.payment_status)
        return None
    if order.customer is None:
        logger.info("Cashback: order %s has no customer; nothing credited.", order.pk)
        return None
    # Credited already (both parts are written in one transaction under the order's lock): the
    # same credits, even if a promotion's target was changed since.
    credited_points = LoyaltyTransaction.objects.filter(order=order, kind=Kind.CASHBACK).first()
    credited_wallet = tuple(
        wallet_credits_for_order(order_id=order.pk, key_prefix=cashback_wallet_key_prefix(order.pk))
    )
    if credited_points is not None or credited_wallet:
        return CashbackCredited(points=credited_points, wallet=credited_wallet)
    rows = _cashback_rows(order)
    points = _credit_points(order, rows.points) if rows.points else None
    wallet = _credit_wallet(order, rows.wallet) if rows.wallet else ()
    if points is None and not wallet:
        return None
    return CashbackCredited(points=points, wallet=wallet)


@transaction.atomic
def cashback_reverse(*, order_id: int) -> CashbackReversed | None:
    """Take back the cashback the order's refunds and cancellation no longer let it keep,
    points and wallet credit: cumulative, so a duplicate call does nothing and the total never
    exceeds what was credited. Returns what was taken back now, or None."""
    order = _order_lock(order_id)
    if order is None:
        logger.warning("Cashback: order %s not found, nothing reversed.", order_id)
        return None
    credit = LoyaltyTransaction.objects.filter(order=order, kind=Kind.CASHBACK).first()
    points = _reverse_locked(order, credit) if credit is not None else None
    wallet = _reverse_wallet_locked(order)
    if points is None and wallet is None:
        logger.info("Cashback: order %s has no cashback left to take back.", order.pk)
        return None
    return CashbackReversed(points=points, wallet=wallet)


@dataclass(frozen=True)
class CashbackReconcileResult:
    credited: int
    reversed: int


def cashback_reconcile(
    *,
    now: datetime | None = None,
    older_than: timedelta | None = None,
    lookback: timedelta | None = None,
) -> CashbackReconcileResult:
    """Sweep: credit paid orders with cashback, older than `older_than` (within `lookback`),
    that have no cashback credit (points or wallet), and reverse what refunded or cancelled
    orders still hold, so work whose task was lost is still done. Safe to run again or
    concurrently: both services are idempotent under the order lock."""
    now = now or timezone.now()
    if older_than is None:
        older_than = timedelta(minutes=settings.CASHBACK_RECONCILE_AFTER_MINUTES)
    if lookback is None:
        lookback = timedelta(days=settings.CASHBACK_RECONCILE_LOOKBACK_DAYS)
    cutoff, since = now - older_than, now - lookback
    credited_tx = LoyaltyTransaction.objects.filter(order=OuterRef("pk"), kind=Kind.CASHBACK)
    credited_wallet = WalletTransaction.objects.filter(
        order=OuterRef("pk"),
        kind=WalletTransaction.Kind.CREDIT,
        idempotency_key__startswith="cashback:wallet:order:",
    )
    wallet_rows = OrderPromotion.objects.filter(
        order=OuterRef("pk"),
        kind=OrderPromotion.Kind.CASHBACK,
        amount__gt=0,
        promotion__cashback_to=To.WALLET,
    )
    program = "brand__loyalty_program__"
    # Orders whose cashback rounds down to no point are not picked up again and again.
    rate = Coalesce(F(f"{program}cashback_points_per_unit"), F(f"{program}points_per_unit"))
    to_credit = (
        Order.objects.annotate(cashback_points_units=F("cashback_total") * rate)
        .filter(
            payment_status__in=EARNING_STATUSES,
            customer__isnull=False,
            cashback_total__gt=0,
        )
        .filter(
            Exists(wallet_rows)
            | Q(
                brand__loyalty_program__is_active=True,
                cashback_points_units__gte=F(f"{program}unit_amount"),
            )
        )
        .filter(
            Q(paid_at__lte=cutoff, paid_at__gte=since)
            | Q(paid_at__isnull=True, created_at__lte=cutoff, created_at__gte=since)
        )
        .exclude(Exists(credited_tx))
        .exclude(Exists(credited_wallet))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    credited = sum(
        1 for order_id in to_credit.iterator() if cashback_credit(order_id=order_id) is not None
    )
    to_reverse = (
        Order.objects.filter(
            payment_status__in=REVERSAL_STATUSES,
            updated_at__lte=cutoff,
            updated_at__gte=since,
        )
        .filter(Exists(credited_tx) | Exists(credited_wallet))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    reversed_count = sum(
        1 for order_id in to_reverse.iterator() if cashback_reverse(order_id=order_id) is not None
    )
    if credited or reversed_count:
        logger.warning(
            "Cashback reconciliation: %s orders credited, %s reversed late.",
            credited,
            reversed_count,
        )
    return CashbackReconcileResult(credited=credited, reversed=reversed_count)
