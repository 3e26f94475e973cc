import factory

from notifications.models import NotificationTemplate, WebhookEndpoint


class NotificationTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NotificationTemplate

    event = "loyalty.points.earned"
    channel = "inbox"
    brand = None
    subject = "You earned {{ points }} points"
    body = "Hi {{ customer.first_name }}, {{ points }} points were added."
    is_active = True


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookEndpoint

    name = factory.Sequence(lambda n: f"Receiver {n}")
    brand = None
    url = "http://127.0.0.1:9/hook"
    secret = factory.Sequence(lambda n: f"whsec-test-{n:04d}")
    events = factory.LazyFunction(list)
    is_active = True
