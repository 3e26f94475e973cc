"""Writes to the loyalty ledger. The only way points move.

Every function that changes points opens a transaction, locks the account row
(`lock_objects.account_lock`), writes the ledger rows and the lot bookkeeping, and moves the
cached balances with `F()` expressions in that same transaction. A debit first releases the
account's due pending lots and expires its due lots, so it never spends an expired lot.

Spending order: available lots by soonest expiry first (never-expiring last), then oldest.
A reversal consumes the lot of the order it reverses first. What no lot covers leaves the
account negative; the next lot that becomes available settles that debt first.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Q, Sum
from django.db.models.functions import Abs, Coalesce
from django.utils import timezone

from brands.roles import adjustment_limit_for
from core.errors import ApplicationError, ConflictError, NotFoundError, PermissionDeniedError
from core.outbox import outbox_enqueue
from customers.models import Customer
from loyalty_management.lock_objects import account_lock
from loyalty_management.models import (
    LoyaltyAccount,
    LoyaltyAdjustment,
    LoyaltyLot,
    LoyaltyLotConsumption,
    LoyaltyProgram,
    LoyaltyTierPeriod,
    LoyaltyTransaction,
    Tier,
)

logger = logging.getLogger(__name__)

Kind = LoyaltyTransaction.Kind
CREDIT_KINDS = frozenset({Kind.EARNED, Kind.BONUS, Kind.CASHBACK, Kind.ADJUSTED, Kind.RELEASED})
DEBIT_KINDS = frozenset(
    {Kind.REDEEMED, Kind.REVERSED, Kind.CASHBACK_REVERSED, Kind.ADJUSTED, Kind.HELD}
)
# Debits that spend the customer's own points: refused beyond what is available.
SPENDING_KINDS = frozenset({Kind.REDEEMED, Kind.HELD})
# A lot opened by `ledger_credit` expires by the program's policy unless told otherwise.
PROGRAM_EXPIRY = object()
# Kinds that count towards lifetime points (reversals take back what an order earned or its
# cashback credited).
LIFETIME_KINDS = (Kind.EARNED, Kind.BONUS, Kind.REVERSED, Kind.CASHBACK, Kind.CASHBACK_REVERSED)
# Credits an order has at most one of (a partial unique constraint), and the debit that takes
# each back, consuming the order's own lot of that credit first.
ORDER_CREDIT_KINDS = frozenset({Kind.EARNED, Kind.CASHBACK})
REVERSAL_OF = {Kind.REVERSED: Kind.EARNED, Kind.CASHBACK_REVERSED: Kind.CASHBACK}
SWEEP_BATCH = 500
# A tier change evaluates the customer's badges (a badge may ask for a tier).
BADGES_TASK = "loyalty_management.evaluate_customer_badges"


# --- Accounts -----------------------------------------------------------------------------------


def account_get_or_create(*, customer: Customer, program: LoyaltyProgram) -> LoyaltyAccount:
    """The customer's account in the program, created on first need (race-safe: the unique
    constraint on customer and program decides, the loser reads the winner's row)."""
    account, _ = LoyaltyAccount.objects.get_or_create(customer=customer, program=program)
    return account


def _move_balances(
    account: LoyaltyAccount, *, available: int = 0, pending: int = 0, lifetime: int = 0
) -> None:
    """Move the cached balances of a locked account, in the database and on the instance."""
    if not (available or pending or lifetime):
        return
    LoyaltyAccount.objects.filter(pk=account.pk).update(
        available_points=F("available_points") + available,
        pending_points=F("pending_points") + pending,
        lifetime_points=F("lifetime_points") + lifetime,
        updated_at=timezone.now(),
    )
    account.available_points += available
    account.pending_points += pending
    account.lifetime_points += lifetime


def _existing(idempotency_key: str) -> LoyaltyTransaction | None:
    return LoyaltyTransaction.objects.filter(idempotency_key=idempotency_key).first()


def _insert(**fields) -> LoyaltyTransaction | None:
    """Insert a ledger row in a savepoint; None when a unique constraint says it exists."""
    try:
        with transaction.atomic():
            return LoyaltyTransaction.objects.create(**fields)
    except IntegrityError:
        return None


def program_rule(program: LoyaltyProgram) -> dict:
    """The earning rule of the time, stored on every credit so later reversals use it."""
    return {
        "program_id": program.pk,
        "points_per_unit": str(program.points_per_unit),
        "unit_amount": str(program.unit_amount),
        "minimum_order_amount": str(program.minimum_order_amount),
        "pending_days": program.pending_days,
        "expiry_policy": program.expiry_policy,
        "expiry_days": program.expiry_days,
    }


def _expires_at(program: LoyaltyProgram, now: datetime) -> datetime | None:
    if program.expiry_policy == LoyaltyProgram.ExpiryPolicy.AFTER_DAYS and program.expiry_days:
        return now + timedelta(days=program.expiry_days)
    return None


# --- Credits ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerWrite:
    transaction: LoyaltyTransaction
    created: bool


@transaction.atomic
def ledger_credit(
    *,
    account_id: int,
    kind: str,
    points: int,
    idempotency_key: str,
    order=None,
    reason: str = "",
    actor=None,
    multiplier=None,
    rule: dict | None = None,
    pending_days: int = 0,
    now: datetime | None = None,
    expires_at=PROGRAM_EXPIRY,
) -> LedgerWrite:
    """Credit `points` (> 0) and open their lot. A replay of `idempotency_key` (or a second
    `earned` or `cashback` for the same order) returns the existing transaction and changes nothing.

    The lot is pending for `pending_days`, and expires by the program's policy (or at
    `expires_at` when given, None for never).
    """
    if kind not in CREDIT_KINDS:
        raise ApplicationError(f"{kind} is not a credit.", code="invalid_ledger_kind")
    if points <= 0:
        raise ApplicationError(
            "A credit needs a positive number of points.",
            code="invalid_points",
            fields={"points": ["Must be positive."]},
        )
    now = now or timezone.now()
    account = account_lock(account_id=account_id)
    existing = _existing(idempotency_key)
    if existing is not None:
        return LedgerWrite(existing, created=False)
    credit = _insert(
        account=account,
        kind=kind,
        points=points,
        idempotency_key=idempotency_key,
        order=order,
        reason=reason,
        actor=actor,
        multiplier=multiplier,
        rule=rule if rule is not None else program_rule(account.program),
        created_at=now,
    )
    if credit is None:
        existing = _existing(idempotency_key)
        if existing is None and kind in ORDER_CREDIT_KINDS and order is not None:
            existing = LoyaltyTransaction.objects.get(order=order, kind=kind)
        return LedgerWrite(existing, created=False)

    available_at = now + timedelta(days=pending_days)
    pending = available_at > now
    lot = LoyaltyLot.objects.create(
        credit=credit,
        account=account,
        points=points,
        remaining_points=points,
        is_pending=pending,
        available_at=available_at,
        expires_at=(
            _expires_at(account.program, now) if expires_at is PROGRAM_EXPIRY else expires_at
        ),
        created_at=now,
    )
    lifetime = points if kind in LIFETIME_KINDS else 0
    if pending:
        _move_balances(account, pending=points, lifetime=lifetime)
    else:
        _move_balances(account, available=points, lifetime=lifetime)
        _settle_debt(account, lot, now)
    return LedgerWrite(credit, created=True)


def _settle_debt(account: LoyaltyAccount, lot: LoyaltyLot, now: datetime) -> None:
    """A lot that became available pays what earlier debits could not cover, oldest first.

    Cached balances do not move: the debt was already subtracted from `available_points`.
    """
    debt = -(account.available_points - lot.remaining_points)
    if debt <= 0:
        return
    debits = (
        LoyaltyTransaction.objects.filter(account=account, points__lt=0)
        .annotate(covered=Coalesce(Sum("consumptions__points"), 0))
        .filter(covered__lt=-F("points"))
        .order_by("created_at", "id")
    )
    rows = []
    for debit in debits:
        if lot.remaining_points == 0:
            break
        take = min(-debit.points - debit.covered, lot.remaining_points)
        lot.remaining_points -= take
        rows.append(LoyaltyLotConsumption(debit=debit, lot=lot, points=take, created_at=now))
    LoyaltyLotConsumption.objects.bulk_create(rows)
    lot.save(update_fields=["remaining_points"])


# --- Debits -------------------------------------------------------------------------------------


def _spendable_lots(account: LoyaltyAccount):
    return (
        LoyaltyLot.objects.filter(account=account, is_pending=False, remaining_points__gt=0)
        .order_by(F("expires_at").asc(nulls_last=True), "created_at", "id")
        .iterator()
    )


def _consume(debit: LoyaltyTransaction, points: int, lots, now: datetime) -> tuple[int, int]:
    """Take up to `points` from `lots`, in their order, for `debit`.
    Returns `(taken, taken_from_pending_lots)`; the caller moves the balances."""
    taken = 0
    pending_taken = 0
    rows = []
    changed = []
    for lot in lots:
        if taken == points:
            break
        take = min(points - taken, lot.remaining_points)
        if take <= 0:
            continue
        lot.remaining_points -= take
        taken += take
        if lot.is_pending:
            pending_taken += take
        rows.append(LoyaltyLotConsumption(debit=debit, lot=lot, points=take, created_at=now))
        changed.append(lot)
    LoyaltyLotConsumption.objects.bulk_create(rows)
    LoyaltyLot.objects.bulk_update(changed, ["remaining_points"])
    return taken, pending_taken


@transaction.atomic
def ledger_debit(
    *,
    account_id: int,
    kind: str,
    points: int,
    idempotency_key: str,
    order=None,
    reason: str = "",
    actor=None,
    rule: dict | None = None,
    now: datetime | None = None,
) -> LedgerWrite:
    """Debit `points` (> 0). A replay of `idempotency_key` returns the first transaction.

    - `redeemed`, `held`: refused when the account is negative or has fewer available points.
    - `reversed`, `cashback_reversed`: take the order's own lot of what they reverse (`earned`,
      `cashback`) first (pending points are simply cancelled), then available lots; what no lot
      covers leaves the account negative.
    - `adjusted`: available lots, then the account may go negative.
    """
    if kind not in DEBIT_KINDS:
        raise ApplicationError(f"{kind} is not a debit.", code="invalid_ledger_kind")
    if points <= 0:
        raise ApplicationError(
            "A debit needs a positive number of points.",
            code="invalid_points",
            fields={"points": ["Must be positive."]},
        )
    now = now or timezone.now()
    account = account_lock(account_id=account_id)
    existing = _existing(idempotency_key)
    if existing is not None:
        return LedgerWrite(existing, created=False)
    _release_due_lots(account, now)
    _expire_due_lots(account, now)

    if kind in SPENDING_KINDS:
        if account.available_points < 0:
            raise ConflictError(
                "The account is negative and cannot redeem until it is positive again.",
                code="loyalty_account_negative",
            )
        if account.available_points < points:
            raise ConflictError(
                f"Only {account.available_points} points are available.",
                code="insufficient_points",
                fields={"points": [f"At most {account.available_points}."]},
            )
    debit = _insert(
        account=account,
        kind=kind,
        points=-points,
        idempotency_key=idempotency_key,
        order=order,
        reason=reason,
        actor=actor,
        rule=rule or {},
        created_at=now,
    )
    if debit is None:
        return LedgerWrite(_existing(idempotency_key), created=False)

    taken = pending_taken = 0
    if kind in REVERSAL_OF and order is not None:
        own_lots = LoyaltyLot.objects.filter(
            account=account,
            credit__order=order,
            credit__kind=REVERSAL_OF[kind],
            remaining_points__gt=0,
        )
        taken, pending_taken = _consume(debit, points, own_lots, now)
    if taken < points:
        more, _ = _consume(debit, points - taken, _spendable_lots(account), now)
        taken += more
    # What no lot covered stays on the available balance as debt (it goes negative).
    _move_balances(
        account,
        available=-(points - pending_taken),
        pending=-pending_taken,
        lifetime=-points if kind in REVERSAL_OF else 0,
    )
    return LedgerWrite(debit, created=True)


def ledger_hold(
    *,
    account_id: int,
    points: int,
    idempotency_key: str,
    reason: str = "",
    now: datetime | None = None,
) -> LedgerWrite:
    """Hold `points` of the account's available points (a `held` debit that consumes lots like
    a redemption). Refused with `insufficient_points` beyond what is available."""
    return ledger_debit(
        account_id=account_id,
        kind=Kind.HELD,
        points=points,
        idempotency_key=idempotency_key,
        reason=reason,
        now=now,
    )


@transaction.atomic
def ledger_hold_release(
    *,
    hold: LoyaltyTransaction,
    idempotency_key: str,
    reason: str = "",
    now: datetime | None = None,
) -> LedgerWrite:
    """Give back the points of a `held` debit (a `released` credit of the same points). Its
    lot expires when the soonest of the lots the hold consumed would have, so a hold never
    lengthens the life of points. A replay of `idempotency_key` changes nothing."""
    if hold.kind != Kind.HELD:
        raise ApplicationError("Only a hold can be released.", code="invalid_ledger_kind")
    expiries = [
        lot_expiry
        for lot_expiry in LoyaltyLot.objects.filter(consumptions__debit=hold).values_list(
            "expires_at", flat=True
        )
        if lot_expiry is not None
    ]
    return ledger_credit(
        account_id=hold.account_id,
        kind=Kind.RELEASED,
        points=-hold.points,
        idempotency_key=idempotency_key,
        reason=reason,
        rule={"hold_id": hold.pk},
        expires_at=min(expiries) if expiries else None,
        now=now,
    )


MAX_ADJUSTMENT = 10_000_000


def _adjustment_errors(points: int, reason: str) -> dict[str, list[str]]:
    errors = {}
    if not reason:
        errors["reason"] = ["A reason is required."]
    if points == 0 or abs(points) > MAX_ADJUSTMENT:
        errors["points"] = [f"Must be non-zero and at most {MAX_ADJUSTMENT} either way."]
    return errors


def _adjustment_apply(adjustment: LoyaltyAdjustment) -> None:
    """Write an adjustment to the ledger, in the caller's transaction."""
    write = ledger_credit if adjustment.points > 0 else ledger_debit
    adjustment.transaction = write(
        account_id=adjustment.account_id,
        kind=Kind.ADJUSTED,
        points=abs(adjustment.points),
        idempotency_key=f"adjusted:{adjustment.pk}",
        reason=adjustment.reason,
        actor=adjustment.requested_by,
    ).transaction
    adjustment.status = LoyaltyAdjustment.Status.APPROVED


def _within_limit(actor, points: int, now: datetime) -> bool:
    """Whether `actor` may adjust `points` without approval. Locks the actor's user row, so
    two concurrent adjustments by the same person cannot both slip under the daily limit."""
    limit = adjustment_limit_for(actor)
    if limit is None:
        return True
    get_user_model().objects.select_for_update().filter(pk=actor.pk).first()
    if abs(points) > limit.per_adjustment:
        return False
    used = LoyaltyAdjustment.objects.filter(
        requested_by=actor,
        created_at__gt=now - timedelta(days=1),
        status__in=[LoyaltyAdjustment.Status.PENDING, LoyaltyAdjustment.Status.APPROVED],
    ).aggregate(total=Coalesce(Sum(Abs("points")), 0))["total"]
    return used + abs(points) <= limit.per_day


@transaction.atomic
def account_adjust(
    *,
    account_id: int,
    points: int,
    reason: str,
    actor,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> LoyaltyAdjustment:
    """A manual adjustment by staff: credit (points > 0) or debit (points < 0), with a
    mandatory reason and the actor recorded. A debit may leave the account negative.

    Within the limits of the actor's role (`brands.roles.ADJUSTMENT_LIMITS`: per adjustment,
    and per 24 hours counting approved and pending ones) it goes through the ledger at once
    (`approved`); above them it is `pending` until `account_adjustment_decide`. A replay of
    `idempotency_key` returns the first adjustment."""
    reason = (reason or "").strip()[:255]
    errors = _adjustment_errors(points, reason)
    if errors:
        raise ApplicationError("Invalid adjustment.", code="invalid_adjustment", fields=errors)
    actor = actor if getattr(actor, "pk", None) else None
    key = f"{account_id}:{idempotency_key or uuid.uuid4().hex}"
    now = now or timezone.now()
    within = _within_limit(actor, points, now)
    existing = LoyaltyAdjustment.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    if not LoyaltyAccount.objects.filter(pk=account_id).exists():
        raise NotFoundError("No such loyalty account.", code="loyalty_account_not_found")
    try:
        with transaction.atomic():
            adjustment = LoyaltyAdjustment.objects.create(
                account_id=account_id,
                points=points,
                reason=reason,
                status=LoyaltyAdjustment.Status.PENDING,
                requested_by=actor,
                idempotency_key=key,
                created_at=now,
            )
    except IntegrityError:  # a concurrent replay of the same key won
        return LoyaltyAdjustment.objects.get(idempotency_key=key)
    if within:
        _adjustment_apply(adjustment)
        adjustment.decided_at = now
        adjustment.save(update_fields=["transaction", "status", "decided_at"])
    return adjustment


@transaction.atomic
def account_adjustment_decide(*, adjustment_id: int, approve: bool, actor) -> LoyaltyAdjustment:
    """Approve (write it to the ledger) or reject a pending adjustment. Whoever asked for it
    cannot decide it; one that was decided already is a conflict."""
    adjustment = (
        LoyaltyAdjustment.objects.select_for_update(of=("self",))
        .select_related("requested_by")
        .get(pk=adjustment_id)
    )
    if adjustment.status != LoyaltyAdjustment.Status.PENDING:
        raise ConflictError(
            f"This adjustment was {adjustment.status} already.", code="adjustment_decided"
        )
    if actor is not None and adjustment.requested_by_id == actor.pk:
        raise PermissionDeniedError(
            "Someone else approves or rejects your own adjustments.", code="own_adjustment"
        )
    if approve:
        _adjustment_apply(adjustment)
    else:
        adjustment.status = LoyaltyAdjustment.Status.REJECTED
    adjustment.decided_by = actor
    adjustment.decided_at = timezone.now()
    adjustment.save(update_fields=["transaction", "status", "decided_by", "decided_at"])
    return adjustment


# --- Release and expiry -------------------------------------------------------------------------


def _release_due_lots(account: LoyaltyAccount, now: datetime) -> int:
    """Make the account's pending lots whose time has come available. Returns points released."""
    released = 0
    lots = LoyaltyLot.objects.filter(account=account, is_pending=True, available_at__lte=now)
    for lot in lots.order_by("available_at", "id"):
        lot.is_pending = False
        lot.save(update_fields=["is_pending"])
        _move_balances(account, available=lot.remaining_points, pending=-lot.remaining_points)
        released += lot.remaining_points
        _settle_debt(account, lot, now)
    return released


def _expire_due_lots(account: LoyaltyAccount, now: datetime) -> int:
    """Expire what remains of the account's lots past their expiry. Returns points expired."""
    expired = 0
    lots = LoyaltyLot.objects.filter(account=account, remaining_points__gt=0, expires_at__lte=now)
    for lot in lots.order_by("expires_at", "id"):
        remaining = lot.remaining_points
        debit = LoyaltyTransaction.objects.create(
            account=account,
            kind=Kind.EXPIRED,
            points=-remaining,
            idempotency_key=f"expired:lot:{lot.pk}",
            reason="Points expired.",
            created_at=now,
        )
        LoyaltyLotConsumption.objects.create(debit=debit, lot=lot, points=remaining, created_at=now)
        lot.remaining_points = 0
        lot.save(update_fields=["remaining_points"])
        if lot.is_pending:
            _move_balances(account, pending=-remaining)
        else:
            _move_balances(account, available=-remaining)
        expired += remaining
    return expired


@transaction.atomic
def account_lots_settle(*, account_id: int, now: datetime | None = None) -> tuple[int, int]:
    """Release the account's due pending lots, then expire its due lots.
    Returns `(released, expired)` points; running it again finds nothing more to do."""
    now = now or timezone.now()
    account = account_lock(account_id=account_id)
    return _release_due_lots(account, now), _expire_due_lots(account, now)


def _accounts_with(lots_filter: Q, after_id: int) -> list[int]:
    return list(
        LoyaltyLot.objects.filter(lots_filter, account_id__gt=after_id)
        .order_by("account_id")
        .values_list("account_id", flat=True)
        .distinct()[:SWEEP_BATCH]
    )


@transaction.atomic
def account_pending_release(*, account_id: int, now: datetime | None = None) -> int:
    """Release the account's due pending lots. Returns the points released."""
    account = account_lock(account_id=account_id)
    return _release_due_lots(account, now or timezone.now())


def pending_points_release(*, now: datetime | None = None) -> int:
    """Sweep: release every due pending lot, one account per transaction. Safe to run twice
    or concurrently (each account is locked, and a released lot is no longer pending)."""
    now = now or timezone.now()
    total = after_id = 0
    while account_ids := _accounts_with(Q(is_pending=True, available_at__lte=now), after_id):
        for account_id in account_ids:
            total += account_pending_release(account_id=account_id, now=now)
        after_id = account_ids[-1]
    return total


def points_expire(*, now: datetime | None = None) -> int:
    """Sweep: expire what remains of every lot past its expiry, one account per transaction.
    Safe to run twice or concurrently: only what remains is expired, under the account lock."""
    now = now or timezone.now()
    total = after_id = 0
    while account_ids := _accounts_with(Q(remaining_points__gt=0, expires_at__lte=now), after_id):
        for account_id in account_ids:
            _, expired = account_lots_settle(account_id=account_id, now=now)
            total += expired
        after_id = account_ids[-1]
    return total


def expiring_lots_claim_for_notice(*, now: datetime | None = None, ahead: timedelta) -> list:
    """Claim the lots expiring within `ahead` that were not announced yet (a conditional
    update, so two sweeps never announce the same lot). Returns `(account_id, points,
    expires_at)` grouped by account and expiry day."""
    now = now or timezone.now()
    with transaction.atomic():
        lots = list(
            LoyaltyLot.objects.select_for_update(skip_locked=True)
            .filter(
                remaining_points__gt=0,
                expiry_notified_at__isnull=True,
                expires_at__gt=now,
                expires_at__lte=now + ahead,
            )
            .order_by("id")[:SWEEP_BATCH]
        )
        LoyaltyLot.objects.filter(pk__in=[lot.pk for lot in lots]).update(expiry_notified_at=now)
    return lots


# --- Tiers --------------------------------------------------------------------------------------


def account_tier_qualification(*, account: LoyaltyAccount, since: datetime):
    """Points earned (net of reversals), or amount spent, by the account since `since`."""
    program = account.program
    ledger = LoyaltyTransaction.objects.filter(account=account, created_at__gte=since)
    if program.tier_basis == LoyaltyProgram.TierBasis.SPEND:
        spent = ledger.filter(kind=Kind.EARNED).aggregate(
            spent=Sum(F("order__total") - F("order__refunded_amount"))
        )["spent"]
        return spent or 0
    return ledger.filter(kind__in=LIFETIME_KINDS).aggregate(points=Sum("points"))["points"] or 0


def account_tier_evaluate(
    *, account: LoyaltyAccount, now: datetime | None = None
) -> LoyaltyTierPeriod | None:
    """Move a locked account to the tier its qualification in the rolling window earns.

    Upgrades take effect at once. A tier is kept until its window has passed since it was
    reached, so an account does not flap between tiers; the next evaluation after that may
    lower it. Each change closes the open dated record and opens a new one.
    """
    now = now or timezone.now()
    program = account.program
    window = relativedelta(months=program.tier_window_months)
    tiers = list(Tier.objects.filter(program=program).order_by("position"))
    if not tiers:
        return None
    qualification = account_tier_qualification(account=account, since=now - window)
    target = None
    for tier in tiers:
        if qualification >= tier.threshold:
            target = tier
    current = account.tier
    if target is None or (current is not None and target.pk == current.pk):
        return None
    open_period = LoyaltyTierPeriod.objects.filter(account=account, ended_at__isnull=True).first()
    if current is not None and target.position < current.position:
        if open_period is not None and open_period.started_at + window > now:
            return None
        reason = f"Qualification {qualification} over {program.tier_window_months} months."
    else:
        reason = f"Reached {target.threshold} ({qualification})."
    if open_period is not None:
        open_period.ended_at = now
        open_period.save(update_fields=["ended_at"])
    period = LoyaltyTierPeriod.objects.create(
        account=account, tier=target, started_at=now, reason=reason
    )
    account.tier = target
    account.save(update_fields=["tier", "updated_at"])
    outbox_enqueue(
        task=BADGES_TASK,
        kwargs={"customer_id": account.customer_id, "brand_id": program.brand_id, "source": "tier"},
    )
    return period


@transaction.atomic
def account_tier_review(*, account_id: int, now: datetime | None = None):
    """Evaluate one account's tier under its lock (see `account_tier_evaluate`)."""
    return account_tier_evaluate(account=account_lock(account_id=account_id), now=now)


def tiers_review(*, now: datetime | None = None) -> int:
    """Sweep: evaluate every account whose tier is older than its program's window, so a tier
    that is no longer earned is lowered at the first evaluation after its window. Returns the
    number of tier changes; safe to run again (each account is evaluated under its lock)."""
    now = now or timezone.now()
    changed = 0
    periods = LoyaltyTierPeriod.objects.filter(ended_at__isnull=True).select_related(
        "account__program"
    )
    for period in periods.order_by("account_id").iterator():
        window = relativedelta(months=period.account.program.tier_window_months)
        if period.started_at + window > now:
            continue
        if account_tier_review(account_id=period.account_id, now=now) is not None:
            changed += 1
    return changed


# --- Drift --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerTotals:
    available: int
    pending: int
    lifetime: int


def account_ledger_totals(*, account_id: int) -> LedgerTotals:
    """The balances the ledger says the account has (the cache must equal these)."""
    balance = LoyaltyTransaction.objects.filter(account_id=account_id).aggregate(
        total=Coalesce(Sum("points"), 0),
        lifetime=Coalesce(Sum("points", filter=Q(kind__in=LIFETIME_KINDS)), 0),
    )
    pending = LoyaltyLot.objects.filter(account_id=account_id, is_pending=True).aggregate(
        pending=Coalesce(Sum("remaining_points"), 0)
    )["pending"]
    return LedgerTotals(
        available=balance["total"] - pending, pending=pending, lifetime=balance["lifetime"]
    )


def _drifted_account_ids(after_id: int, limit: int) -> tuple[list[int], int | None]:
    """Accounts after `after_id` (a batch of `limit`) whose cache differs from the ledger,
    and the last account id of the batch (None when there are no more accounts)."""
    ledger = LoyaltyTransaction.objects.filter(account=OuterRef("pk")).order_by()
    pending = LoyaltyLot.objects.filter(account=OuterRef("pk"), is_pending=True).order_by()
    total = Coalesce(ledger.values("account").annotate(s=Sum("points")).values("s"), 0)
    lifetime = Coalesce(
        ledger.filter(kind__in=LIFETIME_KINDS)
        .values("account")
        .annotate(s=Sum("points"))
        .values("s"),
        0,
    )
    pending_sum = Coalesce(
        pending.values("account").annotate(s=Sum("remaining_points")).values("s"), 0
    )
    accounts = (
        LoyaltyAccount.objects.filter(pk__gt=after_id)
        .order_by("pk")
        .annotate(ledger_total=total, ledger_lifetime=lifetime, ledger_pending=pending_sum)
    )
    ids = []
    last = None
    for row in accounts.values_list(
        "pk",
        "available_points",
        "pending_points",
        "lifetime_points",
        "ledger_total",
        "ledger_pending",
        "ledger_lifetime",
    )[:limit]:
        pk, available, pending_points, lifetime_points, l_total, l_pending, l_lifetime = row
        last = pk
        drifted = (
            available + pending_points != l_total
            or pending_points != l_pending
            or lifetime_points != l_lifetime
        )
        if drifted:
            ids.append(pk)
    return ids, last


@dataclass(frozen=True)
class Drift:
    account_id: int
    cached: LedgerTotals
    ledger: LedgerTotals


@transaction.atomic
def account_drift_repair(*, account_id: int) -> Drift | None:
    """Recompute one account's balances from the ledger under its lock; if the cache
    drifted, set it back to the ledger, record an `adjusted` transaction of 0 points that
    documents the repair, and log it. None when there was no drift."""
    account = account_lock(account_id=account_id)
    cached = LedgerTotals(
        available=account.available_points,
        pending=account.pending_points,
        lifetime=account.lifetime_points,
    )
    ledger = account_ledger_totals(account_id=account_id)
    if cached == ledger:
        return None
    LoyaltyTransaction.objects.create(
        account=account,
        kind=Kind.ADJUSTED,
        points=0,
        idempotency_key=f"drift:account:{account.pk}:{uuid.uuid4().hex}",
        reason="Cached balance drift repaired from the ledger.",
        rule={"cached": cached.__dict__, "ledger": ledger.__dict__},
    )
    LoyaltyAccount.objects.filter(pk=account.pk).update(
        available_points=ledger.available,
        pending_points=ledger.pending,
        lifetime_points=ledger.lifetime,
        updated_at=timezone.now(),
    )
    logger.warning(
        "Loyalty account %s balance drift repaired: cached %s, ledger %s.",
        account.pk,
        cached,
        ledger,
    )
    return Drift(account_id=account.pk, cached=cached, ledger=ledger)


def balances_drift_repair(*, batch_size: int = 2000) -> list[Drift]:
    """Sweep: compare every account's cached balances with its ledger (in batches of
    `batch_size` accounts, one query each) and repair each drifted account under its lock."""
    repaired = []
    after_id = 0
    while True:
        ids, last = _drifted_account_ids(after_id, batch_size)
        for account_id in ids:
            drift = account_drift_repair(account_id=account_id)
            if drift is not None:
                repaired.append(drift)
        if last is None:
            return repaired
        after_id = last
