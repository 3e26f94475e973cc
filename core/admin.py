"""Admin pieces every app shares, and the outbox's page."""

from django.contrib import admin, messages

from core import privacy
from core.models import OutboxMessage
from core.outbox import outbox_send_now


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


class PersonalDataAdminMixin:
    """Shows personal data as the staff user's role allows (`core.privacy.PII_POLICY`).

    `personal_data` maps field names of the model to what they hold: `privacy.EMAIL`,
    `privacy.PHONE`, `privacy.BIRTH_DATE`, or `privacy.TEXT` for free text that may contain
    addresses and phone numbers (payloads, message bodies, errors). In the list and on the
    change page, a user who may not see a field in full gets a read-only column with the
    masked value (or nothing) in its place, so the form never carries the full value either.
    Searching by those fields still works, by the whole value only for a masked field and not
    at all for a hidden one (`get_search_fields`).
    """

    personal_data: dict[str, str] = {}

    def _column(self, name: str, kind: str, level: privacy.Level):
        """One function per field and level, so the same object names it everywhere."""
        columns = self.__dict__.setdefault("_personal_columns", {})
        if (name, level) not in columns:

            def column(obj):
                shown = privacy.shown_value(kind, level, getattr(obj, name))
                return self.get_empty_value_display() if shown in (None, "") else shown

            column.__name__ = f"{name}_as_shown"
            column.short_description = self.model._meta.get_field(name).verbose_name
            if level is not privacy.Level.HIDDEN:
                column.admin_order_field = name
            columns[(name, level)] = column
        return columns[(name, level)]

    def _shown(self, request, name):
        """`name`, or the masked column that stands in its place for this user."""
        if not isinstance(name, str) or name not in self.personal_data:
            return name
        kind = self.personal_data[name]
        level = privacy.pii_level(request.user, kind)
        return name if level is privacy.Level.FULL else self._column(name, kind, level)

    def _shown_all(self, request, names):
        shown = []
        for entry in names:
            if isinstance(entry, list | tuple):
                shown.append(type(entry)(self._shown(request, name) for name in entry))
            else:
                shown.append(self._shown(request, entry))
        return shown

    def get_list_display(self, request):
        return self._shown_all(request, super().get_list_display(request))

    def get_search_fields(self, request):
        """A masked field is searched whole (`=`), a hidden one not at all: a search by part
        would rebuild, letter by letter, what the page masks."""
        fields = []
        for name in super().get_search_fields(request):
            kind = self.personal_data.get(name)
            if kind is None:
                fields.append(name)
                continue
            level = privacy.pii_level(request.user, kind)
            if level is privacy.Level.FULL:
                fields.append(name)
            elif level is privacy.Level.MASKED:
                fields.append(f"={name}")
        return fields

    def get_fieldsets(self, request, obj=None):
        if obj is None:  # adding: the user types the values, nothing is revealed
            return super().get_fieldsets(request, obj)
        return [
            (title, {**options, "fields": self._shown_all(request, options["fields"])})
            for title, options in super().get_fieldsets(request, obj)
        ]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is None:
            return readonly
        masked = {
            name: self._shown(request, name)
            for name in self.personal_data
            if self._shown(request, name) != name
        }
        return [name for name in readonly if name not in masked] + list(masked.values())


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
        pending, sent = outbox_send_now(message_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request,
            f"{sent} of {pending} messages not done yet were sent again.",
            messages.SUCCESS if sent == pending else messages.WARNING,
        )
