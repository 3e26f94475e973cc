"""The storefront basket page: a basket kept in the session, priced by the one order pricing
pipeline (`basket_price`, the same as the API's quote) and placed by `order_place`.

Customers sign in with their storefront login (their email) and order for themselves; staff
choose one of their brands and a customer of those brands; anonymous visitors fill a basket and
sign in to place it. Every view parses one form, calls one service (or none) and renders; no
amount is computed here, every figure shown comes from the pipeline or the stored order.
"""

import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.views import LoginView
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.forms import LockoutAwareAuthenticationForm
from brands.models import Brand
from brands.selectors import get_current_brand, scope_to_user_brands
from catalog.models import Product
from core import privacy
from core.errors import ApplicationError, ConflictError
from customers.models import Customer
from orders.forms import (
    AddProductForm,
    BasketContextForm,
    CodeForm,
    PaymentMethodForm,
    PlaceOrderForm,
    QuantityForm,
    RemoveCodeForm,
)
from orders.models import Order, OrderPromotion
from orders.services.placement import (
    MAX_LINES,
    MAX_QUANTITY,
    LineRequest,
    basket_price,
    order_place,
)
from vouchers.lockout import (
    code_failures_record,
    code_lockout_message,
    code_lockout_seconds,
    code_parties,
)
from vouchers.selectors import entered_code
from wallets.selectors import wallet_for_customer

BASKET_SESSION_KEY = "storefront_basket"
PLACED_SESSION_KEY = "storefront_placed_orders"
PLACED_REMEMBERED = 20
CUSTOMER_CHOICES_SHOWN = 200
_LINE_ERROR = re.compile(r"^lines\.(\d+)\.")


def _positive_int(value) -> int | None:
    return value if type(value) is int and value > 0 else None


@dataclass
class SessionBasket:
    """What the visitor has put in the basket: products and quantities, voucher codes, the
    brand, the chosen payment method and (staff only) the customer it is for. No prices."""

    brand_id: int | None = None
    customer_id: int | None = None
    lines: list[tuple[int, int]] = field(default_factory=list)  # (product id, quantity)
    codes: list[str] = field(default_factory=list)
    payment_method: str = ""

    @classmethod
    def load(cls, session) -> "SessionBasket":
        """The session's basket; anything malformed in it is dropped, never trusted."""
        raw = session.get(BASKET_SESSION_KEY)
        if not isinstance(raw, dict):
            return cls()
        lines: list[tuple[int, int]] = []
        for item in raw.get("lines") or ():
            if not isinstance(item, list | tuple) or len(item) != 2:
                continue
            product_id, quantity = _positive_int(item[0]), _positive_int(item[1])
            known = {pid for pid, _ in lines}
            if product_id and quantity and quantity <= MAX_QUANTITY and product_id not in known:
                lines.append((product_id, quantity))
        codes = [code for code in raw.get("codes") or () if isinstance(code, str) and code]
        payment_method = raw.get("payment_method")
        return cls(
            brand_id=_positive_int(raw.get("brand_id")),
            customer_id=_positive_int(raw.get("customer_id")),
            lines=lines[:MAX_LINES],
            codes=codes[:10],
            payment_method=payment_method if isinstance(payment_method, str) else "",
        )

    def save(self, session) -> None:
        """Store the basket; an unchanged basket does not rewrite the session."""
        stored = {
            "brand_id": self.brand_id,
            "customer_id": self.customer_id,
            "lines": [list(line) for line in self.lines],
            "codes": list(self.codes),
            "payment_method": self.payment_method,
        }
        if session.get(BASKET_SESSION_KEY) != stored:
            session[BASKET_SESSION_KEY] = stored

    def quantities(self) -> dict[int, int]:
        return dict(self.lines)

    def line_requests(self) -> list[LineRequest]:
        return [LineRequest(product_id=pid, quantity=qty) for pid, qty in self.lines]

    def add(self, product_id: int, quantity: int) -> None:
        quantities = self.quantities()
        if product_id in quantities:
            self.set_quantity(product_id, quantities[product_id] + quantity)
        else:
            self.lines.append((product_id, quantity))

    def set_quantity(self, product_id: int, quantity: int) -> None:
        self.lines = [(pid, quantity if pid == product_id else qty) for pid, qty in self.lines]

    def remove(self, product_id: int) -> None:
        self.lines = [(pid, qty) for pid, qty in self.lines if pid != product_id]

    def empty(self) -> None:
        self.lines, self.codes, self.payment_method = [], [], ""


@dataclass
class Shopper:
    """Who is looking at the basket, which brands they may order from, and whom it is for."""

    brands: QuerySet
    brand: Brand | None
    customer: Customer | None
    is_staff: bool
    customers: QuerySet | None  # staff: the customers they may order for
    needs_login: bool
    place_refusal: str  # why the order cannot be placed, "" when it can


def _shopper(request: HttpRequest, basket: SessionBasket) -> Shopper:
    """Resolve the visitor against the session basket and keep the basket's brand (and, for
    staff, customer) within what they may see."""
    user = request.user
    is_staff = bool(user.is_authenticated and user.is_active and user.is_staff)
    customers = None
    if is_staff:
        brands = scope_to_user_brands(Brand.objects.all(), user, "pk")
        customers = scope_to_user_brands(Customer.objects.all(), user, "brand_links__brand")
        customer = customers.filter(pk=basket.customer_id).first() if basket.customer_id else None
    else:
        brands = Brand.objects.all()
        customer = getattr(user, "customer", None) if user.is_authenticated else None
    brand = brands.filter(pk=basket.brand_id).first() if basket.brand_id else None
    if brand is None:
        brand = _default_brand(request, brands, customer)
    basket.brand_id = brand and brand.pk
    basket.customer_id = customer.pk if is_staff and customer is not None else None

    refusal = ""
    if not user.is_authenticated:
        refusal = "Sign in to place your order. Your basket is kept when you sign in."
    elif brand is None:
        refusal = "There is no brand to order from."
    elif is_staff and not user.has_perm("orders.add_order"):
        refusal = "Your role cannot place orders."
    elif is_staff and customer is None:
        refusal = "Choose the customer this order is for."
    elif customer is None:
        refusal = "This login has no customer profile, so it cannot place orders."
    return Shopper(
        brands=brands,
        brand=brand,
        customer=customer,
        is_staff=is_staff,
        customers=customers,
        needs_login=not user.is_authenticated,
        place_refusal=refusal,
    )


def _default_brand(request: HttpRequest, brands: QuerySet, customer: Customer | None):
    """The storefront host's brand, else the brand the customer first ordered from or signed up
    at, else the first brand in the list."""
    current = get_current_brand(request)
    if current is not None and brands.filter(pk=current.pk).exists():
        return current
    if customer is not None:
        link = (
            customer.brand_links.filter(brand__in=brands)
            .select_related("brand")
            .order_by("first_seen_at", "id")
            .first()
        )
        if link is not None:
            return link.brand
    return brands.first()


def _priced(request: HttpRequest, basket: SessionBasket, shopper: Shopper) -> dict | None:
    """The basket priced by the pipeline (its wire form), or None when it is empty. Lines whose
    product is no longer on sale are taken out of the basket, with a notice. While the visitor
    is locked out of codes (`vouchers.lockout`), the basket is priced without its codes."""
    parties = code_parties(request, customer=shopper.customer)
    codes = basket.codes
    if basket.lines and (locked := code_lockout_seconds(parties=parties, codes=codes)):
        messages.error(request, code_lockout_message(locked))
        codes = []
    while basket.lines and shopper.brand is not None:
        try:
            priced = basket_price(
                brand=shopper.brand,
                lines=basket.line_requests(),
                channel=Order.Channel.WEB,
                customer=shopper.customer,
                payment_method=basket.payment_method,
                codes=codes,
            ).as_dict()
            code_failures_record(parties=parties, results=[*priced["vouchers"], *priced["rewards"]])
            return priced
        except ApplicationError as error:
            gone = {
                int(match.group(1))
                for key in error.fields
                if (match := _LINE_ERROR.match(key)) is not None
            }
            if error.code != "invalid_lines" or not gone:
                raise
            basket.lines = [line for i, line in enumerate(basket.lines) if i not in gone]
            messages.warning(
                request,
                f"{len(gone)} product(s) in your basket are no longer on sale at "
                f"{shopper.brand.name} and were taken out.",
            )
    return None


def _code_entries(codes: list[str], priced: dict | None) -> list[dict]:
    """Each code in the basket with what the pricing said of it: a reward code applied (with
    its amount) or not (with the reason); a voucher code applied (with the offer it unlocked)
    or not (with the reason)."""
    priced = priced or {}
    rewards = {entry["code"]: entry for entry in priced.get("rewards", [])}
    names = {entry["promotion_id"]: entry["name"] for entry in priced.get("promotions", [])}
    vouchers = {
        entry["code"]: {**entry, "name": names.get(entry["promotion_id"], "")}
        for entry in priced.get("vouchers", [])
    }
    return [
        {"code": code, "reward": rewards.get(code), "voucher": vouchers.get(entered_code(code))}
        for code in codes
    ]


def _percent_text(basis_points) -> str:
    return format(Decimal(basis_points) / Decimal(100), "f")


def _suggestions(priced: dict, brand: Brand) -> list[dict]:
    """The calculator's suggestions, with the names of their promotions and products."""
    raw = priced.get("suggestions") or []
    names = {entry["promotion_id"]: entry["name"] for entry in priced.get("rejected") or ()}
    names.update({entry["promotion_id"]: entry["name"] for entry in priced.get("promotions", ())})
    product_ids = {s["product_id"] for s in raw if isinstance(s.get("product_id"), int)}
    products = (
        {p.pk: p for p in Product.objects.filter(brand=brand, is_active=True, pk__in=product_ids)}
        if product_ids
        else {}
    )
    shown = []
    for suggestion in raw:
        kind = suggestion.get("type")
        item = {"type": kind, "promotion": names.get(suggestion.get("promotion_id"), "An offer")}
        if kind in ("free_gift", "upsell"):
            product = products.get(suggestion.get("product_id"))
            if product is None:
                continue
            item.update(
                product=product,
                quantity=min(int(suggestion.get("quantity") or 1), MAX_QUANTITY),
                unit_price=suggestion.get("unit_price"),
                discounted_unit_price=suggestion.get("discounted_unit_price"),
            )
        elif kind == "threshold":
            tier = suggestion.get("next_tier") or {}
            item.update(
                amount_missing=suggestion.get("amount_missing"),
                reward_amount=tier.get("amount") if tier.get("percent_bp") is None else None,
                reward_percent=None
                if tier.get("percent_bp") is None
                else _percent_text(tier["percent_bp"]),
            )
        elif kind == "payment_method":
            item.update(
                payment_methods=list(suggestion.get("payment_methods") or ()),
                saving=suggestion.get("saving"),
            )
        else:
            continue
        shown.append(item)
    return shown


def _is_positive(amount: str | None) -> bool:
    return amount is not None and Decimal(amount) > 0


def _render(
    request: HttpRequest,
    basket: SessionBasket | None = None,
    *,
    forms: dict | None = None,
    line_forms: dict | None = None,
    status: int = 200,
) -> HttpResponse:
    basket = basket or SessionBasket.load(request.session)
    shopper = _shopper(request, basket)
    pricing_error = ""
    try:
        priced = _priced(request, basket, shopper)
    except ApplicationError as error:
        priced, pricing_error = None, error.message
    basket.save(request.session)

    forms = forms or {}
    line_forms = line_forms or {}
    problems = [
        {"field_id": form[name].auto_id if name != "__all__" else "", "message": message}
        for form in (*forms.values(), *line_forms.values())
        for name, errors in form.errors.items()
        for message in errors
    ]
    brand, currency = shopper.brand, priced["currency"] if priced else ""
    lines = []
    for line in priced["lines"] if priced else ():
        form = line_forms.get(line["product"]) or QuantityForm(
            prefix=f"line-{line['product']}", initial={"quantity": line["quantity"]}
        )
        lines.append({**line, "form": form, "has_discount": _is_positive(line["discount"])})
    context_initial = {"brand": brand}
    if shopper.is_staff and shopper.customer is not None:
        context_initial["customer_email"] = shopper.customer.email or ""
    context = {
        "shopper": shopper,
        "basket": basket,
        "priced": priced,
        "pricing_error": pricing_error,
        "problems": problems,
        "currency": currency,
        "lines": lines,
        "rule_discounts": (priced or {}).get("rule_discounts", []),
        "reward_discounts": [r for r in (priced or {}).get("rewards", []) if r["applied"]],
        "code_entries": _code_entries(basket.codes, priced),
        "suggestions": _suggestions(priced, brand) if priced else [],
        "has_discount": _is_positive((priced or {}).get("discount_total")),
        "has_cashback": _is_positive((priced or {}).get("cashback_total")),
        "can_place": bool(priced) and not shopper.place_refusal,
        "idempotency_key": f"basket-{uuid.uuid4().hex}",
        "context_form": forms.get("context")
        or BasketContextForm(
            brands=shopper.brands,
            customers=shopper.customers,
            initial=context_initial,
        ),
        # Suggested addresses only for roles that see customers' emails in full; the others
        # type the address the customer gives them.
        "customer_choices": (
            shopper.customers.filter(brand_links__brand=brand)
            .exclude(email=None)
            .order_by("email")
            .values_list("email", flat=True)[:CUSTOMER_CHOICES_SHOWN]
            if shopper.customers is not None
            and brand is not None
            and privacy.pii_level(request.user, privacy.EMAIL) is privacy.Level.FULL
            else []
        ),
        "add_form": forms.get("add")
        or AddProductForm(brand=brand, quantities={}, initial={"quantity": 1}),
        "code_form": forms.get("code") or CodeForm(codes=basket.codes),
        "login_url": _login_url(),
        "wallet": (
            wallet_for_customer(customer=shopper.customer, brand_id=brand.pk)
            if shopper.customer is not None and brand is not None
            else None
        ),
    }
    return render(request, "orders/basket.html", context, status=status)


def _login_url() -> str:
    return f"{reverse('basket:login')}?{urlencode({'next': reverse('basket:basket')})}"


def _back() -> HttpResponse:
    return redirect("basket:basket")


def _load(request: HttpRequest) -> tuple[SessionBasket, Shopper]:
    basket = SessionBasket.load(request.session)
    return basket, _shopper(request, basket)


@never_cache
@require_GET
def basket_page(request: HttpRequest) -> HttpResponse:
    return _render(request)


@never_cache
@require_POST
def basket_add(request: HttpRequest) -> HttpResponse:
    basket, shopper = _load(request)
    form = AddProductForm(request.POST, brand=shopper.brand, quantities=basket.quantities())
    if not form.is_valid():
        return _render(request, basket, forms={"add": form}, status=400)
    product, quantity = form.product, form.cleaned_data["quantity"]
    basket.add(product.pk, quantity)
    basket.save(request.session)
    messages.success(request, f"Added {quantity} \u00d7 {product.name} to your basket.")
    return _back()


@never_cache
@require_POST
def basket_line_update(request: HttpRequest, product_id: int) -> HttpResponse:
    basket, _ = _load(request)
    if product_id not in basket.quantities():
        messages.error(request, "That product is not in your basket.")
        return _back()
    form = QuantityForm(request.POST, prefix=f"line-{product_id}")
    if not form.is_valid():
        return _render(request, basket, line_forms={product_id: form}, status=400)
    basket.set_quantity(product_id, form.cleaned_data["quantity"])
    basket.save(request.session)
    messages.success(request, "Quantity updated.")
    return _back()


@never_cache
@require_POST
def basket_line_remove(request: HttpRequest, product_id: int) -> HttpResponse:
    basket, _ = _load(request)
    if product_id in basket.quantities():
        basket.remove(product_id)
        basket.save(request.session)
        messages.success(request, "Product removed from your basket.")
    return _back()


@never_cache
@require_POST
def basket_code_add(request: HttpRequest) -> HttpResponse:
    basket, _ = _load(request)
    form = CodeForm(request.POST, codes=basket.codes)
    if not form.is_valid():
        return _render(request, basket, forms={"code": form}, status=400)
    code = form.cleaned_data["code"]
    if code not in basket.codes:
        basket.codes.append(code)
        basket.save(request.session)
    messages.success(request, f"Voucher code {code} entered.")
    return _back()


@never_cache
@require_POST
def basket_code_remove(request: HttpRequest) -> HttpResponse:
    basket, _ = _load(request)
    form = RemoveCodeForm(request.POST)
    if form.is_valid() and form.cleaned_data["code"] in basket.codes:
        basket.codes.remove(form.cleaned_data["code"])
        basket.save(request.session)
        messages.success(request, f"Voucher code {form.cleaned_data['code']} removed.")
    return _back()


@never_cache
@require_POST
def basket_context(request: HttpRequest) -> HttpResponse:
    """Choose the brand and, for staff, the customer. Products belong to one brand, so a new
    brand starts an empty basket."""
    basket, shopper = _load(request)
    form = BasketContextForm(request.POST, brands=shopper.brands, customers=shopper.customers)
    if not form.is_valid():
        return _render(request, basket, forms={"context": form}, status=400)
    brand = form.cleaned_data["brand"]
    if brand.pk != basket.brand_id:
        had_lines = bool(basket.lines or basket.codes)
        basket.brand_id = brand.pk
        basket.empty()
        note = " Your basket was emptied: products belong to one brand." if had_lines else ""
        messages.info(request, f"You are now ordering from {brand.name}.{note}")
    if shopper.is_staff:
        basket.customer_id = form.customer and form.customer.pk
        messages.info(
            request,
            f"The basket is priced for {form.customer.email}."
            if form.customer
            else "The basket is priced without a customer.",
        )
    basket.save(request.session)
    return _back()


@never_cache
@require_POST
def basket_payment_method(request: HttpRequest) -> HttpResponse:
    basket, _ = _load(request)
    form = PaymentMethodForm(request.POST)
    if form.is_valid():
        basket.payment_method = form.cleaned_data["payment_method"]
        basket.save(request.session)
        method = basket.payment_method
        messages.success(request, f"Paying with {method}." if method else "Payment method cleared.")
    return _back()


@never_cache
@require_POST
def basket_place(request: HttpRequest) -> HttpResponse:
    """Place the basket as an order. The form's idempotency key makes a double submit place
    one order: a replay shows the order the first submit placed."""
    form = PlaceOrderForm(request.POST)
    if not form.is_valid():
        if "wallet_amount" in form.errors:
            messages.error(
                request, "Enter the amount to pay from your wallet, in cents, above zero."
            )
        else:
            messages.error(
                request, "This order form is out of date. Review your basket and try again."
            )
        return _back()
    key = form.cleaned_data["idempotency_key"]
    placed = request.session.get(PLACED_SESSION_KEY) or {}
    if isinstance(placed, dict) and _positive_int(placed.get(key)):
        return redirect("basket:confirmation", order_id=placed[key])
    basket, shopper = _load(request)
    if shopper.needs_login:
        messages.error(request, shopper.place_refusal)
        return redirect(_login_url())
    if shopper.place_refusal:
        messages.error(request, shopper.place_refusal)
        return _render(request, basket, status=403)
    if not basket.lines:
        messages.error(request, "Your basket is empty: add a product before placing an order.")
        return _back()
    parties = code_parties(request, customer=shopper.customer)
    if code_lockout_seconds(parties=parties, codes=basket.codes):
        return _render(request, basket, status=429)  # priced without codes, saying why
    try:
        order, _ = order_place(
            brand=shopper.brand,
            lines=basket.line_requests(),
            channel=Order.Channel.WEB,
            customer=shopper.customer,
            payment_method=basket.payment_method,
            codes=basket.codes,
            idempotency_key=key,
            wallet_amount=form.cleaned_data.get("wallet_amount"),
        )
    except ConflictError:
        messages.error(request, "Your basket changed since this page was shown. Please review it.")
        return _back()
    except ApplicationError as error:
        messages.error(request, error.message)
        return _render(request, basket, status=400)
    code_failures_record(parties=parties, results=[*order.vouchers, *order.reward_codes])
    placed = placed if isinstance(placed, dict) else {}
    placed[key] = order.pk
    request.session[PLACED_SESSION_KEY] = dict(list(placed.items())[-PLACED_REMEMBERED:])
    basket.empty()
    basket.save(request.session)
    return redirect("basket:confirmation", order_id=order.pk)


def _visible_order(request: HttpRequest, order_id: int) -> Order:
    """An order placed from this session, one of the signed-in customer's, or (staff) one of
    their brands'; anything else is not found."""
    orders = Order.objects.select_related("brand", "customer")
    placed = request.session.get(PLACED_SESSION_KEY) or {}
    user = request.user
    if isinstance(placed, dict) and order_id in placed.values():
        pass
    elif user.is_authenticated and user.is_staff and user.has_perm("orders.view_order"):
        orders = scope_to_user_brands(orders, user, "brand")
    elif getattr(user, "customer", None) is not None:
        orders = orders.filter(customer=user.customer)
    else:
        raise Http404("No such order.")
    order = orders.filter(pk=order_id).first()
    if order is None:
        raise Http404("No such order.")
    return order


@never_cache
@require_GET
def order_confirmation(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _visible_order(request, order_id)
    return render(
        request,
        "orders/confirmation.html",
        {
            "order": order,
            "lines": order.lines.all(),
            "promotions": order.applied_promotions.filter(kind=OrderPromotion.Kind.DISCOUNT),
            "has_cashback": order.cashback_total > 0,
        },
    )


class StorefrontLoginForm(LockoutAwareAuthenticationForm):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Email (staff: username)"
        self.fields["username"].widget.attrs.update(autocomplete="username", **{"class": "input"})
        self.fields["password"].widget.attrs.update({"class": "input"})


class BasketLoginView(LoginView):
    """Sign in with a storefront login (customers) or a staff login; the basket is kept."""

    template_name = "orders/login.html"
    form_class = StorefrontLoginForm
    next_page = reverse_lazy("basket:basket")
