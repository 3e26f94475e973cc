"""Order list filters: any ISO 8601 date-time is a result or a 400, never a database error."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.tests.api_world import assert_error, ids, token_client
from orders.models import Order

pytestmark = pytest.mark.django_db


def test_an_offset_postgresql_cannot_store_is_compared_in_utc(a):
    # Given an order placed two hours ago
    Order.objects.filter(pk=a.order.pk).update(created_at=timezone.now() - timedelta(hours=2))
    # ... and "now" written with an offset of -21:00 (valid ISO 8601, past PostgreSQL's 15:59)
    now = timezone.now().astimezone(timezone.get_fixed_timezone(-21 * 60))
    client = token_client(a.customer.user)

    # When the customer filters their orders around that moment
    before = client.get("/api/v1/orders/", {"created_before": now.isoformat()})
    after = client.get("/api/v1/orders/", {"created_after": now.isoformat()})

    # Then the bound means the same instant as in UTC
    assert ids(before) == {a.order.pk}
    assert ids(after) == set()


@pytest.mark.parametrize(
    "value",
    ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-10:00", "2025-13-01T00:00:00Z"],
)
def test_a_date_time_out_of_range_in_utc_is_a_400(a, value):
    response = token_client(a.customer.user).get("/api/v1/orders/", {"created_after": value})

    body = assert_error(response, 400, "validation_error")
    assert list(body["fields"]) == ["created_after"]
