"""Concurrent deliveries against PostgreSQL: the reward is issued once."""

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from campaigns.models import CampaignOrder, CampaignProgress
from campaigns.services import campaign_order_record
from campaigns.tests.factories import make_campaign
from core.tests.api_world import build_tenant
from loyalty_management.models import LoyaltyAccount
from loyalty_management.tests.factories import LoyaltyProgramFactory
from notifications.models import Notification
from orders.models import Order
from orders.tests.factories import place_order
from rewards.models import CustomerReward


def run_together(workers) -> list[BaseException]:
    """Start every worker at the same instant; each closes its own DB connection."""
    barrier = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def wrap(work):
        try:
            barrier.wait()
            work()
        except BaseException as error:  # collected and asserted by the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrap, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("rounds", range(3))
def test_two_orders_at_two_brands_recorded_at_once_give_one_reward(rounds):
    # Given a campaign across A and B, and a customer's paid order at each (tasks not run yet)
    a, b = build_tenant("a"), build_tenant("b")
    program = LoyaltyProgramFactory(brand=a.brand)
    campaign = make_campaign(owner=a.brand, brands=[b.brand])
    orders = [
        place_order(brand=t.brand, products_and_quantities=[(t.product, 2)], customer=a.customer)
        for t in (a, b)
    ]
    # Paid without the receivers (an update), so that no task has recorded them yet.
    Order.objects.filter(pk__in=[o.pk for o in orders]).update(
        payment_status=Order.PaymentStatus.PAID, paid_at=timezone.now()
    )
    assert not CampaignProgress.objects.exists()

    # When both orders, each delivered twice, are recorded at the same instant
    errors = run_together(
        [lambda o=o: campaign_order_record(order_id=o.pk) for o in orders for _ in range(2)]
    )

    # Then both count, the requirement is met, and one reward with its points and notice
    assert errors == []
    progress = CampaignProgress.objects.get(campaign=campaign, customer=a.customer)
    assert (progress.total_spend, progress.brands_counted, progress.is_met) == (
        Decimal("50.00"),
        2,
        True,
    )
    assert CampaignOrder.objects.filter(campaign=campaign).count() == 2
    assert CustomerReward.objects.filter(source="campaign").count() == 1
    assert progress.reward_id == CustomerReward.objects.get(source="campaign").pk
    account = LoyaltyAccount.objects.get(customer=a.customer, program=program)
    assert account.available_points == 50
    assert Notification.objects.filter(event="loyalty.campaign.completed").count() == 1
