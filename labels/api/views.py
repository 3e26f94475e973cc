"""Labels for staff: global labels and their brands' labels; assigning them to customers and
products of their brands."""

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response

from brands.selectors import scope_to_user_brands, staff_brand_by_slug
from catalog.models import Product
from core.api.errors import PAGE_NOT_FOUND, ErrorSerializer
from core.api.permissions import IsStaff, StaffModelPermissions
from core.errors import ApplicationError, PermissionDeniedError
from customers.models import Customer
from labels.api.filters import LabelFilter
from labels.api.serializers import (
    LabelAssignmentOutputSerializer,
    LabelCreateInputSerializer,
    LabelOutputSerializer,
    LabelTargetInputSerializer,
    LabelUnassignmentOutputSerializer,
)
from labels.models import Label
from labels.services import (
    label_assign_customer,
    label_assign_product,
    label_create,
    label_unassign_customer,
    label_unassign_product,
)

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer}
ASSIGNMENT_MODELS = {Label.Type.CUSTOMER: "customerlabel", Label.Type.PRODUCT: "productlabel"}


class LabelAssignmentPermissions(permissions.BasePermission):
    """Staff assign a label with `labels.add_<type>label` and remove it with `delete_`."""

    message = "Your role may not change these label assignments."

    def has_permission(self, request, view) -> bool:
        return IsStaff().has_permission(request, view)

    def has_object_permission(self, request, view, obj) -> bool:
        model = ASSIGNMENT_MODELS.get(obj.type)
        if model is None:
            return True  # nothing can carry it; the service refuses with `label_type_mismatch`
        verb = "add" if view.action == "assign" else "delete"
        return request.user.has_perm(f"labels.{verb}_{model}")


def _unknown(field: str) -> ApplicationError:
    return ApplicationError(
        f"Unknown {field}.", code=f"unknown_{field}", fields={field: [f"Unknown {field}."]}
    )


@extend_schema_view(
    list=extend_schema(
        summary="List labels: global ones and your brands'",
        responses={200: LabelOutputSerializer(many=True), **ERRORS, 404: PAGE_NOT_FOUND},
    ),
    retrieve=extend_schema(
        summary="A label", responses={200: LabelOutputSerializer, **ERRORS, 404: ErrorSerializer}
    ),
)
@extend_schema(tags=["labels"])
class LabelViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [StaffModelPermissions]
    serializer_class = LabelOutputSerializer
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = LabelFilter
    ordering_fields = ["name", "type", "created_at", "id"]
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return Label.objects.none()
        user = self.request.user
        if not user.has_perm("labels.view_label"):
            return Label.objects.none()
        return scope_to_user_brands(
            Label.objects.select_related("brand"), user, "brand", include_global=True
        )

    @extend_schema(
        summary="Create a label",
        request=LabelCreateInputSerializer,
        responses={201: LabelOutputSerializer, **ERRORS, 409: ErrorSerializer},
    )
    def create(self, request, *args, **kwargs):
        serializer = LabelCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        slug = data.pop("brand")
        if slug is None:
            if not request.user.is_superuser:
                raise PermissionDeniedError(
                    "Only superusers create global labels.",
                    code="global_label_forbidden",
                    fields={"brand": ["Name one of your brands."]},
                )
            brand = None
        else:
            brand = staff_brand_by_slug(request.user, slug)
        label = label_create(brand=brand, **data)
        return Response(LabelOutputSerializer(label).data, status=status.HTTP_201_CREATED)

    def _target(self, data) -> tuple[Customer | None, Product | None]:
        user = self.request.user
        if "customer" in data:
            customer = (
                scope_to_user_brands(Customer.objects.all(), user, "brand_links__brand")
                .filter(pk=data["customer"])
                .first()
            )
            if customer is None:
                raise _unknown("customer")
            return customer, None
        product = (
            scope_to_user_brands(Product.objects.all(), user, "brand")
            .filter(pk=data["product"])
            .first()
        )
        if product is None:
            raise _unknown("product")
        return None, product

    @extend_schema(
        summary="Assign a label to a customer or a product",
        request=LabelTargetInputSerializer,
        responses={
            201: LabelAssignmentOutputSerializer,
            200: LabelAssignmentOutputSerializer,
            **ERRORS,
            404: ErrorSerializer,
        },
    )
    @action(detail=True, methods=["post"], permission_classes=[LabelAssignmentPermissions])
    def assign(self, request, pk=None):
        label = self.get_object()
        serializer = LabelTargetInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        customer, product = self._target(serializer.validated_data)
        if customer is not None:
            _, created = label_assign_customer(label=label, customer=customer, actor=request.user)
        else:
            _, created = label_assign_product(label=label, product=product, actor=request.user)
        body = {
            "label": label.pk,
            "customer": customer and customer.pk,
            "product": product and product.pk,
            "assigned": created,
        }
        return Response(
            LabelAssignmentOutputSerializer(body).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        summary="Remove a label from a customer or a product",
        request=LabelTargetInputSerializer,
        responses={200: LabelUnassignmentOutputSerializer, **ERRORS, 404: ErrorSerializer},
    )
    @action(detail=True, methods=["post"], permission_classes=[LabelAssignmentPermissions])
    def unassign(self, request, pk=None):
        label = self.get_object()
        serializer = LabelTargetInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        customer, product = self._target(serializer.validated_data)
        if customer is not None:
            removed = label_unassign_customer(label=label, customer=customer, actor=request.user)
        else:
            removed = label_unassign_product(label=label, product=product, actor=request.user)
        body = {
            "label": label.pk,
            "customer": customer and customer.pk,
            "product": product and product.pk,
            "removed": removed,
        }
        return Response(LabelUnassignmentOutputSerializer(body).data)
