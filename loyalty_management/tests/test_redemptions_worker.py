"""The redemption expiry sweep through Redis on a real Celery worker process."""

from datetime import timedelta

import pytest
from django.utils import timezone

from customers.tests.factories import CustomerFactory
from loyalty_management.models import LoyaltyAccount, RedemptionItem, RedemptionRequest
from loyalty_management.services.catalogue import redemption_item_save
from loyalty_management.services.ledger import account_get_or_create, ledger_credit
from loyalty_management.services.redemptions import redemption_request
from loyalty_management.tasks import expire_redemptions_task
from loyalty_management.tests.factories import LoyaltyProgramFactory
from loyalty_management.tests.invariants import assert_ledger_invariants

WAIT_SECONDS = 30


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_expires_stale_requests_once_even_when_sent_twice(live_celery_worker):
    # Given a request waiting longer than the approval timeout, and a fresh one
    program = LoyaltyProgramFactory()
    account = account_get_or_create(customer=CustomerFactory(), program=program)
    ledger_credit(account_id=account.pk, kind="bonus", points=100, idempotency_key="w")
    item = redemption_item_save(
        brand=program.brand,
        data={"name": "Mug", "points_cost": 30, "kind": "physical", "stock": 4},
    )
    RedemptionItem.objects.filter(pk=item.pk).update(auto_approve=False)
    stale, fresh = (
        redemption_request(customer=account.customer, brand=program.brand, item_id=item.pk)[0]
        for _ in range(2)
    )
    RedemptionRequest.objects.filter(pk=stale.pk).update(
        created_at=timezone.now() - timedelta(days=30)
    )

    # When the sweep is sent to the worker twice at once
    results = [expire_redemptions_task.delay() for _ in range(2)]

    # Then the stale request expired once, its points and unit went back
    assert sorted(r.get(timeout=WAIT_SECONDS) for r in results) == [0, 1], live_celery_worker.log()
    assert dict(RedemptionRequest.objects.values_list("pk", "status")) == {
        stale.pk: "expired",
        fresh.pk: "requested",
    }
    account = LoyaltyAccount.objects.get(pk=account.pk)
    assert account.available_points == 70
    assert RedemptionItem.objects.get(pk=item.pk).stock == 3
    assert_ledger_invariants(account.pk)
    assert "loyalty_management.expire_redemptions[" in live_celery_worker.log()
