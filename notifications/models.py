"""Notifications: templates per event and channel, the customer's inbox, and the record of every
email and webhook delivery with each of its attempts.

`NotificationService.send_notification` (notifications/services.py) is the only writer.
"""

import secrets

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import RegexValidator, URLValidator
from django.db import models
from django.utils import timezone

from core.models import TimeStampedModel
from notifications.addresses import validate_webhook_url
from notifications.rendering import validate_template_syntax

EVENT_NAME_PATTERN = r"^[a-z0-9_]+(\.[a-z0-9_]+)*$"
validate_event_name = RegexValidator(
    EVENT_NAME_PATTERN,
    "Use a dotted lower-case event name such as loyalty.points.earned.",
    code="invalid_event",
)


def validate_event_list(value) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError("A list of event names.", code="invalid_events")
    for item in value:
        validate_event_name(item)


def generate_webhook_secret() -> str:
    return secrets.token_hex(32)


class Channel(models.TextChoices):
    INBOX = "inbox", "In-app inbox"
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


class TemplateChannel(models.TextChoices):
    """Channels rendered from a template. A webhook carries the event as JSON, untemplated."""

    INBOX = Channel.INBOX.value, Channel.INBOX.label
    EMAIL = Channel.EMAIL.value, Channel.EMAIL.label


class NotificationTemplate(TimeStampedModel):
    event = models.CharField(max_length=100, validators=[validate_event_name])
    channel = models.CharField(max_length=16, choices=TemplateChannel.choices)
    brand = models.ForeignKey(
        "brands.Brand",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="notification_templates",
        help_text="Empty means the global default; a brand's own template overrides it.",
    )
    subject = models.CharField(
        max_length=255,
        validators=[validate_template_syntax],
        help_text="Email subject or inbox title. Django template syntax.",
    )
    body = models.TextField(
        validators=[validate_template_syntax],
        help_text=(
            "Plain text, Django template syntax. Variables: the event's payload keys, "
            "{{ event }}, {{ customer.first_name }}, {{ customer.last_name }}, "
            "{{ customer.full_name }}, {{ customer.email }}, {{ brand.name }}, {{ brand.slug }}."
        ),
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["event", "channel", "brand__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "channel", "brand"], name="notification_template_unique_per_brand"
            ),
            models.UniqueConstraint(
                fields=["event", "channel"],
                condition=models.Q(brand__isnull=True),
                name="notification_template_global_unique",
            ),
        ]

    def __str__(self) -> str:
        scope = self.brand.slug if self.brand_id else "global"
        return f"{self.event} / {self.channel} ({scope})"


class WebhookEndpoint(TimeStampedModel):
    name = models.CharField(max_length=120)
    brand = models.ForeignKey(
        "brands.Brand",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="webhook_endpoints",
        help_text="Empty means the endpoint receives the events of every brand.",
    )
    url = models.URLField(
        max_length=500,
        validators=[URLValidator(schemes=["http", "https"]), validate_webhook_url],
        help_text="Its host must resolve to public addresses (checked when saved and when sent).",
    )
    secret = models.CharField(
        max_length=128,
        default=generate_webhook_secret,
        help_text="Signs every request (X-Signature); give it to the receiver.",
    )
    events = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_event_list],
        help_text='Event names, for example ["loyalty.points.earned"]. Empty means every event.',
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def is_subscribed_to(self, event: str) -> bool:
        return not self.events or event in self.events


class Notification(models.Model):
    """One call of `send_notification`: what happened, to whom, in which brand."""

    event = models.CharField(max_length=100, db_index=True)
    payload = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    brand = models.ForeignKey(
        "brands.Brand",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="notifications",
    )
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event} #{self.pk}"


class InboxMessage(models.Model):
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="inbox_messages"
    )
    notification = models.OneToOneField(
        Notification, on_delete=models.CASCADE, related_name="inbox_message"
    )
    subject = models.CharField(max_length=255)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="inbox_customer_created_idx"),
            models.Index(
                fields=["customer"],
                condition=models.Q(read_at__isnull=True),
                name="inbox_customer_unread_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.subject

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class NotificationDelivery(TimeStampedModel):
    """One channel of one notification. Email and webhook deliveries are sent by a task."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    recipient = models.CharField(max_length=500, blank=True, help_text="Email address or URL.")
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deliveries",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=0)
    subject = models.CharField(max_length=255, blank=True)
    body = models.TextField(blank=True, help_text="The rendered text, or the webhook's JSON.")
    last_error = models.TextField(blank=True)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "notification deliveries"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(attempts__lte=models.F("max_attempts")),
                name="notification_delivery_attempts_within_limit",
            ),
        ]
        indexes = [
            models.Index(
                fields=["status", "next_retry_at"],
                condition=models.Q(status__in=["pending", "sending"]),
                name="delivery_open_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} #{self.pk} ({self.status})"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(
        NotificationDelivery, on_delete=models.CASCADE, related_name="attempt_records"
    )
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    ok = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["delivery", "number"], name="delivery_attempt_number_unique"
            )
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"
