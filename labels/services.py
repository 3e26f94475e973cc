"""Writes for labels. Assigning and removing labels goes through here, nowhere else."""

from django.db import transaction

from catalog.models import Product
from core.errors import ApplicationError
from customers.models import Customer
from labels.models import CustomerLabel, Label, ProductLabel


def _check_type(label: Label, expected: str) -> None:
    if label.type != expected:
        raise ApplicationError(
            f"Label {label.name!r} is a {label.type} label, not a {expected} label.",
            code="label_type_mismatch",
            fields={"label": ["Wrong label type for this target."]},
        )


@transaction.atomic
def label_assign_customer(
    *, label: Label, customer: Customer, actor=None
) -> tuple[CustomerLabel, bool]:
    """Assign a customer label; assigning it again returns the existing assignment."""
    _check_type(label, Label.Type.CUSTOMER)
    return CustomerLabel.objects.get_or_create(
        label=label, customer=customer, defaults={"assigned_by": actor}
    )


@transaction.atomic
def label_unassign_customer(*, label: Label, customer: Customer, actor=None) -> bool:
    deleted, _ = CustomerLabel.objects.filter(label=label, customer=customer).delete()
    return bool(deleted)


@transaction.atomic
def label_assign_product(
    *, label: Label, product: Product, actor=None
) -> tuple[ProductLabel, bool]:
    _check_type(label, Label.Type.PRODUCT)
    if label.brand_id is not None and label.brand_id != product.brand_id:
        raise ApplicationError(
            "The label belongs to another brand than the product.",
            code="brand_mismatch",
            fields={"product": ["Product of another brand."]},
        )
    return ProductLabel.objects.get_or_create(
        label=label, product=product, defaults={"assigned_by": actor}
    )


@transaction.atomic
def label_unassign_product(*, label: Label, product: Product, actor=None) -> bool:
    deleted, _ = ProductLabel.objects.filter(label=label, product=product).delete()
    return bool(deleted)
