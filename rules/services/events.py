"""Rule events: emitted by the services where things happen, evaluated after commit.

Order placement runs its `order.created` rules itself, inside its transaction (the discount is
part of the price). Every other event is emitted with `rules_event_emit` from the service that
made the change (payment status, customer creation, labeling); it is evaluated by a Celery task
once that change has committed, so a rolled-back change fires nothing. Each emission has its own
`event_id`; a rule fires at most once per `event_id`, so a duplicate task delivery does nothing.
"""

import logging
import uuid
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from brands.models import Brand
from core.outbox import outbox_enqueue
from customers.models import Customer
from rules.engine import EventContext, evaluate
from rules.models import Event, RuleFiring
from rules.selectors import brand_time_zone, customers_facts, order_facts, rules_for_event

logger = logging.getLogger(__name__)

# An action (say ADD_LABEL) may emit an event whose rules act again; the chain stops here.
MAX_EVENT_DEPTH = 3
SWEEP_BATCH = 500


def rules_event_emit(
    *,
    event: str,
    brand_id: int | None,
    customer_id: int | None = None,
    order_id: int | None = None,
    depth: int = 0,
) -> str | None:
    """Evaluate `event`'s rules after the current transaction commits (at once, outside one).
    Returns the event id, or None when no rule listens or the chain of events is too deep."""
    if depth > MAX_EVENT_DEPTH:
        logger.warning("rules event %s for customer %s dropped: too deep", event, customer_id)
        return None
    if not rules_for_event(event=event, brand_id=brand_id):
        return None
    event_id = uuid.uuid4().hex
    kwargs = {
        "event": event,
        "event_id": event_id,
        "brand_id": brand_id,
        "customer_id": customer_id,
        "order_id": order_id,
        "depth": depth,
    }
    outbox_enqueue(task="rules.evaluate_event", kwargs=kwargs)
    return event_id


def rules_event_evaluate(
    *,
    event: str,
    event_id: str,
    brand_id: int | None,
    customer_id: int | None = None,
    order_id: int | None = None,
    depth: int = 0,
    at: datetime | None = None,
) -> list[RuleFiring]:
    """Evaluate one emitted event (see `rules_event_emit`) in one transaction. A vanished
    object is logged and nothing runs; a concurrent duplicate delivery that committed first
    makes this one roll back and return nothing."""
    try:
        with transaction.atomic():
            return _event_evaluate(event, event_id, brand_id, customer_id, order_id, depth, at)
    except IntegrityError:
        logger.info("rules event %s (%s) was already evaluated", event, event_id)
        return []


def _event_evaluate(event, event_id, brand_id, customer_id, order_id, depth, at):
    from orders.models import Order

    order = None
    if order_id is not None:
        order = Order.objects.select_related("customer", "store").filter(pk=order_id).first()
        if order is None:
            logger.warning("rules event %s: order %s is gone", event, order_id)
            return []
    customer = order.customer if order is not None else None
    if customer is None and customer_id is not None:
        customer = Customer.objects.filter(pk=customer_id).first()
        if customer is None:
            logger.warning("rules event %s: customer %s is gone", event, customer_id)
            return []
    brand = Brand.objects.filter(pk=brand_id).first() if brand_id is not None else None
    ctx = EventContext(
        event=event,
        event_id=event_id,
        brand_id=brand_id,
        at=at or timezone.now(),
        object_type="order" if order is not None else "customer",
        object_id=order.pk if order is not None else customer.pk,
        customer=customer,
        order=order,
        order_facts=order_facts(order=order) if order is not None else None,
        time_zone=brand_time_zone(brand),
        depth=depth,
    )
    return evaluate(event, ctx)


def rules_daily_sweep(*, at: datetime | None = None) -> int:
    """Run every brand's `schedule.daily` rules over the brand's customers, in batches whose
    facts are loaded together. Safe to re-run: a rule fires once per customer and day.
    Returns the number of firings."""
    at = at or timezone.now()
    fired = 0
    for brand in Brand.objects.order_by("id"):
        rules = rules_for_event(event=Event.SCHEDULE_DAILY, brand_id=brand.pk)
        if not rules:
            continue
        zone = brand_time_zone(brand)
        day = timezone.localtime(at, zone).date().isoformat()
        with_stats = any(rule.needs_customer_stats for rule in rules)
        after = 0
        while True:
            batch = list(
                Customer.objects.filter(brand_links__brand=brand, pk__gt=after).order_by("pk")[
                    :SWEEP_BATCH
                ]
            )
            if not batch:
                break
            after = batch[-1].pk
            facts = customers_facts(
                customers=batch, brand_id=brand.pk, at=at, time_zone=zone, with_stats=with_stats
            )
            for customer in batch:
                with transaction.atomic():
                    ctx = EventContext(
                        event=Event.SCHEDULE_DAILY,
                        event_id=f"daily:{day}:{brand.pk}:{customer.pk}",
                        brand_id=brand.pk,
                        at=at,
                        object_type="customer",
                        object_id=customer.pk,
                        customer=customer,
                        customer_facts=facts[customer.pk],
                        time_zone=zone,
                    )
                    fired += len(evaluate(Event.SCHEDULE_DAILY, ctx, rules=rules))
    return fired
