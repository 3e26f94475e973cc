"""Customers for staff of the brands that know them, and `me` for the customer themself."""

from django.db.models import Prefetch
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from brands.selectors import scope_to_user_brands, staff_brand_by_slug
from core.api.errors import PAGE_NOT_FOUND, ErrorSerializer
from core.api.inputs import parse_input
from core.api.permissions import IsCustomer, IsStaff, StaffModelPermissions, request_customer
from core.privacy import EMAIL, Level, pii_level
from customers.api.filters import CustomerFilter
from customers.api.serializers import (
    CustomerCreateInputSerializer,
    CustomerDetailOutputSerializer,
    CustomerOutputSerializer,
    CustomerUpdateInputSerializer,
    MeOutputSerializer,
    MeUpdateInputSerializer,
)
from customers.gdpr import customer_erase, customer_export
from customers.models import Customer, CustomerBrand
from customers.services import customer_create, customer_update, customer_update_own_profile
from labels.models import CustomerLabel

READ_ERRORS = {401: ErrorSerializer, 403: ErrorSerializer}


# How a profile field without a value is stored (the others are "").
_EMPTY = {"email": None, "birth_date": None, "external_id": None}


class CanExportPersonalData(BasePermission):
    message = "Your role may not export customers' personal data."

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("customers.export_customer")


class CanErasePersonalData(BasePermission):
    message = "Your role may not erase customers' personal data."

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("customers.erase_customer")


class CustomerEraseOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    erased = serializers.BooleanField(help_text="False when the data was already erased.")
    erased_at = serializers.DateTimeField()


WRITE_ERRORS = {**READ_ERRORS, 400: ErrorSerializer, 409: ErrorSerializer}


@extend_schema_view(
    list=extend_schema(
        summary="List the customers your brands know",
        responses={
            200: CustomerOutputSerializer(many=True),
            **READ_ERRORS,
            400: ErrorSerializer,
            404: PAGE_NOT_FOUND,
        },
    ),
    retrieve=extend_schema(
        summary="A customer, with their labels",
        responses={200: CustomerDetailOutputSerializer, **READ_ERRORS, 404: ErrorSerializer},
    ),
)
@extend_schema(tags=["customers"])
class CustomerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Staff only, scoped to the brands they work for (superusers see every customer)."""

    permission_classes = [StaffModelPermissions]
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = CustomerFilter

    @property
    def ordering_fields(self) -> list[str]:
        """Ordering by email only for who sees emails in full (an order reveals them too)."""
        fields = ["created_at", "last_name", "id"]
        request = getattr(self, "request", None)
        if request is None or pii_level(request.user, EMAIL) is Level.FULL:
            fields.insert(2, "email")
        return fields

    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Customer.objects.none()
        user = self.request.user
        links = scope_to_user_brands(CustomerBrand.objects.select_related("brand"), user, "brand")
        labels = scope_to_user_brands(
            CustomerLabel.objects.select_related("label__brand"),
            user,
            "label__brand",
            include_global=True,
        )
        return scope_to_user_brands(
            Customer.objects.all(), user, "brand_links__brand"
        ).prefetch_related(
            Prefetch("brand_links", queryset=links, to_attr="visible_brand_links"),
            Prefetch("label_assignments", queryset=labels, to_attr="visible_label_assignments"),
        )

    def get_serializer_class(self):
        if self.action == "list":
            return CustomerOutputSerializer
        return CustomerDetailOutputSerializer

    def _detail(self, pk: int) -> dict:
        customer = self.get_queryset().get(pk=pk)
        return CustomerDetailOutputSerializer(customer, context=self.get_serializer_context()).data

    @extend_schema(
        summary="Create a customer known to one of your brands",
        request=CustomerCreateInputSerializer,
        responses={201: CustomerDetailOutputSerializer, **WRITE_ERRORS},
    )
    def create(self, request, *args, **kwargs):
        data = parse_input(CustomerCreateInputSerializer, request.data)
        brand = staff_brand_by_slug(request.user, data.pop("brand"))
        started = timezone.now()
        customer = customer_create(brand=brand, **data)
        if customer.created_at >= started:
            return Response(self._detail(customer.pk), status=status.HTTP_201_CREATED)
        # A customer another brand knew, now known to this one: answer exactly as for a new
        # customer, with what was sent, so the answer tells nothing of the existing profile.
        return Response(self._as_submitted(customer.pk, data), status=status.HTTP_201_CREATED)

    def _as_submitted(self, pk: int, data: dict) -> dict:
        customer = self.get_queryset().get(pk=pk)
        for name in ("email", "phone", "first_name", "last_name", "birth_date", "external_id"):
            value = data.get(name)
            if name == "email" and value:
                value = value.strip().lower()
            setattr(customer, name, value if value not in (None, "") else _EMPTY.get(name, ""))
        customer.created_at = customer.updated_at = timezone.now()
        customer.visible_label_assignments = []
        return CustomerDetailOutputSerializer(customer, context=self.get_serializer_context()).data

    @extend_schema(
        summary="Change a customer",
        request=CustomerUpdateInputSerializer,
        responses={200: CustomerDetailOutputSerializer, **WRITE_ERRORS, 404: ErrorSerializer},
    )
    def partial_update(self, request, *args, **kwargs):
        customer = self.get_object()
        data = parse_input(CustomerUpdateInputSerializer, request.data, partial=True)
        customer_update(customer=customer, actor=request.user, **data)
        return Response(self._detail(customer.pk))

    @extend_schema(
        summary="Export a customer's personal data (one JSON document)",
        description=(
            "Profile, brands, labels, orders with lines, POS tickets, loyalty accounts and "
            "ledger, promotion uses, notifications and rule firings: the records of your brands."
            " The export is audited."
        ),
        request=None,
        responses={200: OpenApiTypes.OBJECT, **READ_ERRORS, 404: ErrorSerializer},
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="export",
        permission_classes=[IsStaff, CanExportPersonalData],
    )
    def export(self, request, pk=None):
        customer = self.get_object()
        return Response(customer_export(customer=customer, actor=request.user, via="api"))

    @extend_schema(
        summary="Erase a customer's personal data",
        description=(
            "Name, email, phone, birth date and external id are removed, the storefront login "
            "is disabled, notification texts and addresses are removed. Orders, totals and "
            "loyalty points are kept. Audited; a second call changes nothing."
        ),
        request=None,
        responses={200: CustomerEraseOutputSerializer, **WRITE_ERRORS, 404: ErrorSerializer},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="erase",
        permission_classes=[IsStaff, CanErasePersonalData],
    )
    def erase(self, request, pk=None):
        customer = self.get_object()
        erased = customer_erase(customer=customer, actor=request.user, via="api")
        customer.refresh_from_db(fields=["erased_at"])
        body = {"id": customer.pk, "erased": erased, "erased_at": customer.erased_at}
        return Response(CustomerEraseOutputSerializer(body).data)


@extend_schema(tags=["me"])
class MeView(APIView):
    """The signed-in customer's own profile."""

    permission_classes = [IsCustomer]

    def _customer(self, request) -> Customer:
        return Customer.objects.prefetch_related("brands").get(pk=request_customer(request).pk)

    @extend_schema(summary="Your profile", responses={200: MeOutputSerializer, **READ_ERRORS})
    def get(self, request):
        return Response(MeOutputSerializer(self._customer(request)).data)

    @extend_schema(
        summary="Change your profile",
        description=(
            "Changing your email address (your login) needs `current_password`; too many wrong "
            "ones pause your logins (429)."
        ),
        request=MeUpdateInputSerializer,
        responses={200: MeOutputSerializer, **WRITE_ERRORS, 429: ErrorSerializer},
    )
    def patch(self, request):
        data = parse_input(MeUpdateInputSerializer, request.data, partial=True)
        customer_update_own_profile(customer=request_customer(request), request=request, **data)
        return Response(MeOutputSerializer(self._customer(request)).data)
