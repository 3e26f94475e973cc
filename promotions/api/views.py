"""Promotions for staff of their brands: CRUD, status, validation and preview."""

from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from brands.models import Brand, Store
from brands.selectors import scope_to_user_brands, staff_brand_by_slug
from catalog.models import Product
from core.api.errors import PAGE_NOT_FOUND, ErrorSerializer
from core.api.inputs import parse_input
from core.api.permissions import IsStaff, StaffModelPermissions
from core.errors import ApplicationError, NotFoundError
from core.money import to_minor
from labels.selectors import product_label_ids
from promotions.api.serializers import (
    PreviewInputSerializer,
    PreviewOutputSerializer,
    PromotionInputSerializer,
    PromotionOutputSerializer,
    PromotionStatusInputSerializer,
    ValidateOutputSerializer,
)
from promotions.models import Promotion
from promotions.services.calculator import calculate
from promotions.services.compiler import promotion_compile
from promotions.services.engine_input import EngineLine, engine_basket, engine_context
from promotions.services.lifecycle import promotion_delete, promotion_save, promotion_set_status
from promotions.services.validator import (
    RELATIONS,
    issues_as_fields,
    issues_refusing,
    promotion_validate,
)

READ_ERRORS = {401: ErrorSerializer, 403: ErrorSerializer}
WRITE_ERRORS = {**READ_ERRORS, 400: ErrorSerializer}


class HasAnyPromotionPermission(BasePermission):
    """Staff whose role holds one of `permissions` (superusers hold them all)."""

    permissions: tuple[str, ...] = ()
    message = "Your role may not work with promotions."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return IsStaff().has_permission(request, view) and any(
            user.has_perm(permission) for permission in self.permissions
        )


class CanViewPromotions(HasAnyPromotionPermission):
    """Previewing prices a basket with a promotion: anyone who may see promotions."""

    permissions = ("promotions.view_promotion",)


class CanEditPromotions(HasAnyPromotionPermission):
    """Validating checks a promotion about to be saved: those who may add or change one."""

    permissions = ("promotions.add_promotion", "promotions.change_promotion")


class PromotionFilter(filters.FilterSet):
    brand = filters.CharFilter(field_name="brand__slug")
    status = filters.MultipleChoiceFilter(choices=Promotion.Status.choices)
    type = filters.MultipleChoiceFilter(choices=Promotion.Type.choices)
    search = filters.CharFilter(field_name="name", lookup_expr="icontains")

    class Meta:
        model = Promotion
        fields = ["brand", "status", "type", "stacking"]


def _draft_from_input(
    request, data: dict, instance: Promotion | None = None, *, status_editable: bool = False
):
    """An unsaved promotion and its relations from a `PromotionInputSerializer` payload; with
    `instance`, the payload's fields are changes applied to it (not saved)."""
    serializer = PromotionInputSerializer(data=data, partial=instance is not None)
    serializer.is_valid(raise_exception=True)
    fields, relations = serializer.to_fields_and_relations()
    if instance is not None and "status" in fields and not status_editable:
        raise ApplicationError(
            "Change the status with POST .../status/.",
            code="status_not_editable",
            fields={"status": ["Use the status endpoint."]},
        )
    promotion = instance or Promotion()
    if "brand" in fields:
        brand = staff_brand_by_slug(request.user, fields.pop("brand"))
        if instance is not None and brand.pk != instance.brand_id:
            raise ApplicationError(
                "A promotion cannot move to another brand.",
                code="brand_immutable",
                fields={"brand": ["Cannot change."]},
            )
        promotion.brand = brand
    for name, value in fields.items():
        setattr(promotion, name, value)
    if "code" in fields:
        promotion.code = promotion.code or ""
    return promotion, relations


def _issues(issues) -> list[dict]:
    return [{"field": i.field, "code": i.code, "message": i.message} for i in issues]


@extend_schema_view(
    list=extend_schema(
        summary="List promotions of your brands",
        responses={
            200: PromotionOutputSerializer(many=True),
            **READ_ERRORS,
            400: ErrorSerializer,
            404: PAGE_NOT_FOUND,
        },
    ),
    retrieve=extend_schema(
        summary="A promotion",
        responses={200: PromotionOutputSerializer, **READ_ERRORS, 404: ErrorSerializer},
    ),
)
@extend_schema(tags=["promotions"])
class PromotionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Staff only, scoped to their brands. Every save compiles a new version."""

    permission_classes = [StaffModelPermissions]
    serializer_class = PromotionOutputSerializer
    filterset_class = PromotionFilter
    ordering_fields = ["priority", "created_at", "id", "name"]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Promotion.objects.none()
        return scope_to_user_brands(
            Promotion.objects.select_related("brand").prefetch_related(*RELATIONS),
            self.request.user,
            "brand",
        )

    def _render(self, promotion: Promotion, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=promotion.pk)
        return Response(self.get_serializer(fresh).data, status=code)

    @extend_schema(
        summary="Create a promotion",
        request=PromotionInputSerializer,
        responses={201: PromotionOutputSerializer, **WRITE_ERRORS},
    )
    def create(self, request):
        promotion, relations = _draft_from_input(request, request.data)
        promotion = promotion_save(promotion=promotion, relations=relations, actor=request.user)
        return self._render(promotion, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a promotion (a new version)",
        request=PromotionInputSerializer,
        responses={200: PromotionOutputSerializer, **WRITE_ERRORS, 404: ErrorSerializer},
    )
    def partial_update(self, request, pk=None):
        promotion, relations = _draft_from_input(request, request.data, self.get_object())
        promotion = promotion_save(promotion=promotion, relations=relations, actor=request.user)
        return self._render(promotion)

    @extend_schema(
        summary="Delete a draft that priced no order",
        responses={204: None, **READ_ERRORS, 404: ErrorSerializer, 409: ErrorSerializer},
    )
    def destroy(self, request, pk=None):
        promotion_delete(promotion_id=self.get_object().pk)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Activate, schedule, pause or end a promotion",
        request=PromotionStatusInputSerializer,
        responses={200: PromotionOutputSerializer, **WRITE_ERRORS, 404: ErrorSerializer},
    )
    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request, pk=None):
        promotion = self.get_object()
        data = parse_input(PromotionStatusInputSerializer, request.data)
        promotion_set_status(promotion_id=promotion.pk, status=data["status"], actor=request.user)
        return self._render(promotion)


@extend_schema(tags=["promotions"])
class PromotionValidateView(APIView):
    """Check a promotion payload without saving it."""

    permission_classes = [CanEditPromotions]

    @extend_schema(
        summary="Validate a promotion",
        request=PromotionInputSerializer,
        responses={200: ValidateOutputSerializer, **WRITE_ERRORS},
    )
    def post(self, request):
        promotion, relations = _draft_from_input(request, request.data)
        issues = promotion_validate(promotion=promotion, relations=relations)
        return Response({"valid": not issues, "issues": _issues(issues)})


@extend_schema(tags=["promotions"])
class PromotionPreviewView(APIView):
    """Price a sample basket with one promotion (a draft or a saved one), alone.

    Returns the calculator's inputs with its result, so a browser can run `engine.js` on the
    same inputs and must find the same result.
    """

    permission_classes = [CanViewPromotions]

    @extend_schema(
        summary="Preview a promotion on a sample basket",
        request=PreviewInputSerializer,
        responses={200: PreviewOutputSerializer, **WRITE_ERRORS, 404: ErrorSerializer},
    )
    def post(self, request):
        data = parse_input(PreviewInputSerializer, request.data)
        promotion, relations = None, None
        if "promotion_id" in data:
            promotion = (
                scope_to_user_brands(Promotion.objects.all(), request.user, "brand")
                .filter(pk=data["promotion_id"])
                .first()
            )
            if promotion is None:
                raise NotFoundError("Promotion not found.", code="promotion_not_found")
        if "promotion" in data:
            # A draft, or unsaved changes on top of the saved promotion (its id, counters and
            # the relations the changes do not name are kept, so it never conflicts with itself).
            promotion, relations = _draft_from_input(
                request, request.data["promotion"], promotion, status_editable=True
            )
        issues = promotion_validate(promotion=promotion, relations=relations)
        refusing = issues_refusing(issues, live=False)
        if refusing:
            # Values the compiler cannot read: nothing to preview.
            raise ApplicationError(
                "The promotion cannot be previewed: fix the fields listed.",
                code="promotion_invalid",
                fields={
                    f"promotion.{name}": messages
                    for name, messages in issues_as_fields(refusing).items()
                },
            )
        compiled = promotion_compile(promotion=promotion, relations=relations)
        if promotion.pk is None:
            compiled["id"] = 0
        # The preview shows what the promotion does when live, whatever its status now.
        compiled["status"] = Promotion.Status.ACTIVE
        brand = promotion.brand
        store = self._store(brand, data.get("store"))
        basket = engine_basket(self._lines(brand, data["lines"]))
        context = engine_context(
            at=data.get("at") or timezone.now(),
            time_zone=store.time_zone if store else brand.time_zone,
            channel=data["channel"],
            store_id=store and store.pk,
            customer_id=1 if data["signed_in"] else None,
            customer_label_ids=data.get("customer_labels") or (),
            tier=data["tier"],
            is_new_customer=data["is_new_customer"],
            signed_in=data["signed_in"],
            payment_method=data.get("payment_method") or "",
            codes=data.get("codes") or (),
        )
        result = calculate(basket=basket, context=context, promotions=[compiled])
        return Response(
            {
                "issues": _issues(issues),
                "compiled": compiled,
                "basket": basket,
                "context": context,
                "result": result,
                "currency": brand.currency,
            }
        )

    @staticmethod
    def _store(brand: Brand, code: str | None) -> Store | None:
        if not code:
            return None
        store = Store.objects.filter(brand=brand, code=code).first()
        if store is None:
            raise ApplicationError(
                "Unknown store for this brand.",
                code="unknown_store",
                fields={"store": ["Unknown."]},
            )
        return store

    @staticmethod
    def _lines(brand: Brand, lines: list[dict]) -> list[EngineLine]:
        products = Product.objects.filter(brand=brand).in_bulk([line["product"] for line in lines])
        missing = [i for i, line in enumerate(lines) if line["product"] not in products]
        if missing:
            raise ApplicationError(
                "Unknown products for this brand.",
                code="invalid_lines",
                fields={f"lines.{i}.product": ["Unknown product for this brand."] for i in missing},
            )
        labels = product_label_ids(product_ids=list(products))
        return [
            EngineLine(
                product_id=line["product"],
                category_id=products[line["product"]].category_id,
                label_ids=tuple(labels.get(line["product"], ())),
                quantity=line["quantity"],
                unit_price=to_minor(products[line["product"]].price, brand.currency),
            )
            for line in lines
        ]
