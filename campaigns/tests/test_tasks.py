"""The wiring: a payment change enqueues `campaigns.record_order` through the outbox; the task
is idempotent; the beat entry exists."""

from decimal import Decimal

import pytest
from django.conf import settings

from brands.tests.factories import BrandFactory
from campaigns.models import CampaignOrder, CampaignProgress
from campaigns.tasks import process_cross_brand_accumulation_task, record_order_task
from campaigns.tests.factories import make_campaign, paid_order
from core.models import OutboxMessage
from loyalty_management.tests.factories import LoyaltyProgramFactory
from orders.models import Order
from orders.services.payment import order_set_payment_status
from rewards.models import CustomerReward

pytestmark = pytest.mark.django_db
PS = Order.PaymentStatus


def _campaign_messages(order) -> int:
    return OutboxMessage.objects.filter(
        task="campaigns.record_order", kwargs={"order_id": order.pk}
    ).count()


def test_paid_and_refunded_orders_enqueue_the_record_in_their_transaction(
    a, b, django_capture_on_commit_callbacks
):
    LoyaltyProgramFactory(brand=a.brand)
    campaign = make_campaign(owner=a.brand, brands=[b.brand])

    # When an order is paid: the message is written with the change and sent after commit
    with django_capture_on_commit_callbacks(execute=True):
        first = paid_order(tenant=a, customer=a.customer)
    assert _campaign_messages(first) == 1
    progress = CampaignProgress.objects.get(campaign=campaign, customer=a.customer)
    assert progress.total_spend == Decimal("25.00")

    # When it is partly refunded, then refunded: each change is recorded again
    with django_capture_on_commit_callbacks(execute=True):
        order_set_payment_status(
            order_id=first.pk, to_status=PS.PARTIALLY_REFUNDED, refund_amount=Decimal("5.00")
        )
    progress.refresh_from_db()
    assert progress.total_spend == Decimal("20.00")
    with django_capture_on_commit_callbacks(execute=True):
        order_set_payment_status(order_id=first.pk, to_status=PS.REFUNDED)
    progress.refresh_from_db()
    assert progress.total_spend == Decimal("0.00")
    assert _campaign_messages(first) == 3


def test_orders_that_cannot_count_enqueue_nothing(a, b, django_capture_on_commit_callbacks):
    # No campaign at brand A yet; then one at brand B only; and an order without a customer
    with django_capture_on_commit_callbacks(execute=True):
        before = paid_order(tenant=a, customer=a.customer)
    LoyaltyProgramFactory(brand=b.brand)
    other = BrandFactory(slug="other", name="Other")
    make_campaign(owner=b.brand, brands=[other])
    with django_capture_on_commit_callbacks(execute=True):
        elsewhere = paid_order(tenant=a, customer=a.customer)
        anonymous = paid_order(tenant=b, customer=None)
    assert [_campaign_messages(o) for o in (before, elsewhere, anonymous)] == [0, 0, 0]


def test_duplicate_deliveries_of_the_task_issue_the_reward_once(a, b):
    LoyaltyProgramFactory(brand=a.brand)
    campaign = make_campaign(owner=a.brand, brands=[b.brand])
    orders = [paid_order(tenant=t, customer=a.customer) for t in (a, b)]

    results = [record_order_task.delay(order_id=o.pk).get() for o in orders for _ in range(3)]

    assert [r["rewards_issued"] for r in results] == [0, 0, 0, 1, 0, 0]
    assert CampaignOrder.objects.filter(campaign=campaign).count() == 2
    assert CustomerReward.objects.filter(source="campaign").count() == 1
    assert record_order_task.delay(order_id=999_999).get()["campaigns"] == 0


def test_the_sweep_task_runs_twice_safely(a, b):
    LoyaltyProgramFactory(brand=a.brand)
    make_campaign(owner=a.brand, brands=[b.brand])
    for tenant in (a, b):
        paid_order(tenant=tenant, customer=a.customer)

    first = process_cross_brand_accumulation_task.delay().get()
    second = process_cross_brand_accumulation_task.delay().get()

    assert (first["orders_recorded"], first["rewards_issued"]) == (2, 1)
    assert (second["orders_recorded"], second["rewards_issued"]) == (0, 0)


def test_the_beat_runs_the_safety_net_hourly():
    entry = settings.CELERY_BEAT_SCHEDULE["campaigns-process-cross-brand-accumulation"]
    assert entry["task"] == "campaigns.process_cross_brand_accumulation"
    assert (entry["schedule"]._orig_minute, entry["schedule"]._orig_hour) == ("25", "*")
