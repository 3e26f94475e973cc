"""The periodic reward sweeps: birthday rewards and code expiry. Both are safe to run twice or
concurrently.

- `birthday_rewards_issue` (hourly): every customer of a brand with an active `birthday`
  template whose birthday is today in the brand's time zone gets the template once a year
  (idempotency key `birthday:{template}:{customer}:{year}`). A 29 February birthday is
  celebrated on 28 February in other years. Customers whose personal data was erased get
  nothing. Customers are read by keyset over their ids, a batch at a time, filtered in SQL on
  the month and day of `birth_date` (an expression index on the customers table).
- `rewards_expire` (daily): active codes past `valid_until` become `expired`.
- `expiring_rewards_notify` (daily): each active code is announced once,
  `REWARD_EXPIRY_NOTICE_DAYS` before it expires, claimed by a conditional update of
  `expiry_notified_at` in the transaction that records the notice, so two sweeps never send it
  twice.
"""

import calendar
import logging
import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from brands.models import Brand
from core.errors import ApplicationError
from customers.models import Customer
from notifications.services import NotificationService
from rewards.models import CODE_KINDS, CustomerReward, RewardTemplate
from rewards.services import reward_issue, reward_spec

logger = logging.getLogger(__name__)

EXPIRING_EVENT = "loyalty.reward.expiring"
BIRTHDAY_BATCH = 1000
EXPIRY_BATCH = 500


def birthday_key(*, template_id: int, customer_id: int, year: int) -> str:
    return f"birthday:{template_id}:{customer_id}:{year}"


def brand_today(brand: Brand, now: datetime) -> date:
    """The calendar day it is at the brand (its time zone) at `now`."""
    try:
        zone = zoneinfo.ZoneInfo(brand.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return now.astimezone(zone).date()


def birthday_filter(today: date) -> Q:
    """Birthdays celebrated on `today`: the same month and day, and 29 February on 28 February
    of a year that has no 29 February."""
    same_day = Q(birth_date__month=today.month, birth_date__day=today.day)
    if today.month == 2 and today.day == 28 and not calendar.isleap(today.year):
        same_day |= Q(birth_date__month=2, birth_date__day=29)
    return same_day


@dataclass
class BirthdaySweep:
    issued: int = 0
    already: int = 0
    failed: int = 0
    batches: int = 0
    brands: list[int] = field(default_factory=list)


def birthday_rewards_issue(
    *, now: datetime | None = None, batch_size: int = BIRTHDAY_BATCH
) -> BirthdaySweep:
    """Issue every active birthday template to the customers of its brand whose birthday is
    today at the brand. Returns what was done."""
    now = now or timezone.now()
    result = BirthdaySweep()
    templates = (
        RewardTemplate.objects.filter(trigger=RewardTemplate.Trigger.BIRTHDAY, is_active=True)
        .select_related("brand")
        .order_by("brand_id", "pk")
    )
    for template in templates:
        result.brands.append(template.brand_id)
        _birthday_template_sweep(template=template, now=now, batch_size=batch_size, into=result)
    return result


def _birthday_template_sweep(
    *, template: RewardTemplate, now: datetime, batch_size: int, into: BirthdaySweep
) -> None:
    brand = template.brand
    today = brand_today(brand, now)
    spec = reward_spec(template)
    customers = Customer.objects.filter(
        birthday_filter(today),
        brand_links__brand_id=brand.pk,
        erased_at__isnull=True,
    ).order_by("pk")
    last_id = 0
    while True:
        batch = list(customers.filter(pk__gt=last_id)[:batch_size])
        if not batch:
            return
        into.batches += 1
        last_id = batch[-1].pk
        keys = {
            birthday_key(template_id=template.pk, customer_id=c.pk, year=today.year): c
            for c in batch
        }
        done = set(
            CustomerReward.objects.filter(idempotency_key__in=list(keys)).values_list(
                "idempotency_key", flat=True
            )
        )
        into.already += len(done)
        # One transaction per batch (a commit per reward would cost more than the reward);
        # each issue is its own savepoint, so one failure leaves the others in. Two sweeps
        # insert the keys in the same (id) order, so they wait on each other, never deadlock.
        todo = [(key, customer) for key, customer in keys.items() if key not in done]
        if todo:
            with transaction.atomic():
                for key, customer in todo:
                    _birthday_issue(template, spec, customer, key, today, now, into)


def _birthday_issue(template, spec, customer, key, today, now, into: BirthdaySweep) -> None:
    try:
        _, created = reward_issue(
            customer=customer,
            brand=template.brand,
            spec=spec,
            template=template,
            idempotency_key=key,
            source=CustomerReward.Source.BIRTHDAY,
            reason=f"Birthday {today.year}",
            now=now,
        )
    except ApplicationError as error:
        # A points reward at a brand whose programme was switched off: logged, and the next
        # run tries again (the key is still free).
        into.failed += 1
        logger.warning(
            "Birthday reward %s for customer %s not issued: %s",
            template.pk,
            customer.pk,
            error.message,
        )
        return
    if created:
        into.issued += 1
    else:
        into.already += 1


def rewards_expire(*, now: datetime | None = None, batch_size: int = EXPIRY_BATCH) -> int:
    """Active codes whose `valid_until` has passed become `expired` (a conditional update, so a
    code an order uses at the same moment is either used or expired, never both). Returns how
    many expired."""
    now = now or timezone.now()
    expired = 0
    last_id = 0
    due = CustomerReward.objects.filter(
        status=CustomerReward.Status.ACTIVE, kind__in=CODE_KINDS, valid_until__lte=now
    )
    while ids := list(
        due.filter(pk__gt=last_id).order_by("pk").values_list("pk", flat=True)[:batch_size]
    ):
        last_id = ids[-1]
        expired += due.filter(pk__in=ids).update(
            status=CustomerReward.Status.EXPIRED, updated_at=now
        )
    return expired


def expiring_rewards_notify(
    *, now: datetime | None = None, days: int | None = None, batch_size: int = EXPIRY_BATCH
) -> int:
    """Send `loyalty.reward.expiring` once for each active code that expires within `days`
    (`REWARD_EXPIRY_NOTICE_DAYS`). Returns how many notices were sent."""
    now = now or timezone.now()
    days = settings.REWARD_EXPIRY_NOTICE_DAYS if days is None else days
    if days <= 0:
        return 0
    candidates = CustomerReward.objects.filter(
        status=CustomerReward.Status.ACTIVE,
        kind__in=CODE_KINDS,
        expiry_notified_at__isnull=True,
        valid_until__gt=now,
        valid_until__lte=now + timedelta(days=days),
    )
    sent = 0
    last_id = 0
    while ids := list(
        candidates.filter(pk__gt=last_id).order_by("pk").values_list("pk", flat=True)[:batch_size]
    ):
        last_id = ids[-1]
        for reward_id in ids:
            sent += _expiry_notice_send(reward_id=reward_id, now=now)
    return sent


@transaction.atomic
def _expiry_notice_send(*, reward_id: int, now: datetime) -> int:
    claimed = CustomerReward.objects.filter(
        pk=reward_id, status=CustomerReward.Status.ACTIVE, expiry_notified_at__isnull=True
    ).update(expiry_notified_at=now)
    if not claimed:
        return 0  # another sweep announced it, or it was used or cancelled meanwhile
    reward = CustomerReward.objects.select_related("customer", "brand").get(pk=reward_id)
    NotificationService.send_notification(
        event=EXPIRING_EVENT,
        payload={
            "reward_id": reward.pk,
            "name": reward.name,
            "kind": reward.kind,
            "code": reward.code,
            "valid_until": reward.valid_until,
        },
        customer=reward.customer,
        brand=reward.brand,
    )
    return 1
