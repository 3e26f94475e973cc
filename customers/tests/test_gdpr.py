"""Export and erasure of a customer's personal data: services, API, admin and commands."""

import json
from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client

from brands.roles import BRAND_ADMIN, SUPPORT_AGENT
from core.tests.api_world import assert_error, build_tenant, staff_user, token_client
from customers.gdpr import customer_erase, customer_export
from customers.models import Customer, PersonalDataAudit
from customers.services import customer_link_brand
from labels.services import label_assign_customer
from labels.tests.factories import LabelFactory
from loyalty_management.models import LoyaltyAccount, LoyaltyTransaction
from loyalty_management.services.ledger import account_adjust, account_get_or_create
from loyalty_management.tests.factories import LoyaltyProgramFactory
from notifications.models import InboxMessage, NotificationDelivery
from notifications.services import NotificationService
from notifications.tests.factories import NotificationTemplateFactory
from orders.models import Order, OrderLine
from rules.models import RuleFiring

pytestmark = pytest.mark.django_db

EMAIL = "customer-a@example.com"
PHONE = "+33 6 12 34 56 78"
FIRST, LAST = "Anna", "Leea"


@pytest.fixture
def a(django_capture_on_commit_callbacks):
    tenant = build_tenant("a")
    customer = tenant.customer
    Customer.objects.filter(pk=customer.pk).update(phone=PHONE, birth_date=date(1990, 5, 14))
    customer.refresh_from_db()
    account = account_get_or_create(
        customer=customer, program=LoyaltyProgramFactory(brand=tenant.brand)
    )
    account_adjust(account_id=account.pk, points=250, reason="Welcome gift", actor=tenant.staff)
    label_assign_customer(label=LabelFactory(brand=tenant.brand, name="VIP"), customer=customer)
    NotificationTemplateFactory(channel="inbox", subject="Hi {{ customer.first_name }}")
    NotificationTemplateFactory(channel="email", body="Dear {{ customer.full_name }}")
    with django_capture_on_commit_callbacks(execute=False):  # the email stays pending
        NotificationService.send_notification(
            event="loyalty.points.earned",
            payload={"points": 250, "email": EMAIL, "phone": PHONE},
            customer=customer,
            brand=tenant.brand,
        )
    RuleFiring.objects.create(
        rule_name="Welcome",
        event="customer.created",
        event_id="ev-1",
        brand=tenant.brand,
        object_type="customer",
        object_id=customer.pk,
        customer=customer,
        outcome=RuleFiring.Outcome.APPLIED,
        duration_ms=Decimal("1.000"),
    )
    return tenant


def _pii_in_database(values: list[str]) -> list[str]:
    """Every table column (text, json) in the database holding one of `values`."""
    found = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type IN "
            "('character varying', 'text', 'jsonb', 'json')"
        )
        for table, column in cursor.fetchall():
            for value in values:
                cursor.execute(
                    f'SELECT count(*) FROM "{table}" WHERE "{column}"::text ILIKE %s',  # noqa: S608
                    [f"%{value}%"],
                )
                if cursor.fetchone()[0]:
                    found.append(f"{table}.{column}: {value}")
    return found


def _snapshot(customer):
    return {
        "orders": list(
            Order.objects.filter(customer=customer).values_list("pk", "total", "subtotal")
        ),
        "lines": OrderLine.objects.filter(order__customer=customer).count(),
        "accounts": list(
            LoyaltyAccount.objects.filter(customer=customer).values_list(
                "pk", "available_points", "pending_points", "lifetime_points"
            )
        ),
        "ledger": list(
            LoyaltyTransaction.objects.filter(account__customer=customer).values_list(
                "pk", "points"
            )
        ),
        "labels": customer.label_assignments.count(),
        "firings": RuleFiring.objects.filter(customer=customer).count(),
    }


# --- export -------------------------------------------------------------------------------------


def test_the_export_holds_the_customers_data_and_is_audited(a):
    document = customer_export(customer=a.customer, actor=a.staff, via="api")

    assert document["customer"]["email"] == EMAIL
    assert document["customer"]["birth_date"] == "1990-05-14"
    assert [link["brand"] for link in document["brands"]] == ["brand-a"]
    assert [label["label"] for label in document["labels"]] == ["VIP"]
    assert [order["id"] for order in document["orders"]] == [a.order.pk]
    assert document["orders"][0]["total"] == str(a.order.total)
    assert document["orders"][0]["lines"][0]["quantity"] == 2
    assert document["loyalty"][0]["available_points"] == 250
    assert document["loyalty"][0]["transactions"][0]["reason"] == "Welcome gift"
    assert document["notifications"][0]["inbox"]["subject"] == "Hi Anna"
    assert document["notifications"][0]["deliveries"][0]["recipient"] == EMAIL
    assert document["rule_firings"][0]["rule"] == "Welcome"
    json.dumps(document)  # one JSON document
    audit = PersonalDataAudit.objects.get()
    assert (audit.action, audit.customer_number, audit.actor, audit.via) == (
        "export",
        a.customer.pk,
        a.staff,
        "api",
    )


def test_the_export_holds_only_the_records_of_the_staff_users_brands(a, b):
    customer_link_brand(customer=a.customer, brand=b.brand)
    b_order = Order.objects.create(
        brand=b.brand,
        customer=a.customer,
        currency="EUR",
        subtotal=Decimal("9.00"),
        total=Decimal("9.00"),
    )

    mine = customer_export(customer=a.customer, actor=a.staff, via="api")
    everything = customer_export(customer=a.customer, actor=None, via="command", any_brand=True)

    assert [order["id"] for order in mine["orders"]] == [a.order.pk]
    assert [link["brand"] for link in mine["brands"]] == ["brand-a"]
    assert {order["id"] for order in everything["orders"]} == {a.order.pk, b_order.pk}


def test_the_export_endpoint_is_for_brand_admins_of_the_customers_brands(a, b):
    url = f"/api/v1/customers/{a.customer.pk}/export/"

    ok = token_client(a.staff).get(url)
    other_brand = token_client(b.staff).get(url)
    support = token_client(staff_user("support-a", role=SUPPORT_AGENT, brands=[a.brand])).get(url)
    customer = token_client(a.customer.user).get(url)

    assert ok.status_code == 200 and ok.json()["customer"]["email"] == EMAIL
    assert_error(other_brand, 404)
    assert_error(support, 403)
    assert_error(customer, 403)
    assert PersonalDataAudit.objects.count() == 1


# --- erase --------------------------------------------------------------------------------------


def test_erase_leaves_no_personal_data_and_keeps_orders_and_points(a):
    before = _snapshot(a.customer)
    assert _pii_in_database([EMAIL, "12 34 56 78"])  # the search finds what is there

    assert customer_erase(customer=a.customer, actor=a.staff, via="api") is True

    a.customer.refresh_from_db()
    assert _pii_in_database([EMAIL, "customer-a", "12 34 56 78", FIRST, LAST, "EXT-a"]) == []
    assert (a.customer.email, a.customer.phone, a.customer.birth_date) == (None, "", None)
    assert a.customer.erased_at is not None
    assert _snapshot(a.customer) == before
    user = get_user_model().objects.get(pk=a.customer.user_id)
    assert not user.is_active and not user.has_usable_password()
    assert not InboxMessage.objects.filter(customer=a.customer).exists()
    email = NotificationDelivery.objects.get(notification__customer=a.customer, channel="email")
    assert (email.status, email.recipient) == ("skipped", "")
    audit = PersonalDataAudit.objects.get(action="erase")
    assert (audit.customer_number, audit.actor_name) == (a.customer.pk, a.staff.username)


def test_erase_runs_twice_safely_and_audits_once(a):
    assert customer_erase(customer=a.customer, actor=a.staff, via="api") is True
    assert customer_erase(customer=a.customer, actor=a.staff, via="api") is False
    assert PersonalDataAudit.objects.filter(action="erase").count() == 1


def test_an_erased_customer_can_no_longer_sign_in(a, api_client):
    customer_erase(customer=a.customer, actor=a.staff, via="api")

    response = api_client.post(
        "/api/v1/auth/token/", {"username": EMAIL, "password": "pass-word-123"}
    )

    assert response.status_code in {400, 401}
    assert token_client(a.customer.user).get("/api/v1/me/").status_code in {401, 403}


def test_erase_is_atomic(a, monkeypatch):
    import customers.gdpr as gdpr

    def broken_audit(**kwargs):
        raise RuntimeError("the audit could not be written")

    monkeypatch.setattr(gdpr, "_audit", broken_audit)
    with pytest.raises(RuntimeError):
        customer_erase(customer=a.customer, actor=a.staff, via="api")

    a.customer.refresh_from_db()
    assert (a.customer.email, a.customer.erased_at) == (EMAIL, None)
    assert InboxMessage.objects.filter(customer=a.customer).exists()


def test_the_erase_endpoint(a, b):
    url = f"/api/v1/customers/{a.customer.pk}/erase/"
    support = token_client(staff_user("support-a", role=SUPPORT_AGENT, brands=[a.brand]))

    assert_error(token_client(b.staff).post(url), 404)
    assert_error(support.post(url), 403)
    assert Customer.objects.get(pk=a.customer.pk).erased_at is None

    first = token_client(a.staff).post(url)
    again = token_client(a.staff).post(url)

    assert first.status_code == 200 and first.json()["erased"] is True
    assert again.status_code == 200 and again.json()["erased"] is False
    assert Customer.objects.get(pk=a.customer.pk).email is None


def test_staff_cannot_erase_a_customer_another_brand_also_knows(a, b):
    customer_link_brand(customer=a.customer, brand=b.brand)

    response = token_client(a.staff).post(f"/api/v1/customers/{a.customer.pk}/erase/")

    body = assert_error(response, 403, "customer_shared_with_other_brands")
    assert body["message"].startswith("Other brands also know this customer")
    assert Customer.objects.get(pk=a.customer.pk).email == EMAIL
    superuser = token_client(staff_user("root", superuser=True))
    assert superuser.post(f"/api/v1/customers/{a.customer.pk}/erase/").json()["erased"] is True


# --- commands and admin -------------------------------------------------------------------------


def test_the_commands_export_and_erase(a, tmp_path, capsys):
    target = tmp_path / "export.json"

    call_command("customer_export", str(a.customer.pk), "--output", str(target))
    call_command("customer_erase", str(a.customer.pk), "--actor", a.staff.username)
    call_command("customer_erase", str(a.customer.pk), "--actor", a.staff.username)

    assert json.loads(target.read_text())["customer"]["email"] == EMAIL
    out = capsys.readouterr().out
    assert "personal data erased" in out and "already erased" in out
    assert Customer.objects.get(pk=a.customer.pk).email is None
    assert list(PersonalDataAudit.objects.values_list("action", "via").order_by("id")) == [
        ("export", "command"),
        ("erase", "command"),
    ]
    with pytest.raises(CommandError, match="no active user"):
        call_command("customer_erase", str(a.customer.pk), "--actor", "nobody")


def _admin(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_admin_exports_and_erases_after_confirmation(a):
    client = _admin(a.staff)
    changelist = "/admin/customers/customer/"
    selected = {"_selected_action": [a.customer.pk]}

    export = client.post(changelist, {**selected, "action": "export_personal_data", "index": 0})
    confirm = client.post(changelist, {**selected, "action": "erase_personal_data", "index": 0})

    assert export["Content-Disposition"].startswith("attachment")
    assert json.loads(export.content)["customer"]["email"] == EMAIL
    assert "Yes, erase their personal data" in confirm.content.decode()
    assert Customer.objects.get(pk=a.customer.pk).email == EMAIL  # not before confirming

    done = client.post(
        changelist, {**selected, "action": "erase_personal_data", "confirmed": "yes"}, follow=True
    )

    assert "Personal data of 1 customer(s) erased" in done.content.decode()
    assert Customer.objects.get(pk=a.customer.pk).email is None
    assert PersonalDataAudit.objects.filter(action="erase", via="admin").count() == 1


def test_the_admin_offers_export_and_erase_only_to_roles_with_the_permission(a):
    support = _admin(staff_user("support-a", role=SUPPORT_AGENT, brands=[a.brand]))
    brand_admin = _admin(staff_user("admin-a", role=BRAND_ADMIN, brands=[a.brand]))

    assert "erase_personal_data" not in support.get("/admin/customers/customer/").content.decode()
    assert "erase_personal_data" in brand_admin.get("/admin/customers/customer/").content.decode()
    refused = support.post(
        "/admin/customers/customer/",
        {"_selected_action": [a.customer.pk], "action": "erase_personal_data", "confirmed": "yes"},
    )
    assert refused.status_code in {200, 302}
    assert Customer.objects.get(pk=a.customer.pk).email == EMAIL


def test_badges_are_exported_by_brand_and_their_staff_notes_erased(a, b):
    from loyalty_management.models import CustomerBadge
    from loyalty_management.services.badges import badge_award, badge_definition_save

    customer_link_brand(customer=a.customer, brand=b.brand)
    for tenant in (a, b):
        hero = badge_definition_save(brand=tenant.brand, data={"name": "Hero", "kind": "manual"})
        badge_award(badge=hero, customer=a.customer, source="staff", note=f"Met {FIRST}")

    mine = customer_export(customer=a.customer, actor=a.staff, via="api")
    assert [(held["brand"], held["badge"], held["note"]) for held in mine["badges"]] == [
        ("brand-a", "Hero", f"Met {FIRST}")
    ]

    customer_erase(customer=a.customer, actor=None, via="command", any_brand=True)

    assert list(CustomerBadge.objects.values_list("note", flat=True)) == ["", ""]
