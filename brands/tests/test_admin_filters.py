"""Admin list filters: choices are the user's brands' values, and another brand's value typed
into the URL finds nothing, as a value that does not exist."""

import pytest
from django.urls import reverse

from brands.roles import BRAND_ADMIN
from brands.tests.factories import BrandFactory, StoreFactory, make_device
from core.tests.api_world import staff_user
from customers.models import CustomerBrand
from customers.services import customer_create
from labels.models import CustomerLabel, Label
from labels.tests.factories import LabelFactory
from loyalty_management.tests.factories import (
    LoyaltyAccountFactory,
    LoyaltyProgramFactory,
    TierFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    data = {}
    for key in ("a", "b"):
        brand = BrandFactory(slug=f"brand-{key}", name=f"Brand {key.upper()}")
        store = StoreFactory(brand=brand, code=f"store-{key}", name=f"Store {key.upper()}")
        device, _ = make_device(store=store, name=f"Till {key.upper()}")
        label = LabelFactory(name=f"Label_{key}", brand=brand, type=Label.Type.CUSTOMER)
        program = LoyaltyProgramFactory(brand=brand, name=f"Points {key}")
        tier = TierFactory(program=program, name=f"Tier-of-brand-{key}")
        data[key] = {
            "brand": brand,
            "store": store,
            "device": device,
            "label": label,
            "program": program,
            "tier": tier,
        }
    # A customer of brand A who also shops at brand B, with brand B's label.
    shared = customer_create(brand=data["a"]["brand"], email="shared@example.com")
    CustomerBrand.objects.create(customer=shared, brand=data["b"]["brand"])
    CustomerLabel.objects.create(customer=shared, label=data["b"]["label"])
    data["shared"] = shared
    data["only_a"] = customer_create(brand=data["a"]["brand"], email="only-a@example.com")
    data["staff_a"] = staff_user("staff-a", role=BRAND_ADMIN, brands=[data["a"]["brand"]])
    for key in ("a", "b"):
        LoyaltyAccountFactory(customer=shared, program=data[key]["program"], tier=data[key]["tier"])
    return data


def _rows(client, url, query=""):
    response = client.get(f"{url}?{query}")
    assert response.status_code == 200, response.status_code
    return set(response.context["cl"].result_list), response.content.decode()


def test_customers_cannot_be_filtered_by_another_brands_id_or_label(client, world):
    client.force_login(world["staff_a"])
    url = reverse("admin:customers_customer_changelist")
    other_brand, other_label = world["b"]["brand"], world["b"]["label"]

    # Another brand's id and label find nothing, like ids that do not exist
    assert _rows(client, url, f"brand={other_brand.pk}")[0] == set()
    assert _rows(client, url, "brand=999999")[0] == set()
    assert _rows(client, url, f"label={other_label.pk}")[0] == set()
    assert _rows(client, url, "label=999999")[0] == set()
    # ... while their own brand's id filters as before
    own, content = _rows(client, url, f"brand={world['a']['brand'].pk}")
    assert own == {world["shared"], world["only_a"]}
    # ... and the filter's choices name none of brand B's values
    assert "Label_b" not in content
    assert "Brand B" not in content


def test_loyalty_account_tier_filter_lists_only_the_users_tiers(client, world):
    client.force_login(world["staff_a"])
    url = reverse("admin:loyalty_management_loyaltyaccount_changelist")

    rows, content = _rows(client, url)

    assert "Tier-of-brand-a" in content
    assert "Tier-of-brand-b" not in content
    assert {row.program for row in rows} == {world["a"]["program"]}


@pytest.mark.parametrize(
    ("changelist", "parameter", "key"),
    [
        ("brands_store", "brand", "brand"),
        ("brands_posdevice", "brand", "brand"),
        ("promotions_posticket", "device", "device"),
        ("promotions_posticket", "store", "store"),
        ("rules_rulefiring", "brand", "brand"),
    ],
)
def test_other_scoped_filters_refuse_another_brands_values(
    client, world, changelist, parameter, key
):
    client.force_login(world["staff_a"])
    url = reverse(f"admin:{changelist}_changelist")

    rows, content = _rows(client, url, f"{parameter}={world['b'][key].pk}")

    assert rows == set()
    assert "Brand B" not in content
    assert "Store B" not in content
    assert "Till B" not in content


def _customer_form(email):
    return {
        "first_name": "Ada",
        "last_name": "",
        "email": email,
        "phone": "",
        "birth_date": "",
        "external_id": "",
        "brand_links-TOTAL_FORMS": "0",
        "brand_links-INITIAL_FORMS": "0",
        "label_assignments-TOTAL_FORMS": "0",
        "label_assignments-INITIAL_FORMS": "0",
    }


def test_adding_a_customer_of_another_brand_in_the_admin_reveals_nothing(client, world):
    # Given a customer known only to brand B
    only_b = customer_create(brand=world["b"]["brand"], email="only-b@example.com")
    client.force_login(world["staff_a"])
    url = reverse("admin:customers_customer_add")

    # When brand A's staff add a customer with that email, and one with a new email
    taken = client.post(url, _customer_form("ONLY-B@example.com"))
    fresh = client.post(url, _customer_form("fresh@example.com"))

    # Then both are saved alike, and the existing customer is now known to brand A too
    assert (taken.status_code, fresh.status_code) == (302, 302)
    assert set(only_b.brands.values_list("slug", flat=True)) == {"brand-a", "brand-b"}
    only_b.refresh_from_db()
    assert only_b.first_name == "Ada"  # an empty detail is filled in, nothing overwritten


def test_adding_a_customer_the_brand_knows_is_a_plain_form_error(client, world):
    client.force_login(world["staff_a"])

    response = client.post(
        reverse("admin:customers_customer_add"), _customer_form("only-a@example.com")
    )

    assert response.status_code == 200
    content = response.content.decode()
    assert "A customer with this email address exists already." in content
    assert "customer_email_unique_ci" not in content


def test_a_new_customer_is_known_to_the_brands_the_staff_chose_or_else_all_theirs(client, world):
    brand_a, brand_c = world["a"]["brand"], BrandFactory(slug="brand-c", name="Brand C")
    brand_c.staff.add(world["staff_a"])
    client.force_login(world["staff_a"])
    url = reverse("admin:customers_customer_add")
    chose_c = {
        **_customer_form("chose-c@example.com"),
        "brand_links-TOTAL_FORMS": "1",
        "brand_links-0-brand": str(brand_c.pk),
    }

    assert client.post(url, _customer_form("none-chosen@example.com")).status_code == 302
    assert client.post(url, chose_c).status_code == 302

    def brands_of(email):
        return set(
            CustomerBrand.objects.filter(customer__email=email).values_list("brand", flat=True)
        )

    assert brands_of("none-chosen@example.com") == {brand_a.pk, brand_c.pk}
    assert brands_of("chose-c@example.com") == {brand_c.pk}
