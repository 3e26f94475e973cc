"""The storefront basket: a customer with a wallet pays part of the order from it."""

from decimal import Decimal

import pytest
from django.http import HttpRequest
from django.test import Client

from orders.models import Order
from wallets.models import Wallet
from wallets.services import wallet_credit

pytestmark = pytest.mark.django_db
PASSWORD = "pass-word-123"


def signed_in(customer) -> Client:
    client = Client()
    assert client.login(request=HttpRequest(), username=customer.user.username, password=PASSWORD)
    return client


def basket_with_apples(tenant) -> Client:
    wallet_credit(
        customer=tenant.customer,
        brand=tenant.brand,
        amount=Decimal("20.00"),
        idempotency_key="basket",
    )
    client = signed_in(tenant.customer)
    client.post("/basket/add/", {"sku": tenant.product.sku, "quantity": 2})
    return client


def test_the_wallet_pays_part_of_a_basket_order(a):
    client = basket_with_apples(a)
    page = client.get("/basket/").content.decode()

    response = client.post(
        "/basket/place/", {"idempotency_key": "basket-wallet-1", "wallet_amount": "15.00"}
    )
    confirmation = client.get(response["Location"]).content.decode()

    assert "Pay from your wallet (20.00 EUR available)" in page
    order = Order.objects.get(idempotency_key="basket-wallet-1")
    assert (order.wallet_amount, order.amount_due) == (Decimal("15.00"), Decimal("10.00"))
    assert Wallet.objects.get().balance == Decimal("5.00")
    assert 'id="order-wallet-amount">15.00 EUR' in confirmation
    assert 'id="order-amount-due">10.00 EUR' in confirmation


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("20.01", "The wallet holds 20.00, less than asked."),
        ("-1", "Enter the amount to pay from your wallet, in cents, above zero."),
    ],
)
def test_a_wallet_amount_out_of_reach_is_told_in_a_sentence_and_places_nothing(a, amount, message):
    client = basket_with_apples(a)
    orders = Order.objects.count()

    response = client.post(
        "/basket/place/",
        {"idempotency_key": "basket-wallet-2", "wallet_amount": amount},
        follow=True,
    )

    assert message in response.content.decode()
    assert Order.objects.count() == orders
    assert Wallet.objects.get().balance == Decimal("20.00")


def test_without_money_in_a_wallet_the_field_is_not_offered(a):
    client = signed_in(a.customer)
    client.post("/basket/add/", {"sku": a.product.sku, "quantity": 1})

    assert "Pay from your wallet" not in client.get("/basket/").content.decode()
