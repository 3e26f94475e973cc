"""An order paid end to end: the outbox, Redis and a real Celery worker record the campaign."""

import time

import pytest
from django.db import transaction

from campaigns.models import CampaignProgress
from campaigns.tasks import record_order_task
from campaigns.tests.factories import make_campaign
from core.tests.api_world import build_tenant
from loyalty_management.tests.factories import LoyaltyProgramFactory
from orders.models import Order
from orders.services.payment import order_set_payment_status
from orders.tests.factories import place_order
from rewards.models import CustomerReward

WAIT_SECONDS = 30
PS = Order.PaymentStatus


def wait_for_reward(campaign, customer) -> CampaignProgress | None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        progress = CampaignProgress.objects.filter(campaign=campaign, customer=customer).first()
        if progress is not None and progress.reward_id is not None:
            return progress
        time.sleep(0.1)
    return None


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_records_paid_orders_and_issues_the_reward_once(live_celery_worker):
    # Given a campaign across A and B, and a customer's placed orders at both
    a, b = build_tenant("a"), build_tenant("b")
    LoyaltyProgramFactory(brand=a.brand)
    campaign = make_campaign(owner=a.brand, brands=[b.brand])
    orders = [
        place_order(brand=t.brand, products_and_quantities=[(t.product, 2)], customer=a.customer)
        for t in (a, b)
    ]

    # When both are paid (the records go through the outbox and Redis after each commit)
    for order in orders:
        with transaction.atomic():
            order_set_payment_status(order_id=order.pk, to_status=PS.PAID)

    # Then the worker completes the campaign and issues the reward
    progress = wait_for_reward(campaign, a.customer)
    assert progress is not None, live_celery_worker.log()
    assert progress.is_met and progress.reward.points == 50

    # When the order.paid record is delivered twice more
    again = [record_order_task.delay(order_id=orders[1].pk) for _ in range(2)]

    # Then nothing more is issued
    assert [r.get(timeout=WAIT_SECONDS)["rewards_issued"] for r in again] == [0, 0]
    assert CustomerReward.objects.filter(source="campaign").count() == 1
    assert "campaigns.record_order[" in live_celery_worker.log()
