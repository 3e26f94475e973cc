"""Rules in the admin: triggers, rules with their conditions and actions (inline, and each on its
own page), enable/disable actions, a dry run, and the read-only firing log.

Scoped like every admin: staff see their brands' rules and the rules for every brand (no
brand), which only superusers change. Conditions and actions are checked on save by
`rules.forms` (through `rules.services.authoring` and `rules.params`), never at order time.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from brands.admin import (
    BrandListFilter,
    BrandScopedAdminMixin,
    BrandScopedInlineMixin,
    ScopedListFilter,
    register_brand_scoped_choices,
)
from brands.selectors import brand_ids_for_user, scope_to_user_brands
from core.admin import ReadOnlyAdminMixin
from core.errors import ApplicationError
from customers.models import Customer
from orders.models import Order
from rules.forms import (
    DryRunForm,
    RuleActionForm,
    RuleConditionForm,
    RuleForm,
    RuleTriggerForm,
    add_application_error,
)
from rules.models import Rule, RuleAction, RuleCondition, RuleFiring, RuleTrigger
from rules.services.authoring import rule_trigger_editable, rule_trigger_save, rules_set_status

# Conditions and actions are attached to rules the user may change: their brands' rules.
register_brand_scoped_choices("rules.rule", "brand")


def _user_may_change_rule(request, rule: Rule | None) -> bool:
    """Brand staff change their brands' rules; rules for every brand are superusers'."""
    if rule is None or rule.pk is None:
        return True
    allowed = brand_ids_for_user(request.user)
    return allowed is None or (rule.brand_id is not None and rule.brand_id in allowed)


# --- Triggers -------------------------------------------------------------------------------


@admin.register(RuleTrigger)
class RuleTriggerAdmin(admin.ModelAdmin):
    """Triggers are shared by every brand. Staff change or delete one only while no rule
    outside their brands uses it."""

    form = RuleTriggerForm
    list_display = ["name", "code", "event", "rule_count", "updated_at"]
    list_filter = ["event"]
    search_fields = ["name", "code", "description"]
    fields = ["name", "code", "event", "description"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_rule_count=Count("rules"))

    @admin.display(description="rules", ordering="_rule_count")
    def rule_count(self, obj) -> int:
        return obj._rule_count

    def _editable(self, request, obj) -> bool:
        if obj is None:
            return True
        return rule_trigger_editable(trigger=obj, brand_ids=brand_ids_for_user(request.user))

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._editable(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._editable(request, obj)

    def save_model(self, request, obj, form, change):
        rule_trigger_save(trigger=obj)


# --- Rules ----------------------------------------------------------------------------------


class RulePartInline(BrandScopedInlineMixin, admin.TabularInline):
    """Conditions or actions of a rule, read only when the user may not change the rule."""

    brand_path = "rule__brand"
    include_global = True
    extra = 0

    def has_add_permission(self, request, obj=None):
        return _user_may_change_rule(request, obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return _user_may_change_rule(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return _user_may_change_rule(request, obj) and super().has_delete_permission(request, obj)


class RuleConditionInline(RulePartInline):
    model = RuleCondition
    form = RuleConditionForm
    fields = ["entity", "field", "operator", "value", "label", "group"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("label__brand")


class RuleActionInline(RulePartInline):
    model = RuleAction
    form = RuleActionForm
    fields = ["action_type", "action_params", "position"]


class RuleBrandFilter(BrandListFilter):
    """One of the user's brands, or the rules for every brand."""

    ALL_BRANDS = "all"

    def lookups(self, request, model_admin):
        return [(self.ALL_BRANDS, "All brands (no brand)"), *super().lookups(request, model_admin)]

    def filter(self, request, queryset, value: str):
        if value == self.ALL_BRANDS:
            return queryset.filter(brand__isnull=True)
        return super().filter(request, queryset, value)


@admin.register(Rule)
class RuleAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    form = RuleForm
    brand_path = "brand"
    include_global = True
    list_display = [
        "name",
        "status",
        "brand_name",
        "trigger",
        "priority",
        "stop_processing",
        "condition_count",
        "action_count",
        "updated_at",
    ]
    list_filter = ["status", "trigger__event", RuleBrandFilter, "stop_processing"]
    list_select_related = ["brand", "trigger"]
    search_fields = ["name", "description", "trigger__code", "trigger__name"]
    filter_horizontal = ["labels"]
    inlines = [RuleConditionInline, RuleActionInline]
    actions = ["enable_rules", "disable_rules"]
    fieldsets = [
        (None, {"fields": ["name", "description", "status", "trigger", "brand"]}),
        (
            "Order and timing",
            {"fields": ["priority", "stop_processing", "valid_from", "valid_until"]},
        ),
        ("Filing", {"fields": ["labels"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _condition_count=Count("conditions", distinct=True),
                _action_count=Count("actions", distinct=True),
            )
        )

    @admin.display(description="brand", ordering="brand__name")
    def brand_name(self, obj) -> str:
        return obj.brand.name if obj.brand_id else "All brands"

    @admin.display(description="conditions", ordering="_condition_count")
    def condition_count(self, obj) -> int:
        return obj._condition_count

    @admin.display(description="actions", ordering="_action_count")
    def action_count(self, obj) -> int:
        return obj._action_count

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "brand" and not request.user.is_superuser:
            # Only superusers write rules for every brand.
            kwargs["required"] = True
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        brand_ids = brand_ids_for_user(request.user)
        if brand_ids is not None and len(brand_ids) == 1:
            initial.setdefault("brand", brand_ids[0])
        return initial

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk is not None:
            context["dry_run_url"] = reverse("admin:rules_rule_dry_run", args=[obj.pk])
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _set_status(self, request, queryset, status: str) -> None:
        rules = [rule for rule in queryset if _user_may_change_rule(request, rule)]
        skipped = len(queryset) - len(rules)
        changed, refused = rules_set_status(rules=rules, status=status)
        verb = "enabled" if status == Rule.Status.ENABLED else "disabled"
        self.message_user(request, f"{changed} rule(s) {verb}.", messages.SUCCESS)
        for name, reason in refused.items():
            self.message_user(request, f"{name}: not enabled. {reason}", messages.ERROR)
        if skipped:
            self.message_user(
                request,
                f"{skipped} rule(s) for every brand left as they are (superusers only).",
                messages.WARNING,
            )

    @admin.action(description="Enable the selected rules", permissions=["change"])
    def enable_rules(self, request, queryset):
        self._set_status(request, queryset, Rule.Status.ENABLED)

    @admin.action(description="Disable the selected rules", permissions=["change"])
    def disable_rules(self, request, queryset):
        self._set_status(request, queryset, Rule.Status.DISABLED)

    # --- Dry run ---------------------------------------------------------------------------

    def get_urls(self):
        return [
            path(
                "<path:object_id>/dry-run/",
                self.admin_site.admin_view(self.dry_run_view),
                name="rules_rule_dry_run",
            ),
            *super().get_urls(),
        ]

    def _dry_run_form(self, request, rule: Rule) -> DryRunForm:
        customers = scope_to_user_brands(Customer.objects.all(), request.user, "brand_links__brand")
        orders = scope_to_user_brands(Order.objects.all(), request.user, "brand")
        if rule.brand_id is not None:
            customers = customers.filter(brand_links__brand=rule.brand_id).distinct()
            orders = orders.filter(brand=rule.brand_id)
        customer_field = forms.ModelChoiceField(
            queryset=customers,
            required=False,
            widget=AutocompleteSelect(RuleFiring._meta.get_field("customer"), self.admin_site),
            help_text="Search by email, name, phone or external id.",
            error_messages={"invalid_choice": "Not a customer of this rule's brand."},
        )
        order_field = forms.ModelChoiceField(
            queryset=orders.select_related("customer"),
            required=False,
            widget=forms.TextInput(attrs={"inputmode": "numeric", "size": 12}),
            label="Order number",
            help_text="Its lines, totals, store and channel are used; its customer too, "
            "unless you choose one.",
            error_messages={"invalid_choice": "No order with this number in the rule's brand."},
        )
        data = request.GET if {"customer", "order"} & set(request.GET) else None
        return DryRunForm(data, customer_field=customer_field, order_field=order_field)

    def dry_run_view(self, request, object_id: str):
        """What the rule would do for a customer and/or an order; nothing is changed."""
        rule = self.get_object(request, unquote(object_id))
        if rule is None:
            raise Http404("No such rule.")
        if not self.has_view_permission(request, rule):
            raise PermissionDenied
        form = self._dry_run_form(request, rule)
        result = None
        if form.is_bound and form.is_valid():
            from rules.engine import rule_dry_run

            try:
                result = rule_dry_run(
                    rule=rule,
                    customer=form.cleaned_data.get("customer"),
                    order=form.cleaned_data.get("order"),
                )
            except ApplicationError as error:
                add_application_error(form, error)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Dry run: {rule.name}",
            "opts": self.model._meta,
            "rule": rule,
            "conditions": list(rule.conditions.select_related("label")),
            "actions": [
                (action.get_action_type_display(), json.dumps(action.action_params))
                for action in rule.actions.all()
            ],
            "form": form,
            "media": self.media + form.media,
            "result": result,
        }
        return TemplateResponse(request, "admin/rules/rule/dry_run.html", context)


# --- Conditions and actions on their own pages ----------------------------------------------


class RulePartAdmin(BrandScopedAdminMixin, admin.ModelAdmin):
    brand_path = "rule__brand"
    include_global = True
    list_select_related = ["rule__brand"]
    search_fields = ["rule__name"]

    @admin.display(description="brand", ordering="rule__brand__name")
    def brand_name(self, obj) -> str:
        return obj.rule.brand.name if obj.rule.brand_id else "All brands"


@admin.register(RuleCondition)
class RuleConditionAdmin(RulePartAdmin):
    form = RuleConditionForm
    list_display = ["rule", "entity", "field", "operator", "value", "label", "group", "brand_name"]
    list_filter = ["entity", "operator"]
    list_select_related = ["rule__brand", "label__brand"]
    search_fields = ["rule__name", "value", "label__name"]
    fields = ["rule", "entity", "field", "operator", "value", "label", "group"]


@admin.register(RuleAction)
class RuleActionAdmin(RulePartAdmin):
    form = RuleActionForm
    list_display = ["rule", "action_type", "params", "position", "brand_name"]
    list_filter = ["action_type"]
    fields = ["rule", "action_type", "action_params", "position"]

    @admin.display(description="action params")
    def params(self, obj) -> str:
        return json.dumps(obj.action_params, sort_keys=True)


# --- The firing log -------------------------------------------------------------------------


class FiringRuleFilter(ScopedListFilter):
    """The rules the user sees (their brands' and every brand's)."""

    title = "rule"
    parameter_name = "rule"

    def lookups(self, request, model_admin):
        rules = scope_to_user_brands(Rule.objects.all(), request.user, "brand", include_global=True)
        return [(str(pk), name) for pk, name in rules.values_list("pk", "name")]

    def filter(self, request, queryset, value: str):
        return queryset.filter(rule_id=value)


@admin.register(RuleFiring)
class RuleFiringAdmin(ReadOnlyAdminMixin, BrandScopedAdminMixin, admin.ModelAdmin):
    """What rules did, event by event: listed and viewed only."""

    brand_path = "brand"
    list_display = [
        "created_at",
        "rule_name",
        "event",
        "object_label",
        "customer",
        "outcome",
        "duration_ms",
    ]
    list_filter = ["outcome", "event", FiringRuleFilter, BrandListFilter, "created_at"]
    list_select_related = ["customer", "brand"]
    search_fields = ["=object_id", "rule_name", "event_id"]
    date_hierarchy = "created_at"
    fields = [
        "created_at",
        "rule",
        "rule_name",
        "brand",
        "event",
        "event_id",
        "object_type",
        "object_id",
        "customer",
        "outcome",
        "duration_ms",
        "actions_view",
        "error",
    ]
    readonly_fields = fields

    @admin.display(description="object", ordering="object_id")
    def object_label(self, obj) -> str:
        return f"{obj.object_type} {obj.object_id}"

    @admin.display(description="actions")
    def actions_view(self, obj) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.actions, indent=2, sort_keys=True))
