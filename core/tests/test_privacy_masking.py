"""Personal data shown to staff by role, in the API, the admin and the staff basket page."""

from datetime import date

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from brands.roles import ANALYST, BRAND_ADMIN, MARKETING_MANAGER, STORE_MANAGER, SUPPORT_AGENT
from core.privacy import PII_POLICY, Level, mask_birth_date, mask_email, mask_phone
from core.tests.api_world import build_tenant, staff_user, token_client
from customers.models import Customer
from loyalty_management.tests.factories import LoyaltyAccountFactory, LoyaltyProgramFactory
from notifications.models import Channel, Notification, NotificationDelivery

pytestmark = pytest.mark.django_db

EMAIL = "customer-a@example.com"
PHONE = "+33 6 12 34 56 78"
BIRTH = date(1990, 5, 14)

FULL = {"email": EMAIL, "phone": PHONE, "birth_date": "1990-05-14"}
SHOWN = {
    BRAND_ADMIN: FULL,
    SUPPORT_AGENT: {"email": "c***@example.com", "phone": "+33 ••• •• 78", "birth_date": "--05-14"},
    MARKETING_MANAGER: {
        "email": "c***@example.com",
        "phone": "+33 ••• •• 78",
        "birth_date": "--05-14",
    },
    STORE_MANAGER: {"email": "c***@example.com", "phone": "+33 ••• •• 78", "birth_date": None},
    ANALYST: {"email": "c***@example.com", "phone": None, "birth_date": None},
}


@pytest.fixture
def a():
    tenant = build_tenant("a")
    Customer.objects.filter(pk=tenant.customer.pk).update(phone=PHONE, birth_date=BIRTH)
    return tenant


def _user(role, tenant, **kwargs):
    name = (role or "no-role").replace(" ", "-").lower()
    return staff_user(f"{name}-{tenant.brand.slug}", role=role, brands=[tenant.brand], **kwargs)


def test_the_masks():
    assert mask_email("Jane.Doe@Example.com") == "J***@Example.com"
    assert mask_phone("+33 6 12 34 56 78") == "+33 ••• •• 78"
    assert mask_phone("0612345678") == "••• •• 78"
    assert mask_birth_date(date(1990, 5, 14)) == "--05-14"


def test_every_role_has_a_policy_and_only_the_brand_admin_sees_everything_in_full():
    assert set(PII_POLICY) == set(SHOWN)
    for role, levels in PII_POLICY.items():
        assert (set(levels.values()) == {Level.FULL}) == (role == BRAND_ADMIN)


@pytest.mark.parametrize("role", list(SHOWN))
def test_the_customers_api_shows_personal_data_as_the_role_allows(a, role):
    client = token_client(_user(role, a))

    listed = client.get("/api/v1/customers/").json()["results"]
    detail = client.get(f"/api/v1/customers/{a.customer.pk}/").json()

    for body in (listed[0], detail):
        assert {key: body[key] for key in FULL} == SHOWN[role]
        assert (body["first_name"], body["id"]) == ("Anna", a.customer.pk)
    if role != BRAND_ADMIN:
        assert EMAIL not in str(client.get("/api/v1/customers/").content)


def test_superusers_see_everything_in_full(a):
    superuser = token_client(_user(None, a, superuser=True))
    body = superuser.get(f"/api/v1/customers/{a.customer.pk}/").json()
    assert {key: body[key] for key in FULL} == FULL


def test_a_customer_sees_their_own_data_in_full(a):
    body = token_client(a.customer.user).get("/api/v1/me/").json()
    assert {key: body[key] for key in FULL} == FULL


def test_staff_still_find_a_customer_by_email_without_seeing_it(a):
    client = token_client(_user(ANALYST, a))

    body = client.get("/api/v1/customers/", {"email": EMAIL.upper()}).json()

    assert [row["id"] for row in body["results"]] == [a.customer.pk]
    assert body["results"][0]["email"] == "c***@example.com"


def test_masked_values_cannot_be_rebuilt_by_search_filter_or_ordering(a):
    # Given an analyst, who sees emails masked and phones not at all
    client = token_client(_user(ANALYST, a))

    def ids(**params) -> list[int]:
        response = client.get("/api/v1/customers/", params)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    # When they search a part of the email, the whole email, and the phone
    part, whole = ids(search=EMAIL[:4]), ids(search=EMAIL)
    by_phone = ids(phone=PHONE)

    # Then a part matches nothing, the whole address still finds the customer, the hidden phone
    # filters nothing in, and ordering by email is not offered
    assert (part, whole, by_phone) == ([], [a.customer.pk], [])
    assert ids(ordering="email") == ids(ordering="-email")  # ignored: an order would tell
    # ... while a brand admin, who sees them in full, may do all three
    admin = token_client(_user(BRAND_ADMIN, a))
    assert [
        r["id"] for r in admin.get("/api/v1/customers/", {"search": EMAIL[:4]}).json()["results"]
    ] == [a.customer.pk]
    assert [
        r["id"] for r in admin.get("/api/v1/customers/", {"phone": PHONE}).json()["results"]
    ] == [a.customer.pk]


def test_loyalty_accounts_show_the_email_as_the_role_allows(a):
    LoyaltyAccountFactory(customer=a.customer, program=LoyaltyProgramFactory(brand=a.brand))
    rows = {}
    for role in (BRAND_ADMIN, ANALYST):
        response = token_client(_user(role, a)).get("/api/v1/loyalty/accounts/")
        rows[role] = response.json()["results"]
    assert rows[BRAND_ADMIN] and rows[ANALYST]
    assert rows[BRAND_ADMIN][0]["customer_email"] == EMAIL
    assert rows[ANALYST][0]["customer_email"] == "c***@example.com"


# --- admin --------------------------------------------------------------------------------------


def _admin(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_support_agent_sees_masked_values_in_the_admin_list_and_change_form(a):
    client = _admin(_user(SUPPORT_AGENT, a))

    listing = client.get("/admin/customers/customer/").content.decode()
    change = client.get(f"/admin/customers/customer/{a.customer.pk}/change/").content.decode()

    for page in (listing, change):
        assert EMAIL not in page and "12 34 56" not in page and "1990" not in page
        assert "c***@example.com" in page and "+33 ••• •• 78" in page
    assert 'name="email"' not in change and 'name="first_name"' in change


def test_a_masked_admin_change_keeps_the_hidden_values(a):
    client = _admin(_user(SUPPORT_AGENT, a))

    response = client.post(
        f"/admin/customers/customer/{a.customer.pk}/change/",
        {
            "first_name": "Annie",
            "last_name": "Lee",
            "external_id": "EXT-a",
            "brand_links-TOTAL_FORMS": "0",
            "brand_links-INITIAL_FORMS": "0",
            "label_assignments-TOTAL_FORMS": "0",
            "label_assignments-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    a.customer.refresh_from_db()
    assert (a.customer.first_name, a.customer.email, a.customer.phone) == ("Annie", EMAIL, PHONE)
    assert a.customer.birth_date == BIRTH


def test_a_brand_admin_edits_the_full_values_in_the_admin(a):
    client = _admin(_user(BRAND_ADMIN, a))

    change = client.get(f"/admin/customers/customer/{a.customer.pk}/change/").content.decode()

    assert f'value="{EMAIL}"' in change and "1990-05-14" in change


def test_the_admin_search_by_email_finds_the_customer_for_a_masked_role(a):
    client = _admin(_user(SUPPORT_AGENT, a))

    page = client.get("/admin/customers/customer/", {"q": EMAIL}).content.decode()

    assert "c***@example.com" in page
    assert f"/admin/customers/customer/{a.customer.pk}/change/" in page
    # ... but not by a part of it, which would rebuild the address letter by letter
    part = client.get("/admin/customers/customer/", {"q": EMAIL[:5]}).content.decode()
    assert f"/admin/customers/customer/{a.customer.pk}/change/" not in part


def test_notification_deliveries_show_the_recipient_masked_in_the_admin(a):
    notification = Notification.objects.create(
        event="points.earned", brand=a.brand, customer=a.customer, payload={"email": EMAIL}
    )
    delivery = NotificationDelivery.objects.create(
        notification=notification,
        channel=Channel.EMAIL,
        recipient=EMAIL,
        body=f"Hello, your address is {EMAIL}",
        last_error=f"SMTPRecipientsRefused: {EMAIL}",
    )
    support = _admin(_user(SUPPORT_AGENT, a))
    brand_admin = _admin(_user(BRAND_ADMIN, a))
    pages = [
        "/admin/notifications/notificationdelivery/",
        f"/admin/notifications/notificationdelivery/{delivery.pk}/change/",
        f"/admin/notifications/notification/{notification.pk}/change/",
    ]

    for url in pages:
        masked = support.get(url)
        assert masked.status_code == 200
        assert (
            EMAIL not in masked.content.decode() and "c***@example.com" in masked.content.decode()
        )
    assert EMAIL in brand_admin.get(pages[1]).content.decode()


def test_customers_are_named_without_their_email_or_phone(a):
    assert str(a.customer) == "Anna Leea"
    nameless = Customer.objects.create(email="x@example.com", phone="+33 6 00 00 00 01")
    assert str(nameless) == f"Customer {nameless.pk}"


def test_the_staff_basket_suggests_customer_emails_only_to_roles_that_see_them(a):
    pages = {}
    for role in (BRAND_ADMIN, STORE_MANAGER):
        client = _admin(_user(role, a))
        client.post("/basket/context/", {"brand": a.brand.pk, "customer_email": ""})
        pages[role] = client.get("/basket/").content.decode()

    assert f'<option value="{EMAIL}"' in pages[BRAND_ADMIN]
    assert EMAIL not in pages[STORE_MANAGER]


def test_staff_in_no_role_see_no_personal_data_even_with_a_view_permission(a):
    user = _user(None, a)
    user.user_permissions.add(Permission.objects.get(codename="view_customer"))

    body = token_client(user).get(f"/api/v1/customers/{a.customer.pk}/").json()

    assert {key: body[key] for key in FULL} == dict.fromkeys(FULL)
    assert body["first_name"] == "Anna"
