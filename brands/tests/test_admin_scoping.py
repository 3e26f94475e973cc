"""Brand scoping in the admin: staff see and change only their brands' data."""

from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from brands.models import Store
from brands.roles import BRAND_ADMIN
from brands.tests.factories import BrandFactory, StaffUserFactory, StoreFactory, make_device
from catalog.models import Product
from catalog.tests.factories import CategoryFactory, ProductFactory
from customers.gdpr import customer_export
from customers.models import CustomerBrand
from customers.services import customer_create
from labels.models import CustomerLabel, Label, ProductLabel
from labels.tests.factories import LabelFactory
from orders.services.payment import order_set_payment_status
from orders.tests.factories import place_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    """Two brands with a store, a product, a customer, a label and an order each."""
    data = {}
    for key in ("a", "b"):
        brand = BrandFactory(slug=f"brand-{key}", name=f"Brand {key.upper()}")
        store = StoreFactory(brand=brand, code=f"store-{key}")
        category = CategoryFactory(brand=brand, slug=f"cat-{key}")
        product = ProductFactory(brand=brand, sku=f"SKU-{key}", category=category)
        customer = customer_create(brand=brand, email=f"customer-{key}@example.com")
        label = LabelFactory(name=f"Label_{key}", brand=brand)
        order = place_order(brand=brand, products_and_quantities=[(product, 1)], store=store)
        device, _ = make_device(store=store)
        data[key] = {
            "brand": brand,
            "store": store,
            "category": category,
            "product": product,
            "customer": customer,
            "label": label,
            "order": order,
            "device": device,
        }
    data["global_label"] = LabelFactory(name="Customer_VIP", brand=None)
    return data


@pytest.fixture
def staff_a(world):
    user = StaffUserFactory(username="staff-a")
    user.groups.add(Group.objects.get(name=BRAND_ADMIN))
    world["a"]["brand"].staff.add(user)
    return user


@pytest.fixture
def superuser():
    return StaffUserFactory(username="root", is_superuser=True)


CHANGELISTS = [
    ("brands", "brand", "brand"),
    ("brands", "store", "store"),
    ("brands", "posdevice", "device"),
    ("catalog", "category", "category"),
    ("catalog", "product", "product"),
    ("customers", "customer", "customer"),
    ("orders", "order", "order"),
]


def _changelist_rows(client, app_label, model):
    response = client.get(reverse(f"admin:{app_label}_{model}_changelist"))
    assert response.status_code == 200
    return set(response.context["cl"].result_list)


@pytest.mark.parametrize(("app_label", "model", "key"), CHANGELISTS)
def test_staff_changelist_shows_only_their_brand(client, world, staff_a, app_label, model, key):
    # Given a staff user of brand A
    client.force_login(staff_a)

    # When they open the changelist
    rows = _changelist_rows(client, app_label, model)

    # Then only brand A's row is listed
    row = world["a"][key]
    assert rows == {row}


@pytest.mark.parametrize(("app_label", "model", "key"), CHANGELISTS)
def test_superuser_changelist_shows_every_brand(client, world, superuser, app_label, model, key):
    client.force_login(superuser)

    rows = _changelist_rows(client, app_label, model)

    assert {world["a"][key], world["b"][key]} <= rows


def test_staff_sees_global_labels_but_cannot_change_them(client, world, staff_a):
    client.force_login(staff_a)
    global_label = world["global_label"]

    rows = _changelist_rows(client, "labels", "label")
    url = reverse("admin:labels_label_change", args=[global_label.pk])
    response = client.post(url, {"name": "Renamed", "type": "customer", "brand": ""})

    assert rows == {world["a"]["label"], global_label}
    assert response.status_code == 403
    global_label.refresh_from_db()
    assert global_label.name == "Customer_VIP"


@pytest.mark.parametrize(
    ("app_label", "model", "key"),
    [("catalog", "product", "product"), ("orders", "order", "order"), ("brands", "store", "store")],
)
def test_change_view_of_another_brands_object_is_not_found(
    client, world, staff_a, app_label, model, key
):
    client.force_login(staff_a)
    other = world["b"][key]

    response = client.get(reverse(f"admin:{app_label}_{model}_change", args=[other.pk]))

    # The admin answers "does not exist" by redirecting to its index.
    assert response.status_code == 302
    assert response.url == reverse("admin:index")


def test_foreign_key_choices_are_limited_to_the_users_brands(client, world, staff_a):
    client.force_login(staff_a)

    response = client.get(reverse("admin:catalog_product_add"))

    form = response.context["adminform"].form
    assert set(form.fields["brand"].queryset) == {world["a"]["brand"]}
    assert set(form.fields["category"].queryset) == {world["a"]["category"]}


def test_customer_label_choices_are_the_users_brand_and_global_customer_labels(
    client, world, staff_a
):
    LabelFactory(name="Vegan", type=Label.Type.PRODUCT, brand=world["a"]["brand"])
    client.force_login(staff_a)
    customer = world["a"]["customer"]

    response = client.get(reverse("admin:customers_customer_change", args=[customer.pk]))

    label_formset = next(
        formset
        for formset in response.context["inline_admin_formsets"]
        if formset.formset.model is CustomerLabel
    )
    choices = set(label_formset.formset.empty_form.fields["label"].queryset)
    assert choices == {world["a"]["label"], world["global_label"]}


def _product_form(brand, category, sku="NEW-1"):
    return {
        "brand": brand.pk,
        "sku": sku,
        "name": "New product",
        "category": category.pk if category else "",
        "price": "4.50",
        "is_active": "on",
        "label_assignments-TOTAL_FORMS": "0",
        "label_assignments-INITIAL_FORMS": "0",
    }


def test_saving_a_product_into_another_brand_is_refused(client, world, staff_a):
    client.force_login(staff_a)

    response = client.post(
        reverse("admin:catalog_product_add"), _product_form(world["b"]["brand"], None)
    )

    assert response.status_code == 200  # the form again, with its error
    assert "brand" in response.context["adminform"].form.errors
    assert not Product.objects.filter(sku="NEW-1").exists()


def test_moving_a_product_to_another_brand_is_refused(client, world, staff_a):
    client.force_login(staff_a)
    product = world["a"]["product"]

    response = client.post(
        reverse("admin:catalog_product_change", args=[product.pk]),
        _product_form(world["b"]["brand"], None, sku=product.sku),
    )

    assert response.status_code == 200
    product.refresh_from_db()
    assert product.brand == world["a"]["brand"]


def test_staff_saves_a_product_of_their_brand(client, world, staff_a):
    client.force_login(staff_a)

    response = client.post(
        reverse("admin:catalog_product_add"),
        _product_form(world["a"]["brand"], world["a"]["category"]),
    )

    assert response.status_code == 302
    product = Product.objects.get(sku="NEW-1")
    assert product.brand == world["a"]["brand"]
    assert product.price == Decimal("4.50")


def test_saving_a_global_label_as_brand_staff_is_a_form_error(client, world, staff_a):
    client.force_login(staff_a)

    response = client.post(
        reverse("admin:labels_label_add"), {"name": "Mine", "type": "customer", "brand": ""}
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors()
    assert not Label.objects.filter(name="Mine").exists()


def test_staff_cannot_add_a_store_to_another_brand(client, world, staff_a):
    client.force_login(staff_a)

    response = client.post(
        reverse("admin:brands_store_add"),
        {"brand": world["b"]["brand"].pk, "code": "intruder", "name": "X", "time_zone": "UTC"},
    )

    assert response.status_code == 200
    assert not Store.objects.filter(code="intruder").exists()


def test_staff_cannot_add_brands(client, world, staff_a):
    client.force_login(staff_a)

    response = client.get(reverse("admin:brands_brand_add"))

    assert response.status_code == 403


def _customer_form(**extra):
    return {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ADA@example.com",
        "phone": "",
        "birth_date": "",
        "external_id": "",
        "brand_links-TOTAL_FORMS": "0",
        "brand_links-INITIAL_FORMS": "0",
        "label_assignments-TOTAL_FORMS": "0",
        "label_assignments-INITIAL_FORMS": "0",
        **extra,
    }


def test_customer_added_by_staff_is_known_to_their_brand_and_labelled_by_them(
    client, world, staff_a
):
    client.force_login(staff_a)
    vip = world["global_label"]

    response = client.post(
        reverse("admin:customers_customer_add"),
        _customer_form(
            **{
                "label_assignments-TOTAL_FORMS": "1",
                "label_assignments-0-label": vip.pk,
            }
        ),
    )

    assert response.status_code == 302
    links = CustomerBrand.objects.filter(customer__email="ada@example.com")
    assert [link.brand for link in links] == [world["a"]["brand"]]
    assignment = CustomerLabel.objects.get(customer__email="ada@example.com")
    assert assignment.label == vip
    assert assignment.assigned_by == staff_a


def test_removing_a_label_from_a_customer_unassigns_it(client, world, staff_a):
    client.force_login(staff_a)
    customer = world["a"]["customer"]
    assignment = CustomerLabel.objects.create(customer=customer, label=world["global_label"])

    response = client.post(
        reverse("admin:customers_customer_change", args=[customer.pk]),
        _customer_form(
            email=customer.email,
            **{
                "brand_links-TOTAL_FORMS": "1",
                "brand_links-INITIAL_FORMS": "1",
                "brand_links-0-id": customer.brand_links.get().pk,
                "brand_links-0-customer": customer.pk,
                "label_assignments-TOTAL_FORMS": "1",
                "label_assignments-INITIAL_FORMS": "1",
                "label_assignments-0-id": assignment.pk,
                "label_assignments-0-customer": customer.pk,
                "label_assignments-0-DELETE": "on",
            },
        ),
    )

    assert response.status_code == 302
    assert not CustomerLabel.objects.filter(pk=assignment.pk).exists()
    customer.refresh_from_db()
    assert customer.first_name == "Ada"


def test_customer_changelist_hides_other_brands_links_and_labels(client, world, staff_a):
    # Given a customer known to both brands, with a label of brand B
    customer = world["a"]["customer"]
    CustomerBrand.objects.create(customer=customer, brand=world["b"]["brand"])
    CustomerLabel.objects.create(customer=customer, label=world["b"]["label"])
    client.force_login(staff_a)

    response = client.get(reverse("admin:customers_customer_changelist"))

    content = response.content.decode()
    assert "Brand A" in content
    assert "Label_b" not in content
    assert "Brand B" not in content.split('id="result_list"')[1]


@pytest.mark.parametrize(
    ("app_label", "model"),
    [
        ("orders", "order"),
        ("customers", "customer"),
        ("catalog", "product"),
        ("labels", "label"),
        ("brands", "posdevice"),
    ],
)
def test_changelist_queries_do_not_grow_with_rows(
    client, world, staff_a, app_label, model, django_assert_max_num_queries
):
    # Given the changelist's query count with one row per brand
    client.force_login(staff_a)
    url = reverse(f"admin:{app_label}_{model}_changelist")
    with CaptureQueriesContext(connection) as baseline:
        client.get(url)
    # When brand A gets more rows of every kind
    brand = world["a"]["brand"]
    for index in range(5):
        store = StoreFactory(brand=brand)
        product = ProductFactory(brand=brand, category=world["a"]["category"])
        customer = customer_create(brand=brand, email=f"more-{index}@example.com")
        CustomerLabel.objects.create(customer=customer, label=world["global_label"])
        LabelFactory(brand=brand)
        make_device(store=store)
        place_order(
            brand=brand, products_and_quantities=[(product, 2)], store=store, customer=customer
        )

    # Then the changelist runs no more queries than before
    with django_assert_max_num_queries(len(baseline)):
        response = client.get(url)
    assert len(response.context["cl"].result_list) >= 6


def test_every_admin_page_of_these_apps_renders(client, world, staff_a, superuser):
    # Given the data of two brands, label assignments and one audited payment
    CustomerLabel.objects.create(customer=world["a"]["customer"], label=world["global_label"])
    product_label = LabelFactory(name="Vegan", type=Label.Type.PRODUCT)
    ProductLabel.objects.create(product=world["a"]["product"], label=product_label)
    order_set_payment_status(order_id=world["a"]["order"].pk, to_status="paid")
    customer_export(customer=world["a"]["customer"], actor=superuser, via="admin")  # an audit row
    apps = {"brands", "customers", "catalog", "labels", "orders"}
    models = [model for model in admin.site._registry if model._meta.app_label in apps]

    for user in (superuser, staff_a):
        client.force_login(user)
        for model in models:
            opts = model._meta
            name = f"admin:{opts.app_label}_{opts.model_name}"
            # When each changelist, add page and change page is opened
            listing = client.get(reverse(f"{name}_changelist"))
            assert listing.status_code == 200, (user, name)
            rows = list(listing.context["cl"].result_list)
            assert rows, (user, name)
            change = client.get(reverse(f"{name}_change", args=[rows[0].pk]))
            # Then each renders (add pages may be refused on purpose, never broken)
            assert change.status_code == 200, (user, name)
            add = client.get(reverse(f"{name}_add"))
            assert add.status_code in (200, 403), (user, name)


def _brand_form(brand, staff_ids):
    return {
        "name": brand.name,
        "time_zone": brand.time_zone,
        "storefront_host": "",
        "staff": [str(pk) for pk in staff_ids],
        "stores-TOTAL_FORMS": "0",
        "stores-INITIAL_FORMS": "0",
    }


def test_a_brand_admin_cannot_claim_staff_of_no_brand(client, world, staff_a):
    # Given a staff user of no brand (with a role) and a superuser
    brandless = StaffUserFactory(username="new-hire")
    brandless.groups.add(Group.objects.get(name=BRAND_ADMIN))
    brand = world["a"]["brand"]
    client.force_login(staff_a)
    url = reverse("admin:brands_brand_change", args=[brand.pk])

    # Then the staff field does not offer them
    choices = client.get(url).context["adminform"].form.fields["staff"].queryset
    assert set(choices) == {staff_a}

    # ... and posting them anyway is a form error that changes nothing
    response = client.post(url, _brand_form(brand, [staff_a.pk, brandless.pk]))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["staff"]
    assert set(brand.staff.all()) == {staff_a}
    assert not brandless.staff_brands.exists()


def test_a_brand_admin_keeps_their_brands_staff_when_saving(client, world, staff_a):
    colleague = StaffUserFactory(username="colleague")
    brand = world["a"]["brand"]
    brand.staff.add(colleague)
    client.force_login(staff_a)

    response = client.post(
        reverse("admin:brands_brand_change", args=[brand.pk]),
        _brand_form(brand, [staff_a.pk, colleague.pk]),
    )

    assert response.status_code == 302
    assert set(brand.staff.all()) == {staff_a, colleague}


def test_a_brand_admin_cannot_open_or_edit_users(client, world, staff_a):
    # Staff users are created and given brands by superusers; brand admins see no user admin.
    brandless = StaffUserFactory(username="new-hire")
    client.force_login(staff_a)

    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403
    change = reverse("admin:auth_user_change", args=[brandless.pk])
    assert client.get(change).status_code == 403
    assert client.post(change, {"username": "taken-over", "is_staff": "on"}).status_code == 403
    brandless.refresh_from_db()
    assert brandless.username == "new-hire"
