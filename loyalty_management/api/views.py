"""Loyalty for customers (their balance and ledger) and for staff (their brands' accounts and
manual adjustments)."""

import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from brands.models import Brand
from brands.selectors import get_current_brand, scope_to_user_brands, staff_brand_by_slug
from core.api.errors import PAGE_NOT_FOUND, ErrorSerializer
from core.api.filters import IdFilter, UtcIsoDateTimeFilter
from core.api.inputs import parse_input
from core.api.permissions import IsCustomer, IsStaff, StaffModelPermissions, request_customer
from core.errors import ApplicationError, NotFoundError
from loyalty_management import selectors
from loyalty_management.api.serializers import (
    AdjustmentInputSerializer,
    BadgeDefinitionInputSerializer,
    BadgeDefinitionOutputSerializer,
    BadgeDefinitionUpdateInputSerializer,
    CatalogueEntryOutputSerializer,
    LoyaltyAccountOutputSerializer,
    LoyaltyAdjustmentOutputSerializer,
    LoyaltyTransactionOutputSerializer,
    MyLoyaltyOutputSerializer,
    RedemptionBulkDecideInputSerializer,
    RedemptionBulkResultOutputSerializer,
    RedemptionCategoryInputSerializer,
    RedemptionCategoryOutputSerializer,
    RedemptionCreateInputSerializer,
    RedemptionFulfilInputSerializer,
    RedemptionItemInputSerializer,
    RedemptionItemOutputSerializer,
    RedemptionItemUpdateInputSerializer,
    RedemptionOutputSerializer,
    RedemptionRejectInputSerializer,
    StaffRedemptionOutputSerializer,
)
from loyalty_management.models import (
    BadgeDefinition,
    LoyaltyAccount,
    LoyaltyAdjustment,
    LoyaltyTransaction,
    RedemptionCategory,
    RedemptionItem,
    RedemptionRequest,
)
from loyalty_management.services.badges import badge_definition_delete, badge_definition_save
from loyalty_management.services.catalogue import redemption_category_save, redemption_item_save
from loyalty_management.services.ledger import account_adjust, account_adjustment_decide
from loyalty_management.services.redemptions import (
    redemption_approve,
    redemption_cancel,
    redemption_fulfil,
    redemption_reject,
    redemption_request,
    redemptions_decide,
)
from orders.api.serializers import IDEMPOTENCY_KEY_PATTERN

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer}
BRAND_PARAMETER = OpenApiParameter(
    "X-Brand",
    location=OpenApiParameter.HEADER,
    required=False,
    description="Slug of the brand whose program is meant (else the storefront host's).",
)


class TransactionFilter(django_filters.FilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=LoyaltyTransaction.Kind.choices)
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    order = IdFilter(field_name="order_id")

    class Meta:
        model = LoyaltyTransaction
        fields = ["kind", "created_after", "created_before", "order"]


class MyLoyaltyView(APIView):
    """The customer's balances in the current brand's program."""

    permission_classes = [IsCustomer]

    @extend_schema(
        tags=["loyalty"],
        parameters=[BRAND_PARAMETER],
        responses={200: MyLoyaltyOutputSerializer, **ERRORS, 404: ErrorSerializer},
        examples=[
            OpenApiExample(
                "Balance",
                response_only=True,
                value={
                    "brand": "burger-town",
                    "program": "Burger points",
                    "available_points": 120,
                    "pending_points": 30,
                    "lifetime_points": 480,
                    "tier": {
                        "name": "Silver",
                        "position": 2,
                        "threshold": "250.00",
                        "multiplier": "1.25",
                        "benefits": "Free drink",
                    },
                    "next_tier": {
                        "name": "Gold",
                        "position": 3,
                        "threshold": "1000.00",
                        "multiplier": "1.50",
                        "benefits": "",
                    },
                    "qualification": "480.00",
                    "to_next_tier": "520.00",
                    "expiring_points": 40,
                    "expiring_until": "2025-06-01T12:00:00Z",
                    "badges": {
                        "earned": [
                            {
                                "id": 3,
                                "name": "First bite",
                                "description": "Your first paid order.",
                                "icon": "star",
                                "kind": "order_count",
                                "awarded_at": "2025-04-02T18:10:00Z",
                            }
                        ],
                        "to_earn": [
                            {
                                "id": 4,
                                "name": "Regular",
                                "description": "Five paid orders.",
                                "icon": "medal",
                                "kind": "order_count",
                                "progress": {"current": "3", "target": "5"},
                            },
                            {
                                "id": 7,
                                "name": "Gold member",
                                "description": "",
                                "icon": "crown",
                                "kind": "tier",
                                "progress": None,
                            },
                        ],
                    },
                },
            )
        ],
    )
    def get(self, request):
        brand = get_current_brand(request)
        if brand is None:
            raise ApplicationError(
                "Name the brand with the X-Brand header.",
                code="brand_required",
                fields={"X-Brand": ["Required."]},
            )
        program = selectors.program_for_brand(brand_id=brand.pk)
        if program is None:
            raise NotFoundError(
                "This brand has no loyalty program.", code="loyalty_program_not_found"
            )
        summary = selectors.account_summary(customer=request_customer(request), program=program)
        return Response(MyLoyaltyOutputSerializer(summary).data)


class MyLoyaltyTransactionListView(generics.ListAPIView):
    """The customer's ledger, newest first; the current brand's only when one is named."""

    permission_classes = [IsCustomer]
    serializer_class = LoyaltyTransactionOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = TransactionFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return LoyaltyTransaction.objects.none()
        brand = get_current_brand(self.request)
        return selectors.transactions_for_customer(
            customer=request_customer(self.request), brand_id=brand.pk if brand else None
        )

    @extend_schema(
        tags=["loyalty"],
        parameters=[BRAND_PARAMETER],
        responses={
            200: LoyaltyTransactionOutputSerializer(many=True),
            **ERRORS,
            404: PAGE_NOT_FOUND,
        },
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class AccountFilter(django_filters.FilterSet):
    brand = django_filters.CharFilter(field_name="program__brand__slug")
    customer = django_filters.NumberFilter(field_name="customer_id")
    email = django_filters.CharFilter(field_name="customer__email", lookup_expr="iexact")
    negative = django_filters.BooleanFilter(
        method="filter_negative", help_text="true: only accounts below zero."
    )

    class Meta:
        model = LoyaltyAccount
        fields = ["brand", "customer", "email", "negative"]

    def filter_negative(self, queryset, name, value):
        if value is None:
            return queryset
        return (
            queryset.filter(available_points__lt=0)
            if value
            else queryset.exclude(available_points__lt=0)
        )


class LoyaltyAccountListView(generics.ListAPIView):
    """Staff: the loyalty accounts of their brands."""

    permission_classes = [IsStaff & StaffModelPermissions]
    serializer_class = LoyaltyAccountOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = AccountFilter
    queryset = LoyaltyAccount.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return LoyaltyAccount.objects.none()
        return selectors.accounts_for_staff(user=self.request.user)

    @extend_schema(
        tags=["loyalty"],
        responses={200: LoyaltyAccountOutputSerializer(many=True), **ERRORS, 404: PAGE_NOT_FOUND},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class CanAdjustPoints(BasePermission):
    message = "Your role may not adjust loyalty points."

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("loyalty_management.add_loyaltytransaction")


class LoyaltyAdjustmentCreateView(APIView):
    """Staff: credit or debit an account of their brands by hand, with a mandatory reason.
    Within the limits of their role it is approved at once (201); above them it waits for a
    brand admin's approval (202)."""

    permission_classes = [IsStaff & CanAdjustPoints]

    @extend_schema(
        tags=["loyalty"],
        request=AdjustmentInputSerializer,
        responses={
            201: LoyaltyAdjustmentOutputSerializer,
            202: LoyaltyAdjustmentOutputSerializer,
            **ERRORS,
            404: ErrorSerializer,
        },
    )
    def post(self, request, account_id: int):
        data = parse_input(AdjustmentInputSerializer, request.data)
        account = selectors.accounts_for_staff(user=request.user).filter(pk=account_id).first()
        if account is None:
            raise NotFoundError("No such loyalty account.", code="loyalty_account_not_found")
        adjustment = account_adjust(
            account_id=account.pk,
            points=data["points"],
            reason=data["reason"],
            actor=request.user,
            idempotency_key=data.get("idempotency_key"),
        )
        return Response(
            _adjustment_output(adjustment.pk),
            status=status.HTTP_202_ACCEPTED
            if adjustment.status == LoyaltyAdjustment.Status.PENDING
            else status.HTTP_201_CREATED,
        )


def _adjustment_output(adjustment_id: int) -> dict:
    adjustment = LoyaltyAdjustment.objects.select_related(
        "account__program__brand", "requested_by", "decided_by"
    ).get(pk=adjustment_id)
    return LoyaltyAdjustmentOutputSerializer(adjustment).data


class AdjustmentFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=LoyaltyAdjustment.Status.choices)
    account = IdFilter(field_name="account_id")

    class Meta:
        model = LoyaltyAdjustment
        fields = ["status", "account"]


class LoyaltyAdjustmentListView(generics.ListAPIView):
    """Staff: the manual adjustments of their brands' accounts, newest first."""

    permission_classes = [IsStaff & StaffModelPermissions]
    serializer_class = LoyaltyAdjustmentOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = AdjustmentFilter
    queryset = LoyaltyAdjustment.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return LoyaltyAdjustment.objects.none()
        return selectors.adjustments_for_staff(user=self.request.user)

    @extend_schema(
        tags=["loyalty"],
        responses={
            200: LoyaltyAdjustmentOutputSerializer(many=True),
            **ERRORS,
            404: PAGE_NOT_FOUND,
        },
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class CanApproveAdjustments(BasePermission):
    message = "Your role may not approve point adjustments."

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("loyalty_management.approve_loyaltyadjustment")


class LoyaltyAdjustmentApproveView(APIView):
    """Brand admins: approve a pending adjustment of their brands; it goes through the ledger."""

    permission_classes = [IsStaff & CanApproveAdjustments]
    approve = True

    @extend_schema(
        tags=["loyalty"],
        request=None,
        responses={
            200: LoyaltyAdjustmentOutputSerializer,
            **ERRORS,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request, adjustment_id: int):
        adjustment = (
            selectors.adjustments_for_staff(user=request.user).filter(pk=adjustment_id).first()
        )
        if adjustment is None:
            raise NotFoundError("No such adjustment.", code="loyalty_adjustment_not_found")
        account_adjustment_decide(
            adjustment_id=adjustment.pk, approve=self.approve, actor=request.user
        )
        return Response(_adjustment_output(adjustment.pk))


class LoyaltyAdjustmentRejectView(LoyaltyAdjustmentApproveView):
    """Brand admins: reject a pending adjustment of their brands; the ledger is not touched."""

    approve = False


# --- Badges -------------------------------------------------------------------------------------


class BadgeFilter(django_filters.FilterSet):
    brand = django_filters.CharFilter(field_name="brand__slug")
    kind = django_filters.ChoiceFilter(choices=BadgeDefinition.Kind.choices)
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = BadgeDefinition
        fields = ["brand", "kind", "is_active"]


def _badge_for_staff(user, badge_id: int) -> BadgeDefinition:
    badge = selectors.badges_for_staff(user=user).filter(pk=badge_id).first()
    if badge is None:
        raise NotFoundError("No such badge.", code="badge_not_found")
    return badge


class BadgeDefinitionListView(generics.ListAPIView):
    """Staff: the badges of their brands; create one."""

    permission_classes = [IsStaff & StaffModelPermissions]
    serializer_class = BadgeDefinitionOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = BadgeFilter
    queryset = BadgeDefinition.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return BadgeDefinition.objects.none()
        return selectors.badges_for_staff(user=self.request.user)

    @extend_schema(
        tags=["loyalty"],
        responses={200: BadgeDefinitionOutputSerializer(many=True), **ERRORS, 404: PAGE_NOT_FOUND},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["loyalty"],
        request=BadgeDefinitionInputSerializer,
        responses={201: BadgeDefinitionOutputSerializer, **ERRORS},
        examples=[
            OpenApiExample(
                "Five paid orders",
                request_only=True,
                value={
                    "brand": "burger-town",
                    "name": "Regular",
                    "description": "Five paid orders.",
                    "icon": "medal",
                    "kind": "order_count",
                    "order_count": 5,
                },
            )
        ],
    )
    def post(self, request):
        data = parse_input(BadgeDefinitionInputSerializer, request.data)
        brand = staff_brand_by_slug(request.user, data.pop("brand"))
        badge = badge_definition_save(brand=brand, data=data)
        return Response(BadgeDefinitionOutputSerializer(badge).data, status=status.HTTP_201_CREATED)


class BadgeDefinitionDetailView(generics.GenericAPIView):
    """Staff: one badge of their brands; change it, or delete it while nobody holds it."""

    permission_classes = [IsStaff & StaffModelPermissions]
    serializer_class = BadgeDefinitionOutputSerializer
    queryset = BadgeDefinition.objects.none()

    @extend_schema(
        tags=["loyalty"],
        responses={200: BadgeDefinitionOutputSerializer, **ERRORS, 404: ErrorSerializer},
    )
    def get(self, request, badge_id: int):
        badge = _badge_for_staff(request.user, badge_id)
        return Response(BadgeDefinitionOutputSerializer(badge).data)

    @extend_schema(
        tags=["loyalty"],
        request=BadgeDefinitionUpdateInputSerializer,
        responses={200: BadgeDefinitionOutputSerializer, **ERRORS, 404: ErrorSerializer},
    )
    def patch(self, request, badge_id: int):
        badge = _badge_for_staff(request.user, badge_id)
        data = parse_input(BadgeDefinitionUpdateInputSerializer, request.data, partial=True)
        badge = badge_definition_save(badge=badge, data=data)
        return Response(BadgeDefinitionOutputSerializer(badge).data)

    @extend_schema(
        tags=["loyalty"],
        request=None,
        responses={204: None, **ERRORS, 404: ErrorSerializer, 409: ErrorSerializer},
    )
    def delete(self, request, badge_id: int):
        badge_definition_delete(badge=_badge_for_staff(request.user, badge_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Points catalogue and redemptions ----------------------------------------------------------

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    "Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Up to 128 printable ASCII characters. A replay returns the first request with 200; "
        "the same key for another item is 409 `idempotency_key_reused`."
    ),
)


def _customer_brand(request):
    brand = get_current_brand(request)
    if brand is None:
        raise ApplicationError(
            "Name the brand with the X-Brand header.",
            code="brand_required",
            fields={"X-Brand": ["Required."]},
        )
    return brand


class MyCatalogueView(APIView):
    """The current brand's points catalogue, with whether the customer can redeem each item
    and, when not, why."""

    permission_classes = [IsCustomer]

    @extend_schema(
        tags=["loyalty"],
        parameters=[BRAND_PARAMETER],
        responses={200: CatalogueEntryOutputSerializer(many=True), **ERRORS},
    )
    def get(self, request):
        brand = _customer_brand(request)
        entries = selectors.catalogue_for_customer(
            customer=request_customer(request), brand_id=brand.pk
        )
        return Response(CatalogueEntryOutputSerializer(entries, many=True).data)


class MyRedemptionFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=RedemptionRequest.Status.choices)

    class Meta:
        model = RedemptionRequest
        fields = ["status"]


class MyRedemptionListView(generics.ListAPIView):
    """The customer's redemption requests at the current brand, newest first; make one."""

    permission_classes = [IsCustomer]
    serializer_class = RedemptionOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = MyRedemptionFilter

    def get_throttles(self):
        # Making a request counts under `redemptions`; listing under `default`.
        self.throttle_scope = "redemptions" if self.request.method == "POST" else "default"
        return super().get_throttles()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RedemptionRequest.objects.none()
        return selectors.redemption_requests_for_customer(
            customer=request_customer(self.request), brand_id=_customer_brand(self.request).pk
        )

    @extend_schema(
        tags=["loyalty"],
        parameters=[BRAND_PARAMETER],
        responses={200: RedemptionOutputSerializer(many=True), **ERRORS, 404: PAGE_NOT_FOUND},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["loyalty"],
        parameters=[BRAND_PARAMETER, IDEMPOTENCY_PARAMETER],
        request=RedemptionCreateInputSerializer,
        responses={
            201: RedemptionOutputSerializer,
            200: RedemptionOutputSerializer,
            **ERRORS,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
        examples=[OpenApiExample("Redeem an item", request_only=True, value={"item": 12})],
    )
    def post(self, request):
        data = parse_input(RedemptionCreateInputSerializer, request.data)
        key = request.headers.get("Idempotency-Key")
        if key is not None and not IDEMPOTENCY_KEY_PATTERN.match(key):
            raise ApplicationError(
                "The Idempotency-Key is up to 128 printable ASCII characters.",
                code="invalid_idempotency_key",
                fields={"Idempotency-Key": ["Up to 128 printable ASCII characters."]},
            )
        redemption, created = redemption_request(
            customer=request_customer(request),
            brand=_customer_brand(request),
            item_id=data["item"],
            idempotency_key=key,
        )
        return Response(
            RedemptionOutputSerializer(redemption).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class MyRedemptionCancelView(APIView):
    """The customer withdraws a request still waiting for approval; the points go back."""

    permission_classes = [IsCustomer]

    @extend_schema(
        tags=["loyalty"],
        request=None,
        responses={
            200: RedemptionOutputSerializer,
            **ERRORS,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request, redemption_id: int):
        redemption, _ = redemption_cancel(
            request_id=redemption_id, customer=request_customer(request)
        )
        return Response(RedemptionOutputSerializer(redemption).data)


class CanDecideRedemptions(BasePermission):
    message = "Your role may not decide redemption requests."

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("loyalty_management.change_redemptionrequest")


class StaffRedemptionFilter(django_filters.FilterSet):
    brand = django_filters.CharFilter(field_name="brand__slug")
    status = django_filters.MultipleChoiceFilter(choices=RedemptionRequest.Status.choices)
    customer = IdFilter(field_name="customer_id")
    item = IdFilter(field_name="item_id")

    class Meta:
        model = RedemptionRequest
        fields = ["brand", "status", "customer", "item"]


class RedemptionListView(generics.ListAPIView):
    """Staff: the redemption requests of their brands (the approval queue with
    `status=requested`), oldest first."""

    permission_classes = [IsStaff & StaffModelPermissions]
    serializer_class = StaffRedemptionOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = StaffRedemptionFilter
    queryset = RedemptionRequest.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RedemptionRequest.objects.none()
        return selectors.redemption_requests_for_staff(user=self.request.user).order_by(
            "created_at", "id"
        )

    @extend_schema(
        tags=["loyalty"],
        responses={
            200: StaffRedemptionOutputSerializer(many=True),
            **ERRORS,
            404: PAGE_NOT_FOUND,
        },
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


def _staff_brand_ids(user) -> list[int]:
    return list(scope_to_user_brands(Brand.objects.all(), user, "pk").values_list("pk", flat=True))


class RedemptionApproveView(APIView):
    """Staff: approve a waiting request of their brands (approving it again changes nothing)."""

    permission_classes = [IsStaff & CanDecideRedemptions]

    @extend_schema(
        tags=["loyalty"],
        request=None,
        responses={
            200: StaffRedemptionOutputSerializer,
            **ERRORS,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request, redemption_id: int):
        redemption, _ = redemption_approve(
            request_id=redemption_id,
            actor=request.user,
            brand_ids=_staff_brand_ids(request.user),
        )
        return Response(StaffRedemptionOutputSerializer(redemption).data)


class RedemptionRejectView(APIView):
    """Staff: reject a waiting request of their brands, with a reason; the points go back."""

    permission_classes = [IsStaff & CanDecideRedemptions]

    @extend_schema(
        tags=["loyalty"],
        request=RedemptionRejectInputSerializer,
        responses={
            200: StaffRedemptionOutputSerializer,
            **ERRORS,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request, redemption_id: int):
        data = parse_input(RedemptionRejectInputSerializer, request.data)
        redemption, _ = redemption_reject(
            request_id=redemption_id,
            actor=request.user,
            reason=data["reason"],
            brand_ids=_staff_brand_ids(request.user),
        )
        return Response(StaffRedemptionOutputSerializer(redemption).data)


class RedemptionFulfilView(APIView):
    """Staff: record how an approved physical item is sent (sent or delivered fulfils it)."""

    permission_classes = [IsStaff & CanDecideRedemptions]

    @extend_schema(
        tags=["loyalty"],
        request=RedemptionFulfilInputSerializer,
        responses={
            200: StaffRedemptionOutputSerializer,
            **ERRORS,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request, redemption_id: int):
        data = parse_input(RedemptionFulfilInputSerializer, request.data)
        redemption = redemption_fulfil(
            request_id=redemption_id,
            actor=request.user,
            fulfilment_status=data["fulfilment_status"],
            note=data["note"],
            brand_ids=_staff_brand_ids(request.user),
        )
        return Response(StaffRedemptionOutputSerializer(redemption).data)


class RedemptionBulkDecideView(APIView):
    """Staff: approve or reject (with a reason) several requests of their brands; each is
    decided on its own, and the answer says, per id, the status or why it was refused."""

    permission_classes = [IsStaff & CanDecideRedemptions]

    @extend_schema(
        tags=["loyalty"],
        request=RedemptionBulkDecideInputSerializer,
        responses={200: RedemptionBulkResultOutputSerializer(many=True), **ERRORS},
    )
    def post(self, request):
        data = parse_input(RedemptionBulkDecideInputSerializer, request.data)
        results = redemptions_decide(
            request_ids=data["ids"],
            approve=data["decision"] == "approve",
            reason=data["reason"],
            actor=request.user,
            brand_ids=_staff_brand_ids(request.user),
        )
        return Response(RedemptionBulkResultOutputSerializer(results, many=True).data)


class RedemptionCategoryFilter(django_filters.FilterSet):
    brand = django_filters.CharFilter(field_name="brand__slug")

    class Meta:
        model = RedemptionCategory
        fields = ["brand"]


class RedemptionCategoryListView(generics.ListAPIView):
    """Staff: the catalogue categories of their brands; create one."""

    permission_classes = [IsStaff & StaffModelPermissions]
    serializer_class = RedemptionCategoryOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = RedemptionCategoryFilter
    queryset = RedemptionCategory.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RedemptionCategory.objects.none()
        return scope_to_user_brands(
            RedemptionCategory.objects.select_related("brand"), self.request.user, "brand"
        )

    @extend_schema(
        tags=["loyalty"],
        responses={
            200: RedemptionCategoryOutputSerializer(many=True),
            **ERRORS,
            404: PAGE_NOT_FOUND,
        },
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["loyalty"],
        request=RedemptionCategoryInputSerializer,
        responses={201: RedemptionCategoryOutputSerializer, **ERRORS},
    )
    def post(self, request):
        data = parse_input(RedemptionCategoryInputSerializer, request.data)
        brand = staff_brand_by_slug(request.user, data.pop("brand"))
        category = redemption_category_save(brand=brand, data=data)
        return Response(
            RedemptionCategoryOutputSerializer(category).data, status=status.HTTP_201_CREATED
        )


class RedemptionItemFilter(django_filters.FilterSet):
    brand = django_filters.CharFilter(field_name="brand__slug")
    kind = django_filters.ChoiceFilter(choices=RedemptionItem.Kind.choices)
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = RedemptionItem
        fields = ["brand", "kind", "is_active"]


class RedemptionItemListView(generics.ListAPIView):
    """Staff: the catalogue items of their brands; create one."""

    permission_classes = [IsStaff & StaffModelPermissions]
    serializer_class = RedemptionItemOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = RedemptionItemFilter
    queryset = RedemptionItem.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RedemptionItem.objects.none()
        return selectors.redemption_items_for_staff(user=self.request.user)

    @extend_schema(
        tags=["loyalty"],
        responses={200: RedemptionItemOutputSerializer(many=True), **ERRORS, 404: PAGE_NOT_FOUND},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["loyalty"],
        request=RedemptionItemInputSerializer,
        responses={201: RedemptionItemOutputSerializer, **ERRORS},
        examples=[
            OpenApiExample(
                "Five in the wallet for 500 points",
                request_only=True,
                value={
                    "brand": "burger-town",
                    "name": "5.00 wallet credit",
                    "points_cost": 500,
                    "kind": "wallet_credit",
                    "wallet_amount": "5.00",
                },
            )
        ],
    )
    def post(self, request):
        data = parse_input(RedemptionItemInputSerializer, request.data)
        brand = staff_brand_by_slug(request.user, data.pop("brand"))
        item = redemption_item_save(brand=brand, data=data)
        return Response(RedemptionItemOutputSerializer(item).data, status=status.HTTP_201_CREATED)


class RedemptionItemDetailView(generics.GenericAPIView):
    """Staff: one catalogue item of their brands; change it."""

    permission_classes = [IsStaff & StaffModelPermissions]
    serializer_class = RedemptionItemOutputSerializer
    queryset = RedemptionItem.objects.none()

    def _item(self, item_id: int) -> RedemptionItem:
        item = selectors.redemption_items_for_staff(user=self.request.user).filter(pk=item_id)
        if not item:
            raise NotFoundError("No such item in the catalogue.", code="not_found")
        return item[0]

    @extend_schema(
        tags=["loyalty"],
        responses={200: RedemptionItemOutputSerializer, **ERRORS, 404: ErrorSerializer},
    )
    def get(self, request, item_id: int):
        return Response(RedemptionItemOutputSerializer(self._item(item_id)).data)

    @extend_schema(
        tags=["loyalty"],
        request=RedemptionItemUpdateInputSerializer,
        responses={200: RedemptionItemOutputSerializer, **ERRORS, 404: ErrorSerializer},
    )
    def patch(self, request, item_id: int):
        item = self._item(item_id)
        data = parse_input(RedemptionItemUpdateInputSerializer, request.data, partial=True)
        item = redemption_item_save(item=item, data=data)
        return Response(RedemptionItemOutputSerializer(item).data)
