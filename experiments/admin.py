"""Experiments in the admin: a draft is set up with real fields (the audience's customer label
and each variant's promotion picked by search among the brand's), refused in plain sentences
(`experiment_errors`, field by field); its page then has the buttons that start and stop it and
promote a variant, each asking first; and its results page shows the figures of each variant
against the control, with a chart drawn on the server (an SVG: no script, nothing for the
content security policy to refuse).

A draft stays editable, its variants with it: rows of the inline are renamed, given another
promotion, added and removed (2 to MAX_VARIANTS), and the whole is checked by the same
sentences as for creation, on its fields and above the variants.

Nothing here writes an experiment: the admin's own save never runs for one. Creating goes
through `experiment_create`, changing a draft through `experiment_update` (which locks it,
refuses it once started, and replaces its fields and variants together, in the admin's one
transaction), starting, stopping and promoting through their services. A running or stopped
experiment is read only: its page has no form, and a POST to it (a draft started while its
page was open) changes nothing and says so in a message. Variants saved by someone else while
the page was open are not overwritten: the form is refused, in a sentence above the variants.
"""

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from brands.admin import NOT_YOUR_BRAND, BrandListFilter, BrandScopedAdminMixin
from brands.models import Brand
from brands.selectors import brand_ids_for_user, scope_to_user_brands
from core.errors import ApplicationError
from experiments.models import Experiment, ExperimentVariant
from experiments.results import CONFIDENCE, MIN_BUYERS, MIN_CUSTOMERS, experiment_results
from experiments.services import (
    MAX_VARIANTS,
    VariantInput,
    experiment_create,
    experiment_errors,
    experiment_promote,
    experiment_start,
    experiment_stop,
    experiment_update,
)
from labels.models import Label
from promotions.models import Promotion

ES = Experiment.Status
DECIDE_PERMISSION = "experiments.change_experiment"
# A draft's own fields, which `experiment_update` changes (its brand is fixed once created).
DRAFT_FIELDS = [
    "name",
    "hypothesis",
    "audience",
    "audience_label",
    "audience_tier",
    "starts_at",
    "ends_at",
    "gross_margin_percent",
]
VARIANT_FIELDS = ["name", "promotion", "weight", "is_control"]
VARIANTS_CHANGED_MEANWHILE = (
    "The variants were changed by someone else while this page was open: reload the page to "
    "see them, then make your changes again."
)
CENT = Decimal("0.01")


def _sentences(error: ApplicationError) -> str:
    """A service's error as the sentences staff read: its message, then each field's."""
    details = [message for messages_ in error.fields.values() for message in messages_]
    return " ".join([error.message, *details])


def _started_meanwhile(name: str) -> str:
    return (
        f"The experiment {name} was started meanwhile, so nothing was changed: a started "
        "experiment can no longer be edited."
    )


def _editable(experiment: Experiment | None) -> bool:
    """A new experiment or a draft: its fields and variants can be changed."""
    return experiment is None or experiment.status == ES.DRAFT


# --- Pickers: searched among the brand's rows --------------------------------------------------


def _picker_brand_id(request) -> int | None:
    """The brand the pickers search in: the experiment's, or the user's only brand."""
    return getattr(request, "experiment_brand_id", None)


class ScopedAutocomplete(AutocompleteSelect):
    """The admin's search-as-you-type picker, asking `ExperimentAutocomplete` (which keeps
    customer labels only, live promotions only, and the experiment's brand when known)."""

    def __init__(self, field, admin_site, brand_id: int | None = None, **kwargs):
        super().__init__(field, admin_site, **kwargs)
        self.brand_id = brand_id

    def get_url(self):
        url = reverse("admin:experiments_experiment_autocomplete")
        return f"{url}?brand={self.brand_id}" if self.brand_id else url


class ExperimentAutocomplete(AutocompleteJsonView):
    """The admin's autocomplete for the two pickers of an experiment: the label admin's or the
    promotion admin's rows (so scoped to the user's brands), narrowed to what an experiment
    may use and, given `?brand=`, to that brand (labels: that brand's or global)."""

    PICKERS = {("experiment", "audience_label"), ("experimentvariant", "promotion")}

    def process_request(self, request):
        key = (request.GET.get("model_name"), request.GET.get("field_name"))
        if request.GET.get("app_label") != "experiments" or key not in self.PICKERS:
            raise PermissionDenied
        return super().process_request(request)

    def get_queryset(self):
        queryset = super().get_queryset()
        brand_id = self._brand_id()
        if self.source_field.name == "audience_label":
            queryset = queryset.filter(type=Label.Type.CUSTOMER)
            if brand_id is not None:
                queryset = queryset.filter(Q(brand_id=brand_id) | Q(brand__isnull=True))
        else:
            queryset = queryset.exclude(status=Promotion.Status.ENDED)
            if brand_id is not None:
                queryset = queryset.filter(brand_id=brand_id)
        return queryset

    def _brand_id(self) -> int | None:
        value = self.request.GET.get("brand", "")
        if not value.isdigit():
            return None
        allowed = brand_ids_for_user(self.request.user)
        return int(value) if allowed is None or int(value) in allowed else None


# --- The form and its variants -----------------------------------------------------------------


class ExperimentForm(forms.ModelForm):
    """The experiment's own fields, checked by `experiment_errors` (its variants are checked
    with them by the variants' formset)."""

    class Meta:
        model = Experiment
        fields = ["brand", *DRAFT_FIELDS]
        labels = {
            "audience": "Who takes part",
            "audience_label": "Customer label",
            "audience_tier": "Loyalty tier",
            "starts_at": "Starts",
            "ends_at": "Ends",
            "gross_margin_percent": "Gross margin (%)",
        }
        help_texts = {
            "audience_label": "For a label audience: customers with this label take part. "
            "Type part of its name to search the brand's customer labels.",
            "audience_tier": "For a tier audience: the tier's name, as in the loyalty program.",
            "starts_at": "Customers are counted from this moment (once it has been started).",
            "ends_at": "Orders after this moment no longer count.",
            "gross_margin_percent": "The margin on sales, for each variant's margin per "
            "customer: 30 means 30% of what customers pay.",
        }

    def clean(self):
        cleaned = super().clean()
        audience = cleaned.get("audience")
        # What the chosen audience does not use is left empty (as the service would)
        if audience != Experiment.Audience.LABEL:
            cleaned["audience_label"] = None
        if audience != Experiment.Audience.TIER:
            cleaned["audience_tier"] = ""
        brand = cleaned.get("brand", getattr(self.instance, "brand", None))
        errors = experiment_errors(
            brand=brand or Brand(),
            name=cleaned.get("name") or "",
            audience=audience or "",
            audience_label=cleaned.get("audience_label"),
            audience_tier=cleaned.get("audience_tier") or "",
            starts_at=cleaned.get("starts_at"),
            ends_at=cleaned.get("ends_at"),
            variants=[],
        )
        errors.pop("variants", None)  # the formset's, with the variants
        if brand is None and cleaned.get("audience_label") is not None:
            errors.pop("audience_label", None)  # of which brand: the brand's error first
        for name, sentences in errors.items():
            if name not in self.errors and name in self.fields:
                for sentence in sentences:
                    self.add_error(name, sentence)
        return cleaned


class VariantForm(forms.ModelForm):
    class Meta:
        model = ExperimentVariant
        fields = VARIANT_FIELDS
        labels = {"is_control": "Control"}
        help_texts = {
            "promotion": "Empty: no promotion (the status quo).",
            "weight": "Its share of customers, relative to the others' (1 and 1: half each).",
            "is_control": "The variant the others are compared with; exactly one.",
        }

    def validate_unique(self):
        pass  # one control, one promotion per variant: `experiment_errors`, in sentences


class VariantFormSet(forms.BaseInlineFormSet):
    """The variants of a new experiment or a draft, checked with the experiment by
    `experiment_errors`. Never saved by itself: its service saves them with the experiment."""

    def kept_forms(self) -> list[forms.ModelForm]:
        """The rows that become the variants, in order: filled in and not removed."""
        return [
            form
            for form in self.forms
            if getattr(form, "cleaned_data", None) and not self._should_delete_form(form)
        ]

    def variant_inputs(self) -> list[VariantInput]:
        return [
            VariantInput(
                name=form.cleaned_data.get("name") or "",
                promotion=form.cleaned_data.get("promotion"),
                weight=form.cleaned_data.get("weight") or 0,
                is_control=bool(form.cleaned_data.get("is_control")),
            )
            for form in self.kept_forms()
        ]

    def record_saved(self, experiment: Experiment) -> None:
        """What the history tells of the variants, now that the service has written them (as
        new rows, in the order of the kept forms)."""
        saved = list(experiment.variants.order_by("pk"))
        self.new_objects, self.changed_objects = [], []
        for form, variant in zip(self.kept_forms(), saved, strict=True):
            if form.instance.pk is None:
                self.new_objects.append(variant)
            elif form.has_changed():
                self.changed_objects.append((variant, form.changed_data))
        self.deleted_objects = [f.instance for f in self.deleted_forms if f.instance.pk]

    def record_nothing(self) -> None:
        self.new_objects, self.changed_objects, self.deleted_objects = [], [], []

    def validate_unique(self):
        pass  # a promotion is one variant only: `experiment_errors`, in a sentence

    def clean(self):
        super().clean()
        if self.instance.brand_id is None:
            return  # no brand yet: its error first
        pk_name = self.model._meta.pk.name
        if any(pk_name in form.errors for form in self.forms):
            # A row of the page is no longer one of the draft's (saved again meanwhile)
            raise ValidationError(VARIANTS_CHANGED_MEANWHILE)
        if any(self.errors):
            return  # the rows' own errors first (a removed row's do not count)
        experiment = self.instance
        errors = experiment_errors(
            brand=experiment.brand,
            name=experiment.name or "-",
            audience=Experiment.Audience.EVERYONE,
            audience_label=None,
            audience_tier="",
            starts_at=experiment.starts_at,
            ends_at=experiment.ends_at,
            variants=self.variant_inputs(),
        )
        if errors.get("variants"):
            raise ValidationError(errors["variants"])


class ExperimentVariantInline(admin.TabularInline):
    """The variants: entered with a new experiment and changed with a draft (rows added,
    changed and removed), then shown read only once started (with a button to promote each
    once the experiment has run)."""

    model = ExperimentVariant
    form = VariantForm
    formset = VariantFormSet
    extra = 0
    min_num = 2
    max_num = MAX_VARIANTS
    verbose_name = "variant"
    verbose_name_plural = "variants"

    def get_fields(self, request, obj=None):
        if _editable(obj):
            return VARIANT_FIELDS
        return ["name", "promotion_view", "weight", "is_control", "decision"]

    def get_readonly_fields(self, request, obj=None):
        return [] if _editable(obj) else self.get_fields(request, obj)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("promotion", "experiment")

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        # The readonly method needs to know whether this user may decide (`decision`)
        self._may_decide = request.user.has_perm(DECIDE_PERMISSION)
        return formset

    def has_add_permission(self, request, obj=None):
        return _editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return _editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # A draft's saved rows can be removed (a new experiment's rows by the inline's links)
        return obj is not None and _editable(obj) and super().has_delete_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "promotion":
            chosen = ~Q(status=Promotion.Status.ENDED)
            experiment_id = getattr(request, "experiment_id", None)
            if experiment_id is not None:
                # A draft's promotion that has ended since stays shown and kept, rather than
                # silently dropped by the next save (starting refuses it, in a sentence)
                chosen |= Q(
                    pk__in=ExperimentVariant.objects.filter(experiment_id=experiment_id).values(
                        "promotion_id"
                    )
                )
            kwargs["queryset"] = scope_to_user_brands(
                Promotion.objects.filter(chosen), request.user, "brand"
            )
            kwargs["widget"] = ScopedAutocomplete(
                db_field, self.admin_site, brand_id=_picker_brand_id(request)
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="promotion")
    def promotion_view(self, variant: ExperimentVariant) -> str:
        if variant.promotion is None:
            return "No promotion"
        url = reverse("admin:promotions_promotion_change", args=[variant.promotion_id])
        return format_html('<a href="{}">{}</a>', url, variant.promotion)

    @admin.display(description="decision")
    def decision(self, variant: ExperimentVariant) -> str:
        experiment = variant.experiment
        if experiment.winner_id == variant.pk:
            return "The winner"
        if experiment.status == ES.DRAFT or experiment.winner_id is not None:
            return ""
        if not getattr(self, "_may_decide", False):
            return ""
        url = reverse("admin:experiments_experiment_promote", args=[experiment.pk, variant.pk])
        return format_html(
            '<a class="button experiment-promote" href="{}">Promote this variant</a>', url
        )


# --- The experiment's admin --------------------------------------------------------------------


@admin.register(Experiment)
class ExperimentAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    form = ExperimentForm
    inlines = [ExperimentVariantInline]
    list_display = ["name", "brand", "status", "audience", "starts_at", "ends_at", "results_link"]
    list_filter = ["status", BrandListFilter]
    list_select_related = ["brand"]
    search_fields = ["name", "hypothesis"]
    radio_fields = {"audience": admin.VERTICAL}
    change_form_template = "admin/experiments/experiment/change_form.html"
    decide_template = "admin/experiments/experiment/decide_confirmation.html"
    results_template = "admin/experiments/experiment/results.html"

    class Media:
        css = {"all": ["experiments/admin.css"]}

    # Fields and permissions

    def get_fieldsets(self, request, obj=None):
        audience = ["audience", "audience_label", "audience_tier"]
        if obj is not None and obj.status != ES.DRAFT:
            used = {"label": "audience_label", "tier": "audience_tier"}.get(obj.audience)
            audience = ["audience", used] if used else ["audience"]
        first = ["name", "hypothesis", "brand"]
        if obj is not None:
            first += ["status", "winner", "results_link"]
        return [
            (None, {"fields": first}),
            (
                "Who takes part",
                {
                    "fields": audience,
                    "description": "Customers are identified when their basket is priced; "
                    "anonymous baskets get the control and are not counted.",
                },
            ),
            ("When", {"fields": ["starts_at", "ends_at"]}),
            ("Margin", {"fields": ["gross_margin_percent"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["brand", "status", "winner", "results_link"]

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        brand_ids = brand_ids_for_user(request.user)
        if brand_ids is not None and len(brand_ids) == 1:
            initial.setdefault("brand", brand_ids[0])
        return initial

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if obj.pk is None and request.method != "POST":
            kwargs["initial"] = [{"name": "Control", "is_control": True}, {"name": "Variant B"}]
        return kwargs

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "audience_label":
            kwargs["queryset"] = scope_to_user_brands(
                Label.objects.filter(type=Label.Type.CUSTOMER).select_related("brand"),
                request.user,
                "brand",
                include_global=True,
            )
            kwargs["widget"] = ScopedAutocomplete(
                db_field, self.admin_site, brand_id=_picker_brand_id(request)
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None):
        # A running or stopped experiment is read only: it moves through the buttons
        if obj is not None and obj.status != ES.DRAFT:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or obj.status == ES.DRAFT)

    def has_decide_permission(self, request, obj=None) -> bool:
        if obj is not None and not self.user_may_change_object(request, obj):
            return False
        return request.user.has_perm(DECIDE_PERMISSION)

    @admin.display(description="results")
    def results_link(self, obj: Experiment) -> str:
        if obj.pk is None:
            return ""
        url = reverse("admin:experiments_experiment_results", args=[obj.pk])
        return format_html('<a href="{}">Results</a>', url)

    # The form's page

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # The pickers search in the experiment's brand, or the user's only one
        brand_id = found = None
        if object_id is not None:
            found = (
                self.get_queryset(request)
                .filter(pk=object_id if str(object_id).isdigit() else None)
                .values("pk", "brand_id", "status", "name")
                .first()
            )
            brand_id = found and found["brand_id"]
        else:
            brand_ids = brand_ids_for_user(request.user)
            if brand_ids is not None and len(brand_ids) == 1:
                brand_id = brand_ids[0]
        request.experiment_brand_id = brand_id
        request.experiment_id = found and found["pk"]
        if (
            request.method == "POST"
            and found is not None
            and found["status"] != ES.DRAFT
            and super().has_change_permission(request)
        ):
            # Its page was a draft's when opened: say so rather than refuse without a word
            self.message_user(request, _started_meanwhile(found["name"]), messages.ERROR)
            return HttpResponseRedirect(
                reverse("admin:experiments_experiment_change", args=[found["pk"]])
            )
        return super().changeform_view(request, object_id, form_url, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk is not None and self.has_decide_permission(request, obj):
            context["experiment_start_url"] = (
                reverse("admin:experiments_experiment_start", args=[obj.pk])
                if obj.status == ES.DRAFT
                else None
            )
            context["experiment_stop_url"] = (
                reverse("admin:experiments_experiment_stop", args=[obj.pk])
                if obj.status == ES.RUNNING
                else None
            )
        if obj is not None and obj.pk is not None:
            context["experiment_variants_locked"] = obj.status != ES.DRAFT
            context["experiment_results_url"] = reverse(
                "admin:experiments_experiment_results", args=[obj.pk]
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request, obj, form, change):
        if not self.user_may_change_object(request, obj):
            raise PermissionDenied(NOT_YOUR_BRAND)
        # Nothing written here: the experiment and its variants together, in save_related

    def save_related(self, request, form, formsets, change):
        """Create the experiment, or change the draft, with its variants: one service call."""
        formset = next(f for f in formsets if isinstance(f, VariantFormSet))
        data = form.cleaned_data
        fields = {
            "name": data["name"],
            "hypothesis": data.get("hypothesis") or "",
            "audience": data["audience"],
            "audience_label": data.get("audience_label"),
            "audience_tier": data.get("audience_tier") or "",
            "starts_at": data["starts_at"],
            "ends_at": data["ends_at"],
            "gross_margin_percent": data.get("gross_margin_percent"),
            "variants": formset.variant_inputs(),
        }
        try:
            if change:
                experiment = experiment_update(
                    experiment_id=form.instance.pk,
                    brand_ids=brand_ids_for_user(request.user),
                    **fields,
                )
            else:
                experiment = experiment_create(brand=data["brand"], actor=request.user, **fields)
        except ApplicationError as error:  # changed meanwhile (started, a promotion ended)
            if error.code == "experiment_not_draft":
                message = _started_meanwhile(form.initial.get("name") or data["name"])
            else:
                message = f"Nothing was {'changed' if change else 'saved'}. {_sentences(error)}"
            request.experiment_save_error = message
            formset.record_nothing()
            return
        # The admin goes on with the form's instance (its history, its message, its redirect)
        if change:
            form.instance.refresh_from_db()
        else:
            form.instance.pk = experiment.pk
            form.instance._state.adding = False
        formset.record_saved(experiment)

    def log_addition(self, request, obj, message):
        if getattr(request, "experiment_save_error", None) is None:
            return super().log_addition(request, obj, message)
        return None

    def log_change(self, request, obj, message):
        if getattr(request, "experiment_save_error", None) is None:
            return super().log_change(request, obj, message)
        return None

    def response_add(self, request, obj, post_url_continue=None):
        error = getattr(request, "experiment_save_error", None)
        if error:
            self.message_user(request, error, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:experiments_experiment_add"))
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        error = getattr(request, "experiment_save_error", None)
        if error:
            self.message_user(request, error, messages.ERROR)
            return HttpResponseRedirect(
                reverse("admin:experiments_experiment_change", args=[obj.pk])
            )
        return super().response_change(request, obj)

    # Start, stop, promote; the results

    def get_urls(self):
        def view(function, route: str, name: str):
            return path(route, self.admin_site.admin_view(function), name=name)

        return [
            view(self.autocomplete_view, "autocomplete/", "experiments_experiment_autocomplete"),
            view(self.start_view, "<int:experiment_id>/start/", "experiments_experiment_start"),
            view(self.stop_view, "<int:experiment_id>/stop/", "experiments_experiment_stop"),
            view(
                self.promote_view,
                "<int:experiment_id>/promote/<int:variant_id>/",
                "experiments_experiment_promote",
            ),
            view(
                self.results_view, "<int:experiment_id>/results/", "experiments_experiment_results"
            ),
            *super().get_urls(),
        ]

    def autocomplete_view(self, request):
        return ExperimentAutocomplete.as_view(admin_site=self.admin_site)(request)

    def _experiment_or_404(self, request, experiment_id: int) -> Experiment:
        experiment = get_object_or_404(
            self.get_queryset(request).select_related("brand", "winner"), pk=experiment_id
        )
        if not self.has_view_permission(request, experiment):
            raise PermissionDenied
        return experiment

    def _back(self, experiment: Experiment) -> HttpResponseRedirect:
        return HttpResponseRedirect(
            reverse("admin:experiments_experiment_change", args=[experiment.pk])
        )

    def _decide(self, request, experiment: Experiment, *, act, done: str, context: dict):
        """A page that asks first (GET); its POST calls the service `act`."""
        if not self.has_decide_permission(request, experiment):
            raise PermissionDenied
        if request.method == "POST":
            try:
                act(brand_ids=brand_ids_for_user(request.user), actor=request.user)
            except ApplicationError as error:
                self.message_user(request, _sentences(error), messages.ERROR)
            else:
                self.message_user(request, done, messages.SUCCESS)
            return self._back(experiment)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "experiment": experiment,
            "change_url": reverse("admin:experiments_experiment_change", args=[experiment.pk]),
            **context,
        }
        return TemplateResponse(request, self.decide_template, context)

    def start_view(self, request, experiment_id: int):
        experiment = self._experiment_or_404(request, experiment_id)
        variants = list(experiment.variants.select_related("promotion").order_by("pk"))
        return self._decide(
            request,
            experiment,
            act=lambda **kw: experiment_start(experiment_id=experiment.pk, **kw),
            done=f"The experiment {experiment.name} is running: each customer of its audience "
            "is priced under their variant's promotion only.",
            context={
                "title": f"Start the experiment {experiment.name}?",
                "consequences": [
                    "From its start date, each customer of its audience is assigned one "
                    "variant, always the same, and only that variant's promotion applies to "
                    "them, online and at the tills.",
                    "Its variants' promotions must be active or scheduled, and in no other "
                    "running experiment.",
                    "Once started, it can no longer be edited.",
                ],
                "variants": variants,
                "confirm": "Yes, start it",
            },
        )

    def stop_view(self, request, experiment_id: int):
        experiment = self._experiment_or_404(request, experiment_id)
        variants = list(experiment.variants.select_related("promotion").order_by("pk"))
        control = next(v for v in variants if v.is_control)
        after = (
            f"The control's promotion, {control.promotion.name}, goes on for everyone."
            if control.promotion
            else "The control has no promotion: no promotion of the experiment applies any more."
        )
        return self._decide(
            request,
            experiment,
            act=lambda **kw: experiment_stop(experiment_id=experiment.pk, **kw),
            done=f"The experiment {experiment.name} is stopped. Its results stay available, "
            "and a variant can still be promoted.",
            context={
                "title": f"Stop the experiment {experiment.name} without a winner?",
                "consequences": [
                    "The promotions of the variants other than the control are paused.",
                    after,
                    "Orders from now on no longer count in its results.",
                ],
                "variants": variants,
                "confirm": "Yes, stop it",
            },
        )

    def promote_view(self, request, experiment_id: int, variant_id: int):
        experiment = self._experiment_or_404(request, experiment_id)
        variants = list(experiment.variants.select_related("promotion").order_by("pk"))
        variant = next((v for v in variants if v.pk == variant_id), None)
        if variant is None:
            raise PermissionDenied
        others = [v.promotion.name for v in variants if v.promotion and v.pk != variant.pk]
        wins = (
            f"Its promotion, {variant.promotion.name}, goes on for everyone."
            if variant.promotion
            else "It has no promotion: after the experiment, no promotion of it applies."
        )
        ended = (
            f"The other variants' promotions end: {', '.join(others)}."
            if others
            else "No other variant has a promotion to end."
        )
        return self._decide(
            request,
            experiment,
            act=lambda **kw: experiment_promote(
                experiment_id=experiment.pk, variant_id=variant.pk, **kw
            ),
            done=f"{variant.name} is the winner of {experiment.name}; the experiment is stopped.",
            context={
                "title": f"Promote {variant.name}, the winner of {experiment.name}?",
                "consequences": [
                    "The experiment stops."
                    if experiment.status == ES.RUNNING
                    else "The experiment is already stopped.",
                    wins,
                    ended,
                    "This cannot be undone.",
                ],
                "variants": variants,
                "confirm": f"Yes, promote {variant.name}",
            },
        )

    def results_view(self, request, experiment_id: int):
        experiment = self._experiment_or_404(request, experiment_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Results of {experiment.name}",
            "experiment": experiment,
            "change_url": reverse("admin:experiments_experiment_change", args=[experiment.pk]),
            "started": experiment.status != ES.DRAFT,
        }
        if experiment.status != ES.DRAFT:
            results = experiment_results(experiment=experiment)
            context.update(results_context(results))
        return TemplateResponse(request, self.results_template, context)


# --- What the results page shows ---------------------------------------------------------------

RATE_TEST = "two-proportion z-test"
MEAN_TEST = "Welch's t-test"


def _money(value, currency: str) -> str:
    return f"{Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)} {currency}"


def _signed_money(value: float, currency: str) -> str:
    amount = Decimal(str(float(value))).quantize(CENT, rounding=ROUND_HALF_UP)
    return f"{amount:+} {currency}"


def _percent(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def _points(difference: float) -> str:
    return f"{difference * 100:+.1f} points"


def _p_value(p_value: float | None) -> str:
    if p_value is None:
        return "Cannot be computed: too few values, or none varies."
    shown = "below 0.001" if p_value < 0.001 else f"{p_value:.3f}"
    verdict = (
        "a real difference at 95% confidence"
        if p_value < 1 - CONFIDENCE
        else "could be chance at 95% confidence"
    )
    return f"{shown} ({verdict})"


@dataclass(frozen=True)
class Figure:
    label: str
    value: str
    difference: str = ""
    interval: str = ""
    p_value: str = ""
    test: str = ""


def _compare(comparison, show) -> dict:
    if comparison is None:
        return {}
    if comparison.low is None:
        interval = "Cannot be computed: too few values."
    else:
        interval = f"from {show(comparison.low)} to {show(comparison.high)}"
    return {
        "difference": show(comparison.difference),
        "interval": interval,
        "p_value": _p_value(comparison.p_value),
    }


def _figures(variant, currency: str) -> list[Figure]:
    c = variant.comparisons

    def money(key):
        return _compare(c.get(key), lambda v: _signed_money(v, currency))

    def compared(key, test):
        found = money(key)
        return {**found, "test": test} if found else {}

    rate = _compare(c.get("conversion_rate"), _points)
    return [
        Figure("Customers", str(variant.customers)),
        Figure("Buyers", str(variant.buyers)),
        Figure("Orders", str(variant.orders)),
        Figure(
            "Conversion rate",
            _percent(variant.conversion_rate),
            **({**rate, "test": RATE_TEST} if rate else {}),
        ),
        Figure(
            "Revenue per customer",
            _money(variant.revenue_per_customer, currency),
            **compared("revenue_per_customer", MEAN_TEST),
        ),
        Figure(
            "Average order value",
            _money(variant.average_order_value, currency),
            **compared("average_order_value", MEAN_TEST),
        ),
        Figure(
            "Discount cost per customer",
            _money(variant.discount_cost_per_customer, currency),
            **compared("discount_cost_per_customer", MEAN_TEST),
        ),
        Figure(
            "Margin per customer",
            _money(variant.margin_per_customer, currency),
            **compared("incremental_margin", MEAN_TEST),
        ),
    ]


def results_context(results) -> dict:
    currency = results.currency
    return {
        "results": results,
        "currency": currency,
        "variants": [
            {"result": variant, "figures": _figures(variant, currency)}
            for variant in results.variants
        ],
        "rate_chart": rate_chart(results.variants),
        "revenue_chart": revenue_chart(results.variants, currency),
        "min_customers": MIN_CUSTOMERS,
        "min_buyers": MIN_BUYERS,
    }


# --- The chart: horizontal bars, one row per variant, drawn on the server -------------------------

CHART_WIDTH = 360
CHART_LEFT = 8
CHART_RIGHT = 12
ROW = 46
TOP = 8
AXIS = 26


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x a power of ten that is at least `value` (the axis end)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power * (1 + 1e-9):
            return step * power
    return 10 * power


def _bars(rows: list[dict], top_value: float, tick_label) -> dict:
    """The geometry of a bar chart: `rows` of {name, value, low, high, text} in axis units."""
    span = CHART_WIDTH - CHART_LEFT - CHART_RIGHT
    end = nice_ceiling(top_value)

    def x(value: float) -> float:
        return round(CHART_LEFT + span * max(0.0, min(value, end)) / end, 1)

    bars = []
    for index, row in enumerate(rows):
        y = TOP + index * ROW
        bar = {
            "name": row["name"],
            "text": row["text"],
            "label_y": y + 13,
            "value_x": CHART_WIDTH - CHART_RIGHT,
            "bar_y": y + 19,
            "bar_height": 16,
            "x": CHART_LEFT,
            "width": max(0.0, round(x(row["value"]) - CHART_LEFT, 1)),
            "is_control": row["is_control"],
            "whisker": None,
        }
        if row.get("low") is not None:
            middle = y + 27
            bar["whisker"] = {
                "x1": x(row["low"]),
                "x2": x(row["high"]),
                "y": middle,
                "cap_top": middle - 6,
                "cap_bottom": middle + 6,
            }
        bars.append(bar)
    axis_y = TOP + len(rows) * ROW + 4
    ticks = [
        {"x": x(end * share), "label": tick_label(end * share), "anchor": anchor}
        for share, anchor in ((0, "start"), (0.5, "middle"), (1, "end"))
    ]
    return {
        "width": CHART_WIDTH,
        "height": axis_y + AXIS,
        "bars": bars,
        "axis_y": axis_y,
        "axis_x1": CHART_LEFT,
        "axis_x2": CHART_LEFT + span,
        "grid_top": TOP,
        "tick_y": axis_y + 16,
        "ticks": ticks,
    }


def rate_chart(variants) -> dict:
    rows = []
    for variant in variants:
        low, high = variant.conversion_low, variant.conversion_high
        text = _percent(variant.conversion_rate)
        if low is not None:
            text += f" ({_percent(low)} to {_percent(high)})"
        rows.append(
            {
                "name": variant.name,
                "value": variant.conversion_rate,
                "low": low,
                "high": high,
                "text": text,
                "is_control": variant.is_control,
            }
        )
    top = max([r["high"] or r["value"] for r in rows] + [0.0])
    return _bars(rows, top or 0.1, lambda v: f"{v * 100:g}%")


def revenue_chart(variants, currency: str) -> dict:
    rows = [
        {
            "name": variant.name,
            "value": float(variant.revenue_per_customer),
            "text": _money(variant.revenue_per_customer, currency),
            "is_control": variant.is_control,
        }
        for variant in variants
    ]
    top = max([r["value"] for r in rows] + [0.0])
    return _bars(rows, top or 1.0, lambda v: f"{v:g} {currency}")
