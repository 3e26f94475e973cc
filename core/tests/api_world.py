"""Two brands with everything the API serves, and clients for each kind of caller.

Shared by the API tests of every app: brand A and brand B each have a store, a category tree,
products, a customer with a storefront login, a staff user with the Brand admin role, a POS
device and an order.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.models import Group
from knox.models import AuthToken
from rest_framework.test import APIClient

from brands.models import Brand, PosDevice, Store
from brands.roles import BRAND_ADMIN
from brands.tests.factories import BrandFactory, StaffUserFactory, StoreFactory, make_device
from catalog.models import Category, Product
from catalog.tests.factories import CategoryFactory, ProductFactory
from customers.models import Customer
from customers.services import customer_create
from orders.models import Order
from orders.tests.factories import place_order

ERROR_KEYS = {"code", "message", "fields"}


@dataclass
class Tenant:
    brand: Brand
    store: Store
    root_category: Category
    child_category: Category
    product: Product
    cheap_product: Product
    inactive_product: Product
    customer: Customer
    staff: object
    device: PosDevice
    device_key: str
    order: Order
    extra: dict = field(default_factory=dict)


def build_tenant(key: str) -> Tenant:
    brand = BrandFactory(slug=f"brand-{key}", name=f"Brand {key.upper()}")
    store = StoreFactory(brand=brand, code=f"store-{key}")
    root = CategoryFactory(brand=brand, slug=f"food-{key}", name=f"Food {key}")
    child = CategoryFactory(brand=brand, slug=f"fruit-{key}", name=f"Fruit {key}", parent=root)
    product = ProductFactory(
        brand=brand, sku=f"APPLE-{key}", name=f"Apple {key}", price=Decimal("12.50"), category=child
    )
    cheap = ProductFactory(
        brand=brand, sku=f"BREAD-{key}", name=f"Bread {key}", price=Decimal("2.00"), category=root
    )
    inactive = ProductFactory(
        brand=brand, sku=f"OLD-{key}", name=f"Old {key}", price=Decimal("5.00"), is_active=False
    )
    customer = customer_create(
        brand=brand,
        email=f"customer-{key}@example.com",
        first_name=f"Ann{key}",
        last_name=f"Lee{key}",
        phone=f"+33100000{ord(key)}",
        external_id=f"EXT-{key}",
        password="pass-word-123",
    )
    staff = StaffUserFactory(username=f"staff-{key}")
    staff.groups.add(Group.objects.get(name=BRAND_ADMIN))
    brand.staff.add(staff)
    device, device_key = make_device(store=store, name=f"Till {key}")
    order = place_order(
        brand=brand, products_and_quantities=[(product, 2)], store=store, customer=customer
    )
    return Tenant(
        brand=brand,
        store=store,
        root_category=root,
        child_category=child,
        product=product,
        cheap_product=cheap,
        inactive_product=inactive,
        customer=customer,
        staff=staff,
        device=device,
        device_key=device_key,
        order=order,
    )


def staff_user(username: str, *, role: str | None = None, brands=(), superuser=False):
    user = StaffUserFactory(username=username, is_superuser=superuser)
    if role:
        user.groups.add(Group.objects.get(name=role))
    for brand in brands:
        brand.staff.add(user)
    return user


def token_client(user) -> APIClient:
    client = APIClient()
    _, token = AuthToken.objects.create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def device_client(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_DEVICE_KEY=raw_key)
    return client


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The response has `status` and the one error format (and `code`, when given)."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    assert set(body) == ERROR_KEYS, body
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["fields"], dict)
    for path, messages in body["fields"].items():
        assert isinstance(path, str)
        assert all(isinstance(message, str) for message in messages)
    if code is not None:
        assert body["code"] == code, body
    return body


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content[:500]
    return {row["id"] for row in response.json()["results"]}
