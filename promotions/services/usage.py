"""Promotion usage: the append-only ledger (`PromotionUsage`) and the counters it moves.

Online orders:

- **reserve** when the order is placed (`usage_reserve`, inside the order's transaction): one
  use and the amount given, for every promotion the order applied. A promotion with a limit is
  reserved by a conditional update (`uses + 1 <= max_uses_total`, `amount + given <= budget`,
  and per customer `uses + 1 <= max_uses_per_customer`), so two orders can never both take the
  last use or the last cent: the second one sees the limit reached and is priced again.
- **commit** when the order is paid (`usage_commit`): the reservation becomes final.
- **release** when the order is cancelled (`usage_release`): the use and the amount are given
  back. Final. A failed payment keeps the reservation: the order may be paid on a new attempt,
  and only its cancellation gives the use back.

POS sales priced offline are recorded when uploaded (`usage_record_offline`): always, since
the sale happened; a use that takes a promotion past a limit is flagged as an overrun.

Every writer locks the rows it moves in one order: the promotion counters by promotion id, then
the customer counters by promotion id, so concurrent writers never deadlock; and it writes its
ledger rows and moves the counters in one transaction. Once a promotion's counter row is locked,
every transaction that moved it has committed its ledger rows too, and no other can, so the
ledger's sums read under that lock are the counters' true values (`usage_reconcile`). The
ledger's (source, kind, promotion) is unique: a duplicate delivery writes nothing.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum

from promotions.models import (
    Promotion,
    PromotionCustomerUsage,
    PromotionUsage,
    PromotionUsageCounter,
)
from promotions.selectors import UsageDrift, usage_drift

K = PromotionUsage.Kind
ZERO = Decimal("0.00")


def order_usage_source(order_id: int) -> str:
    return f"order:{order_id}"


@dataclass(frozen=True)
class _Limits:
    max_uses_total: int | None
    max_uses_per_customer: int | None
    budget: Decimal | None


def _limits(promotion_ids: Iterable[int]) -> dict[int, _Limits]:
    return {
        pk: _Limits(total, per_customer, budget)
        for pk, total, per_customer, budget in Promotion.objects.filter(
            pk__in=list(promotion_ids)
        ).values_list("pk", "max_uses_total", "max_uses_per_customer", "budget")
    }


def _counter_move(
    *, promotion_id: int, uses: int, amount: Decimal, limits: _Limits | None = None
) -> bool:
    """Move one promotion's counter by `uses` and `amount`; with `limits`, only if they are
    not passed (a conditional update: the row lock makes the check and the write one step).
    False when the limits refused it."""
    condition = Q(pk=promotion_id)
    if limits is not None:
        if limits.max_uses_total is not None and uses > 0:
            condition &= Q(uses__lte=limits.max_uses_total - uses)
        if limits.budget is not None and amount > 0:
            condition &= Q(amount__lte=limits.budget - amount)
    counters = PromotionUsageCounter.objects
    changes = {"uses": F("uses") + uses, "amount": F("amount") + amount}
    if counters.filter(condition).update(**changes):
        return True
    if counters.filter(pk=promotion_id).exists():
        return False
    # First use of this promotion: create its counter (a concurrent creator wins quietly).
    counters.bulk_create([PromotionUsageCounter(promotion_id=promotion_id)], ignore_conflicts=True)
    return bool(counters.filter(condition).update(**changes))


def _customer_counter_move(
    *, promotion_id: int, customer_id: int, uses: int, limit: int | None = None
) -> bool:
    """Move one customer's use count of a promotion; with `limit`, only up to it."""
    condition = Q(promotion_id=promotion_id, customer_id=customer_id)
    if limit is not None and uses > 0:
        condition &= Q(uses__lte=limit - uses)
    counters = PromotionCustomerUsage.objects
    if counters.filter(condition).update(uses=F("uses") + uses):
        return True
    if counters.filter(promotion_id=promotion_id, customer_id=customer_id).exists():
        return False
    counters.bulk_create(
        [PromotionCustomerUsage(promotion_id=promotion_id, customer_id=customer_id)],
        ignore_conflicts=True,
    )
    return bool(counters.filter(condition).update(uses=F("uses") + uses))


class _Refused(Exception):
    pass


def usage_reserve(*, order, applied: Mapping[int, Decimal]) -> set[int]:
    """Reserve one use of each promotion in `applied` ({promotion id: amount given}) for
    `order`, with the order's customer. All or nothing: returns the ids of the promotions whose
    limit (uses, uses of this customer, or budget for that amount) no longer allows it, and
    then reserves none; an empty set means every use is reserved.

    Call it inside the order's transaction, as late as possible: the counter rows stay locked
    until that transaction ends.
    """
    if not applied:
        return set()
    ids = sorted(applied)
    limits = _limits(ids)
    ids = [pk for pk in ids if pk in limits]  # a promotion deleted meanwhile has no limits
    customer_id = order.customer_id
    if customer_id is None:
        # The calculator never applies a per-customer limit without a customer.
        refused = {pk for pk in ids if limits[pk].max_uses_per_customer is not None}
        if refused:
            return refused
    refused = set()
    try:
        with transaction.atomic():
            # The ledger rows first (invisible to others until commit), so the counter rows,
            # locked from their update to the commit, are held as briefly as possible.
            source = order_usage_source(order.pk)
            PromotionUsage.objects.bulk_create(
                PromotionUsage(
                    promotion_id=pk,
                    order_id=order.pk,
                    customer_id=customer_id,
                    kind=K.RESERVE,
                    uses=1,
                    amount=applied[pk],
                    source=source,
                )
                for pk in ids
            )
            for pk in ids:
                if not _counter_move(
                    promotion_id=pk, uses=1, amount=applied[pk], limits=limits[pk]
                ):
                    refused.add(pk)
            if customer_id is not None:
                for pk in ids:
                    if pk in refused:
                        continue
                    if not _customer_counter_move(
                        promotion_id=pk,
                        customer_id=customer_id,
                        uses=1,
                        limit=limits[pk].max_uses_per_customer,
                    ):
                        refused.add(pk)
            if refused:
                raise _Refused
    except _Refused:
        return refused
    return set()


def _order_entries(order_id: int) -> dict[str, dict[int, PromotionUsage]]:
    entries: dict[str, dict[int, PromotionUsage]] = {kind: {} for kind in K.values}
    for entry in PromotionUsage.objects.filter(source=order_usage_source(order_id)):
        entries[entry.kind][entry.promotion_id] = entry
    return entries


def _order_lock(order_id: int) -> None:
    """Serialise the usage changes of one order (`order_set_payment_status` holds the same
    lock already)."""
    from orders.models import Order

    list(Order.objects.select_for_update().filter(pk=order_id).values_list("pk"))


@transaction.atomic
def usage_commit(*, order) -> list[int]:
    """Make the order's reservations final (it was paid). Returns the promotion ids committed
    now: a second delivery commits nothing, and a released reservation is never committed."""
    _order_lock(order.pk)
    entries = _order_entries(order.pk)
    due = sorted(
        set(entries[K.RESERVE]) - set(entries[K.COMMIT]) - set(entries[K.RELEASE]),
    )
    PromotionUsage.objects.bulk_create(
        (
            PromotionUsage(
                promotion_id=pk,
                order_id=order.pk,
                customer_id=entries[K.RESERVE][pk].customer_id,
                kind=K.COMMIT,
                uses=0,
                amount=ZERO,
                source=order_usage_source(order.pk),
            )
            for pk in due
        ),
        ignore_conflicts=True,
    )
    return due


@transaction.atomic
def usage_release(*, order) -> list[int]:
    """Give back the uses and amounts the order reserved (it was cancelled), committed or not.
    Returns the promotion ids released now: a second delivery releases nothing."""
    _order_lock(order.pk)
    entries = _order_entries(order.pk)
    due = sorted(set(entries[K.RESERVE]) - set(entries[K.RELEASE]))
    for pk in due:
        _counter_move(promotion_id=pk, uses=-1, amount=-entries[K.RESERVE][pk].amount)
    for pk in due:
        customer_id = entries[K.RESERVE][pk].customer_id
        if customer_id is not None:
            _customer_counter_move(promotion_id=pk, customer_id=customer_id, uses=-1)
    PromotionUsage.objects.bulk_create(
        PromotionUsage(
            promotion_id=pk,
            order_id=order.pk,
            customer_id=entries[K.RESERVE][pk].customer_id,
            kind=K.RELEASE,
            uses=-1,
            amount=-entries[K.RESERVE][pk].amount,
            source=order_usage_source(order.pk),
        )
        for pk in due
    )
    return due


@transaction.atomic
def usage_record_offline(
    *, promotion_id: int, customer_id: int | None, amount: Decimal, uses: int, source: str
) -> bool:
    """Record a use made offline (a POS sale), whatever the limits say: the sale happened.
    Returns whether it took the promotion past a limit (uses, the customer's uses, or budget),
    which is stored on the ledger row as an overrun. Recording the same `source` again changes
    nothing and returns the first answer."""
    recorded = PromotionUsage.objects.filter(
        kind=K.OFFLINE, source=source, promotion_id=promotion_id
    ).values_list("overrun", flat=True)
    first_answer = recorded.first()
    if first_answer is not None:
        return first_answer
    try:
        with transaction.atomic():
            _counter_move(promotion_id=promotion_id, uses=uses, amount=amount)
            uses_now, given, max_total, budget, per_customer = (
                PromotionUsageCounter.objects.filter(pk=promotion_id)
                .values_list(
                    "uses",
                    "amount",
                    "promotion__max_uses_total",
                    "promotion__budget",
                    "promotion__max_uses_per_customer",
                )
                .get()
            )
            overrun = (uses > 0 and max_total is not None and uses_now > max_total) or (
                amount > 0 and budget is not None and given > budget
            )
            if customer_id is not None:
                _customer_counter_move(
                    promotion_id=promotion_id, customer_id=customer_id, uses=uses
                )
                if uses > 0 and per_customer is not None:
                    customer_uses = PromotionCustomerUsage.objects.get(
                        promotion_id=promotion_id, customer_id=customer_id
                    ).uses
                    overrun = overrun or customer_uses > per_customer
            PromotionUsage.objects.create(
                promotion_id=promotion_id,
                customer_id=customer_id,
                kind=K.OFFLINE,
                uses=uses,
                amount=amount,
                source=source,
                overrun=overrun,
            )
    except IntegrityError:
        # The same source recorded concurrently: that one counts, this one changes nothing.
        first_answer = recorded.first()
        if first_answer is None:
            raise
        return first_answer
    return overrun


def usage_reconcile(*, promotion_ids: Iterable[int] | None = None) -> list[UsageDrift]:
    """Set every drifting counter back to the sum of its ledger rows (the ledger is the truth)
    and return the drift found. Each promotion is fixed in its own transaction, holding its
    counter row, which every writer takes before writing ledger rows: the sums read under it
    are exact. Safe to run at any time and again; with exact counters it writes nothing."""
    drifting = sorted({drift.promotion_id for drift in usage_drift(promotion_ids=promotion_ids)})
    fixed: list[UsageDrift] = []
    for promotion_id in drifting:
        fixed.extend(_promotion_reconcile(promotion_id))
    return fixed


@transaction.atomic
def _promotion_reconcile(promotion_id: int) -> list[UsageDrift]:
    if not Promotion.objects.filter(pk=promotion_id).exists():
        return []
    PromotionUsageCounter.objects.bulk_create(
        [PromotionUsageCounter(promotion_id=promotion_id)], ignore_conflicts=True
    )
    counter = PromotionUsageCounter.objects.select_for_update().get(pk=promotion_id)
    entries = PromotionUsage.objects.filter(promotion_id=promotion_id)
    totals = entries.aggregate(uses=Sum("uses"), amount=Sum("amount"))
    uses, amount = totals["uses"] or 0, totals["amount"] or ZERO
    found = []
    if (counter.uses, counter.amount) != (uses, amount):
        found.append(UsageDrift(promotion_id, None, counter.uses, uses, counter.amount, amount))
        counter.uses, counter.amount = uses, amount
        counter.save(update_fields=["uses", "amount"])
    per_customer = dict(
        entries.filter(customer__isnull=False)
        .values("customer_id")
        .annotate(total=Sum("uses"))
        .values_list("customer_id", "total")
        .order_by("customer_id")
    )
    counters = PromotionCustomerUsage.objects.filter(promotion_id=promotion_id)
    for row in counters.select_for_update().order_by("customer_id"):
        expected = per_customer.pop(row.customer_id, 0)
        if row.uses != expected:
            found.append(UsageDrift(promotion_id, row.customer_id, row.uses, expected))
            row.uses = expected
            row.save(update_fields=["uses"])
    missing = {customer_id: total for customer_id, total in per_customer.items() if total}
    for customer_id, total in sorted(missing.items()):
        found.append(UsageDrift(promotion_id, customer_id, 0, total))
    PromotionCustomerUsage.objects.bulk_create(
        PromotionCustomerUsage(promotion_id=promotion_id, customer_id=customer_id, uses=total)
        for customer_id, total in sorted(missing.items())
    )
    return found
