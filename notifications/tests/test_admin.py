import pytest
from django.contrib.auth.models import Permission

from brands.tests.factories import BrandFactory, StaffUserFactory, UserFactory
from notifications.models import NotificationDelivery, NotificationTemplate
from notifications.services import NotificationService
from notifications.tasks import deliver_notification_task
from notifications.tests.factories import NotificationTemplateFactory, WebhookEndpointFactory

pytestmark = pytest.mark.django_db

TEMPLATES_URL = "/admin/notifications/notificationtemplate/"
DELIVERIES_URL = "/admin/notifications/notificationdelivery/"


@pytest.fixture
def superuser_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_the_admin_refuses_a_broken_template(superuser_client):
    response = superuser_client.post(
        f"{TEMPLATES_URL}add/",
        {
            "event": "loyalty.points.earned",
            "channel": "email",
            "subject": "Hi {{ customer.first_name",
            "body": "ok",
            "is_active": "on",
        },
    )
    assert response.status_code == 200  # the form again, with the error
    assert "Template error:" in response.content.decode()
    assert not NotificationTemplate.objects.exists()


def test_the_admin_saves_a_valid_template(superuser_client):
    response = superuser_client.post(
        f"{TEMPLATES_URL}add/",
        {
            "event": "loyalty.points.earned",
            "channel": "email",
            "subject": "Hi {{ customer.first_name }}",
            "body": "{{ points }} points",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    assert NotificationTemplate.objects.get().subject == "Hi {{ customer.first_name }}"


def test_brand_staff_see_their_brand_and_global_templates_only(client):
    brand, other = BrandFactory(), BrandFactory()
    staff = StaffUserFactory()
    brand.staff.add(staff)
    staff.user_permissions.add(Permission.objects.get(codename="view_notificationtemplate"))
    own = NotificationTemplateFactory(brand=brand, subject="own")
    shared = NotificationTemplateFactory(brand=None, subject="shared")
    NotificationTemplateFactory(brand=other, subject="other")
    client.force_login(staff)

    response = client.get(TEMPLATES_URL)

    assert response.status_code == 200
    listed = {t.pk for t in response.context["cl"].result_list}
    assert listed == {own.pk, shared.pk}


def test_retry_now_action_requeues_failed_deliveries(
    superuser_client, webhook_receiver, django_capture_on_commit_callbacks
):
    # Given a webhook delivery that failed, and a receiver that now accepts
    receiver = webhook_receiver(statuses=(400, 200))
    WebhookEndpointFactory(url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        NotificationService.send_notification(event="loyalty.points.earned", payload={})
    delivery = NotificationDelivery.objects.get()
    assert delivery.status == NotificationDelivery.Status.FAILED

    # When the "retry now" action runs on it
    with django_capture_on_commit_callbacks(execute=True):
        response = superuser_client.post(
            DELIVERIES_URL, {"action": "retry_now", "_selected_action": [delivery.pk]}
        )

    # Then it was sent again and succeeded
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == NotificationDelivery.Status.SENT
    assert len(receiver.requests) == 2


def test_delivery_pages_show_attempts_read_only(superuser_client, webhook_receiver):
    receiver = webhook_receiver(statuses=(500, 200))
    WebhookEndpointFactory(url=receiver.url)
    notification = NotificationService.send_notification(event="loyalty.points.earned", payload={})
    delivery = notification.deliveries.get()
    deliver_notification_task.apply(args=[delivery.pk, 1])

    page = superuser_client.get(f"{DELIVERIES_URL}{delivery.pk}/change/")
    listing = superuser_client.get(DELIVERIES_URL)
    notification_page = superuser_client.get(
        f"/admin/notifications/notification/{notification.pk}/change/"
    )

    assert page.status_code == listing.status_code == notification_page.status_code == 200
    content = page.content.decode()
    assert "HTTP 500" in content
    assert 'name="_save"' not in content  # nothing to edit


def test_brand_staff_see_only_their_brands_webhook_endpoints(client):
    brand, other = BrandFactory(), BrandFactory()
    staff = StaffUserFactory()
    brand.staff.add(staff)
    staff.user_permissions.add(Permission.objects.get(codename="view_webhookendpoint"))
    own = WebhookEndpointFactory(brand=brand)
    global_endpoint = WebhookEndpointFactory(brand=None)
    WebhookEndpointFactory(brand=other)
    client.force_login(staff)

    response = client.get("/admin/notifications/webhookendpoint/")
    global_page = client.get(f"/admin/notifications/webhookendpoint/{global_endpoint.pk}/change/")

    assert {e.pk for e in response.context["cl"].result_list} == {own.pk}
    assert global_page.status_code == 302  # "not found": back to the admin index
