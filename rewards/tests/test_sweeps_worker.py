"""Both reward sweeps through Redis on a real Celery worker process, each sent twice at once."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from brands.tests.factories import BrandFactory
from customers.models import CustomerBrand
from customers.tests.factories import CustomerFactory
from notifications.models import Notification
from rewards.models import CustomerReward, RewardTemplate
from rewards.services import RewardSpec, reward_issue
from rewards.sweeps import EXPIRING_EVENT
from rewards.tasks import expire_rewards_task, issue_birthday_rewards_task
from rewards.tests.factories import RewardTemplateFactory

WAIT_SECONDS = 30


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_birthday_and_expiry_sweeps_once(live_celery_worker, settings):
    # Given three customers whose birthday is today (UTC brand) and one whose it is not
    brand = BrandFactory(time_zone="UTC")
    template = RewardTemplateFactory(
        brand=brand, name="Birthday", trigger=RewardTemplate.Trigger.BIRTHDAY, valid_days=30
    )
    today = timezone.now().date()
    born = date(1990, today.month, min(today.day, 28))
    celebrating = []
    for i in range(4):
        birthday = born if i < 3 else born + timedelta(days=1 if born.day < 28 else -1)
        customer = CustomerFactory(birth_date=birthday)
        CustomerBrand.objects.create(customer=customer, brand=brand)
        if birthday == today.replace(year=1990):
            celebrating.append(customer.pk)

    # When the birthday sweep is sent to the worker twice at once
    results = [issue_birthday_rewards_task.delay() for _ in range(2)]

    # Then each celebrating customer got the reward exactly once
    issued = sorted(r.get(timeout=WAIT_SECONDS) for r in results)
    assert sum(issued) == len(celebrating), live_celery_worker.log()
    assert sorted(
        CustomerReward.objects.filter(template=template).values_list("customer_id", flat=True)
    ) == sorted(celebrating)

    # Given one code expiring tomorrow and one that expired yesterday
    customer = CustomerFactory()
    spec = RewardSpec(name="Coffee", kind="discount_amount", amount=Decimal("3.00"), valid_days=2)
    soon, _ = reward_issue(
        customer=customer, brand=brand, spec=spec, idempotency_key="soon", source="staff"
    )
    past, _ = reward_issue(
        customer=customer,
        brand=brand,
        spec=spec,
        idempotency_key="past",
        source="staff",
        now=timezone.now() - timedelta(days=3),
    )

    # When the expiry sweep is sent twice at once
    results = [expire_rewards_task.delay() for _ in range(2)]

    # Then the past code expired once and the other was announced once
    assert sum(r.get(timeout=WAIT_SECONDS) for r in results) == 2, live_celery_worker.log()
    assert CustomerReward.objects.get(pk=past.pk).status == "expired"
    assert CustomerReward.objects.get(pk=soon.pk).status == "active"
    assert Notification.objects.filter(event=EXPIRING_EVENT, customer=customer).count() == 1
    log = live_celery_worker.log()
    assert "rewards.issue_birthday_rewards[" in log and "rewards.expire_rewards[" in log
