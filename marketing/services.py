"""Loyalty points driven by orders: awarded when an order is paid, taken back on refunds and
cancellations, and a reconciliation sweep for work whose task was lost.

Each service locks the order row first, then the loyalty account (the same order as
`orders.services.payment.order_set_payment_status`, which locks only the order), so a payment
change and an award or reversal of the same order never interleave.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, Sum
from django.utils import timezone

from loyalty_management.lock_objects import account_lock
from loyalty_management.models import LoyaltyProgram, LoyaltyTransaction
from loyalty_management.services.earning import points_for_amount
from loyalty_management.services.ledger import (
    account_get_or_create,
    account_tier_evaluate,
    ledger_credit,
    ledger_debit,
    program_rule,
)
from notifications.services import NotificationService
from orders.models import Order

logger = logging.getLogger(__name__)

PS = Order.PaymentStatus
Kind = LoyaltyTransaction.Kind
EARNED_EVENT = "loyalty.points.earned"
# Payment statuses in which an order earns: paid, or paid and partly refunded (it earns on what
# the customer kept when the refund came before the award).
EARNING_STATUSES = (PS.PAID, PS.PARTIALLY_REFUNDED)
# Payment statuses after which an order keeps none, or part, of what it earned.
FULLY_REVERSED_STATUSES = (PS.REFUNDED, PS.CANCELLED)
REVERSAL_STATUSES = (PS.REFUNDED, PS.PARTIALLY_REFUNDED, PS.CANCELLED)


def _order_lock(order_id: int) -> Order | None:
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("customer", "brand")
        .filter(pk=order_id)
        .first()
    )


def order_earning_amount(order: Order) -> Decimal:
    """What earns points: what the customer paid with money after discounts (the order's
    `amount_due`, less the wallet part; orders take no loyalty points as payment), less the
    money part of what was refunded before the points were awarded.

    Refunds are shared between the tenders in proportion to what each paid (the rule of
    `wallets.services`), so the money kept is `(total - refunded) * amount_due / total`,
    rounded down to the cent; reversals stay proportional to the total as before."""
    kept = order.total - order.refunded_amount
    if not order.wallet_amount:
        return kept
    if order.total <= 0:
        return Decimal("0.00")
    return (kept * order.amount_due / order.total).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


def earned_idempotency_key(order_id: int) -> str:
    return f"earned:order:{order_id}"


@transaction.atomic
def award_loyalty_points(*, order: Order) -> LoyaltyTransaction | None:
    """Award the points a paid order earns, once: on what the customer kept, when part of it
    was refunded before the award ran.

    Idempotent: a second call (a duplicate task delivery, the reconciliation sweep) returns
    the existing `earned` transaction; the partial unique constraint on (order, earned) is the
    guarantee. Creates the customer's account on first need, applies the tier multiplier and
    records the rule used. Returns None, with a log line, when there is nothing to award: the
    order is gone or no longer paid, has no customer, its brand has no active program, the
    amount is below the program's minimum, or it rounds down to zero points.
    """
    locked = _order_lock(order.pk)
    if locked is None:
        logger.warning("Loyalty: order %s not found, no points awarded.", order.pk)
        return None
    order = locked
    if order.payment_status not in EARNING_STATUSES:
        logger.info("Loyalty: order %s is %s, not paid; skipped.", order.pk, order.payment_status)
        return None
    if order.customer is None:
        logger.info("Loyalty: order %s has no customer; no points.", order.pk)
        return None
    program = LoyaltyProgram.objects.filter(brand_id=order.brand_id, is_active=True).first()
    if program is None:
        logger.info("Loyalty: brand %s has no active program (order %s).", order.brand_id, order.pk)
        return None
    amount = order_earning_amount(order)
    if amount < program.minimum_order_amount:
        logger.info(
            "Loyalty: order %s pays %s, below the minimum %s; no points.",
            order.pk,
            amount,
            program.minimum_order_amount,
        )
        return None

    account = account_lock(
        account_id=account_get_or_create(customer=order.customer, program=program).pk
    )
    existing = LoyaltyTransaction.objects.filter(order=order, kind=Kind.EARNED).first()
    if existing is not None:
        return existing
    multiplier = account.tier.multiplier if account.tier else Decimal("1.00")
    points = points_for_amount(
        amount=amount,
        points_per_unit=program.points_per_unit,
        unit_amount=program.unit_amount,
        multiplier=multiplier,
    )
    if points <= 0:
        logger.info("Loyalty: order %s pays %s, which earns no points.", order.pk, amount)
        return None
    write = ledger_credit(
        account_id=account.pk,
        kind=Kind.EARNED,
        points=points,
        idempotency_key=earned_idempotency_key(order.pk),
        order=order,
        multiplier=multiplier,
        rule={
            **program_rule(program),
            "amount": str(amount),
            "refunded_amount": str(order.refunded_amount),
            "tier": account.tier.name if account.tier else None,
        },
        pending_days=program.pending_days,
    )
    if not write.created:
        return write.transaction
    account_tier_evaluate(account=account)
    account.refresh_from_db(fields=["available_points", "pending_points"])
    NotificationService.send_notification(
        event=EARNED_EVENT,
        payload={
            "points": points,
            "order_id": order.pk,
            "available_points": account.available_points,
            "pending_points": account.pending_points,
            "available_at": write.transaction.lot.available_at,
        },
        customer=order.customer,
        brand=order.brand,
    )
    logger.info("Loyalty: order %s earned %s points (account %s).", order.pk, points, account.pk)
    return write.transaction


def reversal_target(
    *, earned_points: int, order: Order, refunded_at_award: Decimal = Decimal("0")
) -> int:
    """How many of the points an order earned its refunds and cancellation take back in all.

    A full refund or a cancellation takes everything; a partial refund takes the share of what
    the points were earned on (the total less `refunded_at_award`, what was already refunded
    when they were awarded) that was refunded since, rounded down, so repeated partial refunds
    never take back more than was earned (the target only grows with `refunded_amount`, and
    reaches `earned_points` only when all of it is refunded)."""
    if order.payment_status in FULLY_REVERSED_STATUSES:
        return earned_points
    base = int((order.total - refunded_at_award) * 100)
    if order.payment_status != PS.PARTIALLY_REFUNDED or base <= 0:
        return 0
    refunded = int((order.refunded_amount - refunded_at_award) * 100)
    return earned_points * max(refunded, 0) // base


@transaction.atomic
def reverse_loyalty_points(*, order: Order) -> LoyaltyTransaction | None:
    """Take back what the order's refunds and cancellation no longer let it keep.

    Cumulative: reverses the difference between the target for the order's current refunded
    amount and what was already reversed, so a duplicate call does nothing. The order's own
    lot is consumed first (pending points are simply cancelled); if the points were already
    spent, the account goes negative. Returns the new `reversed` transaction, or None.
    """
    locked = _order_lock(order.pk)
    if locked is None:
        logger.warning("Loyalty: order %s not found, nothing reversed.", order.pk)
        return None
    order = locked
    earned = LoyaltyTransaction.objects.filter(order=order, kind=Kind.EARNED).first()
    if earned is None:
        logger.info("Loyalty: order %s earned no points; nothing to reverse.", order.pk)
        return None
    target = reversal_target(
        earned_points=earned.points,
        order=order,
        refunded_at_award=Decimal((earned.rule or {}).get("refunded_amount") or "0"),
    )
    return points_reverse_up_to(
        order=order, credit=earned, kind=Kind.REVERSED, target=target, credit_name="earned"
    )


def points_reverse_up_to(
    *, order: Order, credit: LoyaltyTransaction, kind: str, target: int, credit_name: str
) -> LoyaltyTransaction | None:
    """Take back from the order's `credit` (its earned points or its cashback) up to `target`
    points in all, counting what `kind` rows already took: cumulative, so a duplicate call
    takes nothing, keyed by the target reached. Call it under the order's lock."""
    already = -(
        LoyaltyTransaction.objects.filter(order=order, kind=kind).aggregate(s=Sum("points"))["s"]
        or 0
    )
    points = target - already
    if points <= 0:
        return None
    write = ledger_debit(
        account_id=credit.account_id,
        kind=kind,
        points=points,
        idempotency_key=f"{kind}:order:{order.pk}:upto:{target}",
        order=order,
        reason=f"Order {order.pk} {order.payment_status}.",
        rule={
            f"{credit_name}_transaction_id": credit.pk,
            f"{credit_name}_points": credit.points,
            "order_total": str(order.total),
            "refunded_amount": str(order.refunded_amount),
            "payment_status": order.payment_status,
        },
    )
    logger.info("Loyalty: order %s: %s %s points.", order.pk, kind, points)
    return write.transaction


@dataclass(frozen=True)
class ReconcileResult:
    awarded: int
    reversed: int


RECONCILE_AFTER = timedelta(minutes=10)
RECONCILE_LOOKBACK = timedelta(days=30)


def loyalty_points_reconcile(
    *,
    now: datetime | None = None,
    older_than: timedelta = RECONCILE_AFTER,
    lookback: timedelta = RECONCILE_LOOKBACK,
) -> ReconcileResult:
    """Sweep: award paid (or partly refunded) orders older than `older_than` (within
    `lookback`) that have no
    `earned` transaction, and reverse what refunded or cancelled orders still hold, so work
    whose task was lost (broker down at commit time) is still done. Safe to run again or
    concurrently: both services are idempotent under the order lock."""
    now = now or timezone.now()
    cutoff, since = now - older_than, now - lookback
    earned = LoyaltyTransaction.objects.filter(order=OuterRef("pk"), kind=Kind.EARNED)
    to_award = (
        Order.objects.annotate(kept=F("total") - F("refunded_amount"))
        .filter(
            payment_status__in=EARNING_STATUSES,
            customer__isnull=False,
            brand__loyalty_program__is_active=True,
            kept__gte=F("brand__loyalty_program__minimum_order_amount"),
        )
        .filter(
            Q(paid_at__lte=cutoff, paid_at__gte=since)
            | Q(paid_at__isnull=True, created_at__lte=cutoff, created_at__gte=since)
        )
        .exclude(Exists(earned))
        # Paid entirely from a wallet: nothing paid with money, nothing earned.
        .exclude(total__gt=0, wallet_amount=F("total"))
        .order_by("pk")
    )
    awarded = 0
    for order in to_award.iterator():
        if award_loyalty_points(order=order) is not None:
            awarded += 1
    to_reverse = (
        Order.objects.filter(
            payment_status__in=REVERSAL_STATUSES,
            updated_at__lte=cutoff,
            updated_at__gte=since,
        )
        .filter(Exists(earned))
        .order_by("pk")
    )
    reversed_count = 0
    for order in to_reverse.iterator():
        if reverse_loyalty_points(order=order) is not None:
            reversed_count += 1
    if awarded or reversed_count:
        logger.warning(
            "Loyalty reconciliation: %s orders awarded, %s reversed late.",
            awarded,
            reversed_count,
        )
    return ReconcileResult(awarded=awarded, reversed=reversed_count)
