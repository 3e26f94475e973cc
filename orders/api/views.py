"""Orders: placed by customers for themselves, by staff for their brands' customers and by POS
devices for their store; read by the same, each within their own scope."""

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response
from rest_framework.views import APIView

from brands.models import Brand, Store
from brands.selectors import get_current_brand, scope_to_user_brands
from core.api.errors import PAGE_NOT_FOUND, ErrorSerializer
from core.api.inputs import parse_input
from core.api.permissions import (
    IsCustomer,
    IsPosDevice,
    IsStaff,
    StaffModelPermissions,
    is_device_request,
    request_customer,
)
from core.api.throttling import ClientRateThrottle, CodeAttemptThrottle
from core.errors import ApplicationError
from customers.models import Customer
from orders.api.filters import OrderFilter
from orders.api.serializers import (
    IDEMPOTENCY_KEY_PATTERN,
    OrderCreateInputSerializer,
    OrderDetailOutputSerializer,
    OrderOutputSerializer,
    PaymentStatusInputSerializer,
    QuoteInputSerializer,
    QuoteOutputSerializer,
)
from orders.models import Order
from orders.services.payment import order_set_payment_status
from orders.services.placement import LineRequest, basket_price, order_place
from vouchers.lockout import (
    code_failures_record,
    code_lockout_response,
    code_lockout_seconds,
    code_parties,
)

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer}
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    "Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Up to 128 printable ASCII characters. A replay of the same request returns the first "
        "order with 200; the same key with another request is 409 `idempotency_key_reused`."
    ),
)
CODES_LOCKED = OpenApiResponse(
    ErrorSerializer,
    description=(
        "Too many requests from this client (`throttled`), or codes entered while the customer, "
        "address or device is locked out after too many codes that cannot be used "
        "(`code_attempts_locked`); `Retry-After` says how many seconds to wait."
    ),
)
BRAND_PARAMETER = OpenApiParameter(
    "X-Brand",
    location=OpenApiParameter.HEADER,
    required=False,
    description="Slug of the brand ordered from, unless the body names one.",
)


class PaymentStatusPermissions(StaffModelPermissions):
    """Staff change a payment status with the `change_order` permission of their role."""

    perms_map = {
        **StaffModelPermissions.perms_map,
        "POST": ["%(app_label)s.change_%(model_name)s"],
    }


def _rendered(order_id: int) -> Order:
    """An order the caller was just allowed to write, loaded for its output."""
    return (
        Order.objects.select_related("brand", "store")
        .prefetch_related("lines", "applied_promotions")
        .get(pk=order_id)
    )


def _line_requests(data: dict) -> list[LineRequest]:
    return [
        LineRequest(product_id=line.get("product"), sku=line.get("sku"), quantity=line["quantity"])
        for line in data["lines"]
    ]


def _is_replay(brand: Brand, idempotency_key: str | None) -> bool:
    """Whether the request replays an order already placed (its answer is that order's)."""
    return bool(idempotency_key) and (
        Order.objects.filter(brand=brand, idempotency_key=idempotency_key).exists()
    )


def _invalid(code: str, field: str, message: str) -> ApplicationError:
    return ApplicationError(message, code=code, fields={field: [message]})


@extend_schema_view(
    list=extend_schema(
        summary="List orders",
        description=("Staff: their brands' orders. Devices: their store's. Customers: their own."),
        responses={200: OrderOutputSerializer(many=True), **ERRORS, 404: PAGE_NOT_FOUND},
    ),
    retrieve=extend_schema(
        summary="An order, with its lines",
        responses={200: OrderDetailOutputSerializer, **ERRORS, 404: ErrorSerializer},
    ),
)
@extend_schema(tags=["orders"])
class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [StaffModelPermissions | IsPosDevice | IsCustomer]
    throttle_classes = [ClientRateThrottle, CodeAttemptThrottle]
    throttle_scopes = {"create": "order"}
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = OrderFilter
    ordering_fields = ["created_at", "total", "id"]
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return Order.objects.none()
        request = self.request
        queryset = Order.objects.select_related("brand", "store")
        if self.action != "list":
            queryset = queryset.prefetch_related("lines", "applied_promotions")
        if is_device_request(request):
            # A till sees and changes its own store's orders, never another store's or the web's.
            return queryset.filter(store_id=request.auth.store_id)
        if IsStaff().has_permission(request, self):
            if not request.user.has_perm("orders.view_order"):
                return queryset.none()
            return scope_to_user_brands(queryset, request.user, "brand")
        customer = request_customer(request)
        if customer is None:
            return queryset.none()
        return queryset.filter(customer=customer)

    def get_serializer_class(self):
        if self.action == "list":
            return OrderOutputSerializer
        return OrderDetailOutputSerializer

    @extend_schema(
        summary="Place an order",
        parameters=[IDEMPOTENCY_PARAMETER, BRAND_PARAMETER],
        request=OrderCreateInputSerializer,
        responses={
            201: OrderDetailOutputSerializer,
            200: OrderDetailOutputSerializer,
            **ERRORS,
            409: ErrorSerializer,
            429: CODES_LOCKED,
        },
    )
    def create(self, request, *args, **kwargs):
        serializer = OrderCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        idempotency_key = request.headers.get("Idempotency-Key")
        if idempotency_key is not None and not IDEMPOTENCY_KEY_PATTERN.match(idempotency_key):
            raise _invalid(
                "invalid_idempotency_key",
                "idempotency_key",
                "Up to 128 printable ASCII characters.",
            )
        brand, store, customer, channel = order_parties(request, data)
        parties = code_parties(request, customer=customer)
        locked = code_lockout_seconds(parties=parties, codes=data["codes"])
        if locked and not _is_replay(brand, idempotency_key):
            return code_lockout_response(locked)
        order, created = order_place(
            brand=brand,
            lines=_line_requests(data),
            channel=channel,
            store=store,
            customer=customer,
            payment_method=data["payment_method"],
            codes=data["codes"],
            idempotency_key=idempotency_key,
            wallet_amount=data.get("wallet_amount"),
        )
        if created:
            code_failures_record(parties=parties, results=[*order.vouchers, *order.reward_codes])
        return Response(
            OrderDetailOutputSerializer(_rendered(order.pk)).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        summary="Change an order's payment status",
        description=(
            "Staff of the order's brand (with `orders.change_order`) and the POS devices of "
            "the order's store. Refunds add up; a refund of everything left makes the order "
            "`refunded`."
        ),
        request=PaymentStatusInputSerializer,
        responses={200: OrderDetailOutputSerializer, **ERRORS, 404: ErrorSerializer},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="payment-status",
        permission_classes=[PaymentStatusPermissions | IsPosDevice],
    )
    def payment_status(self, request, pk=None):
        order = self.get_object()
        serializer = PaymentStatusInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        device = request.auth if is_device_request(request) else None
        order_set_payment_status(
            order_id=order.pk,
            to_status=data["payment_status"],
            refund_amount=data.get("refund_amount"),
            payment_method=data.get("payment_method"),
            actor=None if device else request.user,
            device=device,
            note=data["note"],
        )
        return Response(OrderDetailOutputSerializer(_rendered(order.pk)).data)


def order_parties(request, data) -> tuple[Brand, Store | None, Customer | None, str]:
    """Who orders where, for whom, on which channel, by who is asking."""
    if is_device_request(request):
        store = request.auth.store
        if data.get("store", store.code) != store.code:
            raise _invalid("store_mismatch", "store", "Devices order for their own store.")
        customer = _customer(data, Customer.objects.filter(brand_links__brand_id=store.brand_id))
        return store.brand, store, customer, Order.Channel.POS
    if IsStaff().has_permission(request, None):
        brand = _brand(request, data, scope_to_user_brands(Brand.objects.all(), request.user, "pk"))
        customer = _customer(
            data,
            scope_to_user_brands(Customer.objects.all(), request.user, "brand_links__brand"),
        )
        return brand, _store(brand, data), customer, data.get("channel", Order.Channel.WEB)
    customer = request_customer(request)
    if data.get("customer") not in (None, customer.pk):
        raise _invalid("customer_mismatch", "customer", "Customers order for themselves.")
    channel = data.get("channel", Order.Channel.WEB)
    if channel == Order.Channel.POS:
        raise _invalid("invalid_channel", "channel", "Point-of-sale orders come from devices.")
    brand = _brand(request, data, Brand.objects.all())
    return brand, _store(brand, data), customer, channel


def _brand(request, data, brands: QuerySet) -> Brand:
    slug = data.get("brand")
    if slug is None:
        current = get_current_brand(request)
        if current is None:
            raise _invalid(
                "brand_required", "brand", "Name the brand (`brand` or the X-Brand header)."
            )
        slug = current.slug
    brand = brands.filter(slug=slug).first()
    if brand is None:
        raise _invalid("unknown_brand", "brand", "Unknown brand, or not one of yours.")
    return brand


def _store(brand: Brand, data) -> Store | None:
    code = data.get("store")
    if code is None:
        return None
    store = Store.objects.filter(brand=brand, code=code).first()
    if store is None:
        raise _invalid("unknown_store", "store", "No store with this code in the brand.")
    return store


def _customer(data, customers: QuerySet) -> Customer | None:
    customer_id = data.get("customer")
    if customer_id is None:
        return None
    customer = customers.filter(pk=customer_id).first()
    if customer is None:
        raise _invalid("unknown_customer", "customer", "Unknown customer.")
    return customer


@extend_schema(tags=["pricing"])
class QuoteView(APIView):
    """Price a basket against the live promotions of a brand and store, as an order placed
    then would be. The same pipeline as order placement; nothing is written."""

    permission_classes = [IsStaff | IsPosDevice | IsCustomer]
    throttle_classes = [ClientRateThrottle, CodeAttemptThrottle]
    throttle_scope = "quote"

    @extend_schema(
        summary="Quote a basket",
        parameters=[BRAND_PARAMETER],
        request=QuoteInputSerializer,
        responses={200: QuoteOutputSerializer, **ERRORS, 429: CODES_LOCKED},
    )
    def post(self, request):
        data = parse_input(QuoteInputSerializer, request.data)
        brand, store, customer, channel = order_parties(request, data)
        parties = code_parties(request, customer=customer)
        locked = code_lockout_seconds(parties=parties, codes=data["codes"])
        if locked:
            return code_lockout_response(locked)
        priced = basket_price(
            brand=brand,
            lines=_line_requests(data),
            channel=channel,
            store=store,
            customer=customer,
            payment_method=data["payment_method"],
            codes=data["codes"],
            at=data.get("at"),
        )
        code_failures_record(
            parties=parties, results=[*priced.voucher_results, *priced.reward_results]
        )
        return Response(priced.as_dict())
