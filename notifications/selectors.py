"""Reads for notifications."""

from django.db.models import Q, QuerySet

from brands.models import Brand
from customers.models import Customer
from notifications.models import InboxMessage, NotificationTemplate, WebhookEndpoint


def templates_for_event(*, event: str, brand: Brand | None) -> dict[str, NotificationTemplate]:
    """The active template of each channel for `event`: the brand's own, else the global one."""
    scope = Q(brand__isnull=True)
    if brand is not None:
        scope |= Q(brand=brand)
    chosen: dict[str, NotificationTemplate] = {}
    for template in NotificationTemplate.objects.filter(scope, event=event, is_active=True):
        current = chosen.get(template.channel)
        if current is None or (current.brand_id is None and template.brand_id is not None):
            chosen[template.channel] = template
    return chosen


def webhook_endpoints_for_event(*, event: str, brand: Brand | None) -> list[WebhookEndpoint]:
    """Active endpoints subscribed to `event`: the brand's own and the global ones."""
    scope = Q(brand__isnull=True)
    if brand is not None:
        scope |= Q(brand=brand)
    endpoints = WebhookEndpoint.objects.filter(scope, is_active=True).order_by("pk")
    # Filtered here rather than with a JSON lookup so SQLite (the embedded mode) works too.
    return [endpoint for endpoint in endpoints if endpoint.is_subscribed_to(event)]


def inbox_messages_for(*, customer: Customer | None) -> QuerySet[InboxMessage]:
    if customer is None:
        return InboxMessage.objects.none()
    return InboxMessage.objects.filter(customer=customer).select_related("notification__brand")
