"""Orders in the admin: payment status moves only through the payment service's actions."""

from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.urls import reverse

from brands.roles import ANALYST, BRAND_ADMIN
from brands.tests.factories import BrandFactory, StaffUserFactory
from catalog.tests.factories import ProductFactory
from orders.models import Order, PaymentStatusChange
from orders.services.payment import order_set_payment_status
from orders.tests.factories import place_order

pytestmark = pytest.mark.django_db
PS = Order.PaymentStatus


@pytest.fixture
def brand():
    return BrandFactory(slug="brand-a")


@pytest.fixture
def order(brand):
    product = ProductFactory(brand=brand, price=Decimal("12.00"))
    return place_order(brand=brand, products_and_quantities=[(product, 2)])


def _staff(brand, role=BRAND_ADMIN, username="staff-a"):
    user = StaffUserFactory(username=username)
    user.groups.add(Group.objects.get(name=role))
    brand.staff.add(user)
    return user


@pytest.fixture
def staff(brand):
    return _staff(brand)


def _run(client, action, orders, **extra):
    response = client.post(
        reverse("admin:orders_order_changelist"),
        {"action": action, ACTION_CHECKBOX_NAME: [o.pk for o in orders], **extra},
    )
    return response, [str(message) for message in get_messages(response.wsgi_request)]


def test_mark_paid_goes_through_the_payment_service(client, staff, order):
    client.force_login(staff)

    response, notes = _run(client, "mark_paid", [order])

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.payment_status == PS.PAID
    assert order.paid_at is not None
    change = PaymentStatusChange.objects.get(order=order)
    assert (change.from_status, change.to_status, change.actor) == (PS.PENDING, PS.PAID, staff)
    assert notes == ["1 order(s) paid."]


def test_a_refused_transition_shows_an_error_and_changes_nothing(client, staff, order):
    order_set_payment_status(order_id=order.pk, to_status=PS.CANCELLED)
    audit_before = PaymentStatusChange.objects.count()
    client.force_login(staff)

    _, notes = _run(client, "mark_paid", [order])

    order.refresh_from_db()
    assert order.payment_status == PS.CANCELLED
    assert order.paid_at is None
    assert PaymentStatusChange.objects.count() == audit_before
    assert len(notes) == 1
    assert notes[0].startswith(f"Order {order.pk}: Cannot change payment status")


def test_partial_refund_takes_the_amount_from_the_action_form(client, staff, order):
    order_set_payment_status(order_id=order.pk, to_status=PS.PAID)
    client.force_login(staff)

    _run(client, "refund", [order], refund_amount="5.00")

    order.refresh_from_db()
    assert order.payment_status == PS.PARTIALLY_REFUNDED
    assert order.refunded_amount == Decimal("5.00")


def test_refund_without_amount_refunds_everything(client, staff, order):
    order_set_payment_status(order_id=order.pk, to_status=PS.PAID)
    client.force_login(staff)

    _run(client, "refund", [order])

    order.refresh_from_db()
    assert order.payment_status == PS.REFUNDED
    assert order.refunded_amount == order.total == Decimal("24.00")


def test_the_change_form_cannot_set_payment_status_or_totals(client, staff, order):
    client.force_login(staff)
    url = reverse("admin:orders_order_change", args=[order.pk])

    page = client.get(url)
    client.post(url, {"payment_status": PS.PAID, "total": "0.00", "subtotal": "0.00"})

    form = page.context["adminform"].form
    assert "payment_status" not in form.fields
    assert "total" not in form.fields
    order.refresh_from_db()
    assert order.payment_status == PS.PENDING
    assert order.total == Decimal("24.00")


def test_change_page_shows_lines_and_the_payment_audit(client, staff, order):
    order_set_payment_status(order_id=order.pk, to_status=PS.PAID, actor=staff)
    client.force_login(staff)

    response = client.get(reverse("admin:orders_order_change", args=[order.pk]))

    content = response.content.decode()
    line = order.lines.get()
    assert line.sku in content
    assert "staff-a" in content  # the actor of the audited change


def test_actions_ignore_orders_of_other_brands(client, staff, order):
    other_brand = BrandFactory(slug="brand-b")
    other = place_order(
        brand=other_brand, products_and_quantities=[(ProductFactory(brand=other_brand), 1)]
    )
    client.force_login(staff)

    _run(client, "mark_paid", [other])

    other.refresh_from_db()
    assert other.payment_status == PS.PENDING


def test_an_analyst_cannot_run_payment_actions(client, brand, order):
    analyst = _staff(brand, role=ANALYST, username="analyst-a")
    client.force_login(analyst)

    page = client.get(reverse("admin:orders_order_changelist"))
    _run(client, "mark_paid", [order])

    assert page.status_code == 200
    assert "mark_paid" not in page.content.decode()
    order.refresh_from_db()
    assert order.payment_status == PS.PENDING
