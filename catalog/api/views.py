"""The catalog, read only: staff see their brands' products (inactive ones too), POS devices
their store's brand, customers the active products of the brand they shop at."""

from django.db.models import Prefetch, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.filters import OrderingFilter

from brands.selectors import BRAND_HEADER, get_current_brand, scope_to_user_brands
from catalog.api.filters import CategoryFilter, ProductFilter
from catalog.api.serializers import CategoryOutputSerializer, ProductOutputSerializer
from catalog.models import Category, Product
from core.api.errors import PAGE_NOT_FOUND, ErrorSerializer
from core.api.permissions import (
    IsCustomer,
    IsPosDevice,
    IsStaff,
    StaffModelPermissions,
    is_device_request,
)
from labels.models import ProductLabel

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer}
BRAND_PARAMETER = OpenApiParameter(
    "X-Brand",
    location=OpenApiParameter.HEADER,
    required=False,
    description="Customers: slug of the brand whose storefront they use.",
)


class _CatalogViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [StaffModelPermissions | IsPosDevice | IsCustomer]
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    lookup_value_regex = r"\d+"
    model: type[Product] | type[Category]

    def base_queryset(self) -> QuerySet:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return self.model.objects.none()
        request = self.request
        queryset = self.base_queryset()
        if is_device_request(request):
            return queryset.filter(brand_id=request.auth.store.brand_id)
        if IsStaff().has_permission(request, self):
            # Staff read only through their role's `view` permission.
            opts = self.model._meta
            if not request.user.has_perm(f"{opts.app_label}.view_{opts.model_name}"):
                return queryset.none()
            return scope_to_user_brands(queryset, request.user, "brand")
        return self.storefront_queryset(queryset)

    def storefront_queryset(self, queryset: QuerySet) -> QuerySet:
        """Customers: the brand of the request (X-Brand header or host), or every brand."""
        brand = get_current_brand(self.request)
        if brand is not None:
            return queryset.filter(brand=brand)
        if self.request.META.get(BRAND_HEADER, "").strip():
            return queryset.none()  # a brand was named, but no such brand
        return queryset


@extend_schema_view(
    list=extend_schema(
        summary="List categories",
        parameters=[BRAND_PARAMETER],
        responses={200: CategoryOutputSerializer(many=True), **ERRORS, 404: PAGE_NOT_FOUND},
    ),
    retrieve=extend_schema(
        summary="A category",
        parameters=[BRAND_PARAMETER],
        responses={200: CategoryOutputSerializer, **ERRORS, 404: ErrorSerializer},
    ),
)
@extend_schema(tags=["catalog"])
class CategoryViewSet(_CatalogViewSet):
    model = Category
    serializer_class = CategoryOutputSerializer
    filterset_class = CategoryFilter
    ordering_fields = ["name", "id"]

    def base_queryset(self) -> QuerySet:
        return Category.objects.select_related("brand")


@extend_schema_view(
    list=extend_schema(
        summary="List products",
        parameters=[BRAND_PARAMETER],
        responses={200: ProductOutputSerializer(many=True), **ERRORS, 404: PAGE_NOT_FOUND},
    ),
    retrieve=extend_schema(
        summary="A product",
        parameters=[BRAND_PARAMETER],
        responses={200: ProductOutputSerializer, **ERRORS, 404: ErrorSerializer},
    ),
)
@extend_schema(tags=["catalog"])
class ProductViewSet(_CatalogViewSet):
    model = Product
    serializer_class = ProductOutputSerializer
    filterset_class = ProductFilter
    ordering_fields = ["name", "price", "sku", "id"]

    def base_queryset(self) -> QuerySet:
        labels = ProductLabel.objects.select_related("label").order_by("label__name")
        return Product.objects.select_related("brand").prefetch_related(
            Prefetch("label_assignments", queryset=labels)
        )

    def storefront_queryset(self, queryset: QuerySet) -> QuerySet:
        return super().storefront_queryset(queryset).filter(is_active=True)
