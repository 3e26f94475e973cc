"""Admin for notification templates, webhook endpoints, and the record of every notification,
delivery and attempt (read-only). Brand staff see their brands' rows and the global templates;
only superusers change global templates and see global webhook endpoints
(`BrandScopedAdminMixin`)."""

from django.contrib import admin, messages

from brands.admin import BrandScopedAdminMixin
from core import privacy
from core.admin import PersonalDataAdminMixin, ReadOnlyAdminMixin, ReadOnlyInlineMixin
from core.errors import ApplicationError
from notifications.models import (
    DeliveryAttempt,
    InboxMessage,
    Notification,
    NotificationDelivery,
    NotificationTemplate,
    WebhookEndpoint,
)
from notifications.services import notification_delivery_retry


@admin.register(NotificationTemplate)
class NotificationTemplateAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    brand_path = "brand"
    include_global = True
    list_display = ["event", "channel", "brand", "subject", "is_active", "updated_at"]
    list_filter = ["channel", "is_active", ("brand", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["event", "subject", "body"]
    list_select_related = ["brand"]
    fields = ["event", "channel", "brand", "is_active", "subject", "body"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    """Global endpoints (every brand's events) and their secrets are for superusers only."""

    brand_path = "brand"
    list_display = ["name", "brand", "url", "event_list", "is_active"]
    list_filter = ["is_active", ("brand", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "url"]
    list_select_related = ["brand"]
    fields = ["name", "brand", "url", "secret", "events", "is_active"]

    @admin.display(description="events")
    def event_list(self, obj) -> str:
        return ", ".join(obj.events) if obj.events else "all events"


class DeliveryInline(PersonalDataAdminMixin, ReadOnlyInlineMixin, admin.TabularInline):
    model = NotificationDelivery
    personal_data = {"recipient": privacy.TEXT, "last_error": privacy.TEXT}
    fields = ["channel", "recipient", "status", "attempts", "last_error", "sent_at"]
    readonly_fields = fields
    show_change_link = True


class InboxMessageInline(PersonalDataAdminMixin, ReadOnlyInlineMixin, admin.StackedInline):
    model = InboxMessage
    personal_data = {"subject": privacy.TEXT, "body": privacy.TEXT}
    fields = ["subject", "body", "read_at"]
    readonly_fields = fields


@admin.register(Notification)
class NotificationAdmin(
    PersonalDataAdminMixin, ReadOnlyAdminMixin, BrandScopedAdminMixin, admin.ModelAdmin
):
    brand_path = "brand"
    personal_data = {"payload": privacy.TEXT}
    list_display = ["id", "event", "customer", "brand", "created_at"]
    list_filter = ["event", ("brand", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["event", "customer__email", "customer__external_id"]
    list_select_related = ["customer", "brand"]
    date_hierarchy = "created_at"
    fields = ["event", "customer", "brand", "payload", "created_at"]
    readonly_fields = fields
    inlines = [InboxMessageInline, DeliveryInline]


class AttemptInline(PersonalDataAdminMixin, ReadOnlyInlineMixin, admin.TabularInline):
    model = DeliveryAttempt
    personal_data = {"error": privacy.TEXT, "response_excerpt": privacy.TEXT}
    fields = [
        "number",
        "started_at",
        "duration_ms",
        "ok",
        "status_code",
        "error",
        "response_excerpt",
    ]
    readonly_fields = fields


@admin.register(NotificationDelivery)
class NotificationDeliveryAdmin(
    PersonalDataAdminMixin, ReadOnlyAdminMixin, BrandScopedAdminMixin, admin.ModelAdmin
):
    brand_path = "notification__brand"
    personal_data = {
        "recipient": privacy.TEXT,
        "last_error": privacy.TEXT,
        "subject": privacy.TEXT,
        "body": privacy.TEXT,
    }
    list_display = [
        "id",
        "event",
        "channel",
        "recipient",
        "status",
        "attempts",
        "next_retry_at",
        "sent_at",
        "created_at",
    ]
    list_filter = ["status", "channel", ("notification__brand", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["recipient", "notification__event", "last_error"]
    list_select_related = ["notification"]
    fields = [
        "notification",
        "channel",
        "recipient",
        "endpoint",
        "status",
        "attempts",
        "max_attempts",
        "last_error",
        "subject",
        "body",
        "next_retry_at",
        "claimed_at",
        "sent_at",
        "created_at",
    ]
    readonly_fields = fields
    inlines = [AttemptInline]
    actions = ["retry_now"]

    @admin.display(description="event", ordering="notification__event")
    def event(self, obj) -> str:
        return obj.notification.event

    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm("notifications.change_notificationdelivery")

    @admin.action(description="Retry the selected failed deliveries now", permissions=["retry"])
    def retry_now(self, request, queryset):
        retried, refused = 0, 0
        for delivery_id in queryset.values_list("pk", flat=True):
            try:
                notification_delivery_retry(delivery_id=delivery_id)
            except ApplicationError:
                refused += 1
            else:
                retried += 1
        if retried:
            self.message_user(request, f"{retried} delivery(ies) queued again.", messages.SUCCESS)
        if refused:
            self.message_user(
                request,
                f"{refused} delivery(ies) not retried: only failed email and webhook "
                "deliveries can be.",
                messages.WARNING,
            )


@admin.register(InboxMessage)
class InboxMessageAdmin(
    PersonalDataAdminMixin, ReadOnlyAdminMixin, BrandScopedAdminMixin, admin.ModelAdmin
):
    brand_path = "notification__brand"
    personal_data = {"subject": privacy.TEXT, "body": privacy.TEXT}
    list_display = ["subject", "customer", "event", "created_at", "read_at"]
    list_filter = [("notification__brand", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["subject", "customer__email"]
    list_select_related = ["customer", "notification"]
    fields = ["customer", "notification", "subject", "body", "created_at", "read_at"]
    readonly_fields = fields

    @admin.display(description="event", ordering="notification__event")
    def event(self, obj) -> str:
        return obj.notification.event
