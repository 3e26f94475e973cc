"""A realistic, reproducible demo: two brands, their stores, catalog, customers and orders.

Every item is drawn from its own `random.Random` seeded with its natural key ("order-17",
"customer-42"), so a second run draws the same data, finds it by its natural key (brand slug,
store code, SKU, customer email, order idempotency key "demo-<n>") and creates nothing new.
Orders are placed and paid through the order services, then backdated over the last weeks.
"""

import os
import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from brands.models import Brand, PosDevice, Store
from brands.roles import BRAND_ADMIN
from brands.services import pos_device_create
from catalog.models import Category, Product
from customers.models import Customer
from customers.services import customer_create, customer_link_brand
from labels.models import Label
from labels.services import label_assign_customer, label_assign_product
from orders.models import Order, PaymentStatusChange
from orders.services.payment import order_set_payment_status
from orders.services.placement import LineRequest, order_place

VIP_LABEL = "Customer_VIP"
DEVICE_NAME = "Till 1"
ORDER_KEY_PREFIX = "demo-"
HISTORY_DAYS = 42
VIP_COUNT = 12
PS = Order.PaymentStatus

# Wraps an iterable in a progress bar: (iterable, total, description) -> iterable.
Progress = Callable[[Iterable, int, str], Iterable]


def _no_progress(iterable: Iterable, total: int, description: str) -> Iterable:
    return iterable


@dataclass(frozen=True)
class BrandSpec:
    slug: str
    name: str
    time_zone: str
    storefront_host: str
    stores: tuple[tuple[str, str, str], ...]  # code, name, time zone
    # parent category -> {leaf category -> (product nouns, (min price, max price))}
    catalog: dict[str, dict[str, tuple[tuple[str, ...], tuple[int, int]]]]
    adjectives: tuple[str, ...]
    channels: tuple[tuple[str, int], ...]  # (channel, weight)
    sku_prefix: str
    customer_labels: tuple[str, ...]
    product_labels: tuple[str, ...]
    share: float  # of the orders


BRANDS = (
    BrandSpec(
        slug="burger-republic",
        name="Burger Republic",
        time_zone="Europe/Paris",
        storefront_host="burger-republic.localhost",
        stores=(
            ("paris-bastille", "Paris Bastille", "Europe/Paris"),
            ("lyon-part-dieu", "Lyon Part-Dieu", "Europe/Paris"),
            ("lille-centre", "Lille Centre", "Europe/Paris"),
        ),
        catalog={
            "Food": {
                "Burgers": (("Burger", "Cheeseburger", "Smash Burger", "Wrap"), (790, 1490)),
                "Sides": (("Fries", "Onion Rings", "Coleslaw", "Nuggets"), (290, 590)),
            },
            "Drinks": {
                "Soft drinks": (("Lemonade", "Iced Tea", "Cola", "Milkshake"), (250, 490)),
                "Hot drinks": (("Coffee", "Tea", "Hot Chocolate"), (190, 390)),
            },
            "Desserts": {"Desserts": (("Brownie", "Sundae", "Cookie", "Cheesecake"), (290, 590))},
        },
        adjectives=(
            "Classic",
            "Double",
            "Smoky",
            "Veggie",
            "Spicy",
            "Crispy",
            "Truffle",
            "Blue Cheese",
            "Mini",
            "Maxi",
        ),
        channels=(("pos", 6), ("app", 3), ("web", 1)),
        sku_prefix="BR",
        customer_labels=("Student",),
        product_labels=("Vegan", "Spicy"),
        share=0.6,
    ),
    BrandSpec(
        slug="nordfaden",
        name="Nordfaden",
        time_zone="Europe/Berlin",
        storefront_host="nordfaden.localhost",
        stores=(
            ("berlin-mitte", "Berlin Mitte", "Europe/Berlin"),
            ("hamburg-altona", "Hamburg Altona", "Europe/Berlin"),
        ),
        catalog={
            "Women": {
                "Dresses": (("Dress", "Maxi Dress", "Shirt Dress"), (4990, 12990)),
                "Tops": (("Blouse", "T-Shirt", "Knit Top"), (1990, 5990)),
            },
            "Men": {
                "Shirts": (("Oxford Shirt", "Linen Shirt", "Polo"), (2990, 7990)),
                "Trousers": (("Chinos", "Jeans", "Cargo Trousers"), (4990, 9990)),
            },
            "Accessories": {
                "Bags": (("Tote Bag", "Backpack", "Belt Bag"), (2490, 8990)),
                "Scarves": (("Wool Scarf", "Silk Scarf"), (1990, 4990)),
            },
        },
        adjectives=(
            "Navy",
            "Black",
            "Sand",
            "Olive",
            "Ivory",
            "Striped",
            "Organic",
            "Relaxed",
            "Slim",
            "Cropped",
        ),
        channels=(("web", 5), ("pos", 4), ("app", 1)),
        sku_prefix="NF",
        customer_labels=("Stylist_Club",),
        product_labels=("Sustainable", "New_Collection"),
        share=0.4,
    ),
)

FIRST_NAMES = [
    "Emma",
    "Louise",
    "Jade",
    "Alice",
    "Chloe",
    "Lina",
    "Mia",
    "Lea",
    "Anna",
    "Clara",
    "Hanna",
    "Sophie",
    "Marie",
    "Lena",
    "Julia",
    "Lucas",
    "Hugo",
    "Louis",
    "Nathan",
    "Arthur",
    "Leo",
    "Jules",
    "Paul",
    "Felix",
    "Jonas",
    "Leon",
    "Noah",
    "Elias",
    "Max",
    "Tom",
]
LAST_NAMES = [
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefebvre",
    "Michel",
    "Garcia",
    "Muller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Koch",
    "Richter",
    "Wolf",
    "Klein",
    "Neumann",
]
PAYMENT_METHODS = ("card", "card", "card", "cash", "mobile_wallet")


@dataclass
class DemoResult:
    # Only what this run created: user, password, role; device and its key (shown once).
    logins: list[tuple[str, str, str]] = field(default_factory=list)
    devices: list[tuple[PosDevice, str]] = field(default_factory=list)
    created: Counter = field(default_factory=Counter)


def _seed_brands(result: DemoResult) -> dict[str, Brand]:
    brands = {}
    for spec in BRANDS:
        brand, created = Brand.objects.get_or_create(
            slug=spec.slug,
            defaults={
                "name": spec.name,
                "currency": "EUR",
                "time_zone": spec.time_zone,
                "storefront_host": spec.storefront_host,
            },
        )
        result.created["brands"] += created
        for code, name, time_zone in spec.stores:
            _, created = Store.objects.get_or_create(
                brand=brand, code=code, defaults={"name": name, "time_zone": time_zone}
            )
            result.created["stores"] += created
        brands[spec.slug] = brand
    return brands


def _seed_device(brand: Brand, result: DemoResult) -> None:
    """A till in the brand's first store, with a random key that is shown once, like any
    device's: a later run leaves the device and its key alone (rotate it in the admin)."""
    store = Store.objects.filter(brand=brand).order_by("code").first()
    if PosDevice.objects.filter(store=store, name=DEVICE_NAME).exists():
        return
    device, raw_key = pos_device_create(store=store, name=DEVICE_NAME)
    result.created["devices"] += 1
    result.devices.append((device, raw_key))


def _seed_user(
    username: str, password: str, result: DemoResult, *, superuser: bool = False
) -> tuple[object, bool]:
    """The demo user, created if missing. An existing one is left as it is: its password,
    whether it is active and its roles may have been changed since the first run."""
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    if user is not None:
        return user, False
    user = user_model(
        username=username,
        email=f"{username}@example.com",
        is_staff=True,
        is_superuser=superuser,
        is_active=True,
    )
    user.set_password(password)
    user.save()
    result.created["users"] += 1
    return user, True


def _seed_users(brands: dict[str, Brand], password: str, result: DemoResult) -> None:
    _, created = _seed_user("admin", password, result, superuser=True)
    if created:
        result.logins.append(("admin", password, "superuser, every brand"))
    group, _ = Group.objects.get_or_create(name=BRAND_ADMIN)
    for brand in brands.values():
        username = f"{brand.slug}-admin"
        user, created = _seed_user(username, password, result)
        if created:
            user.groups.add(group)
            brand.staff.add(user)
            result.logins.append((username, password, f"{BRAND_ADMIN}, {brand.name} only"))


def _seed_labels(brands: dict[str, Brand], result: DemoResult) -> dict[tuple[str, str], Label]:
    wanted = [
        (VIP_LABEL, Label.Type.CUSTOMER, None, "Top customers; promotions and perks target them."),
        ("Newsletter", Label.Type.CUSTOMER, None, "Opted in to marketing emails."),
    ]
    for spec in BRANDS:
        brand = brands[spec.slug]
        wanted += [(name, Label.Type.CUSTOMER, brand, "") for name in spec.customer_labels]
        wanted += [(name, Label.Type.PRODUCT, brand, "") for name in spec.product_labels]
    labels = {}
    for name, label_type, brand, description in wanted:
        label, created = Label.objects.get_or_create(
            name=name, type=label_type, brand=brand, defaults={"description": description}
        )
        result.created["labels"] += created
        labels[(name, brand.slug if brand else "")] = label
    return labels


def _seed_catalog(
    brand: Brand, spec: BrandSpec, per_brand: int, labels, progress: Progress, result
) -> None:
    leaves: list[tuple[Category, tuple[str, ...], tuple[int, int]]] = []
    for parent_name, children in spec.catalog.items():
        parent, created = Category.objects.get_or_create(
            brand=brand, slug=_slug(parent_name), defaults={"name": parent_name}
        )
        result.created["categories"] += created
        for child_name, (nouns, price_range) in children.items():
            if child_name == parent_name:
                leaves.append((parent, nouns, price_range))
                continue
            child, created = Category.objects.get_or_create(
                brand=brand,
                slug=_slug(child_name),
                defaults={"name": child_name, "parent": parent},
            )
            result.created["categories"] += created
            leaves.append((child, nouns, price_range))

    existing = set(Product.objects.filter(brand=brand).values_list("sku", flat=True))
    product_labels = [labels[(name, spec.slug)] for name in spec.product_labels]
    new_products = []
    for index in range(per_brand):
        sku = f"{spec.sku_prefix}-{index:04d}"
        if sku in existing:
            continue
        rng = random.Random(f"{spec.slug}-product-{index}")
        category, nouns, (low, high) = leaves[index % len(leaves)]
        name = f"{rng.choice(spec.adjectives)} {rng.choice(nouns)}"
        price = Decimal(rng.randrange(low, high + 1, 10)) / 100
        new_products.append(
            Product(brand=brand, sku=sku, name=name, category=category, price=price)
        )
    for product in progress(new_products, len(new_products), f"{spec.name} products"):
        product.full_clean()
        product.save()
        result.created["products"] += 1
        rng = random.Random(f"{spec.slug}-product-labels-{product.sku}")
        for label in product_labels:
            if rng.random() < 0.15:
                label_assign_product(label=label, product=product)


def _seed_customers(
    count: int, brands: dict[str, Brand], labels, progress: Progress, result: DemoResult
) -> None:
    existing = set(
        Customer.objects.filter(email__endswith="@example.com").values_list("email", flat=True)
    )
    specs = list(BRANDS)
    vip = labels[(VIP_LABEL, "")]
    newsletter = labels[("Newsletter", "")]
    vip_indexes = set(random.Random("vip-customers").sample(range(count), min(VIP_COUNT, count)))
    for index in progress(range(count), count, "Customers"):
        rng = random.Random(f"customer-{index}")
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first}.{last}.{index}@example.com".lower()
        # Everyone is known to one brand; one in four to both.
        home = specs[0] if rng.random() < specs[0].share else specs[1]
        both = rng.random() < 0.25
        birth_date = date(1960, 1, 1) + timedelta(days=rng.randrange(0, 45 * 365))
        phone = f"+33 6 {rng.randrange(10_000_000, 99_999_999)}"
        if email in existing:
            continue
        customer = customer_create(
            brand=brands[home.slug],
            email=email,
            first_name=first,
            last_name=last,
            phone=phone,
            birth_date=birth_date,
        )
        result.created["customers"] += 1
        if both:
            for spec in specs:
                customer_link_brand(customer=customer, brand=brands[spec.slug])
        if index in vip_indexes:
            label_assign_customer(label=vip, customer=customer)
        if rng.random() < 0.3:
            label_assign_customer(label=newsletter, customer=customer)
        for name in home.customer_labels:
            if rng.random() < 0.1:
                label_assign_customer(label=labels[(name, home.slug)], customer=customer)


def _payment_outcome(rng: random.Random) -> list[str]:
    """The payment statuses an order goes through after being placed."""
    roll = rng.random()
    if roll < 0.14:
        return []  # still pending
    if roll < 0.19:
        return [PS.FAILED]
    if roll < 0.22:
        return [PS.CANCELLED]
    if roll < 0.27:
        return [PS.PAID, PS.REFUNDED]
    if roll < 0.29:
        return [PS.PAID, PS.PARTIALLY_REFUNDED]
    return [PS.PAID]


def _seed_orders(count: int, brands: dict[str, Brand], progress: Progress, result) -> None:
    existing = set(
        Order.objects.filter(idempotency_key__startswith=ORDER_KEY_PREFIX).values_list(
            "idempotency_key", flat=True
        )
    )
    stores = {slug: list(brand.stores.order_by("code")) for slug, brand in brands.items()}
    products = {
        slug: list(brand.products.filter(is_active=True).order_by("sku").values_list("pk"))
        for slug, brand in brands.items()
    }
    customers = {
        slug: list(brand.customers.order_by("pk").values_list("pk", flat=True))
        for slug, brand in brands.items()
    }
    customer_by_pk = {}
    now = timezone.now()
    backdated: list[tuple[int, timedelta]] = []
    for index in progress(range(count), count, "Orders"):
        key = f"{ORDER_KEY_PREFIX}{index}"
        rng = random.Random(f"order-{index}")
        spec = BRANDS[0] if rng.random() < BRANDS[0].share else BRANDS[1]
        channel = rng.choices(
            [name for name, _ in spec.channels], [weight for _, weight in spec.channels]
        )[0]
        store = rng.choice(stores[spec.slug]) if channel == "pos" else None
        customer_pk = (
            rng.choice(customers[spec.slug])
            if customers[spec.slug] and rng.random() < 0.8
            else None
        )
        picked = rng.sample(products[spec.slug], min(rng.randint(1, 4), len(products[spec.slug])))
        lines = [LineRequest(product_id=pk, quantity=rng.randint(1, 3)) for (pk,) in picked]
        payment_method = rng.choice(PAYMENT_METHODS)
        outcome = _payment_outcome(rng)
        age = timedelta(seconds=rng.randrange(600, HISTORY_DAYS * 86_400))
        if key in existing or not lines:
            continue
        if customer_pk is not None and customer_pk not in customer_by_pk:
            customer_by_pk[customer_pk] = Customer.objects.get(pk=customer_pk)
        order, created = order_place(
            brand=brands[spec.slug],
            lines=lines,
            channel=channel,
            store=store,
            customer=customer_by_pk.get(customer_pk),
            idempotency_key=key,
        )
        if not created:
            continue
        result.created["orders"] += 1
        for to_status in outcome:
            refund_amount = None
            if to_status == PS.PARTIALLY_REFUNDED:
                refund_amount = (order.total / 3).quantize(Decimal("0.01")) or None
                if refund_amount is None:
                    continue
            order = order_set_payment_status(
                order_id=order.pk,
                to_status=to_status,
                payment_method=payment_method if to_status == PS.PAID else None,
                refund_amount=refund_amount,
                note="demo",
            )
        backdated.append((order.pk, age))
    _backdate(backdated, now)


def _backdate(ages: list[tuple[int, timedelta]], now) -> None:
    """Spread the new orders over the last weeks; payments follow a few minutes later."""
    if not ages:
        return
    age_by_pk = dict(ages)
    orders = list(Order.objects.filter(pk__in=age_by_pk).only("pk", "paid_at", "created_at"))
    for order in orders:
        order.created_at = now - age_by_pk[order.pk]
        if order.paid_at is not None:
            order.paid_at = order.created_at + timedelta(minutes=2)
    Order.objects.bulk_update(orders, ["created_at", "paid_at"], batch_size=500)
    changes = list(PaymentStatusChange.objects.filter(order_id__in=age_by_pk).order_by("pk"))
    steps: Counter = Counter()
    for change in changes:
        steps[change.order_id] += 1
        change.created_at = (
            now - age_by_pk[change.order_id] + steps[change.order_id] * timedelta(minutes=2)
        )
    PaymentStatusChange.objects.bulk_update(changes, ["created_at"], batch_size=500)


# A few live promotions per brand, so quotes, the basket page and the POS bundles have something
# to apply: (name, type, params, scope: "all" or the slug of a top-level category).
DEMO_PROMOTIONS = [
    (
        "Spend 30, save 3",
        "threshold",
        {"tiers": [{"min_subtotal": "30.00", "amount": "3.00"}]},
        "all",
    ),
    ("Buy 2, get 1 free", "bogo", {"buy_quantity": 2, "get_quantity": 1, "percent": "100"}, 0),
    ("10% off", "percent_discount", {"percent": "10"}, 1),
]


def _seed_promotions(brands: dict[str, Brand], result: DemoResult) -> None:
    from promotions.models import Promotion
    from promotions.services.lifecycle import promotion_save

    now = timezone.now()
    for brand in brands.values():
        existing = set(Promotion.objects.filter(brand=brand).values_list("name", flat=True))
        tops = list(Category.objects.filter(brand=brand, parent__isnull=True).order_by("id"))
        for name, kind, params, scope in DEMO_PROMOTIONS:
            if name in existing:
                continue
            promotion = Promotion(
                brand=brand,
                name=name,
                type=kind,
                status=Promotion.Status.ACTIVE,
                starts_at=now - timedelta(days=1),
                ends_at=now + timedelta(days=365),
                params=params,
                all_products=scope == "all",
            )
            relations = None if scope == "all" else {"categories": [tops[scope % len(tops)].pk]}
            promotion_save(promotion=promotion, relations=relations)
            result.created["promotions"] += 1


def _slug(name: str) -> str:
    return name.lower().replace(" ", "-")


def demo_seed(
    *,
    customers: int = 300,
    orders: int = 600,
    products_per_brand: int = 100,
    admin_password: str | None = None,
    progress: Progress = _no_progress,
) -> DemoResult:
    """Create the demo data that is missing. Safe to run again: it adds nothing twice and
    changes nothing that exists (users keep their password and status, devices their key)."""
    password = admin_password or os.environ.get("DEMO_ADMIN_PASSWORD") or "admin"
    result = DemoResult()
    with transaction.atomic():
        brands = _seed_brands(result)
        _seed_users(brands, password, result)
        for brand in brands.values():
            _seed_device(brand, result)
        labels = _seed_labels(brands, result)
        for spec in BRANDS:
            _seed_catalog(brands[spec.slug], spec, products_per_brand, labels, progress, result)
        _seed_customers(customers, brands, labels, progress, result)
        _seed_orders(orders, brands, progress, result)
        _seed_promotions(brands, result)
    return result
