"""The points catalogue over the API: customers browse, redeem (with an Idempotency-Key), list
and cancel; staff manage the catalogue and decide requests of their brands only."""

from decimal import Decimal

import pytest

from brands.roles import BRAND_ADMIN, SUPPORT_AGENT
from core.tests.api_world import assert_error, ids, staff_user, token_client
from loyalty_management.models import LoyaltyAccount, RedemptionItem, RedemptionRequest
from loyalty_management.services.catalogue import redemption_item_save
from loyalty_management.services.ledger import account_get_or_create, ledger_credit
from loyalty_management.services.redemptions import redemption_request
from loyalty_management.tests.factories import LoyaltyProgramFactory, TierFactory
from loyalty_management.tests.invariants import assert_ledger_invariants
from wallets.models import Wallet

pytestmark = pytest.mark.django_db

CATALOGUE = "/api/v1/loyalty/me/catalogue/"
MINE = "/api/v1/loyalty/me/redemptions/"
QUEUE = "/api/v1/loyalty/redemptions/"
ITEMS = "/api/v1/loyalty/redemption-items/"


def programme(tenant, points: int) -> LoyaltyAccount:
    program = LoyaltyProgramFactory(brand=tenant.brand)
    account = account_get_or_create(customer=tenant.customer, program=program)
    if points:
        ledger_credit(
            account_id=account.pk, kind="bonus", points=points, idempotency_key=f"t-{account.pk}"
        )
    return account


def item(tenant, name, **data) -> RedemptionItem:
    values = {"name": name, "points_cost": 100, "kind": "physical", "auto_approve": False}
    values.update(data)
    return redemption_item_save(brand=tenant.brand, data=values)


def test_catalogue_says_which_items_are_within_reach_and_why_not(a):
    account = programme(a, 150)
    gold = TierFactory(program=account.program, name="Gold", position=3)
    item(a, "Mug")
    item(a, "Bike", points_cost=5000)
    item(a, "Lounge", minimum_tier=gold.pk)
    item(a, "Gone", stock=0)
    item(a, "Hidden", is_active=False)
    client = token_client(a.customer.user)

    response = client.get(CATALOGUE, HTTP_X_BRAND=a.brand.slug)

    assert response.status_code == 200
    rows = {row["name"]: row for row in response.json()}
    assert set(rows) == {"Mug", "Bike", "Lounge", "Gone"}
    assert rows["Mug"]["eligible"] is True and rows["Mug"]["reason"] is None
    assert rows["Bike"]["reason_code"] == "insufficient_points"
    assert rows["Bike"]["reason"] == "You need 4850 more points."
    assert rows["Lounge"]["reason_code"] == "tier_too_low"
    assert rows["Gone"]["reason_code"] == "out_of_stock"
    assert_error(client.get(CATALOGUE), 400, "brand_required")


def test_customer_redeems_once_per_idempotency_key_and_cancels(a):
    account = programme(a, 250)
    mug = item(a, "Mug", stock=2)
    client = token_client(a.customer.user)
    headers = {"HTTP_X_BRAND": a.brand.slug, "HTTP_IDEMPOTENCY_KEY": "tap-1"}

    first = client.post(MINE, {"item": mug.pk}, format="json", **headers)
    replay = client.post(MINE, {"item": mug.pk}, format="json", **headers)

    assert first.status_code == 201 and replay.status_code == 200
    assert first.json() == replay.json() and first.json()["status"] == "requested"
    account.refresh_from_db()
    assert account.available_points == 150
    assert ids(client.get(MINE, HTTP_X_BRAND=a.brand.slug)) == {first.json()["id"]}

    cancelled = client.post(f"{MINE}{first.json()['id']}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = client.post(f"{MINE}{first.json()['id']}/cancel/")
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    account.refresh_from_db()
    mug.refresh_from_db()
    assert account.available_points == 250 and mug.stock == 2
    assert_ledger_invariants(account.pk)


def test_refused_requests_name_the_reason_and_change_nothing(a, b):
    account = programme(a, 50)
    mug = item(a, "Mug")
    b_mug = item(b, "B mug", points_cost=1)
    client = token_client(a.customer.user)

    assert_error(
        client.post(MINE, {"item": mug.pk}, format="json", HTTP_X_BRAND=a.brand.slug),
        409,
        "insufficient_points",
    )
    assert_error(
        client.post(MINE, {"item": b_mug.pk}, format="json", HTTP_X_BRAND=a.brand.slug),
        404,
        "not_found",
    )
    body = assert_error(
        client.post(MINE, {"item": "x"}, format="json", HTTP_X_BRAND=a.brand.slug), 400
    )
    assert "item" in body["fields"]
    assert_error(
        client.post(
            MINE,
            {"item": mug.pk},
            format="json",
            HTTP_X_BRAND=a.brand.slug,
            HTTP_IDEMPOTENCY_KEY="bad key",
        ),
        400,
        "invalid_idempotency_key",
    )
    assert not RedemptionRequest.objects.exists()
    account.refresh_from_db()
    assert account.available_points == 50


def test_staff_decide_requests_of_their_brands_only(a, b):
    programme(a, 500)
    programme(b, 500)
    mug = item(a, "Mug", stock=5)
    b_request, _ = redemption_request(
        customer=b.customer, brand=b.brand, item_id=item(b, "B mug").pk
    )
    requests = [
        redemption_request(customer=a.customer, brand=a.brand, item_id=mug.pk)[0] for _ in range(3)
    ]
    admin = token_client(staff_user("admin-a", role=BRAND_ADMIN, brands=[a.brand]))

    assert ids(admin.get(QUEUE, {"status": "requested"})) == {r.pk for r in requests}
    approved = admin.post(f"{QUEUE}{requests[0].pk}/approve/")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    body = assert_error(admin.post(f"{QUEUE}{requests[1].pk}/reject/", {}, format="json"), 400)
    assert "reason" in body["fields"]
    rejected = admin.post(f"{QUEUE}{requests[1].pk}/reject/", {"reason": "No"}, format="json")
    assert rejected.json()["status"] == "rejected" and rejected.json()["reason"] == "No"
    sent = admin.post(
        f"{QUEUE}{requests[0].pk}/fulfil/",
        {"fulfilment_status": "delivered", "note": "By hand"},
        format="json",
    )
    assert sent.json()["status"] == "fulfilled"
    assert_error(admin.post(f"{QUEUE}{b_request.pk}/approve/"), 404, "not_found")

    bulk = admin.post(
        f"{QUEUE}decide/",
        {"ids": [requests[2].pk, b_request.pk], "decision": "reject", "reason": "Closed"},
        format="json",
    )
    assert bulk.status_code == 200
    assert [(row["id"], row["status"], row["code"]) for row in bulk.json()] == [
        (requests[2].pk, "rejected", None),
        (b_request.pk, None, "not_found"),
    ]
    b_request.refresh_from_db()
    assert b_request.status == "requested"
    agent = token_client(staff_user("agent-a", role=SUPPORT_AGENT, brands=[a.brand]))
    assert_error(agent.post(f"{QUEUE}{requests[2].pk}/approve/"), 403)


def test_staff_manage_the_catalogue_with_fields_named_on_errors(a, b):
    programme(a, 0)
    admin = token_client(staff_user("admin-a", role=BRAND_ADMIN, brands=[a.brand]))

    created = admin.post(
        ITEMS,
        {
            "brand": a.brand.slug,
            "name": "Five in the wallet",
            "points_cost": 500,
            "kind": "wallet_credit",
            "wallet_amount": "5.00",
        },
        format="json",
    )
    assert created.status_code == 201 and created.json()["wallet_amount"] == "5.00"
    no_amount = admin.post(
        ITEMS,
        {"brand": a.brand.slug, "name": "Empty", "points_cost": 5, "kind": "wallet_credit"},
        format="json",
    )
    assert "wallet_amount" in assert_error(no_amount, 400)["fields"]
    foreign = admin.post(
        ITEMS,
        {"brand": b.brand.slug, "name": "X", "points_cost": 5, "kind": "physical"},
        format="json",
    )
    assert_error(foreign, 400, "unknown_brand")
    changed = admin.patch(
        f"{ITEMS}{created.json()['id']}/", {"stock": 3, "is_active": False}, format="json"
    )
    assert changed.json()["stock"] == 3 and changed.json()["is_active"] is False


def test_auto_approved_wallet_credit_lands_in_the_wallet(a):
    programme(a, 600)
    credit = item(
        a, "Credit", kind="wallet_credit", wallet_amount=Decimal("5.00"), auto_approve=True
    )
    client = token_client(a.customer.user)

    response = client.post(MINE, {"item": credit.pk}, format="json", HTTP_X_BRAND=a.brand.slug)

    assert response.status_code == 201 and response.json()["status"] == "fulfilled"
    assert Wallet.objects.get(customer=a.customer, brand=a.brand).balance == Decimal("5.00")
