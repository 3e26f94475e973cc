"""Writes to wallets. The only way a wallet balance moves.

Every function opens a transaction, locks the wallet row (`wallets.lock_objects`), checks its
idempotency key under that lock, writes one ledger row with the balance after it, and moves
the cached balance with an `F()` update in the same transaction. A movement that would take
the balance below zero is refused with `wallet_insufficient` and writes nothing; the check
constraint on `Wallet.balance` is the last guard.

Orders: `wallet_pay_order` debits the wallet tender inside the order's transaction;
`order_wallet_settle` gives back what the order's refunds and cancellation owe the wallet.
Refund rule: a refund of part of an order is shared between the tenders in proportion to what
each paid (the wallet gets `wallet_amount * refunded / total`, rounded half up to the cent, and
all of it once the whole order is refunded); a cancellation gives back the whole wallet part.
The amount owed is cumulative and keyed by its level, so a duplicate call credits nothing.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Sum
from django.utils import timezone

from brands.models import Brand
from brands.roles import wallet_adjustment_limit_for
from core.errors import ApplicationError, ConflictError, NotFoundError, PermissionDeniedError
from customers.models import Customer
from wallets.lock_objects import wallet_lock, wallet_lock_for
from wallets.models import Wallet, WalletClawback, WalletTransaction

logger = logging.getLogger(__name__)

Kind = WalletTransaction.Kind
CENT = Decimal("0.01")
# The largest single movement: far above any real top-up, far below the column's limit.
MAX_AMOUNT = Decimal("100000.00")


@dataclass(frozen=True)
class WalletWrite:
    transaction: WalletTransaction
    created: bool


def wallet_insufficient(*, balance: Decimal, field: str = "amount") -> ApplicationError:
    return ApplicationError(
        f"The wallet holds {balance}, less than asked.",
        code="wallet_insufficient",
        fields={field: [f"At most {balance}."]},
    )


def _amount_checked(amount: Decimal, field: str = "amount") -> Decimal:
    amount = Decimal(amount)
    if amount != amount.quantize(CENT) or not 0 < abs(amount) <= MAX_AMOUNT:
        raise ApplicationError(
            f"The amount must be in cents, not zero, and at most {MAX_AMOUNT}.",
            code="invalid_wallet_amount",
            fields={field: [f"Between 0.01 and {MAX_AMOUNT}, in cents."]},
        )
    return amount


def wallet_get_or_create(*, customer: Customer, brand: Brand) -> Wallet:
    """The customer's wallet at the brand, created empty on first need (race-safe: the unique
    constraint decides, the loser reads the winner's row)."""
    wallet, _ = Wallet.objects.get_or_create(
        customer=customer, brand=brand, defaults={"currency": brand.currency}
    )
    return wallet


def _apply(
    wallet: Wallet,
    *,
    kind: str,
    amount: Decimal,
    idempotency_key: str,
    order=None,
    reason: str = "",
    actor=None,
    field: str = "amount",
) -> WalletTransaction:
    """Move a locked wallet by `amount` and write its ledger row."""
    balance = wallet.balance + amount
    if balance < 0:
        raise wallet_insufficient(balance=wallet.balance, field=field)
    Wallet.objects.filter(pk=wallet.pk).update(
        balance=F("balance") + amount, updated_at=timezone.now()
    )
    wallet.balance = balance
    return WalletTransaction.objects.create(
        wallet=wallet,
        kind=kind,
        amount=amount,
        balance_after=balance,
        order=order,
        reason=reason[:255],
        actor=actor if getattr(actor, "pk", None) else None,
        idempotency_key=idempotency_key,
    )


def _write(*, wallet_id: int, idempotency_key: str, **fields) -> WalletWrite:
    wallet = wallet_lock(wallet_id=wallet_id)
    if wallet is None:
        raise NotFoundError("No such wallet.", code="wallet_not_found")
    existing = WalletTransaction.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        if existing.wallet_id != wallet.pk:
            raise ConflictError(
                "This idempotency key was already used for another wallet.",
                code="idempotency_key_reused",
            )
        return WalletWrite(existing, False)
    return WalletWrite(_apply(wallet, idempotency_key=idempotency_key, **fields), True)


@transaction.atomic
def wallet_credit(
    *,
    customer: Customer,
    brand: Brand,
    amount: Decimal,
    idempotency_key: str,
    reason: str = "",
    actor=None,
    order=None,
) -> WalletWrite:
    """Credit the customer's wallet at the brand (created on first need) with `amount` > 0.
    A replay of `idempotency_key` returns the first row and changes nothing."""
    amount = _amount_checked(amount)
    if amount < 0:
        raise ApplicationError(
            "A credit is positive.", code="invalid_wallet_amount", fields={"amount": ["> 0."]}
        )
    wallet = wallet_get_or_create(customer=customer, brand=brand)
    return _write(
        wallet_id=wallet.pk,
        idempotency_key=idempotency_key,
        kind=Kind.CREDIT,
        amount=amount,
        reason=reason,
        actor=actor,
        order=order,
    )


def payment_idempotency_key(order_id: int) -> str:
    return f"wallet:payment:order:{order_id}"


@transaction.atomic(savepoint=False)
def wallet_pay_order(*, order, requested: Decimal, amount: Decimal) -> WalletTransaction | None:
    """Debit `amount` (what the order lets the wallet pay, at most `requested`) from the
    customer's wallet at the order's brand, in the order's transaction.

    Refused with `wallet_insufficient` (field `wallet_amount`) when the wallet holds less than
    `requested`, or the customer has no wallet there: the caller's transaction rolls back and
    nothing is written. Three queries: lock, update, insert.
    """
    wallet = wallet_lock_for(customer_id=order.customer_id, brand_id=order.brand_id)
    if wallet is None or wallet.balance < requested:
        raise wallet_insufficient(
            balance=wallet.balance if wallet else Decimal("0.00"), field="wallet_amount"
        )
    if amount <= 0:
        return None  # a free order: nothing to pay
    return _apply(
        wallet,
        kind=Kind.PAYMENT,
        amount=-amount,
        idempotency_key=payment_idempotency_key(order.pk),
        order=order,
        reason=f"Payment of order {order.pk}.",
        field="wallet_amount",
    )


def wallet_return_target(order) -> Decimal:
    """How much of the order's wallet payment its refunds and cancellation give back in all
    (see the refund rule at the top of this module)."""
    if not order.wallet_amount:
        return Decimal("0.00")
    if (
        order.payment_status == order.PaymentStatus.CANCELLED
        or order.refunded_amount >= order.total
    ):
        return order.wallet_amount
    if order.total <= 0:
        return Decimal("0.00")
    share = (order.wallet_amount * order.refunded_amount / order.total).quantize(
        CENT, rounding=ROUND_HALF_UP
    )
    return min(share, order.wallet_amount)


@transaction.atomic
def wallet_refund(
    *, order, amount: Decimal, idempotency_key: str, reason: str = "", actor=None
) -> WalletWrite:
    """Give `amount` back to the wallet that paid `order`, never more than it paid and has not
    had back. A replay of `idempotency_key` changes nothing."""
    amount = _amount_checked(amount)
    payment = (
        WalletTransaction.objects.filter(order=order, kind=Kind.PAYMENT)
        .select_related("wallet")
        .first()
    )
    if payment is None or amount < 0:
        raise ApplicationError(
            "This order paid nothing from a wallet.",
            code="wallet_refund_invalid",
            fields={"amount": ["Nothing to give back."]},
        )
    wallet = wallet_lock(wallet_id=payment.wallet_id)
    existing = WalletTransaction.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return WalletWrite(existing, False)
    returned = (
        WalletTransaction.objects.filter(order=order, kind=Kind.REFUND).aggregate(s=Sum("amount"))[
            "s"
        ]
        or 0
    )
    if returned + amount > -payment.amount:
        raise ApplicationError(
            f"The order paid {-payment.amount} from the wallet and had {returned} back.",
            code="wallet_refund_too_large",
            fields={"amount": [f"At most {-payment.amount - returned}."]},
        )
    return WalletWrite(
        _apply(
            wallet,
            kind=Kind.REFUND,
            amount=amount,
            idempotency_key=idempotency_key,
            order=order,
            reason=reason or f"Refund of order {order.pk}.",
            actor=actor,
        ),
        True,
    )


@transaction.atomic
def order_wallet_settle(*, order, actor=None) -> WalletTransaction | None:
    """Give back to the wallet what the order's refunds and cancellation owe it and it has
    not had yet. Cumulative and keyed by the level reached, so a duplicate call (a redelivered
    refund, a second cancellation attempt) credits nothing. The caller holds the order's lock
    (`order_set_payment_status`)."""
    target = wallet_return_target(order)
    if target <= 0:
        return None
    returned = (
        WalletTransaction.objects.filter(order=order, kind=Kind.REFUND).aggregate(s=Sum("amount"))[
            "s"
        ]
        or 0
    )
    if target <= returned:
        return None
    write = wallet_refund(
        order=order,
        amount=target - returned,
        idempotency_key=f"wallet:refund:order:{order.pk}:upto:{target}",
        reason=f"Order {order.pk} {order.payment_status}.",
        actor=actor,
    )
    return write.transaction if write.created else None


@transaction.atomic
def wallet_claw_back(
    *,
    wallet_id: int,
    order,
    owed: Decimal,
    cause: str,
    idempotency_key: str,
    reason: str = "",
) -> WalletClawback:
    """Take `owed` back from a wallet for `order` (a step of a cumulative claw-back, keyed by
    the caller), as much as the wallet holds: never below zero. What it does not hold, the
    customer already spent; it is recorded as not recovered on the step and not asked again.
    A replay of `idempotency_key` returns the first step and changes nothing."""
    owed = _amount_checked(owed, field="owed")
    if owed < 0:
        raise ApplicationError(
            "A claw-back takes a positive amount.",
            code="invalid_wallet_amount",
            fields={"owed": ["> 0."]},
        )
    wallet = wallet_lock(wallet_id=wallet_id)
    if wallet is None:
        raise NotFoundError("No such wallet.", code="wallet_not_found")
    existing = WalletClawback.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    taken = min(owed, wallet.balance)
    row = None
    if taken > 0:
        row = _apply(
            wallet,
            kind=Kind.CLAWBACK,
            amount=-taken,
            idempotency_key=idempotency_key,
            order=order,
            reason=reason,
        )
    if taken < owed:
        logger.info(
            "Wallets: wallet %s held %s of the %s order %s owes back; %s not recovered.",
            wallet.pk,
            taken,
            owed,
            order.pk,
            owed - taken,
        )
    return WalletClawback.objects.create(
        wallet=wallet,
        order=order,
        cause=cause,
        owed=owed,
        taken=taken,
        not_recovered=owed - taken,
        transaction=row,
        reason=reason[:255],
        idempotency_key=idempotency_key,
    )


@transaction.atomic
def wallet_adjust(
    *,
    wallet_id: int,
    amount: Decimal,
    reason: str,
    actor,
    idempotency_key: str | None = None,
) -> WalletWrite:
    """Staff credit (`amount` > 0) or debit (< 0) a wallet by hand, with a mandatory reason,
    within the limit of their role (`brands.roles.WALLET_ADJUSTMENT_LIMITS`). A debit never
    takes the wallet below zero."""
    if not (reason or "").strip():
        raise ApplicationError(
            "Give a reason for the adjustment.",
            code="reason_required",
            fields={"reason": ["Required."]},
        )
    amount = _amount_checked(amount)
    limit = wallet_adjustment_limit_for(actor)
    if limit is not None and abs(amount) > limit:
        raise PermissionDeniedError(
            f"Your role adjusts a wallet by at most {limit} at a time.",
            code="wallet_adjustment_over_limit",
            fields={"amount": [f"At most {limit} either way."]},
        )
    return _write(
        wallet_id=wallet_id,
        idempotency_key=idempotency_key or f"wallet:adjustment:{uuid.uuid4()}",
        kind=Kind.ADJUSTMENT,
        amount=amount,
        reason=reason.strip(),
        actor=actor,
    )


@transaction.atomic
def wallet_expire(
    *, wallet_id: int, idempotency_key: str, amount: Decimal | None = None, reason: str = ""
) -> WalletWrite | None:
    """Expire `amount` of the wallet (all of it when None), never more than it holds. None
    when there is nothing to expire. A replay of `idempotency_key` changes nothing."""
    wallet = wallet_lock(wallet_id=wallet_id)
    if wallet is None:
        raise NotFoundError("No such wallet.", code="wallet_not_found")
    existing = WalletTransaction.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return WalletWrite(existing, False)
    take = wallet.balance if amount is None else min(_amount_checked(amount), wallet.balance)
    if take <= 0:
        return None
    return WalletWrite(
        _apply(
            wallet,
            kind=Kind.EXPIRY,
            amount=-take,
            idempotency_key=idempotency_key,
            reason=reason or "Expired.",
        ),
        True,
    )


@transaction.atomic
def wallet_expire_inactive(*, wallet_id: int, cutoff: datetime) -> WalletWrite | None:
    """Expire all the credit of a wallet whose last movement is older than `cutoff`.

    Checked again under the wallet's lock, so a payment that lands meanwhile keeps the wallet
    alive; keyed by the last movement, so running it twice (or two sweeps at once) expires
    once. None when the wallet moved since, or holds nothing."""
    wallet = wallet_lock(wallet_id=wallet_id)
    if wallet is None or wallet.balance <= 0:
        return None
    last = wallet.transactions.order_by("-created_at", "-id").first()
    if last is None or last.created_at > cutoff:
        return None
    return wallet_expire(
        wallet_id=wallet.pk,
        idempotency_key=f"wallet:expiry:{wallet.pk}:after:{last.pk}",
        reason=f"No wallet movement since {last.created_at:%Y-%m-%d}.",
    )


def wallets_expire_inactive(
    *, now: datetime | None = None, inactive_days: int | None = None, batch_size: int | None = None
) -> int:
    """Sweep: expire the credit of every wallet with no movement for `inactive_days`
    (WALLET_EXPIRY_INACTIVE_DAYS; 0 never expires), in batches, each wallet in its own short
    transaction. Safe to run again or concurrently. Returns the number of wallets expired."""
    days = settings.WALLET_EXPIRY_INACTIVE_DAYS if inactive_days is None else inactive_days
    if days <= 0:
        return 0
    batch_size = batch_size or settings.WALLET_EXPIRY_BATCH_SIZE
    cutoff = (now or timezone.now()) - timedelta(days=days)
    candidates = (
        Wallet.objects.filter(balance__gt=0)
        .annotate(last_moved=Max("transactions__created_at"))
        .filter(last_moved__lte=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    expired, after = 0, 0
    while True:
        batch = list(candidates.filter(pk__gt=after)[:batch_size])
        if not batch:
            break
        for wallet_id in batch:
            write = wallet_expire_inactive(wallet_id=wallet_id, cutoff=cutoff)
            if write is not None and write.created:
                expired += 1
        after = batch[-1]
    if expired:
        logger.info("Wallets: the credit of %s inactive wallets expired.", expired)
    return expired
