"""Admin for vouchers: batches staff create and void, and the code lookup.

- Batches: "Add" is a form of real fields (the promotion and the customer picked by search,
  date-time fields) whose save goes through `voucher_batch_create`; the service's sentences land
  on their fields. A batch is never edited or deleted (its codes may be out there): its page is
  read only, shows the generation's progress (refreshed every 2 seconds while it runs), the
  codes per state and how many were sent to customers, the downloads, a "Void this batch"
  button (`voucher_batch_void`) and, for a ready batch bound to no one, a "Send codes to a
  customer label" button: a page that picks the label by search and asks a worker to give each
  of its customers one code (`voucher_batch_distribution_request`).
- Codes: a read-only list searched by code (typed, or a scanned offline payload), filtered by
  state and batch, with the customer's email as the user's role allows, each code's QR image
  and its redemptions; an action voids the selected codes (`voucher_code_void`).

Downloads are the exports of `vouchers.exports`, served here under the admin's session (the
API's own export URLs need a token).
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from brands.admin import NOT_YOUR_BRAND, BrandListFilter, BrandScopedAdminMixin, ScopedListFilter
from brands.selectors import brand_ids_for_user, scope_to_user_brands
from core import privacy
from core.admin import ReadOnlyInlineMixin
from core.errors import ApplicationError
from labels.models import CustomerLabel, Label
from promotions.models import Promotion
from vouchers.codes import normalise_code
from vouchers.distribution import voucher_batch_distribution_request
from vouchers.downloads import CSV, PDF, XLSX, reveals_personal_data, written_file
from vouchers.models import VoucherBatch, VoucherCode, VoucherRedemption
from vouchers.selectors import (
    batch_assignment_counts,
    batch_status_counts,
    batches_for_staff,
    codes_for_staff,
    entered_code,
)
from vouchers.services import voucher_batch_create, voucher_batch_errors, voucher_batch_void

CS = VoucherCode.Status
BS = VoucherBatch.Status
VOID_BATCH_PERMISSION = "vouchers.change_voucherbatch"
DISTRIBUTE_PERMISSION = "vouchers.change_voucherbatch"  # sending codes changes the batch's codes
VOID_CODE_PERMISSION = "vouchers.change_vouchercode"
VIEW_CODES_PERMISSION = "vouchers.view_vouchercode"
REFRESH_SECONDS = 2
DATE_TIME_FORMAT = "%Y-%m-%dT%H:%M"
DOWNLOAD_LATER = "The files can be downloaded once the batch's codes are generated."
# The service's own sentence (`vouchers.distribution`), for a label the user may not pick.
NOT_THIS_LABEL = "Choose a customer label of the batch's brand, or a global one."


def _customer_email_column(model_admin, request, customer_of):
    """A column with the email of `customer_of(obj)` as the user's role allows it."""
    level = privacy.pii_level(request.user, privacy.EMAIL)

    @admin.display(description="customer email")
    def customer_email(obj):
        customer = customer_of(obj)
        shown = privacy.shown_value(privacy.EMAIL, level, customer.email if customer else None)
        return shown or model_admin.get_empty_value_display()

    return customer_email


# --- Batches --------------------------------------------------------------------------------


class _BatchRefused(Exception):
    """`voucher_batch_create` refused the form's batch after the form was valid (the promotion
    ended meanwhile, say): the add view shows the form again with the service's sentences."""

    def __init__(self, error: ApplicationError):
        super().__init__(error.message)
        self.error = error


class VoucherBatchForm(forms.ModelForm):
    """The batch's fields, checked by the service's own rules (`voucher_batch_errors`), each
    sentence on its field. Never saved by `save()`: the admin calls `voucher_batch_create`."""

    valid_from = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATE_TIME_FORMAT),
        help_text="Empty: from now. In UTC.",
    )
    valid_until = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATE_TIME_FORMAT),
        help_text="Empty: for as long as the promotion runs. In UTC.",
    )
    # What `voucher_batch_create` refused on an earlier pass (see `_BatchRefused`).
    refused: ApplicationError | None = None
    # Help for typing a batch in, on the form's fields only: a batch's read-only page shows
    # the model's own help.
    add_help = {
        "promotion": "Search by name. The batch's codes unlock this promotion.",
        "name": "For you: shown in the admin and on the downloads.",
        "customer": "Optional; search by name or email. Only this customer may use the codes.",
    }

    class Meta:
        model = VoucherBatch
        fields = [
            "promotion",
            "name",
            "quantity",
            "prefix",
            "length",
            "uses_per_code",
            "customer",
            "valid_from",
            "valid_until",
            "offline",
        ]
        labels = {"length": "Random characters", "offline": "Offline codes"}
        widgets = {
            "quantity": forms.NumberInput(attrs={"min": 1}),
            "length": forms.NumberInput(attrs={"min": 1}),
            "uses_per_code": forms.NumberInput(attrs={"min": 1}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, text in self.add_help.items():
            if name in self.fields:
                self.fields[name].help_text = text
        for name in ("promotion", "customer"):
            widget = getattr(self.fields.get(name), "widget", None)
            if widget is not None and hasattr(widget, "can_add_related"):
                # Picked, not edited from here: no add, change or delete buttons beside them.
                widget.can_add_related = widget.can_change_related = False
                widget.can_delete_related = False

    def clean(self):
        cleaned = super().clean()
        promotion = cleaned.get("promotion")
        if promotion is not None:
            self.instance.brand = promotion.brand  # what the brand scoping checks
        needed = ("promotion", "quantity", "length", "uses_per_code")
        if promotion is not None and all(cleaned.get(name) is not None for name in needed):
            errors = voucher_batch_errors(
                promotion=promotion,
                prefix=normalise_code(cleaned.get("prefix") or ""),
                length=cleaned["length"],
                quantity=cleaned["quantity"],
                uses_per_code=cleaned["uses_per_code"],
                customer=cleaned.get("customer"),
                valid_from=cleaned.get("valid_from"),
                valid_until=cleaned.get("valid_until"),
            )
            for name, sentences in errors.items():
                if name not in self.errors:
                    self.add_error(name if name in self.fields else None, sentences)
        if self.refused is not None:
            for name, sentences in self.refused.fields.items():
                if name not in self.errors:
                    self.add_error(name if name in self.fields else None, sentences)
            if not self.refused.fields:
                self.add_error(None, self.refused.message)
        return cleaned

    def _post_clean(self):
        # No model validation: the service's rules (above) say what is wrong in plain
        # sentences on each field, and the model's constraints stay the database's last guard
        # rather than repeating those sentences at the top of the form.
        pass


def _counts_table(batch: VoucherBatch) -> str:
    """The batch's codes per state, each count a link to those codes."""
    counts = batch_status_counts(batch_id=batch.pk)
    codes_url = reverse("admin:vouchers_vouchercode_changelist")
    rows = format_html_join(
        "",
        '<tr><th scope="row">{}</th><td><a href="{}?batch={}&amp;status__exact={}">{}</a>'
        "</td></tr>",
        ((label, codes_url, batch.pk, value, f"{counts[value]:,}") for value, label in CS.choices),
    )
    return format_html(
        '<table class="voucher-counts"><tbody>{}</tbody></table>'
        '<p><a href="{}?batch={}">All the codes of this batch</a></p>',
        rows,
        codes_url,
        batch.pk,
    )


def _may_be_distributed(batch: VoucherBatch) -> bool:
    """A batch whose codes can be sent to a label: ready, not voided, bound to no customer (the
    service checks again, and checks the rest: the label, an ended offer)."""
    return batch.status == BS.READY and batch.voided_at is None and batch.customer_id is None


# The picker's source field: the admin's autocomplete asks the label admin (scoped to the
# user's brands and the global labels) for the labels this field may point to.
LABEL_PICKER_FIELD = CustomerLabel._meta.get_field("label")


class BatchLabelPicker(AutocompleteSelect):
    """The admin's search-as-you-type picker, asking `BatchLabelAutocomplete` for the customer
    labels of one batch's brand and the global ones."""

    def __init__(self, admin_site, batch_id: int, **kwargs):
        super().__init__(LABEL_PICKER_FIELD, admin_site, **kwargs)
        self.batch_id = batch_id

    def get_url(self):
        return f"{reverse('admin:vouchers_voucherbatch_label_autocomplete')}?batch={self.batch_id}"


class BatchLabelAutocomplete(AutocompleteJsonView):
    """The label admin's rows (so the user's brands' and the global ones), searched by name and
    narrowed to customer labels of the batch's brand (`?batch=`, one of the user's batches) or
    global ones."""

    def process_request(self, request):
        asked = (request.GET.get("app_label"), request.GET.get("model_name"))
        if asked != ("labels", "customerlabel") or request.GET.get("field_name") != "label":
            raise PermissionDenied
        batch_id = request.GET.get("batch", "")
        self.batch = (
            batches_for_staff(user=request.user).filter(pk=batch_id).first()
            if batch_id.isdigit()
            else None
        )
        if self.batch is None:
            raise PermissionDenied
        return super().process_request(request)

    def get_queryset(self):
        return (
            super()
            .get_queryset()
            .filter(type=Label.Type.CUSTOMER)
            .filter(Q(brand_id=self.batch.brand_id) | Q(brand__isnull=True))
        )


class DistributionForm(forms.Form):
    """The label a batch's codes go to. Any label the user may see passes the form; whether the
    batch's codes may go to it is the service's to say (`voucher_batch_distribution_request`)."""

    def __init__(self, *args, user, admin_site, batch: VoucherBatch, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["label"] = forms.ModelChoiceField(
            queryset=scope_to_user_brands(
                Label.objects.select_related("brand"), user, "brand", include_global=True
            ),
            widget=BatchLabelPicker(admin_site, batch_id=batch.pk),
            label="Customer label",
            help_text="Search by name: the customer labels of the batch's brand, and global ones.",
            error_messages={
                "required": "Choose a customer label.",
                "invalid_choice": NOT_THIS_LABEL,
            },
        )


@admin.register(VoucherBatch)
class VoucherBatchAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    form = VoucherBatchForm
    list_display = [
        "name",
        "promotion",
        "brand",
        "status_label",
        "progress",
        "uses_per_code",
        "offline",
        "valid_until",
        "created_at",
    ]
    list_filter = ["status", "offline", BrandListFilter]
    list_select_related = ["promotion", "brand"]
    search_fields = ["name", "prefix"]
    autocomplete_fields = ["promotion", "customer"]
    date_hierarchy = "created_at"
    add_fieldsets = [
        (None, {"fields": ["promotion", "name"]}),
        (
            "Codes",
            {
                "fields": ["quantity", "prefix", "length", "uses_per_code", "offline"],
                "description": "Each code is the prefix, the random characters and one check "
                "character that catches a mistyped code. Offline codes are signed, so that a "
                "till can check them without a connection.",
            },
        ),
        ("Who and when", {"fields": ["customer", "valid_from", "valid_until"]}),
    ]
    view_fieldsets = [
        (None, {"fields": ["name", "promotion", "brand", "status_view", "progress_view"]}),
        ("Codes by state", {"fields": ["counts_view", "assigned_view"]}),
        ("Downloads", {"fields": ["downloads_view"]}),
        (
            "Codes",
            {"fields": ["quantity", "prefix", "length", "uses_per_code", "offline"]},
        ),
        ("Who and when", {"fields": ["customer", "valid_from", "valid_until"]}),
        ("Record", {"fields": ["created_by", "created_at", "voided_at"]}),
    ]
    void_template = "admin/vouchers/voucherbatch/void_confirmation.html"
    distribute_template = "admin/vouchers/voucherbatch/distribute.html"

    class Media:
        css = {"all": ["vouchers/admin.css"]}

    def get_queryset(self, request):
        return batches_for_staff(user=request.user)

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else self.view_fieldsets

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "promotion" and "queryset" not in kwargs:
            kwargs["queryset"] = scope_to_user_brands(
                Promotion.objects.all(), request.user, "brand"
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def user_may_change_object(self, request, obj) -> bool:
        if obj.pk is None and obj.brand_id is None:
            return True  # no promotion chosen yet: the form says so on its field
        return super().user_may_change_object(request, obj)

    def has_change_permission(self, request, obj=None):
        return False  # a batch is read only once created; voiding is its own button

    def has_delete_permission(self, request, obj=None):
        return False  # its codes may be out there: it is voided instead

    def has_void_permission(self, request, obj=None) -> bool:
        if not request.user.has_perm(VOID_BATCH_PERMISSION):
            return False
        return obj is None or super().user_may_change_object(request, obj)

    def has_distribute_permission(self, request, obj=None) -> bool:
        if not request.user.has_perm(DISTRIBUTE_PERMISSION):
            return False
        return obj is None or super().user_may_change_object(request, obj)

    # --- Columns and read-only fields -------------------------------------------------------

    @admin.display(description="status", ordering="status")
    def status_label(self, obj) -> str:
        return "Voided" if obj.voided_at else obj.get_status_display()

    @admin.display(description="codes generated")
    def progress(self, obj) -> str:
        return f"{obj.generated:,} of {obj.quantity:,}"

    @admin.display(description="status")
    def status_view(self, obj) -> str:
        if obj.voided_at:
            voided = timezone.localtime(obj.voided_at).strftime("%Y-%m-%d %H:%M")
            return format_html(
                "<strong>Voided</strong> on {} UTC: none of its codes can be used any more.",
                voided,
            )
        if obj.status == BS.FAILED:
            return format_html("<strong>{}</strong>: {}", obj.get_status_display(), obj.error)
        return format_html("<strong>{}</strong>", obj.get_status_display())

    @admin.display(description="generated")
    def progress_view(self, obj) -> str:
        running = obj.status in (BS.PENDING, BS.GENERATING) and not obj.voided_at
        return format_html(
            '<span class="voucher-progress"><progress value="{}" max="{}">{}%</progress> '
            "{} of {} codes ({}%){}</span>",
            obj.generated,
            obj.quantity,
            obj.progress_percent,
            f"{obj.generated:,}",
            f"{obj.quantity:,}",
            obj.progress_percent,
            f"; this page refreshes every {REFRESH_SECONDS} seconds." if running else ".",
        )

    @admin.display(description="codes")
    def counts_view(self, obj) -> str:
        return _counts_table(obj)

    @admin.display(description="sent to customers")
    def assigned_view(self, obj) -> str:
        assigned = batch_assignment_counts(batch_id=obj.pk)["assigned"]
        return f"{assigned:,} code{'s' if assigned != 1 else ''}"

    @admin.display(description="files")
    def downloads_view(self, obj) -> str:
        from vouchers.exports import PDF_MAX_CODES, XLSX_MAX_CODES

        if not _generation_finished(obj):
            return DOWNLOAD_LATER
        links = [("vouchers_voucherbatch_export_csv", "The codes as CSV")]
        if obj.quantity <= XLSX_MAX_CODES:
            links.append(("vouchers_voucherbatch_export_xlsx", "The codes as an Excel workbook"))
        if obj.voided_at is None and obj.status == BS.READY and obj.quantity <= PDF_MAX_CODES:
            links.append(("vouchers_voucherbatch_sheet_pdf", "A sheet to print (PDF, QR codes)"))
        items = format_html_join(
            "",
            '<li><a href="{}">{}</a></li>',
            ((reverse(f"admin:{name}", args=[obj.pk]), label) for name, label in links),
        )
        if obj.voided_at is not None:
            note = "No sheet to print: the batch is voided."
        elif obj.quantity > PDF_MAX_CODES:
            note = f"No sheet to print: a sheet holds at most {PDF_MAX_CODES:,} codes."
        else:
            note = ""
        return format_html(
            '<ul class="voucher-downloads">{}</ul>{}',
            items,
            format_html('<p class="help">{}</p>', note) if note else "",
        )

    # --- Pages ------------------------------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        batch = self.get_object(request, unquote(object_id))
        extra_context = dict(extra_context or {})
        if batch is not None:
            extra_context["voucher_batch_refresh"] = (
                REFRESH_SECONDS
                if batch.status in (BS.PENDING, BS.GENERATING) and not batch.voided_at
                else None
            )
            if batch.voided_at is None and self.has_void_permission(request, batch):
                extra_context["voucher_batch_void_url"] = reverse(
                    "admin:vouchers_voucherbatch_void", args=[batch.pk]
                )
            if _may_be_distributed(batch) and self.has_distribute_permission(request, batch):
                extra_context["voucher_batch_distribute_url"] = reverse(
                    "admin:vouchers_voucherbatch_distribute", args=[batch.pk]
                )
        return super().change_view(request, object_id, form_url, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except _BatchRefused as refused:
            # The admin's transaction was rolled back; the form is shown again with the
            # service's sentences on its fields (`VoucherBatchForm.refused`).
            request._voucher_batch_refused = refused.error  # the admin is shared: not on self
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change, **kwargs)
        refused = getattr(request, "_voucher_batch_refused", None)
        if refused is None:
            return form_class
        return type(form_class.__name__, (form_class,), {"refused": refused})

    def save_model(self, request, obj, form, change):
        if change:
            raise PermissionDenied  # read only; has_change_permission says so already
        if not self.user_may_change_object(request, obj):
            raise PermissionDenied(NOT_YOUR_BRAND)
        data = form.cleaned_data
        try:
            batch = voucher_batch_create(
                promotion=data["promotion"],
                name=data["name"],
                quantity=data["quantity"],
                prefix=data.get("prefix") or "",
                length=data["length"],
                uses_per_code=data["uses_per_code"],
                customer=data.get("customer"),
                valid_from=data.get("valid_from"),
                valid_until=data.get("valid_until"),
                offline=data.get("offline", False),
                actor=request.user,
            )
        except ApplicationError as error:
            raise _BatchRefused(error) from error
        for field in VoucherBatch._meta.concrete_fields:
            setattr(obj, field.attname, getattr(batch, field.attname))
        obj._state.adding = False
        obj._state.db = batch._state.db

    def save_related(self, request, form, formsets, change):
        pass  # a batch has no relations the form saves

    def response_add(self, request, obj, post_url_continue=None):
        codes = f"{obj.quantity:,} code{'s' if obj.quantity != 1 else ''}"
        self.message_user(
            request,
            f"The batch {obj.name} was created; its {codes} are being generated.",
            messages.SUCCESS,
        )
        if "_addanother" in request.POST:
            return HttpResponseRedirect(reverse("admin:vouchers_voucherbatch_add"))
        # The batch's page, to watch its codes being generated
        return HttpResponseRedirect(reverse("admin:vouchers_voucherbatch_change", args=[obj.pk]))

    def get_urls(self):
        def view(function, route: str, name: str):
            return path(route, self.admin_site.admin_view(function), name=name)

        return [
            view(self.void_view, "<int:batch_id>/void/", "vouchers_voucherbatch_void"),
            view(
                self.distribute_view,
                "<int:batch_id>/distribute/",
                "vouchers_voucherbatch_distribute",
            ),
            view(
                self.label_autocomplete_view,
                "label-autocomplete/",
                "vouchers_voucherbatch_label_autocomplete",
            ),
            view(self.csv_view, "<int:batch_id>/export.csv", "vouchers_voucherbatch_export_csv"),
            view(self.xlsx_view, "<int:batch_id>/export.xlsx", "vouchers_voucherbatch_export_xlsx"),
            view(self.pdf_view, "<int:batch_id>/sheet.pdf", "vouchers_voucherbatch_sheet_pdf"),
            *super().get_urls(),
        ]

    def _batch_or_404(self, request, batch_id: int) -> VoucherBatch:
        batch = get_object_or_404(self.get_queryset(request), pk=batch_id)
        if not self.has_view_permission(request, batch):
            raise PermissionDenied
        return batch

    def _back(self, batch: VoucherBatch) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:vouchers_voucherbatch_change", args=[batch.pk]))

    def void_view(self, request, batch_id: int):
        """A page that asks first; voiding is its POST."""
        batch = self._batch_or_404(request, batch_id)
        if not self.has_void_permission(request, batch):
            raise PermissionDenied
        if batch.voided_at is not None:
            self.message_user(request, f"The batch {batch.name} is already voided.")
            return self._back(batch)
        if request.method == "POST":
            voucher_batch_void(batch_id=batch.pk, actor=request.user)
            self.message_user(
                request,
                f"The batch {batch.name} was voided: none of its codes can be used any more. "
                "Orders that already hold one of its codes keep it.",
                messages.SUCCESS,
            )
            return self._back(batch)
        counts = batch_status_counts(batch_id=batch.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Void the batch {batch.name}?",
            "opts": self.model._meta,
            "batch": batch,
            "available": counts[CS.AVAILABLE],
            "reserved": counts[CS.RESERVED],
        }
        return TemplateResponse(request, self.void_template, context)

    def distribute_view(self, request, batch_id: int):
        """A page that picks a customer label; its POST asks a worker to send each of the
        label's customers one code of the batch (`voucher_batch_distribution_request`)."""
        batch = self._batch_or_404(request, batch_id)
        if not self.has_distribute_permission(request, batch):
            raise PermissionDenied
        form = DistributionForm(
            request.POST if request.method == "POST" else None,
            user=request.user,
            admin_site=self.admin_site,
            batch=batch,
        )
        if form.is_valid():
            label = form.cleaned_data["label"]
            try:
                voucher_batch_distribution_request(
                    batch_id=batch.pk, label_id=label.pk, actor=request.user
                )
            except ApplicationError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"The codes are being sent to the customers of {label.name}. "
                    "Each customer gets one code, once.",
                    messages.SUCCESS,
                )
            return self._back(batch)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Send codes of the batch {batch.name} to a customer label",
            "opts": self.model._meta,
            "batch": batch,
            "form": form,
            "media": self.media + form.media,
            "left": f"{batch_assignment_counts(batch_id=batch.pk)['unassigned']:,}",
            "quantity": f"{batch.quantity:,}",
            "distributable": _may_be_distributed(batch),
        }
        return TemplateResponse(request, self.distribute_template, context)

    def label_autocomplete_view(self, request):
        return BatchLabelAutocomplete.as_view(admin_site=self.admin_site)(request)

    # --- Downloads: `vouchers.exports`, as the API serves them, under the admin's session ---

    def _download(self, request, batch_id: int, make) -> HttpResponse:
        """`make(batch)`'s response, once the batch is generated; a refusal of the export (a
        batch too large to print, say) is its sentence on the batch's page."""
        batch = self._batch_or_404(request, batch_id)
        if not request.user.has_perm(VIEW_CODES_PERMISSION):
            raise PermissionDenied
        if not _generation_finished(batch):
            self.message_user(request, DOWNLOAD_LATER, messages.WARNING)
            return self._back(batch)
        try:
            response = make(batch)
        except ApplicationError as error:
            self.message_user(request, error.message, messages.ERROR)
            return self._back(batch)
        response["Cache-Control"] = "private, no-store"
        return response

    def csv_view(self, request, batch_id: int):
        from vouchers.exports import batch_csv_rows

        reveal = reveals_personal_data(request.user)

        def make(batch):
            response = StreamingHttpResponse(
                batch_csv_rows(batch, reveal_personal=reveal), content_type=f"{CSV}; charset=utf-8"
            )
            response["Content-Disposition"] = f'attachment; filename="{_filename(batch, "csv")}"'
            return response

        return self._download(request, batch_id, make)

    def xlsx_view(self, request, batch_id: int):
        from vouchers.exports import batch_xlsx

        reveal = reveals_personal_data(request.user)
        return self._download(
            request,
            batch_id,
            lambda batch: written_file(
                lambda out: batch_xlsx(batch, out, reveal_personal=reveal),
                content_type=XLSX,
                filename=_filename(batch, "xlsx"),
            ),
        )

    def pdf_view(self, request, batch_id: int):
        from vouchers.exports import batch_pdf

        return self._download(
            request,
            batch_id,
            lambda batch: written_file(
                lambda out: batch_pdf(batch, out),
                content_type=PDF,
                filename=_filename(batch, "pdf"),
            ),
        )


def _generation_finished(batch: VoucherBatch) -> bool:
    return batch.status in (BS.READY, BS.FAILED)


def _filename(batch: VoucherBatch, suffix: str) -> str:
    return f"voucher-batch-{batch.pk}.{suffix}"


# --- Codes ----------------------------------------------------------------------------------


class BatchListFilter(ScopedListFilter):
    """Filter by one of the user's batches (newest first)."""

    title = "batch"
    parameter_name = "batch"

    def lookups(self, request, model_admin):
        batches = batches_for_staff(user=request.user).values_list("pk", "name")
        return [(str(pk), name) for pk, name in batches]

    def filter(self, request, queryset, value: str):
        return queryset.filter(batch_id=value)


class VoucherRedemptionInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = VoucherRedemption
    verbose_name_plural = "redemptions"
    fields = ["order", "customer", "store", "channel", "status", "used_at", "redeemed_at"]
    fields += ["released_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order", "customer", "store")


@admin.register(VoucherCode)
class VoucherCodeAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    """The code lookup: search a code as typed or scanned; read only."""

    list_display = ["code", "status", "uses_view", "customer", "batch", "promotion"]
    list_filter = ["status", BatchListFilter]
    search_fields = ["code"]
    search_help_text = "The whole code, as printed or typed (or scanned from its QR code)."
    show_full_result_count = False
    actions = ["void_selected"]
    inlines = [VoucherRedemptionInline]

    class Media:
        css = {"all": ["vouchers/admin.css"]}

    def get_queryset(self, request):
        return codes_for_staff(user=request.user).select_related("batch__promotion")

    def get_search_results(self, request, queryset, search_term):
        """The code entered, trimmed and upper-cased; a scanned signed payload counts as its
        code. Whole codes only: a search by part would let staff list codes they were not
        given."""
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(code=entered_code(term)), False

    def get_list_display(self, request):
        names = list(super().get_list_display(request))
        column = _customer_email_column(self, request, lambda code: code.customer)
        at = names.index("customer") + 1
        return [*names[:at], column, *names[at:]]

    def get_fields(self, request, obj=None):
        column = _customer_email_column(self, request, lambda code: code.customer)
        return [
            "code",
            "batch",
            "promotion",
            "status",
            "uses_view",
            "customer",
            column,
            "assigned_at",
            "valid_view",
            "qr_view",
        ]

    def has_add_permission(self, request):
        return False  # codes are generated with their batch

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_void_permission(self, request) -> bool:
        return request.user.has_perm(VOID_CODE_PERMISSION)

    @admin.display(description="promotion", ordering="batch__promotion__name")
    def promotion(self, obj) -> Promotion:
        return obj.batch.promotion

    @admin.display(description="uses")
    def uses_view(self, obj) -> str:
        final = f", {obj.redeemed} final" if obj.uses else ""
        return f"{obj.uses} of {obj.max_uses}{final}"

    @admin.display(description="valid")
    def valid_view(self, obj) -> str:
        batch = obj.batch

        def shown(moment):
            return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")

        if batch.voided_at:
            return "No: its batch was voided."
        if batch.valid_from and batch.valid_until:
            return f"From {shown(batch.valid_from)} until {shown(batch.valid_until)} UTC."
        if batch.valid_from:
            return f"From {shown(batch.valid_from)} UTC."
        if batch.valid_until:
            return f"Until {shown(batch.valid_until)} UTC."
        return "For as long as the promotion runs."

    @admin.display(description="QR code")
    def qr_view(self, obj) -> str:
        url = reverse("admin:vouchers_vouchercode_qr", args=[obj.pk])
        return format_html(
            '<img class="voucher-qr" src="{}" alt="QR code of {}" width="160" height="160">',
            url,
            obj.code,
        )

    def get_urls(self):
        return [
            path(
                "<int:code_id>/qr.png",
                self.admin_site.admin_view(self.qr_view_png),
                name="vouchers_vouchercode_qr",
            ),
            *super().get_urls(),
        ]

    def qr_view_png(self, request, code_id: int):
        from vouchers.exports import qr_png

        code = get_object_or_404(self.get_queryset(request), pk=code_id)
        if not self.has_view_permission(request, code):
            raise PermissionDenied
        response = HttpResponse(qr_png(code), content_type="image/png")
        response["Cache-Control"] = "private, max-age=3600"
        return response

    @admin.action(description="Void the selected codes", permissions=["void"])
    def void_selected(self, request, queryset):
        from vouchers.services import voucher_code_void

        brand_ids = brand_ids_for_user(request.user)
        voided = skipped = 0
        for code_id, status in queryset.order_by("pk").values_list("pk", "status"):
            try:
                code = voucher_code_void(code_id=code_id, brand_ids=brand_ids)
            except ApplicationError:
                skipped += 1
                continue
            if status in (CS.AVAILABLE, CS.RESERVED) and code.status == CS.VOIDED:
                voided += 1
            else:
                skipped += 1
        text = f"{voided} code{'s' if voided != 1 else ''} voided."
        if skipped == 1:
            text += " 1 code was already redeemed, expired or voided and was left as it was."
        elif skipped:
            text += (
                f" {skipped} codes were already redeemed, expired or voided and were left as "
                "they were."
            )
        self.message_user(request, text, messages.SUCCESS if voided else messages.WARNING)
