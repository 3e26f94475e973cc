"""The catalogue and the approval queue in the admin: real form fields, bulk decisions, and a
reason asked for on an intermediate page before a rejection."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from brands.roles import BRAND_ADMIN
from core.tests.api_world import staff_user
from loyalty_management.models import LoyaltyAccount, RedemptionItem, RedemptionRequest
from loyalty_management.services.catalogue import redemption_item_save
from loyalty_management.services.ledger import account_get_or_create, ledger_credit
from loyalty_management.services.redemptions import redemption_request
from loyalty_management.tests.factories import LoyaltyProgramFactory
from loyalty_management.tests.invariants import assert_ledger_invariants

pytestmark = pytest.mark.django_db
QUEUE = "/admin/loyalty_management/redemptionrequest/"
ITEMS = "/admin/loyalty_management/redemptionitem/"


def waiting(tenant, count: int) -> tuple[LoyaltyAccount, list[RedemptionRequest]]:
    program = LoyaltyProgramFactory(brand=tenant.brand)
    account = account_get_or_create(customer=tenant.customer, program=program)
    ledger_credit(
        account_id=account.pk,
        kind="bonus",
        points=1000,
        idempotency_key=f"fund-{tenant.brand.slug}",
    )
    item = redemption_item_save(
        brand=tenant.brand,
        data={"name": "Mug", "points_cost": 100, "kind": "physical", "auto_approve": False},
    )
    return account, [
        redemption_request(customer=tenant.customer, brand=tenant.brand, item_id=item.pk)[0]
        for _ in range(count)
    ]


def test_bulk_reject_asks_for_a_reason_first(client, a):
    account, requests = waiting(a, 2)
    client.force_login(staff_user("admin-a", role=BRAND_ADMIN, brands=[a.brand]))
    selected = {"action": "reject", ACTION_CHECKBOX_NAME: [r.pk for r in requests]}

    asked = client.post(QUEUE, selected)
    assert asked.status_code == 200
    assert 'name="reason"' in asked.content.decode()
    assert RedemptionRequest.objects.filter(status="requested").count() == 2
    empty = client.post(QUEUE, {**selected, "confirmed": "yes", "reason": ""})
    assert "This field is required." in empty.content.decode()
    assert RedemptionRequest.objects.filter(status="requested").count() == 2

    done = client.post(
        QUEUE, {**selected, "confirmed": "yes", "reason": "Out of mugs"}, follow=True
    )

    assert "2 request(s) rejected." in done.content.decode()
    assert set(RedemptionRequest.objects.values_list("status", "reason")) == {
        ("rejected", "Out of mugs")
    }
    account.refresh_from_db()
    assert account.available_points == 1000
    assert_ledger_invariants(account.pk)


def test_bulk_approve_and_other_brands_stay_out_of_reach(client, a, b):
    _, requests = waiting(a, 2)
    _, b_requests = waiting(b, 1)
    client.force_login(staff_user("admin-a", role=BRAND_ADMIN, brands=[a.brand]))

    listing = client.get(QUEUE)
    done = client.post(
        QUEUE,
        {"action": "approve", ACTION_CHECKBOX_NAME: [*(r.pk for r in requests), b_requests[0].pk]},
        follow=True,
    )

    assert f"{QUEUE}{b_requests[0].pk}/" not in listing.content.decode()
    assert "2 request(s) approved." in done.content.decode()
    assert RedemptionRequest.objects.get(pk=b_requests[0].pk).status == "requested"
    assert client.get(f"{QUEUE}{requests[0].pk}/change/").status_code == 200


def test_item_form_uses_real_fields_and_names_the_missing_amount(client, a):
    LoyaltyProgramFactory(brand=a.brand)
    client.force_login(staff_user("admin-a", role=BRAND_ADMIN, brands=[a.brand]))

    page = client.get(f"{ITEMS}add/").content.decode()
    refused = client.post(
        f"{ITEMS}add/",
        {"brand": a.brand.pk, "name": "Credit", "points_cost": "100", "kind": "wallet_credit"},
    )
    saved = client.post(
        f"{ITEMS}add/",
        {
            "brand": a.brand.pk,
            "name": "Credit",
            "points_cost": "100",
            "kind": "wallet_credit",
            "wallet_amount": "5.00",
            "stock": "10",
            "auto_approve": "on",
            "is_active": "on",
        },
    )

    assert 'type="number" name="points_cost"' in page and 'name="minimum_tier"' in page
    assert "Give the amount credited to the wallet." in refused.content.decode()
    assert saved.status_code == 302
    item = RedemptionItem.objects.get()
    assert (item.stock, str(item.wallet_amount)) == (10, "5.00")
