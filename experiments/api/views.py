"""A/B experiments for staff: their brands' experiments (create one with its variants), one
experiment with each variant's exposed customers, starting, stopping and promoting a winner,
and the results.

Every view counts under the `experiments` throttle scope. An experiment of a brand the user
does not work for answers exactly as one that does not exist (404 `experiment_not_found`).
Starting, stopping and promoting change the variants' promotions (recompiled, paused or ended),
so they take the role's `change` permission of experiments and of promotions."""

import logging

import django_filters
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from brands.selectors import brand_ids_for_user, staff_brand_by_slug
from core.api.errors import PAGE_NOT_FOUND, ErrorSerializer
from core.api.inputs import parse_input
from core.api.permissions import IsStaff, StaffModelPermissions, role_permission
from core.errors import ApplicationError, NotFoundError
from experiments import selectors
from experiments.api.serializers import (
    ExperimentChangeInputSerializer,
    ExperimentDetailOutputSerializer,
    ExperimentInputSerializer,
    ExperimentOutputSerializer,
    ExperimentResultsOutputSerializer,
    PromoteInputSerializer,
)
from experiments.models import Experiment
from experiments.results import experiment_results
from experiments.services import (
    VariantInput,
    experiment_create,
    experiment_promote,
    experiment_start,
    experiment_stop,
    experiment_update,
)

logger = logging.getLogger(__name__)

SCOPE = "experiments"
TAGS = ["experiments"]
ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer}
NOT_FOUND = {404: ErrorSerializer}
CONFLICT = {409: ErrorSerializer}

VARIANTS_EXAMPLE = [
    {
        "id": 21,
        "name": "No promotion",
        "promotion": None,
        "promotion_name": None,
        "weight": 1,
        "is_control": True,
    },
    {
        "id": 22,
        "name": "Ten off",
        "promotion": 31,
        "promotion_name": "Ten percent off",
        "weight": 1,
        "is_control": False,
    },
]
EXPERIMENT_EXAMPLE = {
    "id": 7,
    "brand": "burger-town",
    "name": "Ten off or nothing",
    "hypothesis": "Ten percent off brings more buyers than it costs.",
    "status": "running",
    "audience": "everyone",
    "audience_label": None,
    "audience_tier": "",
    "starts_at": "2026-06-01T00:00:00Z",
    "ends_at": "2026-06-15T00:00:00Z",
    "gross_margin_percent": "30.00",
    "winner": None,
    "stopped_at": None,
    "variants": VARIANTS_EXAMPLE,
    "created_at": "2026-05-28T09:12:00Z",
    "updated_at": "2026-06-01T00:00:02Z",
}
DETAIL_EXAMPLE = {
    **EXPERIMENT_EXAMPLE,
    "variants": [
        {**VARIANTS_EXAMPLE[0], "exposures": 1204},
        {**VARIANTS_EXAMPLE[1], "exposures": 1187},
    ],
}
RESULTS_EXAMPLE = {
    "experiment": 7,
    "currency": "EUR",
    "confidence": 0.95,
    "window_end": "2026-06-08T10:00:00Z",
    "computed_at": "2026-06-08T10:00:00Z",
    "variants": [
        {
            "variant": 21,
            "name": "No promotion",
            "is_control": True,
            "promotion": None,
            "customers": 1204,
            "buyers": 301,
            "orders": 352,
            "conversion_rate": 0.25,
            "conversion_low": 0.2264,
            "conversion_high": 0.2752,
            "revenue_per_customer": "7.50",
            "average_order_value": "25.65",
            "discount_cost_per_customer": "0.00",
            "margin_per_customer": "2.25",
            "comparisons": None,
        },
        {
            "variant": 22,
            "name": "Ten off",
            "is_control": False,
            "promotion": 31,
            "customers": 1187,
            "buyers": 356,
            "orders": 418,
            "conversion_rate": 0.2999,
            "conversion_low": 0.2745,
            "conversion_high": 0.3266,
            "revenue_per_customer": "8.10",
            "average_order_value": "23.00",
            "discount_cost_per_customer": "0.90",
            "margin_per_customer": "2.43",
            "comparisons": {
                "conversion_rate": {
                    "test": "two_proportion_z_test",
                    "difference": 0.0499,
                    "low": 0.0146,
                    "high": 0.0852,
                    "p_value": 0.0055,
                },
                "revenue_per_customer": {
                    "test": "welch_t_test",
                    "difference": "0.60",
                    "low": "-0.41",
                    "high": "1.61",
                    "p_value": 0.2437,
                },
                "average_order_value": {
                    "test": "welch_t_test",
                    "difference": "-2.65",
                    "low": "-4.90",
                    "high": "-0.40",
                    "p_value": 0.0211,
                },
                "discount_cost_per_customer": {
                    "test": "welch_t_test",
                    "difference": "0.90",
                    "low": "0.81",
                    "high": "0.99",
                    "p_value": 0.0,
                },
                "incremental_margin": {
                    "test": "welch_t_test",
                    "difference": "0.18",
                    "low": "-0.12",
                    "high": "0.48",
                    "p_value": 0.2437,
                },
            },
        },
    ],
    "warnings": [],
}


class CanChangeDrafts(BasePermission):
    """Changing a draft replaces its variants."""

    message = "Your role may not change experiments."

    def has_permission(self, request, view) -> bool:
        return request.method != "PUT" or request.user.has_perms(
            (
                "experiments.change_experiment",
                "experiments.add_experimentvariant",
                "experiments.delete_experimentvariant",
            )
        )


class CanCreateVariants(BasePermission):
    """Creating an experiment creates its variants too."""

    message = "Your role may not create experiments."

    def has_permission(self, request, view) -> bool:
        return request.method != "POST" or request.user.has_perm(
            "experiments.add_experimentvariant"
        )


CanViewExperiment = role_permission(
    "experiments.view_experiment",
    "experiments.view_experimentvariant",
    "experiments.view_experimentexposure",
    message="Your role may not see experiments and their exposures.",
)
CanRunExperiments = role_permission(
    "experiments.change_experiment",
    "promotions.change_promotion",
    message="Your role may not start, stop or decide experiments.",
)
CanViewResults = role_permission(
    "experiments.view_experiment",
    "experiments.view_experimentexposure",
    message="Your role may not see the results of experiments.",
)


def _experiment_for_staff(user, experiment_id: int, *, with_exposures: bool = False):
    experiment = selectors.experiment_for_staff(
        user=user, experiment_id=experiment_id, with_exposures=with_exposures
    )
    if experiment is None:
        raise NotFoundError("Experiment not found.", code="experiment_not_found")
    return experiment


def _detail(user, experiment_id: int) -> dict:
    experiment = _experiment_for_staff(user, experiment_id, with_exposures=True)
    return ExperimentDetailOutputSerializer(experiment).data


def _not_yours(field: str, message: str, code: str) -> ApplicationError:
    return ApplicationError(message, code=code, fields={field: [message]})


def _audience_label(user, label_id: int | None):
    """The audience's customer label, one of the user's brands' or a global one."""
    if label_id is None:
        return None
    label = selectors.customer_label_for_staff(user=user, label_id=label_id)
    if label is None:
        raise _not_yours(
            "audience_label", "Unknown label, or not one of your brands'.", "unknown_label"
        )
    return label


def _variant_inputs(user, variants: list[dict]) -> list[VariantInput]:
    """The input's variants with their promotions: each must be one of the user's brands';
    another brand's answers as an unknown one."""
    found = selectors.promotions_for_staff(
        user=user, promotion_ids=[v["promotion"] for v in variants if v["promotion"] is not None]
    )
    message = "Unknown promotion, or not one of your brands'."
    fields = {
        f"variants.{index}.promotion": [message]
        for index, variant in enumerate(variants)
        if variant["promotion"] is not None and variant["promotion"] not in found
    }
    if fields:
        raise ApplicationError(message, code="unknown_promotion", fields=fields)
    return [
        VariantInput(
            name=variant["name"],
            promotion=found.get(variant["promotion"]),
            weight=variant["weight"],
            is_control=variant["is_control"],
        )
        for variant in variants
    ]


def _results_body(experiment: Experiment) -> dict:
    """The results as the API shows them, cached per experiment and version (a change of the
    experiment, such as a stop, computes them again). The cache failing costs a computation,
    never the request."""
    key = f"experiment-results:{experiment.pk}:{experiment.updated_at.timestamp()}"
    try:
        body = cache.get(key)
    except Exception:
        logger.warning("Experiment results cache unavailable; computing them")
        body = None
    if body is not None:
        return body
    body = ExperimentResultsOutputSerializer(
        experiment_results(experiment=experiment), context={"computed_at": timezone.now()}
    ).data
    try:
        cache.set(key, body, settings.EXPERIMENT_RESULTS_CACHE_SECONDS)
    except Exception:
        logger.warning("Experiment results cache unavailable; not keeping them")
    return body


# --- Experiments --------------------------------------------------------------------------------


class ExperimentFilter(django_filters.FilterSet):
    brand = django_filters.CharFilter(field_name="brand__slug")
    status = django_filters.MultipleChoiceFilter(choices=Experiment.Status.choices)

    class Meta:
        model = Experiment
        fields = ["brand", "status"]


class ExperimentListView(generics.ListAPIView):
    """Staff: the experiments of their brands, newest start first, with their variants; create
    one (a draft, with its variants) for one of their brands."""

    permission_classes = [IsStaff & StaffModelPermissions & CanCreateVariants]
    throttle_scope = SCOPE
    serializer_class = ExperimentOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = ExperimentFilter
    queryset = Experiment.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Experiment.objects.none()
        return selectors.experiments_for_staff(user=self.request.user)

    @extend_schema(
        tags=TAGS,
        responses={200: ExperimentOutputSerializer(many=True), **ERRORS, 404: PAGE_NOT_FOUND},
        examples=[
            OpenApiExample(
                "Experiments",
                response_only=True,
                value={"count": 1, "next": None, "previous": None, "results": [EXPERIMENT_EXAMPLE]},
            )
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=TAGS,
        request=ExperimentInputSerializer,
        responses={201: ExperimentDetailOutputSerializer, **ERRORS},
        examples=[
            OpenApiExample(
                "Ten off or nothing",
                request_only=True,
                value={
                    "brand": "burger-town",
                    "name": "Ten off or nothing",
                    "hypothesis": "Ten percent off brings more buyers than it costs.",
                    "starts_at": "2026-06-01T00:00:00Z",
                    "ends_at": "2026-06-15T00:00:00Z",
                    "gross_margin_percent": "30.00",
                    "variants": [
                        {"name": "No promotion", "promotion": None, "is_control": True},
                        {"name": "Ten off", "promotion": 31, "weight": 1},
                    ],
                },
            ),
            OpenApiExample(
                "Two offers to the VIP label",
                request_only=True,
                value={
                    "brand": "burger-town",
                    "name": "Five or ten for VIPs",
                    "audience": "label",
                    "audience_label": 4,
                    "starts_at": "2026-06-01T00:00:00Z",
                    "ends_at": "2026-07-01T00:00:00Z",
                    "variants": [
                        {"name": "Five off (today's)", "promotion": 30, "is_control": True},
                        {"name": "Ten off", "promotion": 31},
                    ],
                },
            ),
            OpenApiExample(
                "Created, a draft",
                response_only=True,
                status_codes=["201"],
                value={
                    **DETAIL_EXAMPLE,
                    "status": "draft",
                    "updated_at": "2026-05-28T09:12:00Z",
                    "variants": [{**v, "exposures": 0} for v in VARIANTS_EXAMPLE],
                },
            ),
        ],
    )
    def post(self, request):
        data = parse_input(ExperimentInputSerializer, request.data)
        brand = staff_brand_by_slug(request.user, data.pop("brand"))
        label = _audience_label(request.user, data.pop("audience_label"))
        variants = _variant_inputs(request.user, data.pop("variants"))
        experiment = experiment_create(
            brand=brand, variants=variants, audience_label=label, actor=request.user, **data
        )
        return Response(_detail(request.user, experiment.pk), status=status.HTTP_201_CREATED)


class ExperimentDetailView(APIView):
    """Staff: one experiment of their brands, with how many customers each variant has been
    shown to so far; a draft is changed with PUT."""

    permission_classes = [IsStaff & CanViewExperiment & CanChangeDrafts]
    throttle_scope = SCOPE

    @extend_schema(
        tags=TAGS,
        responses={200: ExperimentDetailOutputSerializer, **ERRORS, **NOT_FOUND},
        examples=[OpenApiExample("Running", response_only=True, value=DETAIL_EXAMPLE)],
    )
    def get(self, request, experiment_id: int):
        return Response(_detail(request.user, experiment_id))

    @extend_schema(
        tags=TAGS,
        request=ExperimentChangeInputSerializer,
        responses={200: ExperimentDetailOutputSerializer, **ERRORS, **NOT_FOUND, **CONFLICT},
        description=(
            "Change a draft experiment as a whole: its fields and its variants, which are "
            "replaced. A started experiment is not changed: 409 `experiment_not_draft`."
        ),
    )
    def put(self, request, experiment_id: int):
        experiment = _experiment_for_staff(request.user, experiment_id)
        data = parse_input(ExperimentChangeInputSerializer, request.data)
        label = _audience_label(request.user, data.pop("audience_label"))
        variants = _variant_inputs(request.user, data.pop("variants"))
        experiment_update(
            experiment_id=experiment.pk,
            variants=variants,
            audience_label=label,
            brand_ids=brand_ids_for_user(request.user),
            **data,
        )
        return Response(_detail(request.user, experiment.pk))


class ExperimentStartView(APIView):
    """Staff: start a draft experiment. Each variant's promotion must be active or scheduled
    and in no other running experiment; from then on each customer gets their variant's
    promotion only (server and tills alike). Not a draft: 409 `experiment_not_draft`."""

    permission_classes = [IsStaff & CanRunExperiments]
    throttle_scope = SCOPE

    @extend_schema(
        tags=TAGS,
        request=None,
        responses={200: ExperimentDetailOutputSerializer, **ERRORS, **NOT_FOUND, **CONFLICT},
    )
    def post(self, request, experiment_id: int):
        experiment_start(
            experiment_id=experiment_id,
            brand_ids=brand_ids_for_user(request.user),
            actor=request.user,
        )
        return Response(_detail(request.user, experiment_id))


class ExperimentStopView(APIView):
    """Staff: stop a running experiment without a winner: the control's promotion (if any)
    goes on for everyone, the other variants' promotions are paused. Not running: 409
    `experiment_not_running`."""

    permission_classes = [IsStaff & CanRunExperiments]
    throttle_scope = SCOPE

    @extend_schema(
        tags=TAGS,
        request=None,
        responses={200: ExperimentDetailOutputSerializer, **ERRORS, **NOT_FOUND, **CONFLICT},
    )
    def post(self, request, experiment_id: int):
        experiment_stop(
            experiment_id=experiment_id,
            brand_ids=brand_ids_for_user(request.user),
            actor=request.user,
        )
        return Response(_detail(request.user, experiment_id))


class ExperimentPromoteView(APIView):
    """Staff: promote a variant of a running or stopped experiment to the winner: the
    experiment stops, the winner's promotion goes on for everyone and the other variants'
    promotions end (a winning control without a promotion ends them all). A draft: 409
    `experiment_not_started`; a winner already: 409 `experiment_has_winner`."""

    permission_classes = [IsStaff & CanRunExperiments]
    throttle_scope = SCOPE

    @extend_schema(
        tags=TAGS,
        request=PromoteInputSerializer,
        responses={200: ExperimentDetailOutputSerializer, **ERRORS, **NOT_FOUND, **CONFLICT},
        examples=[OpenApiExample("Ten off won", request_only=True, value={"variant": 22})],
    )
    def post(self, request, experiment_id: int):
        data = parse_input(PromoteInputSerializer, request.data)
        experiment_promote(
            experiment_id=experiment_id,
            variant_id=data["variant"],
            brand_ids=brand_ids_for_user(request.user),
            actor=request.user,
        )
        return Response(_detail(request.user, experiment_id))


class ExperimentResultsView(APIView):
    """Staff: the results of an experiment of their brands, per variant: exposed customers,
    buyers, orders, conversion rate, revenue, average order value, discount cost and margin
    per customer, and each variant against the control (difference, 95% interval, p-value,
    and the test used). Money is in decimal strings of the brand's currency; rates and
    p-values are floats. `warnings` says when the sample is too small to decide. Cached for
    a few minutes (`computed_at`)."""

    permission_classes = [IsStaff & CanViewResults]
    throttle_scope = SCOPE

    @extend_schema(
        tags=TAGS,
        responses={200: ExperimentResultsOutputSerializer, **ERRORS, **NOT_FOUND},
        examples=[OpenApiExample("A week in", response_only=True, value=RESULTS_EXAMPLE)],
    )
    def get(self, request, experiment_id: int):
        experiment = _experiment_for_staff(request.user, experiment_id)
        return Response(_results_body(experiment))
