"""`POST /api/v1/orders/{id}/payment-status/`: who may change it, every transition, refunds."""

from decimal import Decimal
from itertools import product as pairs

import pytest

from brands.roles import ANALYST, SUPPORT_AGENT
from core.tests.api_world import (
    assert_error,
    device_client,
    staff_user,
    token_client,
)
from orders.models import Order, PaymentStatusChange
from orders.services.payment import order_set_payment_status
from orders.tests.test_payment import ALLOWED, PATHS

pytestmark = pytest.mark.django_db
PS = Order.PaymentStatus


def url(order) -> str:
    return f"/api/v1/orders/{order.pk}/payment-status/"


def move(order, status):
    for to_status, amount in PATHS[status]:
        order_set_payment_status(order_id=order.pk, to_status=to_status, refund_amount=amount)


@pytest.mark.parametrize(("from_status", "to_status"), list(pairs(PS.values, PS.values)))
def test_every_transition_through_the_api(a, from_status, to_status):
    # Given brand A's order (total 25.00) in `from_status`
    move(a.order, from_status)
    audits = PaymentStatusChange.objects.filter(order=a.order).count()
    body = {"payment_status": to_status}
    if to_status == PS.PARTIALLY_REFUNDED:
        body["refund_amount"] = "1.00"

    # When brand A's staff ask for `to_status`
    response = token_client(a.staff).post(url(a.order), body)

    # Then it moves if allowed, and is a 400 that changes nothing if not
    a.order.refresh_from_db()
    if (from_status, to_status) in ALLOWED:
        assert response.status_code == 200, response.json()
        assert response.json()["payment_status"] == to_status
        assert a.order.payment_status == to_status
        assert PaymentStatusChange.objects.filter(order=a.order).count() == audits + 1
    else:
        assert_error(response, 400, "invalid_payment_transition")
        assert a.order.payment_status == from_status
        assert PaymentStatusChange.objects.filter(order=a.order).count() == audits


def test_staff_change_is_audited_with_the_staff_user(a):
    response = token_client(a.staff).post(
        url(a.order), {"payment_status": "paid", "payment_method": "cash", "note": "at till"}
    )

    assert response.status_code == 200
    assert response.json()["payment_method"] == "cash"
    audit = PaymentStatusChange.objects.get(order=a.order)
    assert (audit.from_status, audit.to_status) == ("pending", "paid")
    assert (audit.actor, audit.device, audit.note) == (a.staff, None, "at till")


def test_a_device_changes_its_brands_orders_and_is_audited(a):
    response = device_client(a.device_key).post(url(a.order), {"payment_status": "paid"})

    assert response.status_code == 200, response.json()
    audit = PaymentStatusChange.objects.get(order=a.order)
    assert (audit.actor, audit.device) == (None, a.device)


def test_refunds_through_the_api(a):
    client = token_client(a.staff)
    move(a.order, PS.PAID)

    partial = client.post(
        url(a.order), {"payment_status": "partially_refunded", "refund_amount": "10.00"}
    )
    again = client.post(
        url(a.order), {"payment_status": "partially_refunded", "refund_amount": "5.00"}
    )
    over = client.post(
        url(a.order), {"payment_status": "partially_refunded", "refund_amount": "10.01"}
    )
    full = client.post(url(a.order), {"payment_status": "refunded"})

    assert partial.json()["refunded_amount"] == "10.00"
    assert again.json()["refunded_amount"] == "15.00"
    assert_error(over, 400, "invalid_refund_amount")
    assert full.json()["payment_status"] == "refunded"
    assert full.json()["refunded_amount"] == "25.00"
    amounts = PaymentStatusChange.objects.filter(order=a.order, amount__isnull=False)
    assert sorted(amounts.values_list("amount", flat=True)) == [
        Decimal("5.00"),
        Decimal("10.00"),
        Decimal("10.00"),
    ]


def test_customers_may_not_change_a_payment_status(a):
    response = token_client(a.customer.user).post(url(a.order), {"payment_status": "paid"})

    assert_error(response, 403, "permission_denied")
    a.order.refresh_from_db()
    assert a.order.payment_status == "pending"


def test_other_brands_cannot_change_it(a, b):
    by_staff = token_client(b.staff).post(url(a.order), {"payment_status": "paid"})
    by_device = device_client(b.device_key).post(url(a.order), {"payment_status": "paid"})

    assert_error(by_staff, 404, "not_found")
    assert_error(by_device, 404, "not_found")
    a.order.refresh_from_db()
    assert a.order.payment_status == "pending"
    assert not PaymentStatusChange.objects.filter(order=a.order).exists()


def test_the_role_needs_the_change_permission(a):
    analyst = token_client(staff_user("analyst", role=ANALYST, brands=[a.brand]))
    support = token_client(staff_user("support", role=SUPPORT_AGENT, brands=[a.brand]))

    refused = analyst.post(url(a.order), {"payment_status": "paid"})
    allowed = support.post(url(a.order), {"payment_status": "paid"})

    assert_error(refused, 403, "permission_denied")
    assert allowed.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"payment_status": "stolen"},
        {"payment_status": "partially_refunded", "refund_amount": "abc"},
        {"payment_status": "partially_refunded", "refund_amount": "1.001"},
        {"payment_status": "partially_refunded", "refund_amount": "1e400"},
        {"payment_status": "partially_refunded", "refund_amount": "NaN"},
        {"payment_status": "partially_refunded", "refund_amount": 10**20},
        {"payment_status": "paid", "note": "x" * 256},
        {"payment_status": ["paid"]},
    ],
)
def test_bad_bodies_are_400_and_change_nothing(a, body):
    move(a.order, PS.PAID)
    audits = PaymentStatusChange.objects.filter(order=a.order).count()

    response = token_client(a.staff).post(url(a.order), body)

    assert_error(response, 400, "validation_error")
    a.order.refresh_from_db()
    assert (a.order.payment_status, a.order.refunded_amount) == ("paid", Decimal("0.00"))
    assert PaymentStatusChange.objects.filter(order=a.order).count() == audits
