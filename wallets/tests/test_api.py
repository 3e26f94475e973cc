"""The wallet API: customers see their wallets and ledger, staff list and adjust their brands'
wallets, orders take a wallet tender."""

from decimal import Decimal

import pytest

from core.tests.api_world import assert_error, staff_user, token_client
from orders.models import Order
from wallets.models import Wallet, WalletTransaction
from wallets.services import wallet_credit

pytestmark = pytest.mark.django_db


def fund(tenant, amount="30.00") -> Wallet:
    wallet_credit(
        customer=tenant.customer,
        brand=tenant.brand,
        amount=Decimal(amount),
        idempotency_key=f"api-{tenant.brand.slug}",
    )
    return Wallet.objects.get(customer=tenant.customer, brand=tenant.brand)


def test_a_customer_sees_their_wallets_and_history(a, b):
    fund(a)
    fund(b)  # a wallet of another customer
    client = token_client(a.customer.user)

    wallets = client.get("/api/v1/wallet/me/").json()
    history = client.get("/api/v1/wallet/me/transactions/").json()

    assert [(w["brand"], w["balance"]) for w in wallets["results"]] == [("brand-a", "30.00")]
    assert [(t["kind"], t["amount"], t["balance_after"]) for t in history["results"]] == [
        ("credit", "30.00", "30.00")
    ]


def test_the_brand_header_narrows_the_customer_wallets(a, b):
    fund(a)
    client = token_client(a.customer.user)

    other = client.get("/api/v1/wallet/me/", HTTP_X_BRAND="brand-b").json()

    assert other["count"] == 0


def test_staff_list_only_their_brands_wallets(a, b):
    own, _ = fund(a), fund(b)

    rows = token_client(a.staff).get("/api/v1/wallets/").json()["results"]

    assert [row["id"] for row in rows] == [own.pk]


def test_staff_adjust_a_wallet_with_a_reason_and_a_replay_returns_the_first(a):
    wallet = fund(a)
    client = token_client(a.staff)
    body = {"amount": "-10.00", "reason": "Goodwill reversal", "idempotency_key": "adj-1"}

    first = client.post(f"/api/v1/wallets/{wallet.pk}/adjustments/", body, format="json")
    again = client.post(f"/api/v1/wallets/{wallet.pk}/adjustments/", body, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["balance_after"] == "20.00"
    wallet.refresh_from_db()
    assert wallet.balance == Decimal("20.00")


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"amount": "5.00"}, "validation_error", "reason"),
        ({"amount": "0.00", "reason": "x"}, "validation_error", "amount"),
        ({"amount": "-30.01", "reason": "x"}, "wallet_insufficient", "amount"),
        ({"amount": "5.00", "reason": "   "}, None, "reason"),
    ],
)
def test_a_bad_adjustment_is_a_400_naming_the_field_and_changes_nothing(a, body, code, field):
    wallet = fund(a)

    response = token_client(a.staff).post(
        f"/api/v1/wallets/{wallet.pk}/adjustments/", body, format="json"
    )

    error = assert_error(response, 400, code)
    assert field in error["fields"]
    wallet.refresh_from_db()
    assert wallet.balance == Decimal("30.00")
    assert WalletTransaction.objects.count() == 1


def test_a_support_agent_is_held_to_the_limit_of_the_role(a):
    wallet = fund(a)
    agent = token_client(staff_user("agent", role="Support agent", brands=[a.brand]))

    over = agent.post(
        f"/api/v1/wallets/{wallet.pk}/adjustments/",
        {"amount": "75.00", "reason": "Too generous"},
        format="json",
    )

    assert_error(over, 403, "wallet_adjustment_over_limit")


def test_a_role_without_the_permission_cannot_adjust(a):
    wallet = fund(a)
    manager = token_client(staff_user("mm", role="Marketing manager", brands=[a.brand]))

    response = manager.post(
        f"/api/v1/wallets/{wallet.pk}/adjustments/",
        {"amount": "5.00", "reason": "No"},
        format="json",
    )

    assert_error(response, 403)
    wallet.refresh_from_db()
    assert wallet.balance == Decimal("30.00")


def test_an_order_paid_partly_from_the_wallet_shows_its_split(a):
    wallet = fund(a)
    client = token_client(a.customer.user)

    response = client.post(
        "/api/v1/orders/",
        {
            "brand": "brand-a",
            "lines": [{"product": a.product.pk, "quantity": 2}],
            "wallet_amount": "12.00",
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["total"], body["wallet_amount"], body["amount_due"]) == ("25.00", "12.00", "13.00")
    wallet.refresh_from_db()
    assert wallet.balance == Decimal("18.00")


def test_an_order_asking_more_than_the_wallet_holds_is_a_400_and_writes_nothing(a):
    fund(a)
    orders = Order.objects.count()

    response = token_client(a.customer.user).post(
        "/api/v1/orders/",
        {
            "brand": "brand-a",
            "lines": [{"product": a.product.pk, "quantity": 2}],
            "wallet_amount": "30.01",
        },
        format="json",
    )

    error = assert_error(response, 400, "wallet_insufficient")
    assert "wallet_amount" in error["fields"]
    assert Order.objects.count() == orders
