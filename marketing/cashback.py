"""Cashback driven by orders: credited as loyalty points when an order is paid, taken back in
proportion on refunds and in full on a cancellation, and a reconciliation sweep for work whose
task was lost.

What an order earns as cashback is what the promotion engine reported when it was priced: the
order's `OrderPromotion` rows of kind `cashback` (their sum is `Order.cashback_total`). Every
cashback promotion credits points today; the rows are the unit a promotion-level target (points
or wallet credit) would route.

Conversion: the program's `cashback_points_per_unit` points per `unit_amount` of cashback
(empty: its earning rate `points_per_unit`), rounded down once per order, without the tier
multiplier (the promotion already set how much is given back). The credit is pending for the
program's `pending_days`, like the points the order earned.

Exactly once: one `cashback` transaction per order (a partial unique constraint, and the
idempotency key `cashback:order:<id>`); reversals are cumulative `cashback_reversed`
transactions keyed by the total they bring the order to, so a duplicate delivery does nothing.
Each service locks the order row first, then the account (the lock order of the points awards).
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

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

logger = logging.getLogger(__name__)

PS = Order.PaymentStatus
Kind = LoyaltyTransaction.Kind
NO_MULTIPLIER = Decimal("1.00")


def cashback_idempotency_key(order_id: int) -> str:
    return f"cashback:order:{order_id}"


def cashback_rate(program: LoyaltyProgram) -> Decimal:
    """Points per `unit_amount` of cashback: the program's cashback rate, or its earning rate."""
    return program.cashback_points_per_unit or program.points_per_unit


def _cashback_rows(order: Order) -> list[OrderPromotion]:
    """The cashback the order's promotions give, one row per promotion (all credited as
    points)."""
    return list(
        order.applied_promotions.filter(kind=OrderPromotion.Kind.CASHBACK, amount__gt=0).order_by(
            "id"
        )
    )


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


def _reverse_locked(order: Order, credit: LoyaltyTransaction) -> LoyaltyTransaction | None:
    return points_reverse_up_to(
        order=order,
        credit=credit,
        kind=Kind.CASHBACK_REVERSED,
        target=cashback_reversal_target(credited_points=credit.points, order=order),
        credit_name="cashback",
    )


@transaction.atomic
def cashback_credit(*, order_id: int) -> LoyaltyTransaction | None:
    """Credit the cashback a paid order earned as points, once.

    Idempotent: a second call returns the existing `cashback` transaction. When the order was
    already partly refunded, the refunded share is taken back in the same transaction. Returns
    None, with a log line, when there is nothing to credit: the order is gone or not paid, has
    no customer or no cashback, its brand has no active program, or the cashback rounds down to
    zero points.
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
    rows = _cashback_rows(order)
    amount = sum((row.amount for row in rows), Decimal("0.00"))
    if amount <= 0:
        return None
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


@transaction.atomic
def cashback_reverse(*, order_id: int) -> LoyaltyTransaction | None:
    """Take back the cashback points the order's refunds and cancellation no longer let it
    keep: cumulative, so a duplicate call does nothing and the total never exceeds what was
    credited. Returns the new `cashback_reversed` transaction, or None."""
    order = _order_lock(order_id)
    if order is None:
        logger.warning("Cashback: order %s not found, nothing reversed.", order_id)
        return None
    credit = LoyaltyTransaction.objects.filter(order=order, kind=Kind.CASHBACK).first()
    if credit is None:
        logger.info("Cashback: order %s was credited no cashback; nothing to reverse.", order.pk)
        return None
    return _reverse_locked(order, credit)


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
    that have no `cashback` transaction, and reverse what refunded or cancelled orders still
    hold, so work whose task was lost is still done. Safe to run again or concurrently: both
    services are idempotent under the order lock."""
    now = now or timezone.now()
    if older_than is None:
        older_than = timedelta(minutes=settings.CASHBACK_RECONCILE_AFTER_MINUTES)
    if lookback is None:
        lookback = timedelta(days=settings.CASHBACK_RECONCILE_LOOKBACK_DAYS)
    cutoff, since = now - older_than, now - lookback
    credited_tx = LoyaltyTransaction.objects.filter(order=OuterRef("pk"), kind=Kind.CASHBACK)
    program = "brand__loyalty_program__"
    # Orders whose cashback rounds down to no point are not picked up again and again.
    rate = Coalesce(F(f"{program}cashback_points_per_unit"), F(f"{program}points_per_unit"))
    to_credit = (
        Order.objects.annotate(cashback_points_units=F("cashback_total") * rate)
        .filter(
            payment_status__in=EARNING_STATUSES,
            customer__isnull=False,
            cashback_total__gt=0,
            brand__loyalty_program__is_active=True,
            cashback_points_units__gte=F(f"{program}unit_amount"),
        )
        .filter(
            Q(paid_at__lte=cutoff, paid_at__gte=since)
            | Q(paid_at__isnull=True, created_at__lte=cutoff, created_at__gte=since)
        )
        .exclude(Exists(credited_tx))
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
        .filter(Exists(credited_tx))
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
