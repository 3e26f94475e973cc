"""Order receivers: remember the payment status before a save, and after the save enqueue
the loyalty work its change calls for, once the transaction commits.

- becomes paid (created paid, or changed to paid; never when it already was): award points,
  credit its cashback when it has some, and evaluate the customer's badges at the brand;
- refunded or partially refunded (a new status or a new refunded amount), or a paid order
  cancelled: reverse what it no longer keeps, points and cashback.

Either way, an order with a customer that may count towards an active cross-brand campaign has
its progress recorded again (`campaigns.record_order`, which reads the order's current state:
paid adds, refunds lower).

The work goes through the outbox (`core.outbox`): it is written with the order's change and
sent after the commit, so a broker that is down delays it and loses nothing.
"""

from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from campaigns.selectors import order_may_count
from core.outbox import outbox_enqueue
from marketing.services import EARNING_STATUSES
from orders.models import Order

PS = Order.PaymentStatus
PREVIOUS = "_loyalty_previous_payment"
WATCHED_FIELDS = {"payment_status", "refunded_amount"}


@receiver(pre_save, sender=Order, dispatch_uid="marketing.remember_payment_status")
def remember_payment_status(sender, instance: Order, raw=False, update_fields=None, **kwargs):
    if raw or instance._state.adding:
        setattr(instance, PREVIOUS, None)
        return
    if update_fields is not None and not WATCHED_FIELDS & set(update_fields):
        setattr(instance, PREVIOUS, None)
        return
    stored = Order.objects.filter(pk=instance.pk).values_list("payment_status", "refunded_amount")
    setattr(instance, PREVIOUS, stored.first())


AWARD_TASK = "marketing.award_loyalty_points_for_order"
BADGES_TASK = "loyalty_management.evaluate_customer_badges"
REVERSE_TASK = "marketing.reverse_loyalty_points_for_order"
CASHBACK_CREDIT_TASK = "marketing.credit_cashback_for_order"
CASHBACK_REVERSE_TASK = "marketing.reverse_cashback_for_order"
CAMPAIGN_TASK = "campaigns.record_order"


def _enqueue(task: str, order_id: int) -> None:
    outbox_enqueue(task=task, kwargs={"order_id": order_id})


def _enqueue_campaigns(order: Order) -> None:
    """Record the order's cross-brand campaign progress when it may count towards one."""
    at = order.paid_at or order.created_at
    if order.customer_id is not None and order_may_count(brand_id=order.brand_id, at=at):
        _enqueue(CAMPAIGN_TASK, order.pk)


def _enqueue_paid(order: Order) -> None:
    """An order became paid: award its points, credit its cashback when it has some, and
    evaluate the customer's badges."""
    _enqueue(AWARD_TASK, order.pk)
    if order.cashback_total > 0:
        _enqueue(CASHBACK_CREDIT_TASK, order.pk)
    if order.customer_id is not None:
        outbox_enqueue(
            task=BADGES_TASK,
            kwargs={
                "customer_id": order.customer_id,
                "brand_id": order.brand_id,
                "source": "order",
                "order_id": order.pk,
            },
        )
    _enqueue_campaigns(order)


@receiver(post_save, sender=Order, dispatch_uid="marketing.enqueue_loyalty_work")
def enqueue_loyalty_work(sender, instance: Order, created: bool, raw=False, **kwargs):
    previous = instance.__dict__.pop(PREVIOUS, None)
    if raw:
        return
    status = instance.payment_status
    if created:
        if status == PS.PAID:
            _enqueue_paid(instance)
        return
    if previous is None:
        return
    previous_status, previous_refunded = previous
    refunded = status in (PS.REFUNDED, PS.PARTIALLY_REFUNDED) and (
        status != previous_status or instance.refunded_amount != previous_refunded
    )
    cancelled_after_payment = status == PS.CANCELLED and previous_status in EARNING_STATUSES
    if status == PS.PAID and previous_status != PS.PAID:
        _enqueue_paid(instance)
    elif refunded or cancelled_after_payment:
        _enqueue(REVERSE_TASK, instance.pk)
        if instance.cashback_total > 0:
            _enqueue(CASHBACK_REVERSE_TASK, instance.pk)
        _enqueue_campaigns(instance)
