"""Constraints the admin forms check before saving speak in plain words, never by name.

Django shows a check constraint's violation as "Constraint “<name>” is violated." unless the
constraint has its own message; the admin pages for loyalty programs, tiers, products and
customers reached such constraints from ordinary input.
"""

import pytest
from django.urls import reverse

from brands.tests.factories import BrandFactory, StaffUserFactory
from customers.services import customer_create
from loyalty_management.models import LoyaltyProgram

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client):
    client.force_login(StaffUserFactory(username="root", is_superuser=True))


def program_form(brand, **overrides) -> dict:
    data = {
        "brand": brand.pk,
        "name": "Stars",
        "is_active": "on",
        "points_per_unit": "1.00",
        "unit_amount": "1.00",
        "minimum_order_amount": "0.00",
        "pending_days": "0",
        "expiry_policy": "never",
        "expiry_days": "",
        "tier_basis": "points",
        "tier_window_months": "12",
        "tiers-TOTAL_FORMS": "0",
        "tiers-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("overrides", "message", "name"),
    [
        (
            {"expiry_policy": "never", "expiry_days": "5"},
            "Give expiry days (above 0) with the after-days policy, and none without it.",
            "loyalty_program_expiry_days_match_policy",
        ),
        (
            {"points_per_unit": "0"},
            "Points per unit and the unit amount must be above 0.",
            "loyalty_program_earn_rate_positive",
        ),
        (
            {"tier_window_months": "0"},
            "The tier window is at least 1 month.",
            "loyalty_program_tier_window_positive",
        ),
    ],
)
def test_a_loyalty_program_breaking_a_constraint_is_refused_in_plain_words(
    client, root, overrides, message, name
):
    brand = BrandFactory()

    response = client.post(
        reverse("admin:loyalty_management_loyaltyprogram_add"), program_form(brand, **overrides)
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert message in page
    assert name not in page
    assert not LoyaltyProgram.objects.exists()


def test_a_customer_email_taken_in_another_case_is_refused_in_plain_words(client, root):
    customer_create(brand=None, email="ann@example.com")

    response = client.post(
        reverse("admin:customers_customer_add"),
        {
            "first_name": "Ann",
            "last_name": "",
            "email": "ANN@example.com",
            "phone": "",
            "birth_date": "",
            "external_id": "",
            "brand_links-TOTAL_FORMS": "0",
            "brand_links-INITIAL_FORMS": "0",
            "label_assignments-TOTAL_FORMS": "0",
            "label_assignments-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "A customer with this email address exists already." in page
    assert "customer_email_unique_ci" not in page
