"""Writes for the points catalogue: a brand's categories and items."""

from django.db import transaction

from brands.models import Brand
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
    category and the minimum tier (ids) must be the item's brand's; a physical item has no
    wallet amount. Stock set here replaces the count (requests move it by one)."""
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
    if item.kind == RedemptionItem.Kind.PHYSICAL:
        item.wallet_amount = None
    elif not item.wallet_amount:
        raise _invalid("Give the amount credited to the wallet.", "wallet_amount")
    item.full_clean()
    item.save()
    return item
