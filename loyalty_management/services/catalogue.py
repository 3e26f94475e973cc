"""Writes for the points catalogue: a brand's categories and items."""

from django.db import transaction

from brands.models import Brand
from catalog.models import Product
from core.errors import ApplicationError
from loyalty_management.models import RedemptionCategory, RedemptionItem, Tier

CATEGORY_FIELDS = ("name", "description", "position", "is_active")
ITEM_FIELDS = (
    "name",
    "description",
    "image_url",
    "points_cost",
    "kind",
    "wallet_amount",
    "discount_amount",
    "discount_percentage",
    "code_valid_days",
    "stock",
    "limit_per_customer",
    "limit_per_period",
    "period_days",
    "valid_from",
    "valid_until",
    "auto_approve",
    "is_active",
)


def _invalid(message: str, field: str) -> ApplicationError:
    return ApplicationError(message, code="invalid_redemption_item", fields={field: [message]})


@transaction.atomic
def redemption_category_save(
    *, category: RedemptionCategory | None = None, brand: Brand | None = None, data: dict
) -> RedemptionCategory:
    """Create a category of `brand` (when `category` is None) or change `category`."""
    category = category or RedemptionCategory(brand=brand)
    for field in CATEGORY_FIELDS:
        if field in data:
            setattr(category, field, data[field])
    category.full_clean()
    category.save()
    return category


@transaction.atomic
def redemption_item_save(
    *, item: RedemptionItem | None = None, brand: Brand | None = None, data: dict
) -> RedemptionItem:
    """Create an item of `brand` (when `item` is None) or change `item` with `data`. The
    category, the minimum tier and the product (ids) must be the item's brand's; the fields
    another kind uses are emptied (`item_fields_for_kind`). Stock set here replaces the count
    (requests move it by one)."""
    item = item or RedemptionItem(brand=brand)
    for field in ITEM_FIELDS:
        if field in data:
            setattr(item, field, data[field])
    if "category" in data:
        category = data["category"]
        if category is not None:
            category = RedemptionCategory.objects.filter(pk=category, brand=item.brand).first()
            if category is None:
                raise _invalid("Pick a category of this brand's catalogue.", "category")
        item.category = category
    if "minimum_tier" in data:
        tier = data["minimum_tier"]
        if tier is not None:
            tier = Tier.objects.filter(pk=tier, program__brand=item.brand).first()
            if tier is None:
                raise _invalid("Pick a tier of this brand's loyalty programme.", "minimum_tier")
        item.minimum_tier = tier
    if "product" in data:
        product = data["product"]
        if product is not None:
            product = Product.objects.filter(pk=product, brand=item.brand).first()
            if product is None:
                raise _invalid("Pick a product of this brand.", "product")
        item.product = product
    item_fields_for_kind(item)
    item.full_clean()
    item.save()
    return item


# What each kind needs: the field, and the sentence asking for it.
KIND_FIELDS = {
    RedemptionItem.Kind.WALLET_CREDIT: ("wallet_amount", "Give the amount credited to the wallet."),
    RedemptionItem.Kind.DISCOUNT_AMOUNT: (
        "discount_amount",
        "Give the amount the code takes off an order.",
    ),
    RedemptionItem.Kind.DISCOUNT_PERCENTAGE: (
        "discount_percentage",
        "Give the percentage the code takes off an order, between 0 and 100.",
    ),
    RedemptionItem.Kind.FREE_PRODUCT: ("product", "Pick the product the code makes free."),
}
CODE_KINDS = (
    RedemptionItem.Kind.DISCOUNT_AMOUNT,
    RedemptionItem.Kind.DISCOUNT_PERCENTAGE,
    RedemptionItem.Kind.FREE_PRODUCT,
)
KIND_VALUE_FIELDS = ("wallet_amount", "discount_amount", "discount_percentage", "product")


def item_fields_for_kind(item: RedemptionItem) -> None:
    """Empty the fields of other kinds than the item's, and refuse a missing one of its own
    (`invalid_redemption_item`, on the field); the admin form says the same."""
    own = KIND_FIELDS.get(item.kind)
    for field in KIND_VALUE_FIELDS:
        if own is None or field != own[0]:
            setattr(item, field, None)
    if own is not None and getattr(item, own[0]) in (None, 0):
        raise _invalid(own[1], own[0])
    if item.kind in CODE_KINDS:
        if not item.code_valid_days:
            raise _invalid("Give the days the code stays valid.", "code_valid_days")
    else:
        item.code_valid_days = None
