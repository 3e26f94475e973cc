"""Catalog API: who reads which brand's products and categories, and the filters."""

from decimal import Decimal

import pytest

from brands.roles import ANALYST, SUPPORT_AGENT
from brands.services import pos_device_revoke
from catalog.tests.factories import CategoryFactory, ProductFactory
from core.tests.api_world import (
    assert_error,
    device_client,
    ids,
    staff_user,
    token_client,
)
from labels.models import Label
from labels.services import label_assign_product
from labels.tests.factories import LabelFactory

pytestmark = pytest.mark.django_db


def all_products(tenant):
    return {tenant.product.pk, tenant.cheap_product.pk, tenant.inactive_product.pk}


def active_products(tenant):
    return {tenant.product.pk, tenant.cheap_product.pk}


# --- who sees what ----------------------------------------------------------------------------


def test_staff_see_their_brands_products_inactive_included(a, b):
    response = token_client(a.staff).get("/api/v1/products/")

    assert ids(response) == all_products(a)


def test_staff_cannot_read_another_brands_product(a, b):
    client = token_client(a.staff)

    assert_error(client.get(f"/api/v1/products/{b.product.pk}/"), 404, "not_found")
    assert_error(client.get(f"/api/v1/categories/{b.root_category.pk}/"), 404, "not_found")


def test_staff_see_their_brands_categories(a, b):
    response = token_client(a.staff).get("/api/v1/categories/")

    assert ids(response) == {a.root_category.pk, a.child_category.pk}


def test_staff_without_the_view_permission_are_refused(a):
    user = staff_user("support", role=SUPPORT_AGENT, brands=[a.brand])

    assert_error(token_client(user).get("/api/v1/products/"), 403, "permission_denied")


def test_an_analyst_reads_but_cannot_write(a):
    client = token_client(staff_user("analyst", role=ANALYST, brands=[a.brand]))

    assert ids(client.get("/api/v1/products/")) == all_products(a)
    assert_error(client.post("/api/v1/products/", {"sku": "X"}), 403, "permission_denied")


def test_the_catalog_is_read_only(a):
    response = token_client(a.staff).post("/api/v1/products/", {"sku": "X"})

    assert_error(response, 405, "method_not_allowed")


def test_a_device_reads_its_brand_only(a, b):
    client = device_client(a.device_key)

    assert ids(client.get("/api/v1/products/")) == all_products(a)
    assert client.get(f"/api/v1/products/{a.product.pk}/").json()["sku"] == "APPLE-a"
    assert_error(client.get(f"/api/v1/products/{b.product.pk}/"), 404, "not_found")
    assert ids(client.get("/api/v1/categories/")) == {a.root_category.pk, a.child_category.pk}


def test_a_device_cannot_widen_its_scope_with_filters_or_headers(a, b):
    client = device_client(a.device_key)

    response = client.get("/api/v1/products/?brand=brand-b", HTTP_X_BRAND="brand-b")

    assert ids(response) == set()


@pytest.mark.parametrize("key", ["pos_000000000000_nope", "garbage", ""])
def test_a_bad_device_key_is_401(a, key):
    response = device_client(key).get("/api/v1/products/")

    assert_error(response, 401, "authentication_failed")


def test_a_revoked_device_key_is_401(a):
    pos_device_revoke(device=a.device)

    response = device_client(a.device_key).get("/api/v1/products/")

    assert_error(response, 401, "authentication_failed")
    assert response["WWW-Authenticate"] == "X-Device-Key"


def test_a_customer_sees_the_active_products_of_the_brand_they_shop_at(a, b):
    client = token_client(a.customer.user)

    assert ids(client.get("/api/v1/products/", HTTP_X_BRAND="brand-b")) == active_products(b)
    assert_error(
        client.get(f"/api/v1/products/{b.inactive_product.pk}/", HTTP_X_BRAND="brand-b"), 404
    )


def test_a_customer_without_a_brand_sees_every_active_product_and_can_filter(a, b):
    client = token_client(a.customer.user)

    assert ids(client.get("/api/v1/products/")) == active_products(a) | active_products(b)
    assert ids(client.get("/api/v1/products/?brand=brand-b")) == active_products(b)
    assert ids(client.get("/api/v1/products/?is_active=false")) == set()


def test_a_customer_naming_an_unknown_brand_sees_nothing(a):
    response = token_client(a.customer.user).get("/api/v1/products/", HTTP_X_BRAND="nope")

    assert ids(response) == set()


def test_the_storefront_host_selects_the_brand(a, b, settings):
    settings.ALLOWED_HOSTS = ["shop-b.example.com"]
    b.brand.storefront_host = "shop-b.example.com"
    b.brand.save()

    response = token_client(a.customer.user).get(
        "/api/v1/products/", HTTP_HOST="shop-b.example.com"
    )

    assert ids(response) == active_products(b)


def test_anonymous_callers_are_401(a, api_client):
    assert_error(api_client.get("/api/v1/products/"), 401, "not_authenticated")


# --- output -----------------------------------------------------------------------------------


def test_product_output(a):
    label = LabelFactory(name="Vegan", type=Label.Type.PRODUCT, brand=None)
    label_assign_product(label=label, product=a.product)

    body = token_client(a.staff).get(f"/api/v1/products/{a.product.pk}/").json()

    assert body == {
        "id": a.product.pk,
        "brand": "brand-a",
        "sku": "APPLE-a",
        "name": "Apple a",
        "category": a.child_category.pk,
        "price": "12.50",
        "currency": "EUR",
        "is_active": True,
        "labels": [{"id": label.pk, "name": "Vegan"}],
    }


# --- filters ----------------------------------------------------------------------------------


def test_category_filter_includes_subcategories(a):
    grandchild = CategoryFactory(brand=a.brand, parent=a.child_category, slug="deep")
    deep = ProductFactory(brand=a.brand, category=grandchild)
    client = token_client(a.staff)

    root = client.get(f"/api/v1/products/?category={a.root_category.pk}")
    child = client.get(f"/api/v1/products/?category={a.child_category.pk}")

    assert ids(root) == {a.product.pk, a.cheap_product.pk, deep.pk}
    assert ids(child) == {a.product.pk, deep.pk}


def test_category_filter_with_another_brands_category_finds_nothing(a, b):
    response = token_client(a.staff).get(f"/api/v1/products/?category={b.root_category.pk}")

    assert ids(response) == set()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("sku=BREAD-a", {"cheap_product"}),
        ("is_active=false", {"inactive_product"}),
        ("is_active=true", {"product", "cheap_product"}),
        ("min_price=5", {"product", "inactive_product"}),
        ("max_price=5.00", {"cheap_product", "inactive_product"}),
        ("min_price=3&max_price=6", {"inactive_product"}),
        ("search=appl", {"product"}),
        ("search=bread-A", {"cheap_product"}),
        ("brand=brand-a&ordering=-price", {"product", "cheap_product", "inactive_product"}),
    ],
)
def test_product_filters(a, b, query, expected):
    response = token_client(a.staff).get(f"/api/v1/products/?{query}")

    assert ids(response) == {getattr(a, name).pk for name in expected}


def test_ordering_by_price(a):
    response = token_client(a.staff).get("/api/v1/products/?ordering=-price")

    prices = [Decimal(row["price"]) for row in response.json()["results"]]
    assert prices == sorted(prices, reverse=True)


def test_category_filters(a):
    client = token_client(a.staff)

    assert ids(client.get(f"/api/v1/categories/?parent={a.root_category.pk}")) == {
        a.child_category.pk
    }
    assert ids(client.get("/api/v1/categories/?slug=food-a")) == {a.root_category.pk}


@pytest.mark.parametrize(
    "query",
    [
        "min_price=abc",
        "min_price=1e400",
        "max_price=NaN",
        "min_price=123456789012345678",
        "category=abc",
        "category=0",
        "category=99999999999999999999999",
        "sku=a%00",
        "search=%00",
    ],
)
def test_bad_filters_are_400(a, query):
    response = token_client(a.staff).get(f"/api/v1/products/?{query}")

    assert_error(response, 400, "validation_error")


def test_unknown_and_malformed_ids_are_404(a):
    client = token_client(a.staff)

    assert_error(client.get("/api/v1/products/999999/"), 404, "not_found")
    assert_error(client.get("/api/v1/products/abc/"), 404, "not_found")
    assert_error(client.get("/api/v1/products/99999999999999999999999/"), 404, "not_found")
    assert_error(client.get("/api/v1/products/?page=99"), 404, "not_found")


def test_product_list_query_count_does_not_grow_with_rows(a, django_assert_max_num_queries):
    label = LabelFactory(name="Vegan", type=Label.Type.PRODUCT, brand=None)
    for _ in range(10):
        label_assign_product(label=label, product=ProductFactory(brand=a.brand))
    client = device_client(a.device_key)

    with django_assert_max_num_queries(5):
        response = client.get("/api/v1/products/")

    assert response.json()["count"] == 13
