"""The rewards admin: templates with real fields and plain-sentence errors, the issued rewards
read-only with the customer's email masked by role, an issue form and a cancel action."""

from decimal import Decimal

import pytest
from django.test import Client

from brands.roles import BRAND_ADMIN, MARKETING_MANAGER, SUPPORT_AGENT
from core.tests.api_world import staff_user
from notifications.models import Notification
from rewards.models import CustomerReward, RewardTemplate
from rewards.services import RewardSpec, reward_issue
from rewards.tests.factories import RewardTemplateFactory

pytestmark = pytest.mark.django_db

ADD_TEMPLATE = "/admin/rewards/rewardtemplate/add/"
REWARDS = "/admin/rewards/customerreward/"


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def template_form(brand, **data) -> dict:
    return {
        "brand": brand.pk,
        "name": "Ten off",
        "description": "",
        "kind": "discount_amount",
        "amount": "",
        "percentage": "",
        "product": "",
        "points": "",
        "minimum_order": "",
        "valid_days": "30",
        "trigger": "manual",
        "is_active": "on",
        **data,
    }


def test_the_template_form_refuses_fields_that_do_not_fit_the_kind_in_plain_sentences(a, b):
    client = logged_in(staff_user("marketer", role=MARKETING_MANAGER, brands=[a.brand]))
    cases = [
        ({}, "An amount above zero is needed for this kind."),
        ({"amount": "10.00", "points": "50"}, "Leave this empty: a discount of an amount"),
        ({"kind": "free_product"}, "Choose the product this reward makes free."),
        ({"kind": "free_product", "product": str(a.inactive_product.pk)}, "Select a valid choice"),
        ({"kind": "discount_percentage", "percentage": "120"}, "A percentage above 0 and at most"),
    ]
    for data, message in cases:
        response = client.post(ADD_TEMPLATE, template_form(a.brand, **data))
        assert response.status_code == 200, data
        html = response.content.decode()
        assert message in html, (data, html[html.find("errorlist") : html.find("errorlist") + 300])
        assert "fields_match_kind" not in html
    foreign = client.post(ADD_TEMPLATE, template_form(b.brand, amount="10.00"))
    assert "Select a valid choice" in foreign.content.decode()
    assert not RewardTemplate.objects.exists()

    response = client.post(ADD_TEMPLATE, template_form(a.brand, amount="10.00"))
    assert response.status_code == 302
    saved = RewardTemplate.objects.get()
    assert (saved.brand, saved.amount, saved.kind) == (a.brand, Decimal("10.00"), "discount_amount")

    duplicate = client.post(ADD_TEMPLATE, template_form(a.brand, amount="5.00"))
    assert "The brand already has a reward with this name." in duplicate.content.decode()


def test_the_template_form_changes_the_kind_and_keeps_the_brand(a):
    template = RewardTemplateFactory(brand=a.brand, name="Apple", amount=Decimal("2.00"))
    client = logged_in(staff_user("admin-a", role=BRAND_ADMIN, brands=[a.brand]))
    data = template_form(a.brand, name="Apple", kind="free_product", product=str(a.product.pk))
    data.pop("brand")
    response = client.post(f"/admin/rewards/rewardtemplate/{template.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    template.refresh_from_db()
    assert (template.kind, template.product, template.amount) == ("free_product", a.product, None)


def test_staff_issue_a_template_and_cancel_it_from_the_list(a):
    template = RewardTemplateFactory(brand=a.brand, name="Coffee", amount=Decimal("3.00"))
    admin_user = staff_user("admin-a", role=BRAND_ADMIN, brands=[a.brand])
    client = logged_in(admin_user)

    missing = client.post(f"{REWARDS}add/", {"template": template.pk, "customer": a.customer.pk})
    assert "This field is required." in missing.content.decode()
    response = client.post(
        f"{REWARDS}add/",
        {"template": template.pk, "customer": a.customer.pk, "reason": "Birthday at the shop"},
        follow=True,
    )
    reward = CustomerReward.objects.get()
    assert f"The reward Coffee was issued to {a.customer}" in response.content.decode()
    assert f"Its code is {reward.code}." in response.content.decode()
    assert (reward.source, reward.reason, reward.template) == (
        "staff",
        "Birthday at the shop",
        template,
    )
    assert Notification.objects.filter(event="loyalty.reward.issued").count() == 1

    used, _ = reward_issue(
        customer=a.customer,
        brand=a.brand,
        spec=RewardSpec(name="Credit", kind="wallet_credit", amount=Decimal("1.00")),
        idempotency_key="credit",
        source="staff",
    )
    response = client.post(
        REWARDS,
        {"action": "cancel_selected", "_selected_action": [reward.pk, used.pk]},
        follow=True,
    )
    text = response.content.decode()
    assert "1 reward cancelled. 1 reward was already used or expired" in text
    assert dict(CustomerReward.objects.values_list("pk", "status")) == {
        reward.pk: "cancelled",
        used.pk: "used",
    }


def test_the_issue_form_refuses_a_customer_of_another_brand(a, b):
    template = RewardTemplateFactory(brand=a.brand)
    client = logged_in(staff_user("admin-a", role=BRAND_ADMIN, brands=[a.brand]))
    response = client.post(
        f"{REWARDS}add/", {"template": template.pk, "customer": b.customer.pk, "reason": "r"}
    )
    assert response.status_code == 200
    assert not CustomerReward.objects.exists()


def test_the_list_masks_the_customers_email_by_role_and_searches_by_code(a):
    reward, _ = reward_issue(
        customer=a.customer,
        brand=a.brand,
        spec=RewardSpec(name="Coffee", kind="discount_amount", amount=Decimal("3.00")),
        idempotency_key="k",
        source="staff",
        reason="Call me on +33 6 12 34 56 78",
    )
    admin_page = logged_in(staff_user("admin-a", role=BRAND_ADMIN, brands=[a.brand])).get(REWARDS)
    support = logged_in(staff_user("support", role=SUPPORT_AGENT, brands=[a.brand]))
    support_page = support.get(REWARDS)

    assert a.customer.email in admin_page.content.decode()
    local, domain = a.customer.email.split("@")
    assert a.customer.email not in support_page.content.decode()
    assert f"{local[0]}***@{domain}" in support_page.content.decode()
    assert "cancel_selected" not in support_page.content.decode()  # support may not cancel
    detail = support.get(f"{REWARDS}{reward.pk}/change/").content.decode()
    assert "12 34 56 78" not in detail

    found = support.get(REWARDS, {"q": reward.code.lower()}).content.decode()
    assert reward.code in found and "1 customer reward" in found
    nothing = support.get(REWARDS, {"q": "RWNOSUCHCODE"}).content.decode()
    assert "0 customer rewards" in nothing and reward.code not in nothing
