"""`seed_demo`: a realistic demo, and a second run adds nothing."""

import re
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from brands.models import Brand, PosDevice, Store
from brands.services import pos_device_authenticate
from campaigns.models import CampaignOrder, CampaignProgress, CrossBrandCampaign
from catalog.models import Category, Product
from core.demo import DEMO_EXPERIMENT, DEMO_VOUCHER_PROMOTION, VIP_COUNT, VIP_LABEL
from customers.models import Customer, CustomerBrand
from experiments.models import Experiment
from labels.models import CustomerLabel, Label, ProductLabel
from loyalty_management.models import (
    BadgeDefinition,
    CustomerBadge,
    LoyaltyAccount,
    LoyaltyLot,
    LoyaltyProgram,
    LoyaltyTransaction,
    RedemptionItem,
    Tier,
)
from notifications.defaults import DEFAULT_TEMPLATES
from notifications.models import (
    InboxMessage,
    Notification,
    NotificationDelivery,
    NotificationTemplate,
)
from orders.models import Order, OrderLine, PaymentStatusChange
from promotions.models import Promotion
from rewards.models import CustomerReward, RewardTemplate
from rules.models import Rule
from rules.services.authoring import VIP_RULE
from vouchers.models import VoucherBatch
from wallets.models import Wallet, WalletTransaction

pytestmark = pytest.mark.django_db

MODELS = [
    Brand,
    Store,
    PosDevice,
    Category,
    Product,
    Customer,
    CustomerBrand,
    Label,
    CustomerLabel,
    ProductLabel,
    Order,
    OrderLine,
    Promotion,
    PaymentStatusChange,
    get_user_model(),
    LoyaltyProgram,
    Tier,
    LoyaltyAccount,
    LoyaltyTransaction,
    LoyaltyLot,
    BadgeDefinition,
    CustomerBadge,
    Wallet,
    WalletTransaction,
    RedemptionItem,
    RewardTemplate,
    CustomerReward,
    NotificationTemplate,
    Notification,
    InboxMessage,
    CrossBrandCampaign,
    CampaignOrder,
    CampaignProgress,
    CustomerReward,
]
KEY_PATTERN = re.compile(r"pos_[0-9a-f]{12}_[A-Za-z0-9_\-]+")


def _seed() -> str:
    out = StringIO()
    call_command(
        "seed_demo", "--customers=60", "--orders=80", "--products=20", "--quiet", stdout=out
    )
    return out.getvalue()


def _counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def test_seed_demo_twice_creates_nothing_the_second_time():
    first_output = _seed()
    first = _counts()
    first_orders = set(Order.objects.values_list("pk", "payment_status", "total", "created_at"))
    first_key_hashes = set(PosDevice.objects.values_list("key_hash", flat=True))

    second_output = _seed()

    assert _counts() == first
    # Each brand has a birthday reward for the sweep and a welcome reward given to a few.
    for brand in Brand.objects.all():
        templates = dict(RewardTemplate.objects.filter(brand=brand).values_list("name", "trigger"))
        assert templates == {"Birthday treat": "birthday", "Welcome": "manual"}
        assert CustomerReward.objects.filter(brand=brand, template__name="Welcome").exists()
    assert (
        set(Order.objects.values_list("pk", "payment_status", "total", "created_at"))
        == first_orders
    )
    assert "Created: nothing" in second_output
    # Keys are shown once, when the device is created; the second run keeps them.
    assert len(KEY_PATTERN.findall(first_output)) == 2
    assert KEY_PATTERN.findall(second_output) == []
    assert set(PosDevice.objects.values_list("key_hash", flat=True)) == first_key_hashes
    assert all(pos_device_authenticate(raw_key=key) for key in KEY_PATTERN.findall(first_output))


def test_seed_demo_builds_a_realistic_demo():
    _seed()

    assert Brand.objects.count() == 2
    assert all(2 <= brand.stores.count() <= 3 for brand in Brand.objects.all())
    assert Customer.objects.count() == 60
    assert Product.objects.count() == 40
    assert Order.objects.count() == 80
    assert Category.objects.filter(parent__isnull=False).exists()
    vip = Label.objects.get(name=VIP_LABEL, type=Label.Type.CUSTOMER, brand__isnull=True)
    assert CustomerLabel.objects.filter(label=vip).count() == VIP_COUNT
    statuses = set(Order.objects.values_list("payment_status", flat=True))
    assert {Order.PaymentStatus.PAID, Order.PaymentStatus.PENDING} <= statuses
    assert statuses & {Order.PaymentStatus.REFUNDED, Order.PaymentStatus.CANCELLED}
    # Every paid order went through the payment service, which audits it.
    paid = Order.objects.filter(payment_status=Order.PaymentStatus.PAID)
    assert not paid.filter(payment_changes__isnull=True).exists()
    # Backdated over the last weeks, payments after placement.
    assert not paid.filter(paid_at__lt=F("created_at")).exists()
    oldest = Order.objects.order_by("created_at").first().created_at
    assert timezone.now() - oldest > timedelta(days=14)
    # Live promotions for quotes, the basket page and the POS bundles, compiled and valid.
    for brand in Brand.objects.all():
        live = Promotion.objects.filter(brand=brand, status=Promotion.Status.ACTIVE)
        assert live.count() == 5
        assert live.filter(type=Promotion.Type.CASHBACK).exists()
        assert not live.filter(compiled__isnull=True).exists()
        # One of them needs a voucher: a batch of signed codes a till can check offline.
        voucher = live.get(name=DEMO_VOUCHER_PROMOTION)
        assert voucher.compiled["voucher"]["key"] and voucher.compiled["voucher"]["batches"]
        made = VoucherBatch.objects.get(promotion=voucher)
        assert (made.status, made.offline, made.codes.count()) == ("ready", True, 200)
    # A draft A/B experiment of the first brand, to start from the admin.
    experiment = Experiment.objects.get(name=DEMO_EXPERIMENT)
    assert (experiment.status, experiment.variants.count()) == ("draft", 2)
    # The VIP example rule is installed, after the orders: like the discount promotions it
    # does not price them (SQLite checks total = subtotal - discount in floating point, which
    # a discounted total such as 33.90 - 3.39 fails, so `make run` would stop).
    assert Rule.objects.filter(name=VIP_RULE["name"], status=Rule.Status.ENABLED).exists()
    assert not Order.objects.filter(discount_total__gt=0).exists()
    assert Order.objects.filter(cashback_total__gt=0).exists()
    # One cross-brand campaign across both brands, with the paid orders of its period counted.
    campaign = CrossBrandCampaign.objects.get()
    assert campaign.brands.count() == 2
    counted = CampaignOrder.objects.filter(campaign=campaign)
    assert counted.exists()
    assert CampaignProgress.objects.filter(campaign=campaign).count() == (
        counted.values("customer").distinct().count()
    )
    assert CustomerReward.objects.filter(source="campaign").count() == (
        CampaignProgress.objects.filter(is_met=True).count()
    )


def test_printed_logins_and_device_keys_work(client):
    output = _seed()

    keys = KEY_PATTERN.findall(output)
    assert len(keys) == 2
    devices = {pos_device_authenticate(raw_key=key) for key in keys}
    assert {device.store.brand.slug for device in devices} == set(
        Brand.objects.values_list("slug", flat=True)
    )
    assert "admin / admin" in output
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password("admin")
    staff = get_user_model().objects.get(username="burger-republic-admin")
    assert not staff.is_superuser
    assert list(staff.staff_brands.values_list("slug", flat=True)) == ["burger-republic"]
    # The login lockout looks at the request of every authentication.
    assert client.login(request=HttpRequest(), username="burger-republic-admin", password="admin")


def test_demo_device_keys_are_random_not_derived_from_the_secret_key():
    first_keys = KEY_PATTERN.findall(_seed())
    PosDevice.objects.all().delete()

    # Same SECRET_KEY, same brands and stores: a derived key would come out the same.
    second_keys = KEY_PATTERN.findall(_seed())

    assert len(second_keys) == 2
    assert set(first_keys).isdisjoint(second_keys)
    assert all(pos_device_authenticate(raw_key=key) for key in second_keys)


def test_a_second_run_keeps_changed_passwords_deactivations_and_roles():
    _seed()
    user_model = get_user_model()
    admin = user_model.objects.get(username="admin")
    admin.set_password("a-changed-long-password")
    admin.save()
    staff = user_model.objects.get(username="burger-republic-admin")
    staff.is_active = False
    staff.save()
    staff.groups.clear()
    staff.staff_brands.clear()

    output = _seed()

    admin.refresh_from_db()
    staff.refresh_from_db()
    assert admin.check_password("a-changed-long-password")
    assert not admin.check_password("admin")
    assert not staff.is_active
    assert not staff.groups.exists()
    assert not staff.staff_brands.exists()
    assert "admin / admin" not in output
    assert "passwords were not changed" in output


def test_admin_password_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "s3cret-demo")

    output = _seed()

    assert "admin / s3cret-demo" in output
    assert get_user_model().objects.get(username="admin").check_password("s3cret-demo")


def test_the_demo_notifies_with_the_default_templates_and_shows_loyalty_at_work():
    output = _seed()

    # Every event the product sends has an email and an inbox template, so the demo's
    # notices are delivered, none skipped for want of a template.
    assert set(
        NotificationTemplate.objects.filter(brand__isnull=True).values_list("event", "channel")
    ) == {(event, channel) for event in DEFAULT_TEMPLATES for channel in ("email", "inbox")}
    assert Notification.objects.filter(event="loyalty.points.earned").exists()
    assert Notification.objects.filter(event="loyalty.badge.awarded").exists()
    assert not NotificationDelivery.objects.filter(
        status__in=[NotificationDelivery.Status.SKIPPED, NotificationDelivery.Status.FAILED]
    ).exists()
    assert InboxMessage.objects.filter(subject__contains="points at").exists()

    for brand in Brand.objects.all():
        program = LoyaltyProgram.objects.get(brand=brand)
        assert list(program.tiers.values_list("name", flat=True)) == ["Bronze", "Silver", "Gold"]
        assert set(BadgeDefinition.objects.filter(brand=brand).values_list("kind", flat=True)) == {
            "order_count",
            "lifetime_spend",
            "tier",
            "manual",
        }
        # Points for every paid demo order with a customer (through the award service, so one
        # earned transaction per order, and balances that equal the ledger).
        paid = Order.objects.filter(
            brand=brand,
            customer__isnull=False,
            payment_status__in=[Order.PaymentStatus.PAID, Order.PaymentStatus.PARTIALLY_REFUNDED],
        )
        earned = LoyaltyTransaction.objects.filter(
            account__program=program, kind=LoyaltyTransaction.Kind.EARNED
        )
        assert set(earned.values_list("order_id", flat=True)) == set(
            paid.values_list("pk", flat=True)
        )
        assert LoyaltyTransaction.objects.filter(
            account__program=program, kind=LoyaltyTransaction.Kind.CASHBACK
        ).exists()
        # A showcase customer: points, a tier, a badge and a wallet with credit.
        showcase = [
            customer
            for customer in Customer.objects.filter(loyalty_accounts__program=program)
            if customer.loyalty_accounts.get(program=program).available_points > 0
            and customer.loyalty_accounts.get(program=program).tier_id is not None
            and CustomerBadge.objects.filter(customer=customer, badge__brand=brand).exists()
            and Wallet.objects.filter(customer=customer, brand=brand, balance__gt=0).exists()
        ]
        assert showcase
        # The catalogue offers a discount code for points.
        code_item = RedemptionItem.objects.get(brand=brand, kind="discount_amount")
        assert (code_item.name, code_item.points_cost, code_item.discount_amount) == (
            "5.00 off your next order",
            200,
            Decimal("5.00"),
        )
    for account in LoyaltyAccount.objects.all():
        ledger = LoyaltyTransaction.objects.filter(account=account)
        assert account.available_points + account.pending_points == sum(
            ledger.values_list("points", flat=True)
        )
    assert "points awards" in output and "wallet credits" in output


def test_logins_are_printed_last():
    lines = _seed().strip().splitlines()

    assert lines[-6] == "Admin logins (/admin/):"
    assert lines[-3].startswith("  nordfaden-admin / admin")
    assert lines[-2] == "Storefront login (/account/ and /basket/):"


def test_the_printed_storefront_login_opens_the_account_page_with_points_and_a_code(client):
    output = _seed()

    email = output.strip().splitlines()[-1].split(" / ")[0].strip()
    assert client.login(request=HttpRequest(), username=email, password="admin")
    page = client.get("/account/").content.decode()
    customer = Customer.objects.get(email=email)
    reward = CustomerReward.objects.filter(customer=customer, code__isnull=False).first()
    assert reward is not None and reward.code in page
    assert "Redeem" in page and "Your wallet" in page
    assert "Storefront login" not in _seed()  # a second run leaves the login as it is
