"""Forms of the storefront basket page (`orders.views`): each parses one action's input.

Prices and discounts are never entered or computed here: the basket is priced by
`orders.services.placement.basket_price`, the same pipeline as the API.
"""

from collections.abc import Mapping
from decimal import Decimal

from django import forms
from django.core.validators import RegexValidator
from django.db.models import QuerySet

from brands.models import Brand
from catalog.models import Product
from customers.models import Customer
from orders.api.serializers import IDEMPOTENCY_KEY_PATTERN
from orders.services.placement import MAX_LINES, MAX_QUANTITY
from promotions.services.calculator import normalise_code

MAX_CODES = 10
CODE_MAX_LENGTH = 40
QUANTITY_MESSAGE = f"Enter a whole number from 1 to {MAX_QUANTITY}."


def quantity_field(label: str = "Quantity") -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        min_value=1,
        max_value=MAX_QUANTITY,
        initial=1,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "class": "input input--quantity"}),
        error_messages={
            "required": QUANTITY_MESSAGE,
            "invalid": QUANTITY_MESSAGE,
            "min_value": QUANTITY_MESSAGE,
            "max_value": QUANTITY_MESSAGE,
        },
    )


class BasketForm(forms.Form):
    """Labels without a trailing colon; the page's field template adds hints and errors."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


def text_input(**attrs) -> forms.TextInput:
    return forms.TextInput(attrs={"class": "input", "autocomplete": "off", **attrs})


class AddProductForm(BasketForm):
    """Add a product of the basket's brand by its SKU. Adding a product already in the basket
    adds to that line's quantity."""

    sku = forms.CharField(
        label="SKU",
        max_length=64,
        widget=text_input(spellcheck="false", autocapitalize="characters"),
        error_messages={
            "required": "Enter the SKU of a product.",
            "max_length": "A SKU has at most 64 characters.",
        },
    )
    quantity = quantity_field()

    def __init__(self, *args, brand: Brand | None, quantities: Mapping[int, int], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.brand = brand
        self.quantities = quantities
        self.product: Product | None = None

    def clean_sku(self) -> str:
        sku = self.cleaned_data["sku"]
        if self.brand is None:
            raise forms.ValidationError("Choose a brand first.", code="no_brand")
        product = Product.objects.filter(brand=self.brand, sku=sku, is_active=True).first()
        if product is None:
            raise forms.ValidationError(
                f"No product with SKU “{sku}” is on sale at {self.brand.name}.",
                code="unknown_product",
            )
        self.product = product
        return sku

    def clean(self) -> dict:
        data = super().clean()
        if self.product is None or "quantity" not in data:
            return data
        current = self.quantities.get(self.product.pk, 0)
        if current == 0 and len(self.quantities) >= MAX_LINES:
            raise forms.ValidationError(
                f"A basket holds at most {MAX_LINES} products.", code="too_many_lines"
            )
        if current + data["quantity"] > MAX_QUANTITY:
            self.add_error(
                "quantity",
                forms.ValidationError(
                    f"The basket already has {current} of this product; "
                    f"at most {MAX_QUANTITY} in all.",
                    code="quantity_too_large",
                ),
            )
        return data


class QuantityForm(BasketForm):
    quantity = quantity_field()


class CodeForm(BasketForm):
    """A voucher code, compared trimmed and upper-cased as the calculator does."""

    code = forms.CharField(
        label="Voucher code",
        max_length=CODE_MAX_LENGTH,
        widget=text_input(spellcheck="false", autocapitalize="characters"),
        error_messages={
            "required": "Enter a voucher code.",
            "max_length": f"A voucher code has at most {CODE_MAX_LENGTH} characters.",
        },
    )

    def __init__(self, *args, codes: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.codes = codes

    def clean_code(self) -> str:
        code = normalise_code(self.cleaned_data["code"])
        if not code:
            raise forms.ValidationError("Enter a voucher code.", code="required")
        if code not in self.codes and len(self.codes) >= MAX_CODES:
            raise forms.ValidationError(
                f"At most {MAX_CODES} voucher codes per order.", code="too_many_codes"
            )
        return code


class RemoveCodeForm(forms.Form):
    code = forms.CharField(max_length=CODE_MAX_LENGTH)


class BasketContextForm(BasketForm):
    """Which brand the basket is for and, for staff, which customer it is priced and placed for
    (found by email among the customers of their brands)."""

    brand = forms.ModelChoiceField(
        label="Brand",
        queryset=Brand.objects.none(),
        empty_label=None,
        widget=forms.Select(attrs={"class": "input"}),
        error_messages={"invalid_choice": "Choose one of the brands listed."},
    )
    customer_email = forms.CharField(
        label="Customer email",
        required=False,
        max_length=254,
        help_text="Type to search your brands' customers by email; empty: no customer.",
        widget=text_input(list="customer-options", inputmode="email"),
    )

    def __init__(
        self, *args, brands: QuerySet, customers: QuerySet | None = None, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["brand"].queryset = brands
        self.customers = customers
        self.customer: Customer | None = None
        if customers is None:
            del self.fields["customer_email"]

    def clean_customer_email(self) -> str:
        email = self.cleaned_data["customer_email"].strip()
        if email and self.customers is not None:
            self.customer = self.customers.filter(email__iexact=email).first()
            if self.customer is None:
                raise forms.ValidationError(
                    f"No customer of your brands has the email “{email}”.",
                    code="unknown_customer",
                )
        return email


class PaymentMethodForm(forms.Form):
    payment_method = forms.CharField(label="Payment method", max_length=32, required=False)


class PlaceOrderForm(forms.Form):
    """The key that makes placing idempotent: a double submit of one rendered page places one
    order."""

    idempotency_key = forms.CharField(
        max_length=128,
        validators=[RegexValidator(IDEMPOTENCY_KEY_PATTERN)],
        error_messages={"required": "This order form is incomplete; reload the page."},
    )
    wallet_amount = forms.DecimalField(
        label="Pay from your wallet",
        required=False,
        min_value=Decimal("0.01"),
        max_value=Decimal("100000.00"),
        max_digits=14,
        decimal_places=2,
        help_text="Up to the order total; the rest is paid by your payment method.",
    )
