"""Promotions in the admin: the add form validates through the validator, saves compile a
version, status moves through actions, and staff see only their brands."""

from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.urls import reverse

from brands.roles import MARKETING_MANAGER
from brands.tests.factories import BrandFactory, StaffUserFactory
from catalog.tests.factories import ProductFactory
from promotions.models import Promotion
from promotions.services.lifecycle import promotion_save
from promotions.tests.factories import PromotionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def brand():
    return BrandFactory(slug="brand-a")


@pytest.fixture
def staff(brand):
    user = StaffUserFactory(username="marketing-a")
    user.groups.add(Group.objects.get(name=MARKETING_MANAGER))
    brand.staff.add(user)
    return user


def _form(brand, product, **overrides):
    data = {
        "brand": brand.pk,
        "name": "Lunch deal",
        "description": "",
        "type": "percent_discount",
        "status": "draft",
        "priority": 0,
        "stacking": "standard",
        "target": "items",
        "cashback_to": "points",
        "days_of_week": "[]",
        "time_windows": "[]",
        "channels": "[]",
        "customer_tiers": "[]",
        "code": "",
        "products": [product.pk],
        "params": '{"percent": "10"}',
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


def test_adding_a_promotion_compiles_its_first_version(client, staff, brand):
    product = ProductFactory(brand=brand, price=Decimal("4.00"))
    client.force_login(staff)

    response = client.post(reverse("admin:promotions_promotion_add"), _form(brand, product))

    assert response.status_code == 302, response.context["adminform"].form.errors
    promotion = Promotion.objects.get()
    assert promotion.version == 1
    assert promotion.compiled["scope"]["product_ids"] == [product.pk]
    assert promotion.versions.count() == 1


def test_a_live_promotion_with_issues_is_refused_on_the_right_field(client, staff, brand):
    product = ProductFactory(brand=brand)
    client.force_login(staff)

    response = client.post(
        reverse("admin:promotions_promotion_add"),
        _form(brand, product, status="active", params='{"percent": "0"}'),
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "params" in errors and "percent_out_of_range" in errors["params"][0]
    assert not Promotion.objects.exists()


def test_a_draft_with_issues_is_saved_with_a_warning(client, staff, brand):
    product = ProductFactory(brand=brand)
    client.force_login(staff)

    response = client.post(
        reverse("admin:promotions_promotion_add"), _form(brand, product, params='{"percent": "0"}')
    )

    assert response.status_code == 302
    notes = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("Before activating: params.percent" in note for note in notes)


def test_products_of_another_brand_are_not_offered(client, staff, brand):
    foreign = ProductFactory()
    client.force_login(staff)

    response = client.post(reverse("admin:promotions_promotion_add"), _form(brand, foreign))

    assert response.status_code == 200
    assert "products" in response.context["adminform"].form.errors
    assert not Promotion.objects.exists()


def test_activate_action_checks_the_promotion(client, staff, brand):
    product = ProductFactory(brand=brand)
    good = promotion_save(promotion=PromotionFactory.build(brand=brand))
    bad = promotion_save(promotion=PromotionFactory.build(brand=brand, params={"percent": "0"}))
    client.force_login(staff)

    response = client.post(
        reverse("admin:promotions_promotion_changelist"),
        {"action": "activate", ACTION_CHECKBOX_NAME: [good.pk, bad.pk]},
    )

    assert response.status_code == 302
    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.status == "active" and good.version == 2
    assert bad.status == "draft"
    notes = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("cannot go live" in note for note in notes)
    assert product  # the brand has a catalog


def test_staff_see_only_their_brands_promotions(client, staff, brand):
    mine = promotion_save(promotion=PromotionFactory.build(brand=brand, name="Mine"))
    promotion_save(promotion=PromotionFactory.build(brand=BrandFactory(), name="Theirs"))
    client.force_login(staff)

    response = client.get(reverse("admin:promotions_promotion_changelist"))

    assert response.status_code == 200
    assert [p.pk for p in response.context["cl"].result_list] == [mine.pk]
