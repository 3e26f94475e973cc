"""Badges in the admin: definitions with real fields and plain errors, the badges customers hold
read-only, and staff awarding a badge with pickers."""

import pytest
from django.test import Client

from brands.roles import MARKETING_MANAGER
from core.tests.api_world import staff_user
from loyalty_management.models import BadgeDefinition, CustomerBadge
from loyalty_management.services.badges import AWARDED_EVENT, badge_definition_save
from loyalty_management.tests.factories import LoyaltyProgramFactory, TierFactory
from notifications.models import Notification

pytestmark = pytest.mark.django_db

BADGES_URL = "/admin/loyalty_management/badgedefinition/"
HELD_URL = "/admin/loyalty_management/customerbadge/"


@pytest.fixture
def marketer(a):
    client = Client()
    client.force_login(staff_user("marketer", role=MARKETING_MANAGER, brands=[a.brand]))
    return client


def definition(brand, **fields) -> dict:
    return {
        "brand": brand.pk,
        "name": "Gold member",
        "description": "",
        "icon": "crown",
        "kind": "tier",
        "order_count": "",
        "store_count": "",
        "spend_amount": "",
        "tier": "",
        "is_active": "on",
        **fields,
    }


def test_a_badge_is_defined_with_a_tier_picker_and_only_its_kinds_threshold(a, b, marketer):
    gold = TierFactory(program=LoyaltyProgramFactory(brand=a.brand), name="Gold")
    TierFactory(program=LoyaltyProgramFactory(brand=b.brand), name="Platinum")

    page = marketer.get(f"{BADGES_URL}add/").content.decode()
    assert '<select name="tier"' in page and "Gold" in page
    assert "Platinum" not in page  # another brand's tier is no choice
    assert 'name="spend_amount"' in page and 'type="number"' in page

    response = marketer.post(f"{BADGES_URL}add/", definition(a.brand, tier=gold.pk, order_count=4))

    assert response.status_code == 302, response.content.decode()[:2000]
    badge = BadgeDefinition.objects.get()
    assert (badge.kind, badge.tier, badge.order_count) == ("tier", gold, None)


def test_a_missing_threshold_is_a_plain_error_on_its_field(a, marketer):
    response = marketer.post(f"{BADGES_URL}add/", definition(a.brand, kind="order_count"))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "order_count": ["Give the number of paid orders."]
    }
    assert not BadgeDefinition.objects.exists()


def test_staff_award_a_badge_once_with_a_customer_picker(a, b, marketer):
    hero = badge_definition_save(brand=a.brand, data={"name": "Local hero", "kind": "manual"})

    page = marketer.get(f"{HELD_URL}add/").content.decode()
    assert "admin-autocomplete" in page  # the customer is searched, not typed as an id

    award = {"badge": hero.pk, "customer": a.customer.pk, "note": "Helped at the fair"}
    response = marketer.post(f"{HELD_URL}add/", award, follow=True)

    held = CustomerBadge.objects.get()
    assert (held.source, held.awarded_by.username, held.note) == (
        "staff",
        "marketer",
        "Helped at the fair",
    )
    assert "The badge Local hero was awarded; the customer is told." in response.content.decode()
    assert Notification.objects.filter(event=AWARDED_EVENT, customer=a.customer).count() == 1

    again = marketer.post(f"{HELD_URL}add/", award)
    assert again.context["adminform"].form.errors == {
        "customer": ["This customer already has this badge."]
    }
    stranger = marketer.post(f"{HELD_URL}add/", {**award, "customer": b.customer.pk})
    assert "customer" in stranger.context["adminform"].form.errors
    assert CustomerBadge.objects.count() == 1


def test_held_badges_are_listed_read_only_and_a_held_badge_is_not_deleted(a, marketer):
    hero = badge_definition_save(brand=a.brand, data={"name": "Local hero", "kind": "manual"})
    marketer.post(f"{HELD_URL}add/", {"badge": hero.pk, "customer": a.customer.pk, "note": ""})
    held = CustomerBadge.objects.get()

    listing = marketer.get(f"{HELD_URL}?source__exact=staff").content.decode()
    detail = marketer.get(f"{HELD_URL}{held.pk}/change/").content.decode()

    assert "Local hero" in listing
    assert 'name="note"' not in detail  # nothing to edit
    assert marketer.get(f"{HELD_URL}{held.pk}/delete/").status_code == 403
    assert marketer.get(f"{BADGES_URL}{hero.pk}/delete/").status_code == 403
    assert BadgeDefinition.objects.filter(pk=hero.pk).exists()


def test_an_icon_is_a_plain_name(a, marketer):
    gold = TierFactory(program=LoyaltyProgramFactory(brand=a.brand), name="Gold")

    response = marketer.post(f"{BADGES_URL}add/", definition(a.brand, tier=gold.pk, icon="<b>"))

    assert response.context["adminform"].form.errors == {
        "icon": ["Use lower-case letters, digits and dashes, for example star or gold-medal."]
    }
    assert not BadgeDefinition.objects.exists()
