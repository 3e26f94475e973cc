"""Cross-brand campaigns for customers (their progress in the current brand's campaigns) and for
staff (their brands' campaigns, and each campaign's per-customer progress)."""

import django_filters
from django.db import transaction
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from brands.models import Brand
from brands.selectors import get_current_brand, scope_to_user_brands, staff_brand_by_slug
from campaigns import selectors
from campaigns.api.serializers import (
    CampaignInputSerializer,
    CampaignOutputSerializer,
    CampaignProgressOutputSerializer,
    CampaignUpdateInputSerializer,
    MyCampaignOutputSerializer,
)
from campaigns.models import CampaignProgress, CrossBrandCampaign
from campaigns.services import campaign_save
from core.api.errors import PAGE_NOT_FOUND, ErrorSerializer
from core.api.inputs import parse_input
from core.api.permissions import IsCustomer, IsStaff, StaffModelPermissions, request_customer
from core.errors import ApplicationError, NotFoundError
from rewards.models import RewardTemplate

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer}
BRAND_PARAMETER = OpenApiParameter(
    "X-Brand",
    location=OpenApiParameter.HEADER,
    required=False,
    description="Slug of the brand whose campaigns are meant (else the storefront host's).",
)
MY_CAMPAIGN_EXAMPLE = {
    "id": 3,
    "name": "Across town",
    "description": "Spend 20 at two of our brands this month.",
    "brand": "burger-town",
    "currency": "EUR",
    "starts_at": "2026-06-01T00:00:00Z",
    "ends_at": "2026-07-01T00:00:00Z",
    "is_live": True,
    "requirement": "each_brand",
    "min_spend_per_brand": "20.00",
    "min_total_spend": None,
    "min_brands": 2,
    "reward_kind": "points",
    "reward_description": "500 points",
    "brands": [
        {
            "brand": "burger-town",
            "name": "Burger Town",
            "spent": "26.50",
            "counts": True,
            "missing": "0.00",
        },
        {
            "brand": "pizza-co",
            "name": "Pizza Co",
            "spent": "8.00",
            "counts": False,
            "missing": "12.00",
        },
    ],
    "total_spend": "34.50",
    "brands_counted": 1,
    "brands_missing": 1,
    "amount_missing": "12.00",
    "is_met": False,
    "completed_at": None,
    "reward": None,
}


class MyCampaignListView(APIView):
    """The current brand's campaigns, live or ended in the last 14 days, with the customer's
    progress: what they spent at each brand, what is missing, and the reward once completed."""

    permission_classes = [IsCustomer]
    throttle_scope = "campaigns"

    @extend_schema(
        tags=["campaigns"],
        parameters=[BRAND_PARAMETER],
        responses={200: MyCampaignOutputSerializer(many=True), **ERRORS},
        examples=[OpenApiExample("Halfway", response_only=True, value=[MY_CAMPAIGN_EXAMPLE])],
    )
    def get(self, request):
        brand = get_current_brand(request)
        if brand is None:
            raise ApplicationError(
                "Name the brand with the X-Brand header.",
                code="brand_required",
                fields={"X-Brand": ["Required."]},
            )
        entries = selectors.campaign_progress_for_customer(
            customer=request_customer(request), brand=brand
        )
        return Response(MyCampaignOutputSerializer(entries, many=True).data)


class CampaignFilter(django_filters.FilterSet):
    brand = django_filters.CharFilter(field_name="brand__slug")
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = CrossBrandCampaign
        fields = ["brand", "is_active"]


def _campaign_for_staff(user, campaign_id: int) -> CrossBrandCampaign:
    campaign = selectors.campaigns_for_staff(user=user).filter(pk=campaign_id).first()
    if campaign is None:
        raise NotFoundError("No such campaign.", code="campaign_not_found")
    return campaign


def _resolved(user, data: dict, owner: Brand) -> dict:
    """The input's brand slugs and reward id as objects: brands the user works for, and a reward
    of the owner brand; anything else answers as unknown."""
    if "brands" in data:
        slugs = set(data["brands"])
        brands = list(scope_to_user_brands(Brand.objects.filter(slug__in=slugs), user, "pk"))
        unknown = sorted(slugs - {b.slug for b in brands})
        if unknown:
            message = f"Unknown brand {unknown[0]!r}, or not one of yours."
            raise ApplicationError(message, code="unknown_brand", fields={"brands": [message]})
        data["brands"] = brands
    if data.get("reward_template") is not None:
        template = RewardTemplate.objects.filter(pk=data["reward_template"], brand=owner).first()
        if template is None:
            message = "Unknown reward, or not one of the owner brand's."
            raise ApplicationError(
                message, code="unknown_reward", fields={"reward_template": [message]}
            )
        data["reward_template"] = template
    return data


class CampaignListView(generics.ListAPIView):
    """Staff: the campaigns their brands run; create one."""

    permission_classes = [IsStaff & StaffModelPermissions]
    serializer_class = CampaignOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = CampaignFilter
    queryset = CrossBrandCampaign.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CrossBrandCampaign.objects.none()
        return selectors.campaigns_for_staff(user=self.request.user)

    @extend_schema(
        tags=["campaigns"],
        responses={200: CampaignOutputSerializer(many=True), **ERRORS, 404: PAGE_NOT_FOUND},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["campaigns"],
        request=CampaignInputSerializer,
        responses={201: CampaignOutputSerializer, **ERRORS},
        examples=[
            OpenApiExample(
                "20 at each of two brands",
                request_only=True,
                value={
                    "brand": "burger-town",
                    "name": "Across town",
                    "brands": ["burger-town", "pizza-co"],
                    "starts_at": "2026-06-01T00:00:00Z",
                    "ends_at": "2026-07-01T00:00:00Z",
                    "requirement": "each_brand",
                    "min_spend_per_brand": "20.00",
                    "min_brands": 2,
                    "reward_kind": "points",
                    "reward_points": 500,
                },
            )
        ],
    )
    def post(self, request):
        data = parse_input(CampaignInputSerializer, request.data)
        owner = staff_brand_by_slug(request.user, data.pop("brand"))
        with transaction.atomic():
            campaign = campaign_save(brand=owner, data=_resolved(request.user, data, owner))
        return Response(CampaignOutputSerializer(campaign).data, status=status.HTTP_201_CREATED)


class CampaignDetailView(generics.GenericAPIView):
    """Staff: one campaign of their brands; change it."""

    permission_classes = [IsStaff & StaffModelPermissions]
    serializer_class = CampaignOutputSerializer
    queryset = CrossBrandCampaign.objects.none()

    @extend_schema(
        tags=["campaigns"],
        responses={200: CampaignOutputSerializer, **ERRORS, 404: ErrorSerializer},
    )
    def get(self, request, campaign_id: int):
        return Response(
            CampaignOutputSerializer(_campaign_for_staff(request.user, campaign_id)).data
        )

    @extend_schema(
        tags=["campaigns"],
        request=CampaignUpdateInputSerializer,
        responses={200: CampaignOutputSerializer, **ERRORS, 404: ErrorSerializer},
    )
    def patch(self, request, campaign_id: int):
        campaign = _campaign_for_staff(request.user, campaign_id)
        data = parse_input(CampaignUpdateInputSerializer, request.data, partial=True)
        data = _resolved(request.user, data, campaign.brand)
        campaign = campaign_save(campaign=campaign, data=data)
        campaign = selectors.campaigns_for_staff(user=request.user).get(pk=campaign.pk)
        return Response(CampaignOutputSerializer(campaign).data)


class CanViewProgress(BasePermission):
    message = "Your role may not see campaign progress."

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("campaigns.view_campaignprogress")


class CampaignProgressListView(generics.ListAPIView):
    """Staff: each customer's progress in one campaign of their brands, completed first; the
    email as their role may see it."""

    permission_classes = [IsStaff & CanViewProgress]
    serializer_class = CampaignProgressOutputSerializer
    queryset = CampaignProgress.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CampaignProgress.objects.none()
        campaign = _campaign_for_staff(self.request.user, self.kwargs["campaign_id"])
        return selectors.progress_for_campaign(campaign=campaign)

    @extend_schema(
        tags=["campaigns"],
        responses={
            200: CampaignProgressOutputSerializer(many=True),
            **ERRORS,
            404: ErrorSerializer,
        },
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
