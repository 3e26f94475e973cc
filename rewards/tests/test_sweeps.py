"""The birthday sweep and the expiry sweep: once per customer and year, at the brand's local
day, and each expiry notice once, however often or concurrently the sweeps run."""

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from brands.tests.factories import BrandFactory
from customers.models import CustomerBrand
from customers.tests.factories import CustomerFactory
from notifications.models import Notification
from rewards.models import CustomerReward, RewardKind, RewardTemplate
from rewards.services import RewardSpec, reward_issue
from rewards.sweeps import (
    EXPIRING_EVENT,
    birthday_rewards_issue,
    expiring_rewards_notify,
    rewards_expire,
)
from rewards.tests.factories import RewardTemplateFactory


def customer_of(brand, birth_date, **fields):
    customer = CustomerFactory(birth_date=birth_date, **fields)
    CustomerBrand.objects.create(customer=customer, brand=brand)
    return customer


def birthday_template(brand, **fields):
    return RewardTemplateFactory(
        brand=brand, name="Birthday treat", trigger=RewardTemplate.Trigger.BIRTHDAY, **fields
    )


def rewarded(template) -> list[int]:
    return sorted(
        CustomerReward.objects.filter(template=template).values_list("customer_id", flat=True)
    )


@pytest.mark.django_db
class TestBirthdaySweep:
    def test_customers_whose_birthday_is_today_get_the_reward_once(self):
        brand = BrandFactory(time_zone="UTC")
        template = birthday_template(brand, amount=Decimal("5.00"), valid_days=10)
        today = customer_of(brand, date(1990, 6, 15))
        customer_of(brand, date(1990, 6, 16))
        customer_of(brand, None)
        CustomerFactory(birth_date=date(1980, 6, 15))  # not a customer of the brand
        erased = customer_of(brand, date(1985, 6, 15))
        erased.erased_at = timezone.now()
        erased.save()
        now = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)

        first = birthday_rewards_issue(now=now)
        second = birthday_rewards_issue(now=now + timedelta(hours=5))

        assert (first.issued, second.issued, second.already) == (1, 0, 1)
        assert rewarded(template) == [today.pk]
        reward = CustomerReward.objects.get()
        assert reward.idempotency_key == f"birthday:{template.pk}:{today.pk}:2026"
        assert reward.source == "birthday" and reward.code
        assert reward.valid_until == now + timedelta(days=10)
        assert (
            Notification.objects.filter(customer=today, event="loyalty.reward.issued").count() == 1
        )

    def test_next_year_the_customer_gets_it_again(self):
        brand = BrandFactory()
        template = birthday_template(brand)
        customer = customer_of(brand, date(1990, 6, 15))
        birthday_rewards_issue(now=datetime(2026, 6, 15, 12, tzinfo=UTC))
        birthday_rewards_issue(now=datetime(2027, 6, 15, 12, tzinfo=UTC))
        assert rewarded(template) == [customer.pk, customer.pk]

    @pytest.mark.parametrize(
        ("time_zone", "utc_hour", "celebrated"),
        [
            # 23:30 UTC on 14 June is already 15 June in Tokyo (+9) ...
            ("Asia/Tokyo", (14, 23), True),
            # ... and 14:59 UTC on 15 June is 15 June, 15:00 UTC is 16 June there.
            ("Asia/Tokyo", (15, 14), True),
            ("Asia/Tokyo", (15, 15), False),
            # 03:00 UTC on 15 June is still 14 June in Los Angeles (-7) ...
            ("America/Los_Angeles", (15, 3), False),
            ("America/Los_Angeles", (15, 7), True),
            # ... and 06:00 UTC on 16 June is still 15 June there.
            ("America/Los_Angeles", (16, 6), True),
            ("UTC", (14, 23), False),
            ("UTC", (15, 0), True),
        ],
    )
    def test_the_day_is_the_brands_day(self, time_zone, utc_hour, celebrated):
        brand = BrandFactory(time_zone=time_zone)
        template = birthday_template(brand)
        customer = customer_of(brand, date(2000, 6, 15))
        day, hour = utc_hour
        birthday_rewards_issue(
            now=datetime(2026, 6, day, hour, 30 if hour == 23 else 0, tzinfo=UTC)
        )
        assert rewarded(template) == ([customer.pk] if celebrated else [])

    def test_a_29_february_birthday_is_on_28_february_in_other_years(self):
        brand = BrandFactory()
        template = birthday_template(brand)
        leapling = customer_of(brand, date(2000, 2, 29))
        on_28 = customer_of(brand, date(2001, 2, 28))

        birthday_rewards_issue(now=datetime(2027, 2, 28, 12, tzinfo=UTC))  # not a leap year
        assert rewarded(template) == sorted([leapling.pk, on_28.pk])
        birthday_rewards_issue(now=datetime(2027, 3, 1, 12, tzinfo=UTC))
        assert len(rewarded(template)) == 2

        birthday_rewards_issue(now=datetime(2028, 2, 28, 12, tzinfo=UTC))  # a leap year
        assert rewarded(template).count(leapling.pk) == 1
        birthday_rewards_issue(now=datetime(2028, 2, 29, 12, tzinfo=UTC))
        assert rewarded(template).count(leapling.pk) == 2
        assert rewarded(template).count(on_28.pk) == 2

    def test_only_active_birthday_templates_and_each_brands_own_customers(self):
        brand, other = BrandFactory(), BrandFactory()
        template = birthday_template(brand)
        birthday_template(other, is_active=False)
        RewardTemplateFactory(brand=brand, name="Welcome")  # manual
        ours = customer_of(brand, date(1990, 6, 15))
        customer_of(other, date(1990, 6, 15))

        birthday_rewards_issue(now=datetime(2026, 6, 15, 12, tzinfo=UTC))

        assert list(CustomerReward.objects.values_list("template_id", "customer_id")) == [
            (template.pk, ours.pk)
        ]

    def test_batches_walk_the_customers_by_id_with_a_bounded_number_of_queries(self):
        brand = BrandFactory()
        template = birthday_template(brand)
        customers = [customer_of(brand, date(1990 + i, 6, 15)) for i in range(7)]
        now = datetime(2026, 6, 15, 12, tzinfo=UTC)

        result = birthday_rewards_issue(now=now, batch_size=3)
        assert (result.issued, result.batches) == (7, 3)
        assert rewarded(template) == sorted(c.pk for c in customers)

        with CaptureQueriesContext(connection) as again:
            result = birthday_rewards_issue(now=now, batch_size=3)
        # The templates, then per batch the customers and the keys already issued, and the
        # empty batch that ends the walk: nothing per customer.
        assert (result.issued, result.already) == (0, 7)
        assert len(again.captured_queries) == 1 + 3 * 2 + 1

    def test_a_points_birthday_reward_without_a_programme_is_logged_and_left_for_later(self):
        brand = BrandFactory()
        birthday_template(brand, kind=RewardKind.POINTS, amount=None, points=100)
        customer_of(brand, date(1990, 6, 15))
        result = birthday_rewards_issue(now=datetime(2026, 6, 15, 12, tzinfo=UTC))
        assert (result.issued, result.failed) == (0, 1)
        assert not CustomerReward.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_issue_one_reward_per_customer():
    brand = BrandFactory()
    template = birthday_template(brand)
    customers = [customer_of(brand, date(1980 + i, 6, 15)) for i in range(20)]
    now = datetime(2026, 6, 15, 12, tzinfo=UTC)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def sweep():
        try:
            barrier.wait()
            results.append(birthday_rewards_issue(now=now, batch_size=5))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(r.issued for r in results) == 20
    assert rewarded(template) == sorted(c.pk for c in customers)
    assert Notification.objects.filter(event="loyalty.reward.issued").count() == 20


def issue_code(customer, brand, key, *, valid_days=5, now=None, kind=RewardKind.DISCOUNT_AMOUNT):
    spec = RewardSpec(name="Coffee", kind=kind, amount=Decimal("3.00"), valid_days=valid_days)
    return reward_issue(
        customer=customer, brand=brand, spec=spec, idempotency_key=key, source="staff", now=now
    )[0]


@pytest.mark.django_db
class TestExpirySweep:
    def test_codes_past_their_date_expire_and_nothing_else_changes(self):
        brand = BrandFactory()
        customer = customer_of(brand, None)
        now = timezone.now()
        old = issue_code(customer, brand, "old", valid_days=2, now=now - timedelta(days=3))
        fresh = issue_code(customer, brand, "fresh", valid_days=2, now=now)
        used = issue_code(customer, brand, "used", valid_days=1, now=now - timedelta(days=3))
        CustomerReward.objects.filter(pk=used.pk).update(status="used")
        points = reward_issue(
            customer=customer,
            brand=brand,
            spec=RewardSpec(name="Credit", kind=RewardKind.WALLET_CREDIT, amount=Decimal("1")),
            idempotency_key="credit",
            source="staff",
            now=now - timedelta(days=60),
        )[0]

        assert rewards_expire(now=now) == 1
        assert rewards_expire(now=now) == 0
        statuses = dict(CustomerReward.objects.values_list("pk", "status"))
        assert statuses == {
            old.pk: "expired",
            fresh.pk: "active",
            used.pk: "used",
            points.pk: "used",
        }

    def test_the_expiry_notice_goes_once_days_before(self, settings):
        settings.REWARD_EXPIRY_NOTICE_DAYS = 3
        brand = BrandFactory()
        customer = customer_of(brand, None)
        now = timezone.now()
        soon = issue_code(customer, brand, "soon", valid_days=2, now=now)
        later = issue_code(customer, brand, "later", valid_days=10, now=now)

        assert expiring_rewards_notify(now=now) == 1
        assert expiring_rewards_notify(now=now + timedelta(hours=1)) == 0
        notice = Notification.objects.get(event=EXPIRING_EVENT)
        assert notice.payload["code"] == soon.code and notice.customer_id == customer.pk
        soon.refresh_from_db()
        assert soon.expiry_notified_at == now
        # A week later the second code is within three days of its end: its own notice.
        assert expiring_rewards_notify(now=now + timedelta(days=8)) == 1
        later.refresh_from_db()
        assert later.expiry_notified_at is not None
        assert Notification.objects.filter(event=EXPIRING_EVENT).count() == 2

    def test_no_notice_for_codes_used_cancelled_or_when_switched_off(self, settings):
        brand = BrandFactory()
        customer = customer_of(brand, None)
        now = timezone.now()
        used = issue_code(customer, brand, "u", valid_days=1, now=now)
        CustomerReward.objects.filter(pk=used.pk).update(status="cancelled")
        settings.REWARD_EXPIRY_NOTICE_DAYS = 0
        issue_code(customer, brand, "v", valid_days=1, now=now)
        assert expiring_rewards_notify(now=now) == 0
        settings.REWARD_EXPIRY_NOTICE_DAYS = 3
        assert expiring_rewards_notify(now=now) == 1


@pytest.mark.django_db(transaction=True)
def test_two_expiry_sweeps_at_once_send_each_notice_once(settings):
    settings.REWARD_EXPIRY_NOTICE_DAYS = 3
    brand = BrandFactory()
    customer = customer_of(brand, None)
    now = timezone.now()
    for i in range(15):
        issue_code(customer, brand, f"k{i}", valid_days=2, now=now)
    barrier = threading.Barrier(2)
    sent, errors = [], []

    def sweep():
        try:
            barrier.wait()
            sent.append(expiring_rewards_notify(now=now, batch_size=4))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(sent) == 15
    assert Notification.objects.filter(event=EXPIRING_EVENT).count() == 15
