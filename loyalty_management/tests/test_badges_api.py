"""Badges over the API: the customer's badges and progress in /loyalty/me/, and staff managing
their brands' badge definitions."""

from decimal import Decimal

import pytest

from brands.roles import ANALYST, MARKETING_MANAGER
from core.tests.api_world import assert_error, staff_user, token_client
from loyalty_management.models import BadgeDefinition, CustomerBadge
from loyalty_management.services.badges import (
    badge_award_by_staff,
    badge_definition_save,
    customer_badges_evaluate,
)
from loyalty_management.tests.factories import LoyaltyProgramFactory, TierFactory, make_order
from orders.models import Order

pytestmark = pytest.mark.django_db

ME = "/api/v1/loyalty/me/"
BADGES = "/api/v1/loyalty/badges/"
PS = Order.PaymentStatus


def badge(brand, name, **data):
    return badge_definition_save(brand=brand, data={"name": name, **data})


def test_me_shows_earned_badges_and_progress_to_the_others(a):
    LoyaltyProgramFactory(brand=a.brand)
    badge(a.brand, "First", kind="order_count", order_count=1, icon="star")
    badge(a.brand, "Regular", kind="order_count", order_count=5)
    badge(a.brand, "Big spender", kind="lifetime_spend", spend_amount=Decimal("50.00"))
    hero = badge(a.brand, "Hero", kind="manual")
    badge(a.brand, "Retired", kind="manual", is_active=False)
    for total in ("10.00", "2.50"):
        make_order(brand=a.brand, customer=a.customer, total=total, payment_status=PS.PAID)
    customer_badges_evaluate(customer_id=a.customer.pk, brand_id=a.brand.pk, source="order")
    badge_award_by_staff(badge=hero, customer=a.customer, actor=a.staff)

    response = token_client(a.customer.user).get(ME, HTTP_X_BRAND=a.brand.slug)

    assert response.status_code == 200, response.json()
    badges = response.json()["badges"]
    assert [(e["name"], e["icon"], e["kind"]) for e in badges["earned"]] == [
        ("Hero", "", "manual"),
        ("First", "star", "order_count"),
    ]
    assert all(e["awarded_at"] for e in badges["earned"])
    assert [(t["name"], t["progress"]) for t in badges["to_earn"]] == [
        ("Big spender", {"current": "12.50", "target": "50.00"}),
        ("Regular", {"current": "2", "target": "5"}),
    ]


def test_me_shows_no_badge_of_another_brand(a, b):
    LoyaltyProgramFactory(brand=a.brand)
    theirs = badge(b.brand, "Theirs", kind="manual")
    CustomerBadge.objects.create(customer=a.customer, badge=theirs, source="staff")

    response = token_client(a.customer.user).get(ME, HTTP_X_BRAND=a.brand.slug)

    assert response.json()["badges"] == {"earned": [], "to_earn": []}


def test_staff_create_change_and_delete_badges_of_their_brand(a):
    program = LoyaltyProgramFactory(brand=a.brand)
    gold = TierFactory(program=program, name="Gold")
    client = token_client(a.staff)

    created = client.post(
        BADGES,
        {"brand": a.brand.slug, "name": "Gold member", "kind": "tier", "tier": gold.pk},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["brand"], body["kind"], body["tier"], body["is_active"]) == (
        a.brand.slug,
        "tier",
        gold.pk,
        True,
    )

    url = f"{BADGES}{body['id']}/"
    changed = client.patch(url, {"kind": "order_count", "order_count": 3}, format="json")
    assert changed.status_code == 200, changed.json()
    assert (changed.json()["order_count"], changed.json()["tier"]) == (3, None)
    assert client.get(f"{BADGES}?kind=order_count").json()["count"] == 1

    assert client.delete(url).status_code == 204
    assert not BadgeDefinition.objects.exists()


def test_bad_badges_are_refused_naming_the_field_and_change_nothing(a, b):
    other_tier = TierFactory(program=LoyaltyProgramFactory(brand=b.brand))
    badge(a.brand, "Taken", kind="manual")
    client = token_client(a.staff)
    cases = [
        ({"kind": "order_count"}, "invalid_badge", "order_count"),
        ({"kind": "tier", "tier": other_tier.pk}, "invalid_badge", "tier"),
        ({"kind": "lifetime_spend", "spend_amount": "0.00"}, "validation_error", "spend_amount"),
        ({"kind": "lifetime_spend", "spend_amount": "1.001"}, "validation_error", "spend_amount"),
        ({"kind": "sometimes"}, "validation_error", "kind"),
        ({"kind": "manual", "name": "Taken"}, "invalid_badge", "name"),
        ({"kind": "manual", "brand": b.brand.slug}, "unknown_brand", "brand"),
        ({"kind": "manual", "icon": "<script>"}, "validation_error", "icon"),
    ]
    for data, code, field in cases:
        body = {"brand": a.brand.slug, "name": "New", **data}
        error = assert_error(client.post(BADGES, body, format="json"), 400, code)
        assert field in error["fields"], (data, error)
    assert list(BadgeDefinition.objects.values_list("name", flat=True)) == ["Taken"]


def test_a_badge_someone_holds_is_not_deleted(a):
    hero = badge(a.brand, "Hero", kind="manual")
    badge_award_by_staff(badge=hero, customer=a.customer, actor=a.staff)

    response = token_client(a.staff).delete(f"{BADGES}{hero.pk}/")

    assert assert_error(response, 409, "badge_awarded")["message"] == (
        "Customers hold this badge; deactivate it instead of deleting it."
    )
    assert BadgeDefinition.objects.filter(pk=hero.pk).exists()


def test_roles_and_brands_decide_who_sees_and_changes_badges(a, b):
    ours = badge(a.brand, "Ours", kind="manual")
    theirs = badge(b.brand, "Theirs", kind="manual")
    analyst = token_client(staff_user("analyst", role=ANALYST, brands=[a.brand]))
    marketer = token_client(staff_user("marketer", role=MARKETING_MANAGER, brands=[a.brand]))

    assert [row["name"] for row in analyst.get(BADGES).json()["results"]] == ["Ours"]
    denied = analyst.post(BADGES, {"brand": a.brand.slug, "name": "X", "kind": "manual"})
    assert_error(denied, 403)
    assert (
        marketer.patch(f"{BADGES}{ours.pk}/", {"name": "Ours!"}, format="json").status_code == 200
    )
    for method in ("get", "patch", "delete"):
        response = getattr(marketer, method)(f"{BADGES}{theirs.pk}/", {}, format="json")
        assert_error(response, 404, "badge_not_found")
    assert BadgeDefinition.objects.get(pk=theirs.pk).name == "Theirs"
