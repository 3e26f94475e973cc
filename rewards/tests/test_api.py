"""The rewards API: staff manage their brands' templates, issue them with a reason and an
Idempotency-Key, list and cancel what was issued; customers list their own rewards."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from core.tests.api_world import assert_error, staff_user, token_client
from customers.services import customer_link_brand
from notifications.models import Notification
from orders.models import Order
from rewards.models import CustomerReward, RewardTemplate
from rewards.services import RewardSpec, reward_issue
from rewards.tests.factories import RewardTemplateFactory

pytestmark = pytest.mark.django_db

TEMPLATES = "/api/v1/rewards/templates/"
REWARDS = "/api/v1/rewards/"
ME = "/api/v1/rewards/me/"


def test_staff_create_a_template_with_the_fields_its_kind_needs(a):
    client = token_client(a.staff)
    response = client.post(
        TEMPLATES,
        {
            "brand": a.brand.slug,
            "name": "Free apple",
            "kind": "free_product",
            "product": a.product.pk,
            "valid_days": 14,
            "trigger": "birthday",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["brand"], body["product"], body["trigger"], body["valid_days"]) == (
        a.brand.slug,
        a.product.pk,
        "birthday",
        14,
    )
    assert RewardTemplate.objects.get(pk=body["id"]).kind == "free_product"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"kind": "discount_amount"}, "amount", "An amount above zero is needed for this kind."),
        (
            {"kind": "discount_amount", "amount": "5.00", "points": 10},
            "points",
            "Leave this empty: a discount of an amount does not use it.",
        ),
        (
            {"kind": "discount_percentage", "percentage": "0"},
            "percentage",
            "A percentage above 0 and at most 100 is needed for this kind.",
        ),
        ({"kind": "free_product"}, "product", "Choose the product this reward makes free."),
        (
            {"kind": "points", "points": 10, "minimum_order": "5.00"},
            "minimum_order",
            "Leave this empty: loyalty points is not a code used on an order.",
        ),
    ],
)
def test_a_template_that_does_not_fit_its_kind_is_refused_in_words(a, data, field, message):
    client = token_client(a.staff)
    response = client.post(TEMPLATES, {"brand": a.brand.slug, "name": "Odd", **data}, format="json")
    body = assert_error(response, 400, "invalid_reward_template")
    assert body["fields"][field] == [message]
    assert not RewardTemplate.objects.exists()


def test_a_product_of_another_brand_or_a_brand_not_ones_own_is_refused(a, b):
    client = token_client(a.staff)
    response = client.post(
        TEMPLATES,
        {"brand": a.brand.slug, "name": "X", "kind": "free_product", "product": b.product.pk},
        format="json",
    )
    assert assert_error(response, 400)["fields"] == {
        "product": ["Choose a product of the reward's brand."]
    }
    response = client.post(
        TEMPLATES,
        {"brand": b.brand.slug, "name": "X", "kind": "discount_amount", "amount": "2.00"},
        format="json",
    )
    assert_error(response, 400, "unknown_brand")
    assert not RewardTemplate.objects.exists()


def test_staff_change_a_template_and_a_duplicate_name_is_refused(a):
    five = RewardTemplateFactory(brand=a.brand, name="Five off", amount=Decimal("5.00"))
    RewardTemplateFactory(brand=a.brand, name="Ten off", amount=Decimal("10.00"))
    client = token_client(a.staff)

    response = client.patch(
        f"{TEMPLATES}{five.pk}/", {"kind": "discount_percentage", "percentage": "15"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["amount"], response.json()["percentage"]) == (None, "15.00")

    response = client.patch(f"{TEMPLATES}{five.pk}/", {"name": "Ten off"}, format="json")
    assert assert_error(response, 400)["fields"] == {
        "name": ["The brand already has a reward with this name."]
    }
    assert client.get(f"{TEMPLATES}{five.pk}/").json()["name"] == "Five off"


def test_staff_issue_a_template_once_per_idempotency_key(a):
    template = RewardTemplateFactory(brand=a.brand, amount=Decimal("3.00"))
    client = token_client(a.staff)
    url = f"{TEMPLATES}{template.pk}/issue/"
    data = {"customer": a.customer.pk, "reason": "The order came late."}

    first = client.post(url, data, format="json", HTTP_IDEMPOTENCY_KEY="late-1")
    again = client.post(url, data, format="json", HTTP_IDEMPOTENCY_KEY="late-1")

    assert (first.status_code, again.status_code) == (201, 200), first.json()
    assert first.json()["id"] == again.json()["id"]
    reward = CustomerReward.objects.get()
    assert (reward.source, reward.reason, reward.status) == (
        "staff",
        "The order came late.",
        "active",
    )
    assert first.json()["code"] == reward.code
    assert Notification.objects.filter(event="loyalty.reward.issued").count() == 1

    other = RewardTemplateFactory(brand=a.brand, amount=Decimal("1.00"))
    reused = client.post(
        f"{TEMPLATES}{other.pk}/issue/", data, format="json", HTTP_IDEMPOTENCY_KEY="late-1"
    )
    assert_error(reused, 409, "idempotency_key_reused")
    bad_key = client.post(url, data, format="json", HTTP_IDEMPOTENCY_KEY="é" * 3)
    assert_error(bad_key, 400, "invalid_idempotency_key")
    assert CustomerReward.objects.count() == 1


def test_issuing_needs_a_reason_an_active_template_and_a_customer_of_the_brand(a, b):
    template = RewardTemplateFactory(brand=a.brand)
    client = token_client(a.staff)
    url = f"{TEMPLATES}{template.pk}/issue/"

    assert (
        "reason"
        in assert_error(client.post(url, {"customer": a.customer.pk}, format="json"), 400)["fields"]
    )
    for customer in (b.customer.pk, 999_999_999):
        response = client.post(url, {"customer": customer, "reason": "r"}, format="json")
        assert_error(response, 404, "customer_not_found")
    foreign = RewardTemplateFactory(brand=b.brand)
    response = client.post(
        f"{TEMPLATES}{foreign.pk}/issue/", {"customer": a.customer.pk, "reason": "r"}, format="json"
    )
    assert_error(response, 404, "reward_template_not_found")
    RewardTemplate.objects.filter(pk=template.pk).update(is_active=False)
    response = client.post(url, {"customer": a.customer.pk, "reason": "r"}, format="json")
    assert_error(response, 409, "reward_template_inactive")
    assert not CustomerReward.objects.exists()


def test_a_customer_of_both_brands_gets_a_reward_of_either(a, b):
    customer_link_brand(customer=b.customer, brand=a.brand)
    template = RewardTemplateFactory(brand=a.brand)
    response = token_client(a.staff).post(
        f"{TEMPLATES}{template.pk}/issue/",
        {"customer": b.customer.pk, "reason": "Welcome"},
        format="json",
    )
    assert response.status_code == 201


def _issue(tenant, key, **spec):
    spec = {"name": "Coffee", "kind": "discount_amount", "amount": Decimal("3.00"), **spec}
    return reward_issue(
        customer=tenant.customer,
        brand=tenant.brand,
        spec=RewardSpec(**spec),
        idempotency_key=key,
        source="staff",
    )[0]


def test_staff_list_their_brands_rewards_with_filters(a, b, django_assert_max_num_queries):
    coffee = _issue(a, "a1")
    points = _issue(a, "a2", name="Points", kind="wallet_credit")
    _issue(b, "b1")
    client = token_client(a.staff)

    with django_assert_max_num_queries(8):
        rows = client.get(REWARDS).json()["results"]
    assert [r["id"] for r in rows] == [points.pk, coffee.pk]
    assert rows[1]["customer_email"] == a.customer.email
    assert [r["id"] for r in client.get(REWARDS, {"status": "active"}).json()["results"]] == [
        coffee.pk
    ]
    assert [r["id"] for r in client.get(REWARDS, {"kind": "wallet_credit"}).json()["results"]] == [
        points.pk
    ]
    assert client.get(REWARDS, {"source": "birthday"}).json()["count"] == 0
    assert client.get(REWARDS, {"customer": a.customer.pk}).json()["count"] == 2
    assert client.get(REWARDS, {"code": coffee.code.lower()}).json()["count"] == 1


def test_staff_cancel_an_active_reward_once_and_not_a_used_one(a, b):
    coffee = _issue(a, "a1")
    credit = _issue(a, "a2", name="Credit", kind="wallet_credit")
    theirs = _issue(b, "b1")
    client = token_client(a.staff)

    first = client.post(f"{REWARDS}{coffee.pk}/cancel/")
    again = client.post(f"{REWARDS}{coffee.pk}/cancel/")
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["status"] == "cancelled"
    assert_error(client.post(f"{REWARDS}{credit.pk}/cancel/"), 409, "reward_not_active")
    assert_error(client.post(f"{REWARDS}{theirs.pk}/cancel/"), 404, "reward_not_found")
    assert CustomerReward.objects.get(pk=theirs.pk).status == "active"


def test_roles_decide_who_issues_and_cancels(a):
    template = RewardTemplateFactory(brand=a.brand)
    coffee = _issue(a, "a1")
    support = token_client(staff_user("support", role="Support agent", brands=[a.brand]))
    analyst = token_client(staff_user("analyst", role="Analyst", brands=[a.brand]))
    data = {"customer": a.customer.pk, "reason": "Sorry"}

    assert support.post(f"{TEMPLATES}{template.pk}/issue/", data, format="json").status_code == 201
    assert_error(support.post(f"{REWARDS}{coffee.pk}/cancel/"), 403)
    assert_error(support.post(TEMPLATES, {"brand": a.brand.slug}, format="json"), 403)
    assert_error(analyst.post(f"{TEMPLATES}{template.pk}/issue/", data, format="json"), 403)
    assert analyst.get(REWARDS).json()["count"] == 2


def test_customers_see_their_rewards_at_the_current_brand(a, b):
    apple = RewardTemplateFactory(
        brand=a.brand, name="Apple", kind="free_product", amount=None, product=a.product
    )
    free, _ = reward_issue(
        customer=a.customer,
        brand=a.brand,
        spec=RewardSpec(name="Apple", kind="free_product", product_id=a.product.pk),
        template=apple,
        idempotency_key="me-1",
        source="birthday",
    )
    used = _issue(a, "me-2", minimum_order=Decimal("20.00"))
    CustomerReward.objects.filter(pk=used.pk).update(
        status="used", used_at=timezone.now(), order=a.order, discount=Decimal("3.00")
    )
    _issue(b, "other-brand")
    client = token_client(a.customer.user)

    rows = client.get(ME, HTTP_X_BRAND=a.brand.slug).json()["results"]

    assert [r["id"] for r in rows] == [used.pk, free.pk]
    assert rows[0]["gives"] == f"3.00 {a.brand.currency} off on an order of at least 20.00 EUR"
    assert (rows[0]["status"], rows[0]["order"], rows[0]["discount"]) == (
        "used",
        a.order.pk,
        "3.00",
    )
    assert rows[1]["gives"] == f"{a.product.name} free"
    assert rows[1]["code"] == free.code and rows[1]["valid_until"]
    assert "customer" not in rows[0] and "reason" not in rows[0]
    active = client.get(ME, {"status": "active"}, HTTP_X_BRAND=a.brand.slug).json()
    assert [r["id"] for r in active["results"]] == [free.pk]
    assert_error(client.get(ME), 400, "brand_required")
    assert_error(token_client(a.staff).get(ME, HTTP_X_BRAND=a.brand.slug), 403)
    assert Order.objects.filter(pk=a.order.pk).exists()


def test_the_code_of_an_expired_reward_stays_visible_with_its_status(a):
    coffee = _issue(a, "e1")
    CustomerReward.objects.filter(pk=coffee.pk).update(
        status="expired", valid_until=timezone.now() - timedelta(days=1)
    )
    rows = token_client(a.customer.user).get(ME, HTTP_X_BRAND=a.brand.slug).json()["results"]
    assert [(r["code"], r["status"]) for r in rows] == [(coffee.code, "expired")]


def test_issuing_and_cancelling_count_under_the_rewards_scope(settings, a):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "rewards": "2/minute"}
    template = RewardTemplateFactory(brand=a.brand)
    client = token_client(a.staff)
    url = f"{TEMPLATES}{template.pk}/issue/"
    data = {"customer": a.customer.pk, "reason": "Thanks"}

    answers = [client.post(url, data, format="json").status_code for _ in range(2)]
    reward_id = CustomerReward.objects.first().pk
    refused = client.post(f"{REWARDS}{reward_id}/cancel/")

    assert answers == [201, 201]
    assert_error(refused, 429)
    assert refused.has_header("Retry-After")
    assert client.get(REWARDS).status_code == 200  # reading counts under `default`
    assert CustomerReward.objects.filter(status="cancelled").count() == 0
