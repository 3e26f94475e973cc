from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from brands.tests.factories import BrandFactory, StaffUserFactory, UserFactory
from customers.tests.factories import CustomerFactory
from loyalty_management.models import LoyaltyAccount, LoyaltyProgram, LoyaltyTransaction
from loyalty_management.services.ledger import ledger_credit, ledger_debit
from loyalty_management.tests.factories import LoyaltyProgramFactory, TierFactory, make_order
from loyalty_management.tests.invariants import assert_ledger_invariants

pytestmark = pytest.mark.django_db
Kind = LoyaltyTransaction.Kind
ME = "/api/v1/loyalty/me/"
MY_TRANSACTIONS = "/api/v1/loyalty/me/transactions/"
ACCOUNTS = "/api/v1/loyalty/accounts/"


def adjustments_url(account_id: int) -> str:
    return f"/api/v1/loyalty/accounts/{account_id}/adjustments/"


@pytest.fixture
def program():
    return LoyaltyProgramFactory(
        brand=BrandFactory(slug="burger-town"),
        expiry_policy=LoyaltyProgram.ExpiryPolicy.AFTER_DAYS,
        expiry_days=20,
    )


@pytest.fixture
def customer():
    return CustomerFactory(user=UserFactory())


@pytest.fixture
def customer_client(api_client, customer):
    api_client.force_authenticate(customer.user)
    return api_client


def grant(user, *codenames):
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="loyalty_management", codename__in=codenames
        )
    )
    return user


def test_me_shows_balances_tier_progress_and_points_expiring_soon(
    program, customer, customer_client
):
    # Given tiers at 0 and 500 points, and an account with 300 earned and 50 spent
    bronze = TierFactory(program=program, name="Bronze", position=1, threshold=Decimal(0))
    TierFactory(program=program, name="Silver", position=2, threshold=Decimal(500))
    account = LoyaltyAccount.objects.create(customer=customer, program=program, tier=bronze)
    ledger_credit(
        account_id=account.pk,
        kind=Kind.EARNED,
        points=300,
        idempotency_key="e",
        order=make_order(brand=program.brand, customer=customer),
    )
    ledger_debit(account_id=account.pk, kind=Kind.REDEEMED, points=50, idempotency_key="r")

    # When the customer asks for their balance in the brand
    response = customer_client.get(ME, HTTP_X_BRAND="burger-town")

    # Then they see it, their tier, what is left to the next, and what expires within 30 days
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["available_points"], body["pending_points"], body["lifetime_points"]) == (
        250,
        0,
        300,
    )
    assert body["tier"]["name"] == "Bronze"
    assert body["next_tier"]["name"] == "Silver"
    assert Decimal(body["to_next_tier"]) == Decimal(200)
    assert body["expiring_points"] == 250


def test_me_without_an_account_shows_zeros(program, customer_client):
    response = customer_client.get(ME, HTTP_X_BRAND="burger-town")
    assert response.status_code == 200
    assert response.json()["available_points"] == 0
    assert not LoyaltyAccount.objects.exists()  # a read creates nothing


def test_me_needs_a_brand_with_a_program(program, customer_client):
    missing = customer_client.get(ME)
    no_program = customer_client.get(ME, HTTP_X_BRAND=BrandFactory().slug)
    assert (missing.status_code, missing.json()["code"]) == (400, "brand_required")
    assert (no_program.status_code, no_program.json()["code"]) == (
        404,
        "loyalty_program_not_found",
    )


def test_me_is_for_customers_only(api_client):
    assert api_client.get(ME).status_code in (401, 403)
    api_client.force_authenticate(StaffUserFactory())
    assert api_client.get(ME, HTTP_X_BRAND="x").status_code == 403


def test_my_transactions_are_mine_paginated_and_filterable(program, customer, customer_client):
    # Given my account with two bonuses and a redemption, and another customer's account
    mine = LoyaltyAccount.objects.create(customer=customer, program=program)
    for key in ("a", "b"):
        ledger_credit(account_id=mine.pk, kind=Kind.BONUS, points=10, idempotency_key=key)
    ledger_debit(account_id=mine.pk, kind=Kind.REDEEMED, points=5, idempotency_key="c")
    other = LoyaltyAccount.objects.create(customer=CustomerFactory(), program=program)
    ledger_credit(account_id=other.pk, kind=Kind.BONUS, points=99, idempotency_key="d")

    # When I list my transactions, then only the bonuses, one per page
    everything = customer_client.get(MY_TRANSACTIONS).json()
    bonuses = customer_client.get(MY_TRANSACTIONS, {"kind": "bonus", "page_size": 1}).json()
    later = customer_client.get(
        MY_TRANSACTIONS, {"created_after": (timezone.now() + timedelta(hours=1)).isoformat()}
    ).json()

    # Then I see only mine, newest first, filtered and paginated
    assert [row["points"] for row in everything["results"]] == [-5, 10, 10]
    assert bonuses["count"] == 2
    assert len(bonuses["results"]) == 1
    assert later["count"] == 0


def test_a_bad_filter_is_a_400_in_the_error_format(program, customer_client):
    response = customer_client.get(MY_TRANSACTIONS, {"kind": "stolen"})
    assert response.status_code == 400
    assert set(response.json()) == {"code", "message", "fields"}


@pytest.fixture
def staff(program):
    user = grant(StaffUserFactory(), "view_loyaltyaccount", "add_loyaltytransaction")
    program.brand.staff.add(user)
    return user


def test_staff_list_only_their_brands_accounts(api_client, program, staff):
    # Given an account in the staff's brand and one in another brand
    mine = LoyaltyAccount.objects.create(customer=CustomerFactory(), program=program)
    LoyaltyAccount.objects.create(customer=CustomerFactory(), program=LoyaltyProgramFactory())
    api_client.force_authenticate(staff)

    # When they list accounts
    response = api_client.get(ACCOUNTS)

    # Then they see only their brand's
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [mine.pk]


def test_staff_without_the_permission_cannot_list_accounts(api_client, program):
    user = StaffUserFactory()
    program.brand.staff.add(user)
    api_client.force_authenticate(user)
    assert api_client.get(ACCOUNTS).status_code == 403


def test_staff_adjust_an_account_with_a_reason_and_are_recorded(api_client, program, staff):
    # Given an account with 10 points
    account = LoyaltyAccount.objects.create(customer=CustomerFactory(), program=program)
    ledger_credit(account_id=account.pk, kind=Kind.BONUS, points=10, idempotency_key="b")
    api_client.force_authenticate(staff)

    # When staff debit 25 points with a reason, and the request is replayed
    body = {"points": -25, "reason": "Duplicate order", "idempotency_key": "adj-1"}
    first = api_client.post(adjustments_url(account.pk), body)
    replay = api_client.post(adjustments_url(account.pk), body)

    # Then one adjustment is recorded with its author and reason; the account is negative
    assert first.status_code == 201, first.json()
    assert replay.json()["id"] == first.json()["id"]
    adjustment = LoyaltyTransaction.objects.get(kind=Kind.ADJUSTED)
    assert (adjustment.points, adjustment.reason, adjustment.actor) == (
        -25,
        "Duplicate order",
        staff,
    )
    account.refresh_from_db()
    assert account.available_points == -15
    assert_ledger_invariants(account.pk)


@pytest.mark.parametrize(
    "body",
    [
        {"points": 5},
        {"points": 5, "reason": "   "},
        {"points": 0, "reason": "x"},
        {"points": "ten", "reason": "x"},
        {"points": 10**12, "reason": "x"},
        {"points": 5, "reason": "x", "idempotency_key": "has space"},
    ],
)
def test_an_invalid_adjustment_is_a_400_and_changes_nothing(api_client, program, staff, body):
    account = LoyaltyAccount.objects.create(customer=CustomerFactory(), program=program)
    api_client.force_authenticate(staff)
    response = api_client.post(adjustments_url(account.pk), body)
    assert response.status_code == 400
    assert set(response.json()) == {"code", "message", "fields"}
    assert not LoyaltyTransaction.objects.exists()


def test_another_brands_account_cannot_be_adjusted(api_client, staff):
    other = LoyaltyAccount.objects.create(
        customer=CustomerFactory(), program=LoyaltyProgramFactory()
    )
    api_client.force_authenticate(staff)
    response = api_client.post(adjustments_url(other.pk), {"points": 5, "reason": "x"})
    assert (response.status_code, response.json()["code"]) == (404, "loyalty_account_not_found")
    assert not LoyaltyTransaction.objects.exists()


def test_a_customer_cannot_adjust(customer_client, program, customer):
    account = LoyaltyAccount.objects.create(customer=customer, program=program)
    response = customer_client.post(adjustments_url(account.pk), {"points": 5, "reason": "x"})
    assert response.status_code == 403
    assert not LoyaltyTransaction.objects.exists()


def test_the_loyalty_schema_is_valid_and_has_no_warnings():
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        schema = SchemaGenerator().get_schema(request=None, public=True)
    messages = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    GENERATOR_STATS.reset()
    validate_schema(schema)
    assert "/api/v1/loyalty/me/" in schema["paths"]
    assert [m for m in messages if "loyalty" in str(m).lower()] == []
