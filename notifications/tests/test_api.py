import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from brands.tests.factories import BrandFactory, StaffUserFactory, UserFactory
from customers.tests.factories import CustomerFactory
from notifications.models import InboxMessage
from notifications.services import NotificationService
from notifications.tests.factories import NotificationTemplateFactory

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/me/notifications/"


def read_url(message_id: int) -> str:
    return f"/api/v1/me/notifications/{message_id}/read/"


@pytest.fixture
def inbox_template():
    return NotificationTemplateFactory(channel="inbox", subject="+{{ points }} points", body="b")


def customer_with_login():
    return CustomerFactory(user=UserFactory())


def notify(customer, points, brand=None) -> InboxMessage:
    notification = NotificationService.send_notification(
        event="loyalty.points.earned", payload={"points": points}, customer=customer, brand=brand
    )
    return notification.inbox_message


def test_a_customer_lists_only_their_own_messages_newest_first(
    api_client, inbox_template, django_assert_num_queries
):
    # Given two messages for the customer and one for someone else
    customer, other = customer_with_login(), customer_with_login()
    brand = BrandFactory(slug="burger-town")
    first = notify(customer, 10)
    second = notify(customer, 20, brand=brand)
    notify(other, 30)
    # a fresh user, as a request would load it
    api_client.force_authenticate(get_user_model().objects.get(pk=customer.user_id))

    # When they list their inbox
    with django_assert_num_queries(3):  # the user's customer, count, page
        response = api_client.get(LIST_URL)

    # Then they see their two messages, newest first
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [item["id"] for item in body["results"]] == [second.pk, first.pk]
    assert body["results"][0] == {
        "id": second.pk,
        "event": "loyalty.points.earned",
        "brand": "burger-town",
        "subject": "+20 points",
        "body": "b",
        "created_at": body["results"][0]["created_at"],
        "read_at": None,
        "is_read": False,
    }
    assert body["results"][1]["brand"] is None


def test_filters_unread_and_brand(api_client, inbox_template):
    customer = customer_with_login()
    brand = BrandFactory(slug="pizza-place")
    read = notify(customer, 1)
    InboxMessage.objects.filter(pk=read.pk).update(read_at=timezone.now())
    unread = notify(customer, 2)
    of_brand = notify(customer, 3, brand=brand)
    api_client.force_authenticate(customer.user)

    unread_ids = [m["id"] for m in api_client.get(LIST_URL, {"unread": "true"}).json()["results"]]
    read_ids = [m["id"] for m in api_client.get(LIST_URL, {"unread": "false"}).json()["results"]]
    brand_ids = [
        m["id"] for m in api_client.get(LIST_URL, {"brand": "pizza-place"}).json()["results"]
    ]

    assert unread_ids == [of_brand.pk, unread.pk]
    assert read_ids == [read.pk]
    assert brand_ids == [of_brand.pk]


def test_mark_read_is_idempotent(api_client, inbox_template):
    customer = customer_with_login()
    message = notify(customer, 10)
    api_client.force_authenticate(customer.user)

    first = api_client.post(read_url(message.pk))
    second = api_client.post(read_url(message.pk))

    assert first.status_code == second.status_code == 200
    assert first.json()["is_read"] is True
    assert first.json()["read_at"] == second.json()["read_at"]
    message.refresh_from_db()
    assert message.read_at is not None


def test_another_customers_message_is_not_found_and_stays_unread(api_client, inbox_template):
    customer, other = customer_with_login(), customer_with_login()
    message = notify(other, 10)
    api_client.force_authenticate(customer.user)

    response = api_client.post(read_url(message.pk))

    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "message": "Notification not found.",
        "fields": {},
    }
    message.refresh_from_db()
    assert message.read_at is None


@pytest.mark.parametrize("who", ["anonymous", "staff without customer"])
def test_only_customers_reach_the_inbox(api_client, who):
    if who != "anonymous":
        api_client.force_authenticate(StaffUserFactory())
    assert api_client.get(LIST_URL).status_code in (401, 403)
    response = api_client.post(read_url(1))
    assert response.status_code in (401, 403)
    assert set(response.json()) == {"code", "message", "fields"}
