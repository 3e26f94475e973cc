"""Reads for tenancy: which brands a user may see, and which brand a request is about."""

from django.db.models import Q, QuerySet

from brands.models import Brand
from core.errors import ApplicationError

BRAND_HEADER = "HTTP_X_BRAND"


def brand_ids_for_user(user) -> list[int] | None:
    """The ids of the brands a staff user works for; None means every brand (superusers)."""
    if not user.is_authenticated or not user.is_active:
        return []
    if user.is_superuser:
        return None
    if not user.is_staff:
        return []
    cached = getattr(user, "_brand_ids_cache", None)
    if cached is None:
        cached = list(user.staff_brands.values_list("id", flat=True))
        user._brand_ids_cache = cached
    return cached


def scope_to_user_brands(
    queryset: QuerySet, user, brand_path: str, *, include_global: bool = False
) -> QuerySet:
    """Filter `queryset` to rows whose brand (reached by `brand_path`) the user works for.

    `include_global` keeps rows whose brand is empty (global labels, global templates).
    Used by the admin and the API alike, so both scope the same way.
    """
    brand_ids = brand_ids_for_user(user)
    if brand_ids is None:
        return queryset
    condition = Q(**{f"{brand_path}__in": brand_ids})
    if include_global:
        condition |= Q(**{f"{brand_path}__isnull": True})
    filtered = queryset.filter(condition)
    return filtered.distinct() if "__" in brand_path else filtered


def staff_brand_by_slug(user, slug: str) -> Brand:
    """One of the staff user's brands by slug, or a 400 `unknown_brand` on the `brand` field."""
    brand = scope_to_user_brands(Brand.objects.all(), user, "pk").filter(slug=slug).first()
    if brand is None:
        raise ApplicationError(
            f"Unknown brand {slug!r}, or not one of yours.",
            code="unknown_brand",
            fields={"brand": ["Unknown brand, or not one of yours."]},
        )
    return brand


def get_current_brand(request) -> Brand | None:
    """The brand a request is about: the authenticated POS device's, the `X-Brand` header's
    (a slug), or the one whose storefront host is the request's host. None when there is none."""
    device = getattr(request, "auth", None)
    if getattr(device, "is_pos_device", False):
        return device.store.brand
    slug = request.META.get(BRAND_HEADER, "").strip()
    if slug:
        return Brand.objects.filter(slug=slug).first()
    try:
        host = request.get_host().split(":")[0]
    except Exception:  # DisallowedHost: not a brand we serve.
        return None
    if not host:
        return None
    return Brand.objects.filter(storefront_host__iexact=host).first()
