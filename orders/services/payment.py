"""Payment status changes. The only way an order's payment status moves.

Allowed transitions (anything else is refused with `invalid_payment_transition`):

    pending            → paid, failed, cancelled
    failed             → pending (a new payment attempt), cancelled
    paid               → refunded, partially_refunded, cancelled
    partially_refunded → partially_refunded (another partial refund), refunded

`refunded` and `cancelled` are final. A partial refund that brings the refunded amount up to
the order total makes the order `refunded`.

Promotion usage follows in the same transaction: paid commits the uses the order reserved,
cancelled releases them (gives them back). A failed payment keeps them: the order may still be
paid on a new attempt; only its cancellation frees its uses.

Reward codes the order used come back when it is cancelled before it is paid (from pending or
failed): a code still valid is active again, one past its validity expired
(`rewards.services.rewards_release_for_order`). Cancelling or refunding a paid order does not give
them back: the customer had the discount on a sale that happened.

Voucher codes follow the promotion uses: paid makes the order's uses final, cancelled gives
them back (`vouchers.redemption`).

The wallet part of the payment follows too: refunds give the wallet its share in proportion to
what it paid, a cancellation gives it all back (`wallets.services.order_wallet_settle`, once).
"""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from core.errors import ApplicationError, NotFoundError
from orders.models import Order, PaymentStatusChange
from promotions.services.usage import usage_commit, usage_release
from rewards.services import rewards_release_for_order
from rules.models import Event
from rules.services.events import rules_event_emit
from vouchers.redemption import vouchers_commit_for_order, vouchers_release_for_order
from wallets.services import order_wallet_settle

PS = Order.PaymentStatus
# The rule events a new payment status emits (their rules run after commit).
RULE_EVENTS = {
    PS.PAID: Event.ORDER_PAID,
    PS.REFUNDED: Event.ORDER_REFUNDED,
    PS.PARTIALLY_REFUNDED: Event.ORDER_REFUNDED,
}
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    PS.PENDING: frozenset({PS.PAID, PS.FAILED, PS.CANCELLED}),
    PS.FAILED: frozenset({PS.PENDING, PS.CANCELLED}),
    PS.PAID: frozenset({PS.REFUNDED, PS.PARTIALLY_REFUNDED, PS.CANCELLED}),
    PS.PARTIALLY_REFUNDED: frozenset({PS.PARTIALLY_REFUNDED, PS.REFUNDED}),
    PS.REFUNDED: frozenset(),
    PS.CANCELLED: frozenset(),
}


def _refused(order: Order, to_status: str) -> ApplicationError:
    allowed = sorted(ALLOWED_TRANSITIONS[order.payment_status])
    return ApplicationError(
        f"Cannot change payment status from {order.payment_status} to {to_status}."
        + (f" Allowed: {', '.join(allowed)}." if allowed else " It is final."),
        code="invalid_payment_transition",
        fields={"payment_status": [f"Not allowed from {order.payment_status}."]},
    )


@transaction.atomic
def order_set_payment_status(
    *,
    order_id: int,
    to_status: str,
    refund_amount: Decimal | None = None,
    payment_method: str | None = None,
    actor=None,
    device=None,
    note: str = "",
) -> Order:
    """Move an order's payment status, under a row lock, and audit the change.

    The order is saved with `save()` so receivers of `pre_save`/`post_save` see the change.
    """
    order = Order.objects.select_for_update().filter(pk=order_id).first()
    if order is None:
        raise NotFoundError("Order not found.", code="order_not_found")
    if to_status not in PS.values:
        raise ApplicationError(
            f"Unknown payment status {to_status!r}.",
            code="invalid_payment_status",
            fields={"payment_status": ["Unknown value."]},
        )
    from_status = order.payment_status
    if to_status not in ALLOWED_TRANSITIONS[from_status]:
        raise _refused(order, to_status)
    if refund_amount is not None and to_status not in (PS.REFUNDED, PS.PARTIALLY_REFUNDED):
        raise ApplicationError(
            "A refund amount only goes with a refund.",
            code="unexpected_refund_amount",
            fields={"refund_amount": ["Only for refunds."]},
        )

    update_fields = ["payment_status", "updated_at"]
    amount = None
    if to_status in (PS.REFUNDED, PS.PARTIALLY_REFUNDED):
        remaining = order.total - order.refunded_amount
        amount = remaining if refund_amount is None and to_status == PS.REFUNDED else refund_amount
        if amount is None:
            raise ApplicationError(
                "A partial refund needs an amount.",
                code="refund_amount_required",
                fields={"refund_amount": ["Required for a partial refund."]},
            )
        zero_total_refund = amount == 0 and remaining == 0 and to_status == PS.REFUNDED
        invalid = amount <= 0 or amount > remaining or amount != amount.quantize(Decimal("0.01"))
        if invalid and not zero_total_refund:
            raise ApplicationError(
                f"The refund amount must be positive, in cents, and at most {remaining}.",
                code="invalid_refund_amount",
                fields={"refund_amount": [f"Must be between 0.01 and {remaining}."]},
            )
        order.refunded_amount += amount
        update_fields.append("refunded_amount")
        to_status = PS.REFUNDED if order.refunded_amount == order.total else PS.PARTIALLY_REFUNDED
    if to_status == PS.PAID:
        order.paid_at = timezone.now()
        update_fields.append("paid_at")
        if payment_method is not None:
            order.payment_method = payment_method
            update_fields.append("payment_method")
    if to_status == PS.CANCELLED:
        order.status = Order.Status.CANCELLED
        update_fields.append("status")

    order.payment_status = to_status
    order.save(update_fields=update_fields)
    PaymentStatusChange.objects.create(
        order=order,
        from_status=from_status,
        to_status=to_status,
        amount=amount,
        actor=actor if getattr(actor, "pk", None) else None,
        device=device,
        note=note,
    )
    used_vouchers = any(entry.get("applied") for entry in order.vouchers)
    if to_status == PS.PAID:
        usage_commit(order=order)
        if used_vouchers:
            vouchers_commit_for_order(order_id=order.pk)
    elif to_status == PS.CANCELLED:
        usage_release(order=order)
        if used_vouchers:
            vouchers_release_for_order(order_id=order.pk)
        used_codes = any(entry.get("applied") for entry in order.reward_codes)
        if used_codes and from_status in (PS.PENDING, PS.FAILED):
            rewards_release_for_order(order_id=order.pk)
    if order.wallet_amount and to_status in (PS.CANCELLED, PS.REFUNDED, PS.PARTIALLY_REFUNDED):
        order_wallet_settle(order=order, actor=actor if getattr(actor, "pk", None) else None)
    event = RULE_EVENTS.get(to_status)
    if event is not None:
        rules_event_emit(
            event=event, brand_id=order.brand_id, customer_id=order.customer_id, order_id=order.pk
        )
    return order
