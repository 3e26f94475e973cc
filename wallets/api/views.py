"""Wallets for customers (their wallets and ledger) and for staff (their brands' wallets and
manual adjustments)."""

import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from brands.selectors import get_current_brand
from core.api.errors import PAGE_NOT_FOUND, ErrorSerializer
from core.api.filters import IdFilter, UtcIsoDateTimeFilter
from core.api.inputs import parse_input
from core.api.permissions import IsCustomer, IsStaff, StaffModelPermissions, request_customer
from core.errors import NotFoundError
from wallets import selectors
from wallets.api.serializers import (
    StaffWalletOutputSerializer,
    WalletAdjustmentInputSerializer,
    WalletOutputSerializer,
    WalletTransactionOutputSerializer,
)
from wallets.models import Wallet, WalletTransaction
from wallets.services import wallet_adjust

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer}
BRAND_PARAMETER = OpenApiParameter(
    "X-Brand",
    location=OpenApiParameter.HEADER,
    required=False,
    description="Slug of a brand: only its wallet (else the customer's wallets at every brand).",
)


def _brand_id(request) -> int | None:
    brand = get_current_brand(request)
    return brand.pk if brand else None


class MyWalletListView(generics.ListAPIView):
    """The customer's wallets with their balances, one per brand they have credit at."""

    permission_classes = [IsCustomer]
    serializer_class = WalletOutputSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Wallet.objects.none()
        return selectors.wallets_for_customer(
            customer=request_customer(self.request), brand_id=_brand_id(self.request)
        )

    @extend_schema(
        tags=["wallets"],
        parameters=[BRAND_PARAMETER],
        responses={200: WalletOutputSerializer(many=True), **ERRORS, 404: PAGE_NOT_FOUND},
        examples=[
            OpenApiExample(
                "Wallets",
                response_only=True,
                value={
                    "count": 1,
                    "next": None,
                    "previous": None,
                    "results": [
                        {
                            "id": 7,
                            "brand": "burger-town",
                            "currency": "EUR",
                            "balance": "12.50",
                            "updated_at": "2026-06-01T12:00:00Z",
                        }
                    ],
                },
            )
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class TransactionFilter(django_filters.FilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=WalletTransaction.Kind.choices)
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    order = IdFilter(field_name="order_id")

    class Meta:
        model = WalletTransaction
        fields = ["kind", "created_after", "created_before", "order"]


class MyWalletTransactionListView(generics.ListAPIView):
    """The customer's wallet ledger, newest first; the current brand's only when one is named."""

    permission_classes = [IsCustomer]
    serializer_class = WalletTransactionOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = TransactionFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WalletTransaction.objects.none()
        return selectors.transactions_for_customer(
            customer=request_customer(self.request), brand_id=_brand_id(self.request)
        )

    @extend_schema(
        tags=["wallets"],
        parameters=[BRAND_PARAMETER],
        responses={
            200: WalletTransactionOutputSerializer(many=True),
            **ERRORS,
            404: PAGE_NOT_FOUND,
        },
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class WalletFilter(django_filters.FilterSet):
    brand = django_filters.CharFilter(field_name="brand__slug")
    customer = IdFilter(field_name="customer_id")
    email = django_filters.CharFilter(field_name="customer__email", lookup_expr="iexact")

    class Meta:
        model = Wallet
        fields = ["brand", "customer", "email"]


class WalletListView(generics.ListAPIView):
    """Staff: the wallets of their brands."""

    permission_classes = [IsStaff & StaffModelPermissions]
    serializer_class = StaffWalletOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = WalletFilter
    queryset = Wallet.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Wallet.objects.none()
        return selectors.wallets_for_staff(user=self.request.user)

    @extend_schema(
        tags=["wallets"],
        responses={200: StaffWalletOutputSerializer(many=True), **ERRORS, 404: PAGE_NOT_FOUND},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class CanAdjustWallets(BasePermission):
    message = "Your role may not adjust wallets."

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("wallets.add_wallettransaction")


class WalletAdjustmentCreateView(APIView):
    """Staff: credit or debit a wallet of their brands by hand, with a mandatory reason, within
    the limit of their role. A debit never takes the wallet below zero."""

    permission_classes = [IsStaff & CanAdjustWallets]

    @extend_schema(
        tags=["wallets"],
        request=WalletAdjustmentInputSerializer,
        responses={
            201: WalletTransactionOutputSerializer,
            200: WalletTransactionOutputSerializer,
            **ERRORS,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request, wallet_id: int):
        data = parse_input(WalletAdjustmentInputSerializer, request.data)
        wallet = selectors.wallets_for_staff(user=request.user).filter(pk=wallet_id).first()
        if wallet is None:
            raise NotFoundError("No such wallet.", code="wallet_not_found")
        key = data.get("idempotency_key")
        write = wallet_adjust(
            wallet_id=wallet.pk,
            amount=data["amount"],
            reason=data["reason"],
            actor=request.user,
            idempotency_key=f"wallet:adjustment:{wallet.pk}:{key}" if key else None,
        )
        return Response(
            WalletTransactionOutputSerializer(write.transaction).data,
            status=status.HTTP_201_CREATED if write.created else status.HTTP_200_OK,
        )
