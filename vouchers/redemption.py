"""Using a code: reserved with the order that applies it, redeemed when the order is paid,
released when it is cancelled, the way promotion usage limits move
(`promotions.services.usage`); a till's offline sale redeems at upload.

Every move of a code's counts is one conditional UPDATE, so under any concurrency a code of N uses
is held by at most N orders and sales: the (N+1)th reservation updates no row and the order is
priced again without the code. The redemption rows are the record (order, customer, store,
channel, when); (code, source) is unique, so a duplicate delivery moves nothing twice.
"""

from collections.abc import Iterable
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from vouchers.models import VoucherCode, VoucherRedemption

CS = VoucherCode.Status
RS = VoucherRedemption.Status


def order_source(order_id: int) -> str:
    return f"order:{order_id}"


def ticket_source(ticket_id: int) -> str:
    return f"pos-ticket:{ticket_id}"


def _take(code_id: int, customer_id: int | None = None, *, check_customer=False) -> bool:
    """One use of the code, if it has one left: True when this call took it. With
    `check_customer`, only when the code is bound to no one or to `customer_id` (a till cannot
    know bindings offline)."""
    codes = VoucherCode.objects.filter(
        pk=code_id, status=CS.AVAILABLE, uses__lt=F("max_uses"), batch__voided_at__isnull=True
    )
    if check_customer:
        codes = codes.filter(Q(customer__isnull=True) | Q(customer_id=customer_id))
    return bool(
        codes.update(
            uses=F("uses") + 1,
            status=Case(
                When(uses__gte=F("max_uses") - 1, then=Value(CS.RESERVED)),
                default=Value(CS.AVAILABLE),
            ),
        )
    )


def voucher_reserve(
    *,
    code_id: int,
    order_id: int,
    customer_id: int | None,
    store_id: int | None,
    channel: str,
    now: datetime,
) -> bool:
    """Hold one use of the code for the order, inside the order's transaction: False when a
    concurrent order or sale took the last use first (nothing is written then)."""
    if not _take(code_id):
        return False
    VoucherRedemption.objects.create(
        code_id=code_id,
        source=order_source(order_id),
        order_id=order_id,
        customer_id=customer_id,
        store_id=store_id,
        channel=channel,
        status=RS.RESERVED,
        used_at=now,
    )
    return True


def _finalise(code_ids: Iterable[int]) -> None:
    for code_id in sorted(code_ids):
        VoucherCode.objects.filter(pk=code_id, redeemed__lt=F("uses")).update(
            redeemed=F("redeemed") + 1,
            status=Case(
                When(status=CS.RESERVED, redeemed__gte=F("max_uses") - 1, then=Value(CS.REDEEMED)),
                default=F("status"),
            ),
        )


def vouchers_commit_for_order(*, order_id: int, now: datetime | None = None) -> int:
    """The order was paid: its reserved uses become final. Runs in the payment's transaction;
    a second call finds nothing reserved and moves nothing."""
    now = now or timezone.now()
    rows = list(
        VoucherRedemption.objects.select_for_update()
        .filter(source=order_source(order_id), status=RS.RESERVED)
        .order_by("code_id")
        .values_list("pk", "code_id")
    )
    if not rows:
        return 0
    VoucherRedemption.objects.filter(pk__in=[pk for pk, _ in rows]).update(
        status=RS.REDEEMED, redeemed_at=now
    )
    _finalise(code_id for _, code_id in rows)
    return len(rows)


def vouchers_release_for_order(*, order_id: int, now: datetime | None = None) -> int:
    """The order was cancelled: its uses are given back (final ones too, like promotion uses on
    a cancellation). A code that was full is available again unless it was voided or expired
    meanwhile. A second call finds nothing to release."""
    now = now or timezone.now()
    rows = list(
        VoucherRedemption.objects.select_for_update()
        .filter(source=order_source(order_id), status__in=(RS.RESERVED, RS.REDEEMED))
        .order_by("code_id")
        .values_list("pk", "code_id", "status")
    )
    if not rows:
        return 0
    VoucherRedemption.objects.filter(pk__in=[pk for pk, _, _ in rows]).update(
        status=RS.RELEASED, released_at=now
    )
    for _, code_id, status in rows:
        final = status == RS.REDEEMED
        VoucherCode.objects.filter(pk=code_id, uses__gt=0).update(
            uses=F("uses") - 1,
            redeemed=F("redeemed") - 1 if final else F("redeemed"),
            status=Case(
                When(status__in=(CS.RESERVED, CS.REDEEMED), then=Value(CS.AVAILABLE)),
                default=F("status"),
            ),
        )
    return len(rows)


def voucher_record_offline(
    *,
    code_id: int,
    ticket_id: int,
    customer_id: int | None,
    store_id: int,
    used_at: datetime,
) -> bool:
    """A till sold with the code offline: take a use and make it final at once. The first sale
    uploaded wins; when the code has no use left the sale is recorded `refused` and False is
    returned, for the ticket to be flagged. A replay of the same ticket changes nothing and
    answers as the first time. A code bound to another customer is refused the same way: a till
    cannot know bindings offline. A sale made before the batch ended counts even when the upload
    comes after the daily sweep marked the code expired."""
    source = ticket_source(ticket_id)
    existing = VoucherRedemption.objects.filter(code_id=code_id, source=source).first()
    if existing is not None:
        return existing.status == RS.REDEEMED
    try:
        with transaction.atomic():
            taken = _take(code_id, customer_id, check_customer=True)
            expired_since = not taken and _take_expired_after(code_id, customer_id, used_at)
            VoucherRedemption.objects.create(
                code_id=code_id,
                source=source,
                customer_id=customer_id,
                store_id=store_id,
                channel="pos",
                status=RS.REDEEMED if taken or expired_since else RS.REFUSED,
                used_at=used_at,
                redeemed_at=timezone.now() if taken or expired_since else None,
            )
            if taken:
                _finalise([code_id])
    except IntegrityError:
        existing = VoucherRedemption.objects.get(code_id=code_id, source=source)
        return existing.status == RS.REDEEMED
    return taken or expired_since


def _take_expired_after(code_id: int, customer_id: int | None, used_at: datetime) -> bool:
    """A use of a code the daily sweep marked expired, by a sale made before its batch ended
    (a till uploads later): taken and made final at once; the code stays expired unless that
    was its last use."""
    return bool(
        VoucherCode.objects.filter(
            Q(customer__isnull=True) | Q(customer_id=customer_id),
            pk=code_id,
            status=CS.EXPIRED,
            uses__lt=F("max_uses"),
            batch__voided_at__isnull=True,
            batch__valid_until__gt=used_at,
        ).update(
            uses=F("uses") + 1,
            redeemed=F("redeemed") + 1,
            status=Case(
                When(uses__gte=F("max_uses") - 1, then=Value(CS.REDEEMED)),
                default=Value(CS.EXPIRED),
            ),
        )
    )
