"""Payment status changes through the service: every transition, refunds, the audit trail."""

from decimal import Decimal
from itertools import product as pairs

import pytest

from brands.tests.factories import BrandFactory, StaffUserFactory
from catalog.tests.factories import ProductFactory
from core.errors import ApplicationError, NotFoundError
from orders.models import Order, PaymentStatusChange
from orders.services.payment import order_set_payment_status
from orders.tests.factories import place_order

pytestmark = pytest.mark.django_db
PS = Order.PaymentStatus

# The transitions the product allows, written out independently of the service's table.
ALLOWED = {
    (PS.PENDING, PS.PAID),
    (PS.PENDING, PS.FAILED),
    (PS.PENDING, PS.CANCELLED),
    (PS.FAILED, PS.PENDING),
    (PS.FAILED, PS.CANCELLED),
    (PS.PAID, PS.REFUNDED),
    (PS.PAID, PS.PARTIALLY_REFUNDED),
    (PS.PAID, PS.CANCELLED),
    (PS.PARTIALLY_REFUNDED, PS.PARTIALLY_REFUNDED),
    (PS.PARTIALLY_REFUNDED, PS.REFUNDED),
}
# How an order reaches each status, through the service.
PATHS = {
    PS.PENDING: [],
    PS.PAID: [(PS.PAID, None)],
    PS.FAILED: [(PS.FAILED, None)],
    PS.CANCELLED: [(PS.CANCELLED, None)],
    PS.PARTIALLY_REFUNDED: [(PS.PAID, None), (PS.PARTIALLY_REFUNDED, Decimal("1.00"))],
    PS.REFUNDED: [(PS.PAID, None), (PS.REFUNDED, None)],
}
ALL_PAIRS = list(pairs(PS.values, PS.values))


def refund_for(to_status: str) -> Decimal | None:
    return Decimal("1.00") if to_status == PS.PARTIALLY_REFUNDED else None


def new_order(total=Decimal("12.50"), quantity=2) -> Order:
    brand = BrandFactory()
    return place_order(
        brand=brand, products_and_quantities=[(ProductFactory(brand=brand, price=total), quantity)]
    )


def order_in(status: str) -> Order:
    order = new_order()
    for to_status, amount in PATHS[status]:
        order_set_payment_status(order_id=order.pk, to_status=to_status, refund_amount=amount)
    order.refresh_from_db()
    assert order.payment_status == status
    return order


@pytest.mark.parametrize(("from_status", "to_status"), ALL_PAIRS)
def test_every_transition_is_allowed_or_refused(from_status, to_status):
    # Given an order in `from_status`
    order = order_in(from_status)
    audits = PaymentStatusChange.objects.filter(order=order).count()
    refunded = order.refunded_amount

    if (from_status, to_status) in ALLOWED:
        # When it moves to an allowed status, then it is there and the change is audited
        changed = order_set_payment_status(
            order_id=order.pk, to_status=to_status, refund_amount=refund_for(to_status)
        )
        assert changed.payment_status == to_status
        order.refresh_from_db()
        assert order.payment_status == to_status
        audit = PaymentStatusChange.objects.filter(order=order).latest("id")
        assert (audit.from_status, audit.to_status) == (from_status, to_status)
        assert PaymentStatusChange.objects.filter(order=order).count() == audits + 1
    else:
        # When it moves to any other status, then it is refused and nothing changes
        with pytest.raises(ApplicationError) as raised:
            order_set_payment_status(
                order_id=order.pk, to_status=to_status, refund_amount=refund_for(to_status)
            )
        assert raised.value.code == "invalid_payment_transition"
        assert raised.value.status_code == 400
        order.refresh_from_db()
        assert order.payment_status == from_status
        assert order.refunded_amount == refunded
        assert PaymentStatusChange.objects.filter(order=order).count() == audits


def test_the_audit_row_names_the_actor_the_amount_and_the_note():
    order = order_in(PS.PAID)
    user = StaffUserFactory()

    order_set_payment_status(
        order_id=order.pk,
        to_status=PS.PARTIALLY_REFUNDED,
        refund_amount=Decimal("5.00"),
        actor=user,
        note="Damaged item",
    )

    audit = PaymentStatusChange.objects.filter(order=order).latest("id")
    assert audit.from_status == PS.PAID
    assert audit.to_status == PS.PARTIALLY_REFUNDED
    assert audit.amount == Decimal("5.00")
    assert audit.actor == user
    assert audit.device is None
    assert audit.note == "Damaged item"


def test_paying_records_the_time_and_the_payment_method():
    order = order_in(PS.PENDING)

    order_set_payment_status(order_id=order.pk, to_status=PS.PAID, payment_method="card")

    order.refresh_from_db()
    assert order.paid_at is not None
    assert order.payment_method == "card"


def test_cancelling_the_payment_cancels_the_order():
    order = order_in(PS.PENDING)

    order_set_payment_status(order_id=order.pk, to_status=PS.CANCELLED)

    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED


# --- refunds (order total 25.00) --------------------------------------------------------------


def test_partial_refund():
    order = order_in(PS.PAID)

    order_set_payment_status(
        order_id=order.pk, to_status=PS.PARTIALLY_REFUNDED, refund_amount=Decimal("10.00")
    )

    order.refresh_from_db()
    assert order.payment_status == PS.PARTIALLY_REFUNDED
    assert order.refunded_amount == Decimal("10.00")


def test_repeated_partial_refunds_add_up():
    order = order_in(PS.PAID)

    for amount in ("10.00", "5.50", "0.01"):
        order_set_payment_status(
            order_id=order.pk, to_status=PS.PARTIALLY_REFUNDED, refund_amount=Decimal(amount)
        )

    order.refresh_from_db()
    assert order.refunded_amount == Decimal("15.51")
    assert order.payment_status == PS.PARTIALLY_REFUNDED
    amounts = PaymentStatusChange.objects.filter(order=order, amount__isnull=False)
    assert sorted(amounts.values_list("amount", flat=True)) == [
        Decimal("0.01"),
        Decimal("5.50"),
        Decimal("10.00"),
    ]


def test_a_partial_refund_of_everything_left_makes_the_order_refunded():
    order = order_in(PS.PAID)
    order_set_payment_status(
        order_id=order.pk, to_status=PS.PARTIALLY_REFUNDED, refund_amount=Decimal("20.00")
    )

    order_set_payment_status(
        order_id=order.pk, to_status=PS.PARTIALLY_REFUNDED, refund_amount=Decimal("5.00")
    )

    order.refresh_from_db()
    assert order.payment_status == PS.REFUNDED
    assert order.refunded_amount == order.total == Decimal("25.00")


def test_a_full_refund_refunds_what_is_left():
    order = order_in(PS.PAID)
    order_set_payment_status(
        order_id=order.pk, to_status=PS.PARTIALLY_REFUNDED, refund_amount=Decimal("7.25")
    )

    order_set_payment_status(order_id=order.pk, to_status=PS.REFUNDED)

    order.refresh_from_db()
    assert order.payment_status == PS.REFUNDED
    assert order.refunded_amount == Decimal("25.00")
    last = PaymentStatusChange.objects.filter(order=order).latest("id")
    assert last.amount == Decimal("17.75")


@pytest.mark.parametrize(
    ("already", "amount"),
    [
        (None, "25.01"),
        (None, "1000000.00"),
        ("20.00", "5.01"),
        (None, "0.00"),
        (None, "-1.00"),
        (None, "1.005"),
    ],
)
def test_over_zero_negative_and_sub_cent_refunds_are_refused(already, amount):
    order = order_in(PS.PAID)
    if already:
        order_set_payment_status(
            order_id=order.pk, to_status=PS.PARTIALLY_REFUNDED, refund_amount=Decimal(already)
        )
    order.refresh_from_db()
    before = (order.payment_status, order.refunded_amount)
    audits = PaymentStatusChange.objects.filter(order=order).count()

    with pytest.raises(ApplicationError) as raised:
        order_set_payment_status(
            order_id=order.pk, to_status=PS.PARTIALLY_REFUNDED, refund_amount=Decimal(amount)
        )

    assert raised.value.code == "invalid_refund_amount"
    order.refresh_from_db()
    assert (order.payment_status, order.refunded_amount) == before
    assert PaymentStatusChange.objects.filter(order=order).count() == audits


def test_a_partial_refund_needs_an_amount():
    order = order_in(PS.PAID)

    with pytest.raises(ApplicationError) as raised:
        order_set_payment_status(order_id=order.pk, to_status=PS.PARTIALLY_REFUNDED)

    assert raised.value.code == "refund_amount_required"


def test_a_refund_amount_only_goes_with_a_refund():
    order = order_in(PS.PENDING)

    with pytest.raises(ApplicationError) as raised:
        order_set_payment_status(
            order_id=order.pk, to_status=PS.PAID, refund_amount=Decimal("1.00")
        )

    assert raised.value.code == "unexpected_refund_amount"


def test_unknown_status_and_unknown_order():
    order = order_in(PS.PENDING)

    with pytest.raises(ApplicationError) as unknown_status:
        order_set_payment_status(order_id=order.pk, to_status="stolen")
    with pytest.raises(NotFoundError):
        order_set_payment_status(order_id=order.pk + 1000, to_status=PS.PAID)

    assert unknown_status.value.code == "invalid_payment_status"
