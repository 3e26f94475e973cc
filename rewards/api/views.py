"""Rewards for staff (their brands' reward templates; issuing one to a customer; the rewards
issued, and cancelling an active one) and for customers (their rewards at the current brand)."""

import uuid

import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from brands.selectors import brand_ids_for_user, get_current_brand, staff_brand_by_slug
from core.api.errors import PAGE_NOT_FOUND, ErrorSerializer
from core.api.filters import IdFilter
from core.api.inputs import parse_input
from core.api.permissions import IsCustomer, IsStaff, StaffModelPermissions, request_customer
from core.errors import ApplicationError, NotFoundError
from customers.models import Customer
from orders.api.serializers import IDEMPOTENCY_KEY_PATTERN
from rewards import selectors
from rewards.api.serializers import (
    CustomerRewardOutputSerializer,
    MyRewardOutputSerializer,
    RewardIssueInputSerializer,
    RewardTemplateInputSerializer,
    RewardTemplateOutputSerializer,
    RewardTemplateUpdateInputSerializer,
)
from rewards.lifecycle import reward_cancel, reward_issue_template, reward_template_save
from rewards.models import CustomerReward, RewardKind, RewardTemplate

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer}
BRAND_PARAMETER = OpenApiParameter(
    "X-Brand",
    location=OpenApiParameter.HEADER,
    required=False,
    description="Slug of the brand whose rewards are meant (else the storefront host's).",
)
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    "Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Up to 128 printable ASCII characters. A replay returns the first reward with 200; "
        "the same key for another template or customer is 409 `idempotency_key_reused`."
    ),
)


# --- Templates ----------------------------------------------------------------------------------


class TemplateFilter(django_filters.FilterSet):
    brand = django_filters.CharFilter(field_name="brand__slug")
    kind = django_filters.MultipleChoiceFilter(choices=RewardKind.choices)
    trigger = django_filters.ChoiceFilter(choices=RewardTemplate.Trigger.choices)
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = RewardTemplate
        fields = ["brand", "kind", "trigger", "is_active"]


def _template_for_staff(user, template_id: int) -> RewardTemplate:
    template = selectors.templates_for_staff(user=user).filter(pk=template_id).first()
    if template is None:
        raise NotFoundError("No such reward template.", code="reward_template_not_found")
    return template


class RewardTemplateListView(generics.ListAPIView):
    """Staff: the reward templates of their brands; create one."""

    permission_classes = [IsStaff & StaffModelPermissions]
    serializer_class = RewardTemplateOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = TemplateFilter
    queryset = RewardTemplate.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RewardTemplate.objects.none()
        return selectors.templates_for_staff(user=self.request.user)

    @extend_schema(
        tags=["rewards"],
        responses={200: RewardTemplateOutputSerializer(many=True), **ERRORS, 404: PAGE_NOT_FOUND},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["rewards"],
        request=RewardTemplateInputSerializer,
        responses={201: RewardTemplateOutputSerializer, **ERRORS},
        examples=[
            OpenApiExample(
                "A birthday coffee",
                request_only=True,
                value={
                    "brand": "burger-town",
                    "name": "Birthday coffee",
                    "kind": "free_product",
                    "product": 12,
                    "valid_days": 14,
                    "trigger": "birthday",
                },
            ),
            OpenApiExample(
                "Five off",
                request_only=True,
                value={
                    "brand": "burger-town",
                    "name": "Five off",
                    "kind": "discount_amount",
                    "amount": "5.00",
                    "minimum_order": "20.00",
                },
            ),
        ],
    )
    def post(self, request):
        data = parse_input(RewardTemplateInputSerializer, request.data)
        brand = staff_brand_by_slug(request.user, data.pop("brand"))
        template = reward_template_save(brand=brand, data=data)
        return Response(
            RewardTemplateOutputSerializer(template).data, status=status.HTTP_201_CREATED
        )


class RewardTemplateDetailView(generics.GenericAPIView):
    """Staff: one reward template of their brands; change it (rewards already issued keep what
    they give)."""

    permission_classes = [IsStaff & StaffModelPermissions]
    serializer_class = RewardTemplateOutputSerializer
    queryset = RewardTemplate.objects.none()

    @extend_schema(
        tags=["rewards"],
        responses={200: RewardTemplateOutputSerializer, **ERRORS, 404: ErrorSerializer},
    )
    def get(self, request, template_id: int):
        template = _template_for_staff(request.user, template_id)
        return Response(RewardTemplateOutputSerializer(template).data)

    @extend_schema(
        tags=["rewards"],
        request=RewardTemplateUpdateInputSerializer,
        responses={200: RewardTemplateOutputSerializer, **ERRORS, 404: ErrorSerializer},
        examples=[
            OpenApiExample("Retire it", request_only=True, value={"is_active": False}),
        ],
    )
    def patch(self, request, template_id: int):
        template = _template_for_staff(request.user, template_id)
        data = parse_input(RewardTemplateUpdateInputSerializer, request.data, partial=True)
        template = reward_template_save(template=template, data=data)
        return Response(RewardTemplateOutputSerializer(template).data)


class CanIssueRewards(BasePermission):
    message = "Your role may not issue rewards."

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("rewards.add_customerreward")


class RewardIssueView(APIView):
    """Staff: issue a template of their brands to a customer of that brand, with a reason."""

    permission_classes = [IsStaff & CanIssueRewards]
    throttle_scope = "rewards"

    @extend_schema(
        tags=["rewards"],
        parameters=[IDEMPOTENCY_PARAMETER],
        request=RewardIssueInputSerializer,
        responses={
            201: CustomerRewardOutputSerializer,
            200: CustomerRewardOutputSerializer,
            **ERRORS,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
        examples=[
            OpenApiExample(
                "A goodwill gesture",
                request_only=True,
                value={"customer": 42, "reason": "Order 1203 arrived late."},
            )
        ],
    )
    def post(self, request, template_id: int):
        data = parse_input(RewardIssueInputSerializer, request.data)
        key = request.headers.get("Idempotency-Key")
        if key is not None and not IDEMPOTENCY_KEY_PATTERN.match(key):
            raise ApplicationError(
                "The Idempotency-Key is up to 128 printable ASCII characters.",
                code="invalid_idempotency_key",
                fields={"Idempotency-Key": ["Up to 128 printable ASCII characters."]},
            )
        template = _template_for_staff(request.user, template_id)
        customer = Customer.objects.filter(pk=data["customer"]).first()
        if customer is None:
            raise NotFoundError("No such customer.", code="customer_not_found")
        reward, created = reward_issue_template(
            template=template,
            customer=customer,
            idempotency_key=f"staff:{template.brand_id}:{key or uuid.uuid4().hex}",
            source=CustomerReward.Source.STAFF,
            reason=data["reason"],
            actor=request.user,
        )
        return Response(
            CustomerRewardOutputSerializer(reward, context={"request": request}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


# --- Issued rewards -----------------------------------------------------------------------------


class RewardFilter(django_filters.FilterSet):
    brand = django_filters.CharFilter(field_name="brand__slug")
    status = django_filters.MultipleChoiceFilter(choices=CustomerReward.Status.choices)
    kind = django_filters.MultipleChoiceFilter(choices=RewardKind.choices)
    source = django_filters.MultipleChoiceFilter(choices=CustomerReward.Source.choices)
    customer = IdFilter(field_name="customer_id")
    template = IdFilter(field_name="template_id")
    code = django_filters.CharFilter(field_name="code", lookup_expr="iexact")

    class Meta:
        model = CustomerReward
        fields = ["brand", "status", "kind", "source", "customer", "template", "code"]


class CustomerRewardListView(generics.ListAPIView):
    """Staff: the rewards issued at their brands, newest first."""

    permission_classes = [IsStaff & StaffModelPermissions]
    serializer_class = CustomerRewardOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = RewardFilter
    queryset = CustomerReward.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CustomerReward.objects.none()
        return selectors.rewards_for_staff(user=self.request.user)

    @extend_schema(
        tags=["rewards"],
        responses={200: CustomerRewardOutputSerializer(many=True), **ERRORS, 404: PAGE_NOT_FOUND},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class CanCancelRewards(BasePermission):
    message = "Your role may not cancel rewards."

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("rewards.change_customerreward")


class CustomerRewardCancelView(APIView):
    """Staff: cancel a reward of their brands that is ready to use (cancelling it again changes
    nothing; a used or expired one is 409 `reward_not_active`)."""

    permission_classes = [IsStaff & CanCancelRewards]
    throttle_scope = "rewards"

    @extend_schema(
        tags=["rewards"],
        request=None,
        responses={
            200: CustomerRewardOutputSerializer,
            **ERRORS,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request, reward_id: int):
        reward = reward_cancel(
            reward_id=reward_id, brand_ids=brand_ids_for_user(request.user), actor=request.user
        )
        return Response(CustomerRewardOutputSerializer(reward, context={"request": request}).data)


# --- The customer's own -------------------------------------------------------------------------


class MyRewardFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=CustomerReward.Status.choices)

    class Meta:
        model = CustomerReward
        fields = ["status"]


class MyRewardListView(generics.ListAPIView):
    """The customer's rewards at the current brand, newest first: what each gives, its code,
    whether it is ready to use and until when, and the order that used it."""

    permission_classes = [IsCustomer]
    serializer_class = MyRewardOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = MyRewardFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CustomerReward.objects.none()
        brand = get_current_brand(self.request)
        if brand is None:
            raise ApplicationError(
                "Name the brand with the X-Brand header.",
                code="brand_required",
                fields={"X-Brand": ["Required."]},
            )
        return selectors.rewards_for_customer(
            customer=request_customer(self.request), brand_id=brand.pk
        )

    @extend_schema(
        tags=["rewards"],
        parameters=[BRAND_PARAMETER],
        responses={200: MyRewardOutputSerializer(many=True), **ERRORS, 404: PAGE_NOT_FOUND},
        examples=[
            OpenApiExample(
                "Rewards",
                response_only=True,
                value={
                    "count": 1,
                    "next": None,
                    "previous": None,
                    "results": [
                        {
                            "id": 9,
                            "name": "Birthday coffee",
                            "kind": "free_product",
                            "gives": "Flat white free",
                            "amount": None,
                            "percentage": None,
                            "product": 12,
                            "product_name": "Flat white",
                            "points": None,
                            "minimum_order": None,
                            "code": "RW7KQ2M9XPAD",
                            "status": "active",
                            "valid_until": "2026-07-01T10:00:00Z",
                            "used_at": None,
                            "order": None,
                            "discount": None,
                            "created_at": "2026-06-17T10:00:00Z",
                        }
                    ],
                },
            )
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
