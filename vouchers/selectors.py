"""Reads for vouchers: the codes a basket can use, and batches and codes scoped to staff."""

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Count, Q, QuerySet

from brands.selectors import scope_to_user_brands
from vouchers.codes import BLANK, SIGNED_VERSION, normalise_code
from vouchers.models import VoucherBatch, VoucherCode, VoucherRedemption

CS = VoucherCode.Status


def entered_code(text: str) -> str:
    """The code of an entered text, normalised: a signed payload (`V1.<code>.<batch>.<sig>`,
    what the QR code of an offline batch carries) counts as its code. The server does not need
    the signature: it looks the code up."""
    parts = text.strip(BLANK).split(".")
    if len(parts) == 4 and parts[0].upper() == SIGNED_VERSION:
        return normalise_code(parts[1])
    return normalise_code(text)


def usable_vouchers(
    *,
    brand_id: int,
    codes: Iterable[str],
    customer_id: int | None,
    at: datetime,
    promotion_ids: Iterable[int],
) -> list[dict]:
    """The brand's codes among `codes` (normalised) that can be used now by this customer (or
    by anyone, for a code bound to no one): available, of a batch not voided and within its
    validity, unlocking one of `promotion_ids` (the live voucher promotions). One query:
    `{"code_id", "code", "batch_id", "promotion_id"}` by code id."""
    codes = sorted(set(codes))
    promotion_ids = sorted(set(promotion_ids))
    if not codes or not promotion_ids:
        return []
    rows = (
        VoucherCode.objects.filter(
            brand_id=brand_id,
            code__in=codes,
            status=CS.AVAILABLE,
            batch__voided_at__isnull=True,
            batch__promotion_id__in=promotion_ids,
        )
        .filter(Q(customer__isnull=True) | Q(customer_id=customer_id))
        .filter(Q(batch__valid_from__isnull=True) | Q(batch__valid_from__lte=at))
        .filter(Q(batch__valid_until__isnull=True) | Q(batch__valid_until__gt=at))
        .order_by("pk")
        .values_list("pk", "code", "batch_id", "batch__promotion_id")
    )
    keys = ("code_id", "code", "batch_id", "promotion_id")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def brand_code_ids(*, brand_id: int, codes: Iterable[str]) -> dict[tuple[str, int], int]:
    """The brand's codes among `codes` whatever their state, `{(code, batch id): code id}`
    (one query, none without codes): an offline sale records a used-up code as refused."""
    codes = sorted(set(codes))
    if not codes:
        return {}
    rows = VoucherCode.objects.filter(brand_id=brand_id, code__in=codes).values_list(
        "code", "batch_id", "pk"
    )
    return {(code, batch_id): pk for code, batch_id, pk in rows}


def batches_for_staff(*, user) -> QuerySet[VoucherBatch]:
    return scope_to_user_brands(
        VoucherBatch.objects.select_related("brand", "promotion", "customer"), user, "brand"
    ).order_by("-created_at", "-pk")


def codes_for_staff(*, user) -> QuerySet[VoucherCode]:
    return scope_to_user_brands(
        VoucherCode.objects.select_related("batch", "customer"), user, "brand"
    ).order_by("batch_id", "pk")


def batch_status_counts(*, batch_id: int) -> dict[str, int]:
    """How many codes of the batch are in each state (every state named, one query)."""
    counts = dict.fromkeys(CS.values, 0)
    for row in (
        VoucherCode.objects.filter(batch_id=batch_id)
        .values("status")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        counts[row["status"]] = row["n"]
    return counts


def code_redemptions(*, code_id: int) -> QuerySet[VoucherRedemption]:
    return VoucherRedemption.objects.filter(code_id=code_id).select_related(
        "order", "customer", "store"
    )


def batch_assignment_counts(*, batch_id: int) -> dict[str, int]:
    """The batch's codes sent to customers (`assigned_at` set), and those still free to send
    (available, unused, bound to no one: what a distribution hands out). One query."""
    return VoucherCode.objects.filter(batch_id=batch_id).aggregate(
        assigned=Count("pk", filter=Q(assigned_at__isnull=False)),
        unassigned=Count("pk", filter=Q(customer__isnull=True, status=CS.AVAILABLE, uses=0)),
    )
