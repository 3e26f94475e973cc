import pytest
from django.core.exceptions import ValidationError

from brands.tests.factories import BrandFactory
from customers.tests.factories import CustomerFactory
from notifications.models import InboxMessage, NotificationTemplate
from notifications.rendering import TemplateRenderError, render_message
from notifications.services import NotificationService
from notifications.tests.factories import NotificationTemplateFactory

pytestmark = pytest.mark.django_db


def test_context_has_payload_customer_brand_and_event():
    # Given a global inbox template using every kind of variable
    NotificationTemplateFactory(
        subject="{{ brand.name }}: +{{ points }}\n points",
        body="{{ customer.full_name }} ({{ customer.email }}) got {{ points }} for {{ event }}.",
    )
    brand = BrandFactory(name="Burger Town")
    customer = CustomerFactory(first_name="Ana", last_name="Lima", email="ana@example.com")

    # When the event is sent
    NotificationService.send_notification(
        event="loyalty.points.earned", payload={"points": 120}, customer=customer, brand=brand
    )

    # Then the inbox message is rendered from it, the subject on one line
    message = InboxMessage.objects.get(customer=customer)
    assert message.subject == "Burger Town: +120 points"
    assert message.body == "Ana Lima (ana@example.com) got 120 for loyalty.points.earned."


def test_brand_template_overrides_global_one_for_that_brand_only():
    # Given a global template and one of brand A
    brand_a, brand_b = BrandFactory(), BrandFactory()
    NotificationTemplateFactory(subject="Global", body="global")
    NotificationTemplateFactory(subject="Brand A", body="brand a", brand=brand_a)
    customer = CustomerFactory()

    # When the event is sent for brand A, brand B and no brand
    for brand in (brand_a, brand_b, None):
        NotificationService.send_notification(
            event="loyalty.points.earned", payload={}, customer=customer, brand=brand
        )

    # Then brand A's template wins for brand A; the others get the global one
    subjects = dict(
        InboxMessage.objects.values_list("notification__brand", "subject").order_by("id")
    )
    assert subjects == {brand_a.pk: "Brand A", brand_b.pk: "Global", None: "Global"}


def test_an_inactive_brand_template_falls_back_to_the_global_one():
    brand = BrandFactory()
    NotificationTemplateFactory(subject="Global")
    NotificationTemplateFactory(subject="Brand", brand=brand, is_active=False)

    NotificationService.send_notification(
        event="loyalty.points.earned", payload={}, customer=CustomerFactory(), brand=brand
    )

    assert InboxMessage.objects.get().subject == "Global"


def test_payload_values_are_not_html_escaped_and_missing_ones_render_empty():
    subject, body = render_message(
        subject="{{ title }}",
        body="[{{ missing }}] {{ title }}",
        context={"title": "Fish & <Chips>"},
    )
    assert subject == "Fish & <Chips>"
    assert body == "[] Fish & <Chips>"


@pytest.mark.parametrize(
    ("field", "source"),
    [
        ("body", "Hello {{ customer.first_name "),
        ("body", "Hello {{ }}"),
        ("body", "{% if points %}no end"),
        ("subject", "{{ points|no_such_filter }}"),
        ("body", "{% load humanize %}{{ points|intcomma }}"),
        ("body", "{% debug %}"),
    ],
)
def test_clean_refuses_a_broken_template(field, source):
    # Given a template with a syntax error, an unknown filter, a library or the debug tag
    values = {"event": "loyalty.points.earned", "channel": "email", "subject": "Hi", "body": "x"}
    values[field] = source
    template = NotificationTemplate(**values)

    # When it is validated, then the field carries the error
    with pytest.raises(ValidationError) as error:
        template.full_clean()
    assert field in error.value.message_dict
    assert error.value.message_dict[field][0].startswith("Template error:")


def test_clean_refuses_a_second_global_template_for_the_same_event_and_channel():
    NotificationTemplateFactory(channel="email")
    duplicate = NotificationTemplate(
        event="loyalty.points.earned", channel="email", subject="Hi", body="x"
    )
    with pytest.raises(ValidationError):
        duplicate.full_clean()


def test_clean_refuses_a_webhook_channel_and_a_bad_event_name():
    template = NotificationTemplate(event="Points Earned", channel="webhook", subject="s", body="b")
    with pytest.raises(ValidationError) as error:
        template.full_clean()
    assert set(error.value.message_dict) >= {"event", "channel"}


def test_a_template_failing_on_its_data_raises_a_render_error():
    # `divisibleby` divides: a zero from the payload fails at render time, not at compile time
    with pytest.raises(TemplateRenderError):
        render_message(subject="x", body="{{ 10|divisibleby:zero }}", context={"zero": 0})
