"""Admin pieces every app shares, and the outbox's page."""

from django.contrib import admin, messages
from django.utils import timezone

from core.models import OutboxMessage
from core.outbox import outbox_sweep


class ReadOnlyAdminMixin:
    """A record, not a form: listed and viewed, never added, changed or deleted by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInlineMixin:
    """An inline list of records on their parent's page, read only."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# The outbox belongs to no brand: only superusers see it.


class PendingFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("pending", "Not done yet"), ("done", "Done")]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.filter(done_at__isnull=True)
        if self.value() == "done":
            return queryset.filter(done_at__isnull=False)
        return queryset


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What is owed after commits: superusers watch the backlog and can send it again now."""

    list_display = ("id", "task", "created_at", "sends", "due_at", "done_at", "last_error")
    list_filter = (PendingFilter, "task")
    search_fields = ("task",)
    actions = ["send_again_now"]

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    @admin.action(description="Send the selected messages again now")
    def send_again_now(self, request, queryset):
        now = timezone.now()
        pending = queryset.filter(done_at__isnull=True).update(due_at=now)
        sent = outbox_sweep(now=now)
        self.message_user(
            request,
            f"{sent} of {pending} messages not done yet were sent again.",
            messages.SUCCESS if sent == pending else messages.WARNING,
        )
