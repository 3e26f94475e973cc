"""Writes for customers."""

from django.contrib.auth import get_user_model
from django.db import transaction

from brands.models import Brand
from core.errors import ApplicationError
from customers.models import Customer, CustomerBrand


def customer_link_brand(*, customer: Customer, brand: Brand) -> None:
    """Make the customer known to the brand; a second call changes nothing."""
    CustomerBrand.objects.get_or_create(customer=customer, brand=brand)


@transaction.atomic
def customer_create(
    *,
    brand: Brand | None,
    email: str | None = None,
    phone: str = "",
    first_name: str = "",
    last_name: str = "",
    birth_date=None,
    external_id: str | None = None,
    password: str | None = None,
) -> Customer:
    """Create a customer, known to `brand`. With a password, they also get a storefront login."""
    customer = Customer(
        email=(email or None) and email.strip().lower(),
        phone=phone,
        first_name=first_name,
        last_name=last_name,
        birth_date=birth_date,
        external_id=external_id or None,
    )
    customer.full_clean()
    if password is not None:
        if not customer.email:
            raise ApplicationError(
                "A storefront login needs an email address.",
                code="email_required",
                fields={"email": ["Required when a password is given."]},
            )
        customer.user = get_user_model().objects.create_user(
            username=customer.email, email=customer.email, password=password
        )
    customer.save()
    if brand is not None:
        customer_link_brand(customer=customer, brand=brand)
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, **fields) -> Customer:
    allowed = {"email", "phone", "first_name", "last_name", "birth_date", "external_id"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"cannot update {sorted(unknown)}")
    for name, value in fields.items():
        if name == "email" and value:
            value = value.strip().lower()
        if name in {"email", "external_id"} and not value:
            value = None
        setattr(customer, name, value)
    customer.full_clean()
    customer.save()
    if customer.user_id and "email" in fields and customer.email:
        get_user_model().objects.filter(pk=customer.user_id).update(email=customer.email)
    return customer
