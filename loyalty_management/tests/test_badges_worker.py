"""Badge tasks through Redis to a real Celery worker process."""

import time

import pytest
from django.db import transaction

from brands.tests.factories import BrandFactory
from customers.services import customer_create
from loyalty_management.models import CustomerBadge
from loyalty_management.services.badges import badge_definition_save
from loyalty_management.tasks import evaluate_customer_badges_task, review_badges_task
from loyalty_management.tests.factories import make_order
from orders.models import Order
from orders.services.payment import order_set_payment_status

WAIT_SECONDS = 30
PS = Order.PaymentStatus


def wait_for_badges(customer, count: int) -> int:
    deadline = time.monotonic() + WAIT_SECONDS
    held = 0
    while time.monotonic() < deadline:
        held = CustomerBadge.objects.filter(customer=customer).count()
        if held >= count:
            return held
        time.sleep(0.1)
    return held


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_awards_the_badge_of_a_paid_order_and_its_sweep_adds_nothing(
    live_celery_worker,
):
    # Given a brand with a first-order badge and a customer with a pending order
    brand = BrandFactory(slug="worker-badges")
    customer = customer_create(brand=brand, email="worker@example.com")
    badge_definition_save(
        brand=brand, data={"name": "First", "kind": "order_count", "order_count": 1}
    )
    order = make_order(brand=brand, customer=customer)

    # When it is paid (the evaluation goes through the outbox and Redis after commit)
    with transaction.atomic():
        order_set_payment_status(order_id=order.pk, to_status=PS.PAID)

    # Then the worker awards the badge for that order
    assert wait_for_badges(customer, 1) == 1, live_celery_worker.log()
    award = CustomerBadge.objects.get(customer=customer)
    assert (award.source, award.order_id) == ("order", order.pk)

    # When the evaluation is delivered again and the daily review runs twice on the worker
    again = evaluate_customer_badges_task.delay(customer_id=customer.pk, brand_id=brand.pk)
    reviews = [review_badges_task.delay() for _ in range(2)]

    # Then nothing more is awarded
    assert again.get(timeout=WAIT_SECONDS) == 0
    assert [review.get(timeout=WAIT_SECONDS) for review in reviews] == [0, 0]
    assert CustomerBadge.objects.filter(customer=customer).count() == 1
    log = live_celery_worker.log()
    assert "loyalty_management.evaluate_customer_badges[" in log
    assert "loyalty_management.review_badges[" in log


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_daily_review_on_a_worker_awards_what_a_lost_task_missed(live_celery_worker):
    # Given a paid order whose evaluation never ran (marked paid without the signal)
    brand = BrandFactory(slug="worker-review")
    customer = customer_create(brand=brand, email="missed@example.com")
    badge_definition_save(
        brand=brand, data={"name": "First", "kind": "order_count", "order_count": 1}
    )
    order = make_order(brand=brand, customer=customer)
    Order.objects.filter(pk=order.pk).update(payment_status=PS.PAID)

    # When beat's daily review runs on the worker
    assert review_badges_task.delay().get(timeout=WAIT_SECONDS) == 1

    # Then the badge is awarded by the review
    assert wait_for_badges(customer, 1) == 1, live_celery_worker.log()
    assert CustomerBadge.objects.get(customer=customer).source == "sweep"
