"""Writes for labels. Assigning and removing labels goes through here, nowhere else."""

from django.db import IntegrityError, transaction

from brands.models import Brand
from catalog.models import Product
from core.errors import ApplicationError, ConflictError
from customers.models import Customer
from labels.models import CustomerLabel, Label, ProductLabel
from rules.models import Event
from rules.services.events import rules_event_emit


def _check_type(label: Label, expected: str) -> None:
    if label.type != expected:
        raise ApplicationError(
            f"Label {label.name!r} is a {label.type} label, not a {expected} label.",
            code="label_type_mismatch",
            fields={"label": ["Wrong label type for this target."]},
        )


def _label_exists(label: Label) -> bool:
    return Label.objects.filter(name=label.name, type=label.type, brand_id=label.brand_id).exists()


@transaction.atomic
def label_create(*, name: str, type: str, brand: Brand | None, description: str = "") -> Label:
    """Create a label of `brand`, or a global one with no brand. Names are unique per type
    within a brand, and among global labels."""
    label = Label(name=name, type=type, brand=brand, description=description)
    label.full_clean(validate_constraints=False)
    taken = ConflictError(
        f"A {type} label named {name!r} already exists here.",
        code="label_exists",
        fields={"name": ["Already in use."]},
    )
    if _label_exists(label):
        raise taken
    try:
        with transaction.atomic():
            label.save()
    except IntegrityError as error:  # a concurrent create took the name
        raise taken from error
    return label


@transaction.atomic
def label_assign_customer(
    *, label: Label, customer: Customer, actor=None, event_depth: int = 0
) -> tuple[CustomerLabel, bool]:
    """Assign a customer label; assigning it again returns the existing assignment.

    A new assignment emits `customer.labeled` (rules run after commit); `event_depth` counts
    the rule actions that led here, so rules labeling customers cannot loop forever.
    """
    _check_type(label, Label.Type.CUSTOMER)
    assignment, created = CustomerLabel.objects.get_or_create(
        label=label, customer=customer, defaults={"assigned_by": actor}
    )
    if created:
        rules_event_emit(
            event=Event.CUSTOMER_LABELED,
            brand_id=label.brand_id,
            customer_id=customer.pk,
            depth=event_depth,
        )
    return assignment, created


@transaction.atomic
def label_unassign_customer(
    *, label: Label, customer: Customer, actor=None, event_depth: int = 0
) -> bool:
    """Remove a customer label; a removal emits `customer.unlabeled` (see the assignment)."""
    _check_type(label, Label.Type.CUSTOMER)
    deleted, _ = CustomerLabel.objects.filter(label=label, customer=customer).delete()
    if deleted:
        rules_event_emit(
            event=Event.CUSTOMER_UNLABELED,
            brand_id=label.brand_id,
            customer_id=customer.pk,
            depth=event_depth,
        )
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
    _check_type(label, Label.Type.PRODUCT)
    deleted, _ = ProductLabel.objects.filter(label=label, product=product).delete()
    return bool(deleted)
