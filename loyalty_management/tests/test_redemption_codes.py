"""Catalogue items that give codes: a discount of an amount, a percentage off or one product
free, issued as the customer's reward when the request is approved, and usable on an order."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from brands.roles import BRAND_ADMIN
from core.errors import ApplicationError
from core.tests.api_world import assert_error, staff_user, token_client
from loyalty_management.models import LoyaltyAccount, RedemptionItem, RedemptionRequest
from loyalty_management.services.catalogue import redemption_item_save
from loyalty_management.services.ledger import account_get_or_create, ledger_credit
from loyalty_management.services.redemptions import redemption_approve, redemption_request
from loyalty_management.tests.factories import LoyaltyProgramFactory
from loyalty_management.tests.invariants import assert_ledger_invariants
from rewards.models import CustomerReward

pytestmark = pytest.mark.django_db

MINE = "/api/v1/loyalty/me/redemptions/"
ITEMS = "/api/v1/loyalty/redemption-items/"
ADMIN_ITEMS = "/admin/loyalty_management/redemptionitem/"


def programme(tenant, points: int) -> LoyaltyAccount:
    program = LoyaltyProgramFactory(brand=tenant.brand)
    account = account_get_or_create(customer=tenant.customer, program=program)
    if points:
        ledger_credit(
            account_id=account.pk, kind="bonus", points=points, idempotency_key=f"t-{account.pk}"
        )
    return account


def test_a_redeemed_discount_code_is_shown_and_takes_its_amount_off_an_order(a):
    account = programme(a, 500)
    item = redemption_item_save(
        brand=a.brand,
        data={
            "name": "5.00 off your next order",
            "points_cost": 200,
            "kind": "discount_amount",
            "discount_amount": Decimal("5.00"),
            "code_valid_days": 30,
        },
    )
    client = token_client(a.customer.user)

    redeemed = client.post(MINE, {"item": item.pk}, format="json", HTTP_X_BRAND=a.brand.slug)

    assert redeemed.status_code == 201, redeemed.content
    body = redeemed.json()
    assert body["status"] == "fulfilled" and body["code_status"] == "active"
    reward = CustomerReward.objects.get()
    assert body["code"] == reward.code and body["code_valid_until"] is not None
    request = RedemptionRequest.objects.get()
    assert request.reward == reward
    assert (reward.source, reward.kind, reward.amount, reward.customer_id) == (
        "redemption",
        "discount_amount",
        Decimal("5.00"),
        a.customer.pk,
    )
    assert reward.idempotency_key == f"redemption:{request.pk}"
    listed = client.get(MINE, HTTP_X_BRAND=a.brand.slug).json()
    assert listed["results"][0]["code"] == reward.code
    account.refresh_from_db()
    assert account.available_points == 300
    assert_ledger_invariants(account.pk)

    quote = client.post(
        "/api/v1/pricing/quote/",
        {
            "brand": a.brand.slug,
            "lines": [{"product": a.product.pk, "quantity": 1}],
            "codes": [reward.code],
        },
        format="json",
    )
    assert quote.json()["total"] == "7.50"


def test_staff_approval_issues_one_free_product_code_however_often_it_is_approved(a):
    programme(a, 500)
    item = redemption_item_save(
        brand=a.brand,
        data={
            "name": "A free bread",
            "points_cost": 100,
            "kind": "free_product",
            "product": a.cheap_product.pk,
            "code_valid_days": 7,
            "auto_approve": False,
        },
    )
    request, _ = redemption_request(customer=a.customer, brand=a.brand, item_id=item.pk)
    assert request.reward is None

    approved, now = redemption_approve(request_id=request.pk, actor=None)
    again, again_now = redemption_approve(request_id=request.pk, actor=None)

    assert now and not again_now
    assert approved.status == "fulfilled" and again.reward_id == approved.reward_id
    reward = CustomerReward.objects.get()
    assert (reward.kind, reward.product_id) == ("free_product", a.cheap_product.pk)
    assert (reward.valid_until - reward.created_at).days == 7


def test_a_code_item_needs_its_fields_named_on_errors(a, b):
    programme(a, 0)
    admin = token_client(staff_user("admin-a", role=BRAND_ADMIN, brands=[a.brand]))

    def create(**data):
        return admin.post(
            ITEMS, {"brand": a.brand.slug, "name": "Code", "points_cost": 10, **data}, format="json"
        )

    no_amount = create(kind="discount_amount", code_valid_days=30)
    no_days = create(kind="discount_amount", discount_amount="5.00")
    too_much = create(kind="discount_percentage", discount_percentage="150", code_valid_days=3)
    foreign = create(kind="free_product", product=b.product.pk, code_valid_days=3)
    created = create(
        kind="discount_percentage",
        discount_percentage="10",
        code_valid_days=3,
        wallet_amount="9.00",  # another kind's field: emptied
    )

    assert "discount_amount" in assert_error(no_amount, 400, "invalid_redemption_item")["fields"]
    assert "code_valid_days" in assert_error(no_days, 400)["fields"]
    assert "discount_percentage" in assert_error(too_much, 400)["fields"]
    assert assert_error(foreign, 400)["fields"]["product"] == ["Pick a product of this brand."]
    assert created.status_code == 201, created.content
    assert (created.json()["discount_percentage"], created.json()["wallet_amount"]) == (
        "10.00",
        None,
    )
    assert RedemptionItem.objects.count() == 1


def test_the_database_refuses_a_code_item_without_its_days():
    with pytest.raises(IntegrityError), transaction.atomic():
        RedemptionItem.objects.create(
            brand=LoyaltyProgramFactory().brand,
            name="Broken",
            points_cost=1,
            kind="discount_amount",
            discount_amount=Decimal("1.00"),
        )


def test_the_service_empties_the_fields_of_other_kinds(a):
    item = redemption_item_save(
        brand=a.brand,
        data={
            "name": "Ten percent",
            "points_cost": 10,
            "kind": "discount_percentage",
            "discount_percentage": Decimal("10"),
            "code_valid_days": 5,
        },
    )

    changed = redemption_item_save(item=item, data={"kind": "physical"})

    assert (changed.discount_percentage, changed.code_valid_days) == (None, None)
    with pytest.raises(ApplicationError) as refused:
        redemption_item_save(item=item, data={"kind": "free_product", "code_valid_days": 5})
    assert refused.value.fields == {"product": ["Pick the product the code makes free."]}


def test_admin_item_form_picks_the_product_and_asks_for_what_the_kind_needs(client, a, b):
    LoyaltyProgramFactory(brand=a.brand)
    client.force_login(staff_user("admin-a", role=BRAND_ADMIN, brands=[a.brand]))
    base = {"brand": a.brand.pk, "points_cost": "100", "is_active": "on", "auto_approve": "on"}

    page = client.get(f"{ADMIN_ITEMS}add/").content.decode()
    refused = client.post(
        f"{ADMIN_ITEMS}add/", {**base, "name": "Free", "kind": "free_product"}
    ).content.decode()
    foreign = client.post(
        f"{ADMIN_ITEMS}add/",
        {
            **base,
            "name": "Free",
            "kind": "free_product",
            "product": b.product.pk,
            "code_valid_days": "7",
        },
    ).content.decode()
    saved = client.post(
        f"{ADMIN_ITEMS}add/",
        {
            **base,
            "name": "Five off",
            "kind": "discount_amount",
            "discount_amount": "5.00",
            "code_valid_days": "30",
            "product": a.product.pk,  # another kind's field: emptied
        },
    )

    assert 'class="admin-autocomplete' in page and 'name="product"' in page
    assert 'name="discount_percentage"' in page and 'type="number" name="code_valid_days"' in page
    assert "Pick the product the code makes free." in refused
    assert "Give the days the code stays valid." in refused
    assert "Select a valid choice" in foreign or "Pick a product of this brand." in foreign
    assert saved.status_code == 302
    item = RedemptionItem.objects.get()
    assert (item.kind, item.discount_amount, item.code_valid_days, item.product_id) == (
        "discount_amount",
        Decimal("5.00"),
        30,
        None,
    )
