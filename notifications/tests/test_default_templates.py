"""Default templates: one email and one inbox template for every event the code sends, that
render the payload each call site really sends, installed without overwriting edits."""

import ast
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.template.base import VariableNode
from django.utils import timezone

from brands.tests.factories import BrandFactory
from campaigns.services import campaign_order_record, campaign_save
from catalog.tests.factories import ProductFactory
from labels.models import CustomerLabel, Label
from labels.services import label_assign_customer
from loyalty_management.models import LoyaltyProgram, RedemptionItem
from loyalty_management.services.badges import badge_award_by_staff, badge_definition_save
from loyalty_management.services.ledger import account_get_or_create, ledger_credit
from loyalty_management.services.notices import expiring_points_notify
from loyalty_management.services.redemptions import (
    redemption_approve,
    redemption_reject,
    redemption_request,
)
from loyalty_management.tests.factories import LoyaltyProgramFactory
from marketing.services import award_loyalty_points
from notifications.defaults import DEFAULT_TEMPLATES, default_templates_install
from notifications.models import Notification, NotificationDelivery, NotificationTemplate
from notifications.rendering import compile_template
from notifications.services import template_context
from orders.models import Order
from orders.services.payment import order_set_payment_status
from orders.tests.factories import place_order
from rewards.services import RewardSpec, reward_issue
from rewards.sweeps import expiring_rewards_notify
from rules.models import Event
from rules.tests.factories import committed, make_rule, vip_label
from vouchers.distribution import voucher_batch_distribute
from vouchers.tests.factories import batch, voucher_promotion

ROOT = Path(settings.BASE_DIR)
SENDERS = {"send_notification", "notification_send"}
# Call sites whose event name is data, not code: the service passing its argument on, and the
# rule action NOTIFY, which sends the event its rule names (whoever writes the rule writes its
# template).
DYNAMIC_SITES = {"notifications/services.py", "rules/actions.py"}


def _module_strings(tree: ast.Module) -> dict[str, str]:
    return {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _events_in_code() -> tuple[set[str], set[str]]:
    """Event names passed to the notification service in the product's code, and the files
    that pass a name the scan cannot read."""
    events, dynamic = set(), set()
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith((".venv/", "bench/")) or "/tests/" in relative:
            continue
        if "send_notification" not in (source := path.read_text()) and (
            "notification_send" not in source
        ):
            continue
        tree = ast.parse(source)
        constants = _module_strings(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if name not in SENDERS:
                continue
            event = next((k.value for k in node.keywords if k.arg == "event"), None)
            declared = {v for k, v in constants.items() if k.endswith("_EVENT")}
            if isinstance(event, ast.Constant) and isinstance(event.value, str):
                events.add(event.value)
            elif isinstance(event, ast.Name) and event.id in constants:
                events.add(constants[event.id])
            elif isinstance(event, ast.Name) and declared:
                # A helper passing its `event` argument on: the module names the events it
                # sends as `*_EVENT` constants.
                events.update(declared)
            else:
                dynamic.add(relative)
    return events, dynamic


def test_every_event_the_code_sends_has_default_templates():
    events, dynamic = _events_in_code()

    assert {"loyalty.points.earned", "loyalty.points.expiring", "loyalty.badge.awarded"} <= events
    missing = events - set(DEFAULT_TEMPLATES)
    assert not missing, f"Add default templates to notifications/defaults.py for: {missing}"
    assert dynamic <= DYNAMIC_SITES, f"Event names the scan cannot read in: {dynamic}"


def _variables(source: str) -> set[str]:
    """The top-level names a template reads ({{ customer.first_name }} reads customer)."""
    nodes = compile_template(source).nodelist.get_nodes_by_type(VariableNode)
    names = set()
    for node in nodes:
        var = node.filter_expression.var
        lookups = getattr(var, "lookups", None)
        if lookups:
            names.add(lookups[0])
    return names


@pytest.mark.django_db
def test_default_templates_render_the_payloads_the_code_really_sends(a):
    assert default_templates_install() == 2 * len(DEFAULT_TEMPLATES)
    LoyaltyProgramFactory(
        brand=a.brand, expiry_policy=LoyaltyProgram.ExpiryPolicy.AFTER_DAYS, expiry_days=3
    )
    order = order_set_payment_status(
        order_id=a.order.pk, to_status=Order.PaymentStatus.PAID, payment_method="card"
    )
    assert award_loyalty_points(order=order) is not None  # loyalty.points.earned
    assert expiring_points_notify(now=timezone.now() + timedelta(days=1)) == 1  # expiring
    badge = badge_definition_save(
        brand=a.brand,
        data={"name": "Early bird", "kind": "manual", "description": "One of the first."},
    )
    badge_award_by_staff(badge=badge, customer=a.customer, actor=a.staff)  # badge awarded
    vip = vip_label()
    make_rule(
        name="VIP welcome",
        event=Event.CUSTOMER_LABELED,
        conditions=[{"entity": "CUSTOMER", "operator": "HAS_LABEL", "label": vip}],
        actions=[("NOTIFY", {"event": "rules.vip_welcome", "payload": {}})],
    )
    committed(label_assign_customer, label=vip, customer=a.customer)  # rule action NOTIFY
    ledger_credit(
        account_id=account_get_or_create(customer=a.customer, program=a.brand.loyalty_program).pk,
        kind="bonus",
        points=100,
        idempotency_key="templates:fund",
    )
    scarf = RedemptionItem.objects.create(
        brand=a.brand,
        name="Scarf",
        points_cost=30,
        kind=RedemptionItem.Kind.PHYSICAL,
        auto_approve=False,
    )
    for decide in (redemption_approve, redemption_reject):  # requested, approved, rejected
        request, _ = redemption_request(customer=a.customer, brand=a.brand, item_id=scarf.pk)
        extra = {"reason": "It is out of season."} if decide is redemption_reject else {}
        decide(request_id=request.pk, actor=a.staff, **extra)
    reward_issue(  # reward issued
        customer=a.customer,
        brand=a.brand,
        spec=RewardSpec(name="Coffee on us", kind="discount_amount", amount=Decimal("3.00")),
        idempotency_key="templates:reward",
        source="staff",
    )
    assert expiring_rewards_notify(now=timezone.now() + timedelta(days=28)) == 1  # expiring

    partner = BrandFactory(slug="partner", name="Partner")
    campaign_save(
        brand=a.brand,
        data={
            "name": "Across town",
            "brands": [partner],
            "starts_at": timezone.now() - timedelta(days=1),
            "ends_at": timezone.now() + timedelta(days=1),
            "requirement": "each_brand",
            "min_spend_per_brand": Decimal("10.00"),
            "min_brands": 2,
            "reward_kind": "points",
            "reward_points": 20,
        },
    )
    for brand, product in ((a.brand, a.product), (partner, ProductFactory(brand=partner))):
        paid = place_order(brand=brand, products_and_quantities=[(product, 1)], customer=a.customer)
        order_set_payment_status(order_id=paid.pk, to_status=Order.PaymentStatus.PAID)
        campaign_order_record(order_id=paid.pk)  # campaign completed

    newsletter = Label.objects.create(name="Newsletter", type=Label.Type.CUSTOMER, brand=a.brand)
    CustomerLabel.objects.create(label=newsletter, customer=a.customer)
    spring = batch(voucher_promotion(a, name="Spring ten"), quantity=1)
    voucher_batch_distribute(batch_id=spring.pk, label_id=newsletter.pk)  # voucher assigned

    notifications = {}
    for notification in Notification.objects.filter(customer=a.customer).order_by("pk"):
        notifications.setdefault(notification.event, notification)
    assert set(notifications) == set(DEFAULT_TEMPLATES)
    for event, notification in notifications.items():
        context = template_context(
            event=event, payload=notification.payload, customer=a.customer, brand=a.brand
        )
        for template in NotificationTemplate.objects.filter(event=event):
            unknown = (_variables(template.subject) | _variables(template.body)) - set(context)
            assert not unknown, f"{template}: no such payload key {unknown}"
        deliveries = {d.channel: d for d in notification.deliveries.all()}
        assert set(deliveries) == {"inbox", "email"}
        for delivery in deliveries.values():
            assert delivery.status not in (
                NotificationDelivery.Status.SKIPPED,
                NotificationDelivery.Status.FAILED,
            ), delivery.last_error
            assert delivery.subject.strip() and delivery.body.strip()
            assert "{" not in delivery.subject + delivery.body
        inbox = notification.inbox_message
        assert inbox.subject == deliveries["inbox"].subject
    earned = notifications["loyalty.points.earned"]
    points = str(earned.payload["points"])
    assert points in earned.inbox_message.subject
    assert f"order {order.pk}" in earned.inbox_message.body
    email = earned.deliveries.get(channel="email")
    assert email.body.startswith(f"Hello {a.customer.first_name},")
    assert a.brand.name in email.subject
    expiring = notifications["loyalty.points.expiring"]
    assert expiring.payload["expires_at"][:10] in expiring.inbox_message.subject
    assert "Early bird" in notifications["loyalty.badge.awarded"].inbox_message.subject
    reward = notifications["loyalty.reward.issued"]
    assert reward.payload["code"] in reward.inbox_message.body
    expiring_reward = notifications["loyalty.reward.expiring"]
    assert expiring_reward.payload["code"] in expiring_reward.inbox_message.body
    assert expiring_reward.payload["valid_until"][:10] in expiring_reward.inbox_message.subject + (
        expiring_reward.inbox_message.body
    )
    assigned = notifications["voucher.assigned"]
    assert assigned.payload["code"] in assigned.inbox_message.body
    assert assigned.inbox_message.subject == "Your code for Spring ten at Brand A"
    assert notifications["rules.vip_welcome"].payload["rule"] == "VIP welcome"
    completed = notifications["loyalty.campaign.completed"].inbox_message
    assert completed.subject == "You completed Across town"
    assert completed.body == "You completed Across town. Your reward: 20 points."
    rejected = notifications["loyalty.redemption.rejected"].inbox_message.body
    assert "Scarf was not approved: It is out of season." in rejected
    # The VIP rule is global: it notifies without a brand, and the text reads well anyway.
    assert notifications["rules.vip_welcome"].inbox_message.subject == "Welcome to our VIP club"


@pytest.mark.django_db
def test_install_creates_what_is_missing_and_never_overwrites_edits():
    out = StringIO()
    call_command("install_default_templates", stdout=out)
    assert f"{2 * len(DEFAULT_TEMPLATES)} created" in out.getvalue()
    edited = NotificationTemplate.objects.get(event="loyalty.points.earned", channel="email")
    edited.subject = "Points for you"
    edited.is_active = False
    edited.save()
    NotificationTemplate.objects.filter(event="loyalty.badge.awarded", channel="inbox").delete()

    out = StringIO()
    call_command("install_default_templates", stdout=out)

    assert "1 created" in out.getvalue()
    edited.refresh_from_db()
    assert (edited.subject, edited.is_active) == ("Points for you", False)
    assert NotificationTemplate.objects.filter(
        event="loyalty.badge.awarded", channel="inbox", brand__isnull=True
    ).exists()
    assert NotificationTemplate.objects.count() == 2 * len(DEFAULT_TEMPLATES)
    assert default_templates_install() == 0
