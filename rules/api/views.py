"""Rules for staff: triggers, rules with their conditions and actions (written in one request,
all or nothing), the firing log, and a dry run. Scoped to the user's brands; rules for every
brand are listed to brand staff and changed by superusers only."""

from django.db.models import Count, Prefetch, QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from brands.selectors import brand_ids_for_user, scope_to_user_brands, staff_brand_by_slug
from core.api.errors import PAGE_NOT_FOUND, ErrorSerializer
from core.api.filters import IdFilter, UtcIsoDateTimeFilter
from core.api.inputs import parse_input
from core.api.permissions import IsStaff, StaffModelPermissions
from core.errors import ApplicationError, PermissionDeniedError
from customers.models import Customer
from labels.models import Label
from orders.models import Order
from rules.api.serializers import (
    DryRunInputSerializer,
    DryRunOutputSerializer,
    RuleFiringOutputSerializer,
    RuleInputSerializer,
    RuleOutputSerializer,
    RulePartsInputSerializer,
    RuleTriggerInputSerializer,
    RuleTriggerOutputSerializer,
)
from rules.models import Event, Rule, RuleAction, RuleCondition, RuleFiring, RuleTrigger
from rules.services.authoring import (
    rule_delete,
    rule_save,
    rule_trigger_delete,
    rule_trigger_editable,
    rule_trigger_save,
)

READ_ERRORS = {401: ErrorSerializer, 403: ErrorSerializer}
WRITE_ERRORS = {**READ_ERRORS, 400: ErrorSerializer}
LIST_ERRORS = {**READ_ERRORS, 400: ErrorSerializer, 404: PAGE_NOT_FOUND}


def _unknown(path: str, what: str) -> ApplicationError:
    return ApplicationError(
        f"Unknown {what}, or not one of yours.",
        code=f"unknown_{what.replace(' ', '_')}",
        fields={path: [f"Unknown {what}, or not one of yours."]},
    )


# --- Triggers -------------------------------------------------------------------------------


class RuleTriggerFilter(filters.FilterSet):
    event = filters.ChoiceFilter(choices=Event.choices)
    code = filters.CharFilter(field_name="code", max_length=64)
    search = filters.CharFilter(field_name="name", lookup_expr="icontains", max_length=120)

    class Meta:
        model = RuleTrigger
        fields = []


def _refuse_shared_trigger(user, trigger: RuleTrigger) -> None:
    """Staff change a trigger only while every rule using it is of their brands."""
    if not rule_trigger_editable(trigger=trigger, brand_ids=brand_ids_for_user(user)):
        raise PermissionDeniedError(
            "Rules of other brands, or for every brand, use this trigger; only superusers "
            "change it.",
            code="trigger_shared",
        )


@extend_schema_view(
    list=extend_schema(
        summary="List rule triggers",
        responses={200: RuleTriggerOutputSerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="A rule trigger",
        responses={200: RuleTriggerOutputSerializer, **READ_ERRORS, 404: ErrorSerializer},
    ),
)
@extend_schema(tags=["rules"])
class RuleTriggerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Triggers name the event rules listen to; they are shared by every brand."""

    permission_classes = [StaffModelPermissions]
    serializer_class = RuleTriggerOutputSerializer
    filterset_class = RuleTriggerFilter
    ordering_fields = ["code", "name", "created_at", "id"]
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return RuleTrigger.objects.none()
        return RuleTrigger.objects.annotate(rule_count=Count("rules")).order_by("code")

    def _render(self, trigger: RuleTrigger, code: int = status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=trigger.pk)).data, code)

    @extend_schema(
        summary="Create a rule trigger",
        request=RuleTriggerInputSerializer,
        responses={201: RuleTriggerOutputSerializer, **WRITE_ERRORS, 409: ErrorSerializer},
    )
    def create(self, request):
        data = parse_input(RuleTriggerInputSerializer, request.data)
        trigger = rule_trigger_save(trigger=RuleTrigger(**data))
        return self._render(trigger, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a rule trigger",
        request=RuleTriggerInputSerializer,
        responses={
            200: RuleTriggerOutputSerializer,
            **WRITE_ERRORS,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def partial_update(self, request, pk=None):
        trigger = self.get_object()
        data = parse_input(RuleTriggerInputSerializer, request.data, partial=True)
        _refuse_shared_trigger(request.user, trigger)
        for name, value in data.items():
            setattr(trigger, name, value)
        return self._render(rule_trigger_save(trigger=trigger))

    @extend_schema(
        summary="Delete a rule trigger no rule uses",
        responses={204: None, **READ_ERRORS, 404: ErrorSerializer, 409: ErrorSerializer},
    )
    def destroy(self, request, pk=None):
        trigger = self.get_object()
        _refuse_shared_trigger(request.user, trigger)
        rule_trigger_delete(trigger=trigger)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Rules ----------------------------------------------------------------------------------


class RuleFilter(filters.FilterSet):
    brand = filters.CharFilter(field_name="brand__slug", max_length=60, label="Brand slug")
    all_brands = filters.BooleanFilter(
        field_name="brand", lookup_expr="isnull", label="Only rules for every brand (true)"
    )
    status = filters.ChoiceFilter(choices=Rule.Status.choices)
    event = filters.ChoiceFilter(field_name="trigger__event", choices=Event.choices)
    trigger = filters.CharFilter(field_name="trigger__code", max_length=64, label="Trigger code")
    search = filters.CharFilter(field_name="name", lookup_expr="icontains", max_length=160)

    class Meta:
        model = Rule
        fields = []


class RuleDryRunPermission(permissions.BasePermission):
    """A dry run changes nothing: seeing the rule is enough."""

    message = "Your role may not see rules."

    def has_permission(self, request, view) -> bool:
        return IsStaff().has_permission(request, view) and request.user.has_perm("rules.view_rule")


@extend_schema_view(
    list=extend_schema(
        summary="List rules of your brands and for every brand",
        responses={200: RuleOutputSerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="A rule with its conditions and actions",
        responses={200: RuleOutputSerializer, **READ_ERRORS, 404: ErrorSerializer},
    ),
)
@extend_schema(tags=["rules"])
class RuleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [StaffModelPermissions]
    serializer_class = RuleOutputSerializer
    filterset_class = RuleFilter
    ordering_fields = ["priority", "name", "created_at", "id"]
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return Rule.objects.none()
        rules = Rule.objects.select_related("trigger", "brand").prefetch_related(
            "labels",
            Prefetch("conditions", queryset=RuleCondition.objects.order_by("group", "id")),
            Prefetch("actions", queryset=RuleAction.objects.order_by("position", "id")),
        )
        return scope_to_user_brands(rules, self.request.user, "brand", include_global=True)

    def _render(self, rule: Rule, code: int = status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=rule.pk)).data, code)

    def _changeable(self) -> Rule:
        rule = self.get_object()
        if rule.brand_id is None and not self.request.user.is_superuser:
            raise PermissionDeniedError(
                "Rules for every brand are changed by superusers only.", code="rule_global"
            )
        return rule

    def _write(self, rule: Rule, payload, *, partial: bool) -> Rule:
        """Apply a `RuleInputSerializer` payload to `rule` and save it with its parts."""
        data = parse_input(RuleInputSerializer, payload, partial=partial)
        if partial:
            # A partial update skips the defaults of nested rows; check the rows in full.
            parts = {name: payload[name] for name in ("conditions", "actions") if name in data}
            data.update(parse_input(RulePartsInputSerializer, parts))
        user = self.request.user
        if "brand" in data:
            slug = data.pop("brand")
            if slug is None and not user.is_superuser:
                raise PermissionDeniedError(
                    "Only superusers write rules for every brand.",
                    code="rule_global",
                    fields={"brand": ["Name one of your brands."]},
                )
            rule.brand = None if slug is None else staff_brand_by_slug(user, slug)
        if "trigger" in data:
            trigger = RuleTrigger.objects.filter(code=data.pop("trigger")).first()
            if trigger is None:
                raise ApplicationError(
                    "Unknown trigger code.",
                    code="unknown_trigger",
                    fields={"trigger": ["Unknown trigger code."]},
                )
            rule.trigger = trigger
        visible = scope_to_user_brands(Label.objects.all(), user, "brand", include_global=True)
        labels = None
        if "labels" in data:
            wanted = data.pop("labels")
            found = visible.in_bulk(wanted)
            missing = [i for i, pk in enumerate(wanted) if pk not in found]
            if missing:
                raise _unknown(f"labels.{missing[0]}", "label")
            labels = list(found.values())
        conditions = None
        if "conditions" in data:
            conditions = [dict(condition) for condition in data.pop("conditions")]
            wanted_ids = [c["label"] for c in conditions if c["label"] is not None]
            found = visible.in_bulk(wanted_ids)
            for index, condition in enumerate(conditions):
                if condition["label"] is not None:
                    if condition["label"] not in found:
                        raise _unknown(f"conditions.{index}.label", "label")
                    condition["label"] = found[condition["label"]]
        actions = None
        if "actions" in data:
            actions = [dict(action) for action in data.pop("actions")]
        for name, value in data.items():
            setattr(rule, name, value)
        return rule_save(rule=rule, labels=labels, conditions=conditions, actions=actions)

    @extend_schema(
        summary="Create a rule with its conditions and actions",
        request=RuleInputSerializer,
        responses={201: RuleOutputSerializer, **WRITE_ERRORS},
    )
    def create(self, request):
        rule = self._write(Rule(), request.data, partial=False)
        return self._render(rule, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Replace a rule, its conditions and actions",
        request=RuleInputSerializer,
        responses={200: RuleOutputSerializer, **WRITE_ERRORS, 404: ErrorSerializer},
    )
    def update(self, request, pk=None):
        return self._render(self._write(self._changeable(), request.data, partial=False))

    @extend_schema(
        summary="Change a rule; conditions or actions given replace the current ones",
        request=RuleInputSerializer,
        responses={200: RuleOutputSerializer, **WRITE_ERRORS, 404: ErrorSerializer},
    )
    def partial_update(self, request, pk=None):
        return self._render(self._write(self._changeable(), request.data, partial=True))

    @extend_schema(
        summary="Delete a rule (its firings stay in the log)",
        responses={204: None, **READ_ERRORS, 404: ErrorSerializer},
    )
    def destroy(self, request, pk=None):
        rule_delete(rule=self._changeable())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="What the rule would do for a customer and/or an order (nothing is changed)",
        request=DryRunInputSerializer,
        responses={200: DryRunOutputSerializer, **WRITE_ERRORS, 404: ErrorSerializer},
    )
    @action(detail=True, methods=["post"], permission_classes=[RuleDryRunPermission])
    def dry_run(self, request, pk=None):
        rule = self.get_object()
        data = parse_input(DryRunInputSerializer, request.data)
        customers = scope_to_user_brands(Customer.objects.all(), request.user, "brand_links__brand")
        orders = scope_to_user_brands(Order.objects.all(), request.user, "brand")
        if rule.brand_id is not None:
            customers = customers.filter(brand_links__brand=rule.brand_id)
            orders = orders.filter(brand=rule.brand_id)
        customer = order = None
        if data.get("customer"):
            customer = customers.filter(pk=data["customer"]).first()
            if customer is None:
                raise _unknown("customer", "customer")
        if data.get("order"):
            order = orders.filter(pk=data["order"]).first()
            if order is None:
                raise _unknown("order", "order")
        from rules.engine import rule_dry_run

        result = rule_dry_run(rule=rule, customer=customer, order=order)
        body = {
            "fires": result.fires,
            "broken": result.broken,
            "conditions": [
                {"description": description, "holds": holds}
                for description, holds in result.conditions
            ],
            "actions": list(result.actions),
        }
        return Response(DryRunOutputSerializer(body).data)


# --- The firing log -------------------------------------------------------------------------


class RuleFiringFilter(filters.FilterSet):
    rule = IdFilter(field_name="rule_id", label="Rule id")
    event = filters.ChoiceFilter(choices=Event.choices)
    outcome = filters.ChoiceFilter(choices=RuleFiring.Outcome.choices)
    object_type = filters.CharFilter(max_length=16, label="order or customer")
    object_id = IdFilter(field_name="object_id", label="Id of the order or customer")
    customer = IdFilter(field_name="customer_id", label="Customer id")
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = RuleFiring
        fields = []


@extend_schema_view(
    list=extend_schema(
        summary="The firing log: what rules did, newest first",
        responses={200: RuleFiringOutputSerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One firing",
        responses={200: RuleFiringOutputSerializer, **READ_ERRORS, 404: ErrorSerializer},
    ),
)
@extend_schema(tags=["rules"])
class RuleFiringViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [StaffModelPermissions]
    serializer_class = RuleFiringOutputSerializer
    filterset_class = RuleFiringFilter
    ordering_fields = ["created_at", "duration_ms", "id"]
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return RuleFiring.objects.none()
        return scope_to_user_brands(
            RuleFiring.objects.select_related("brand"), self.request.user, "brand"
        )
