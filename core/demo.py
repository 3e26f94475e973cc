"""A realistic, reproducible demo: two brands, their stores, catalog, customers and orders, a
loyalty programme per brand with tiers, points and cashback for the paid orders, badges, wallet
credit, and the default notification templates (so the demo's notices are delivered).

Every item is drawn from its own `random.Random` seeded with its natural key ("order-17",
"customer-42"), so a second run draws the same data, finds it by its natural key (brand slug,
store code, SKU, customer email, order idempotency key "demo-<n>") and creates nothing new.
Orders are placed and paid through the order services, then backdated over the last weeks;
points, cashback, badges and wallet credit go through their services too, never as raw rows.
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
from loyalty_management.models import (
    BadgeDefinition,
    CustomerBadge,
    LoyaltyProgram,
    LoyaltyTransaction,
    RedemptionItem,
    Tier,
)
from loyalty_management.services.badges import (
    badge_award_by_staff,
    badge_definition_save,
    customer_badges_evaluate,
)
from loyalty_management.services.catalogue import redemption_item_save
from marketing.cashback import cashback_credit
from marketing.services import EARNING_STATUSES, award_loyalty_points
from notifications.defaults import default_templates_install
from orders.models import Order, PaymentStatusChange
from orders.services.payment import order_set_payment_status
from orders.services.placement import LineRequest, order_place
from rewards.lifecycle import reward_issue_template, reward_template_save
from rewards.models import CustomerReward, RewardTemplate
from rules.services.authoring import vip_example_install
from wallets.services import wallet_credit

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
    # A customer's storefront login: email, password, the brand whose top member it is.
    storefront_logins: list[tuple[str, str, str]] = field(default_factory=list)
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
# Cashback on what is paid for the second top-level category (drinks, men's wear), whatever
# else discounted it (the 10% off above shares its scope), credited as points when paid.
# Seeded before the demo orders, so their history shows cashback earned; the discounts above
# come after them, so the orders' prices stay the list prices (SQLite checks the order's
# total = subtotal - discount constraint in floating point, which a discounted total such as
# 33.90 - 3.39 fails).
DEMO_CASHBACK = [("5% cashback", "cashback", {"percent": "5", "cap": "10.00"}, 1)]


def _seed_promotions(brands: dict[str, Brand], result: DemoResult, wanted: list) -> None:
    from promotions.models import Promotion
    from promotions.services.lifecycle import promotion_save

    now = timezone.now()
    for brand in brands.values():
        existing = set(Promotion.objects.filter(brand=brand).values_list("name", flat=True))
        tops = list(Category.objects.filter(brand=brand, parent__isnull=True).order_by("id"))
        for name, kind, params, scope in wanted:
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


# Loyalty per brand: three tiers on the points earned over 12 months (name, threshold,
# multiplier), with thresholds that fit the brand's basket size.
DEMO_TIERS = {
    "burger-republic": (("Bronze", 0, "1.00"), ("Silver", 60, "1.25"), ("Gold", 150, "1.50")),
    "nordfaden": (("Bronze", 0, "1.00"), ("Silver", 250, "1.25"), ("Gold", 600, "1.50")),
}
# Badges per brand: (name, kind, threshold field and value, description, icon). The lifetime
# spend badge's amount is per brand; "tier" names one of the brand's tiers.
DEMO_SPEND_BADGE = {"burger-republic": Decimal("60.00"), "nordfaden": Decimal("300.00")}
DEMO_BADGES = (
    ("Regular", "order_count", "order_count", 3, "Three paid orders.", "repeat"),
    ("Big spender", "lifetime_spend", "spend_amount", None, "A lifetime spend.", "wallet"),
    ("Gold member", "tier", "tier", "Gold", "Reached the Gold tier.", "gold-medal"),
    ("Founding member", "manual", None, None, "One of our first members.", "star"),
)
FOUNDING_MEMBERS = 3
WALLET_CUSTOMERS = 5
WALLET_CREDIT = Decimal("10.00")


def _seed_loyalty_programs(brands: dict[str, Brand], result: DemoResult) -> None:
    """A points programme per brand (1 point per euro paid, 10 per euro of cashback, points
    expire after a year) with Bronze, Silver and Gold tiers."""
    for slug, brand in brands.items():
        program, created = LoyaltyProgram.objects.get_or_create(
            brand=brand,
            defaults={
                "name": f"{brand.name} Rewards",
                "points_per_unit": Decimal("1.00"),
                "unit_amount": Decimal("1.00"),
                # A euro of cashback is 10 points, so a few cents of it still give some.
                "cashback_points_per_unit": Decimal("10.00"),
                "expiry_policy": LoyaltyProgram.ExpiryPolicy.AFTER_DAYS,
                "expiry_days": 365,
            },
        )
        result.created["loyalty programmes"] += created
        if not created:
            continue
        for position, (name, threshold, multiplier) in enumerate(DEMO_TIERS[slug]):
            Tier.objects.create(
                program=program,
                name=name,
                position=position,
                threshold=Decimal(threshold),
                multiplier=Decimal(multiplier),
                benefits=f"Earn {multiplier}x points.",
            )
            result.created["tiers"] += 1


def _loyalty_counts() -> Counter:
    """What the loyalty steps create, whether the orders' tasks or the seed created it."""
    kinds = Counter(
        LoyaltyTransaction.objects.filter(
            kind__in=(LoyaltyTransaction.Kind.EARNED, LoyaltyTransaction.Kind.CASHBACK)
        ).values_list("kind", flat=True)
    )
    return Counter(
        {
            "points awards": kinds[LoyaltyTransaction.Kind.EARNED],
            "cashback credits": kinds[LoyaltyTransaction.Kind.CASHBACK],
            "badge awards": CustomerBadge.objects.count(),
        }
    )


def _seed_loyalty_points() -> None:
    """Points and cashback for the demo's paid orders, in the order they were paid, through
    the services a paid order's tasks call (each is idempotent; orders that have them already
    are skipped)."""
    kind = LoyaltyTransaction.Kind
    done = set(
        LoyaltyTransaction.objects.filter(
            kind__in=(kind.EARNED, kind.CASHBACK), order__isnull=False
        ).values_list("order_id", "kind")
    )
    orders = (
        Order.objects.filter(
            idempotency_key__startswith=ORDER_KEY_PREFIX,
            payment_status__in=EARNING_STATUSES,
            customer__isnull=False,
        )
        .order_by("paid_at", "pk")
        .only("pk", "cashback_total")
    )
    for order in orders:
        if (order.pk, kind.EARNED) not in done:
            award_loyalty_points(order=order)
        if order.cashback_total > 0 and (order.pk, kind.CASHBACK) not in done:
            cashback_credit(order_id=order.pk)


def _seed_badges(brands: dict[str, Brand], admin, result: DemoResult) -> None:
    """Badges per brand (paid orders, lifetime spend, a tier, a manual one), the automatic
    ones evaluated for every demo customer with a paid order, the manual one given by staff
    to a few early customers."""
    for slug, brand in brands.items():
        existing = {badge.name: badge for badge in BadgeDefinition.objects.filter(brand=brand)}
        manual = None
        for name, kind, field_name, value, description, icon in DEMO_BADGES:
            badge = existing.get(name)
            if badge is None:
                data = {"name": name, "kind": kind, "description": description, "icon": icon}
                if field_name == "spend_amount":
                    value = DEMO_SPEND_BADGE[slug]
                elif field_name == "tier":
                    value = Tier.objects.get(program__brand=brand, name=value)
                if field_name:
                    data[field_name] = value
                badge = badge_definition_save(brand=brand, data=data)
                result.created["badges"] += 1
            if kind == "manual":
                manual = badge
        buyers = (
            Order.objects.filter(brand=brand, customer__isnull=False)
            .filter(payment_status__in=EARNING_STATUSES)
            .values_list("customer_id", flat=True)
            .distinct()
            .order_by("customer_id")
        )
        for customer_id in buyers:
            customer_badges_evaluate(customer_id=customer_id, brand_id=brand.pk, source="sweep")
        if manual is not None and admin is not None:
            for customer in _top_members(brand, FOUNDING_MEMBERS):
                badge_award_by_staff(badge=manual, customer=customer, actor=admin, note="Demo")


def _top_members(brand: Brand, count: int) -> list[Customer]:
    """The brand's members with the most points (then the oldest): the demo's showcase
    customers, with points, a tier, a badge and wallet credit."""
    return list(
        Customer.objects.filter(loyalty_accounts__program__brand=brand)
        .order_by("-loyalty_accounts__lifetime_points", "pk")
        .distinct()[:count]
    )


def _seed_wallets(brands: dict[str, Brand], result: DemoResult) -> None:
    """A welcome credit in the wallet of a few customers per brand (once: its idempotency key
    names the brand and the customer)."""
    for slug, brand in brands.items():
        for customer in _top_members(brand, WALLET_CUSTOMERS):
            write = wallet_credit(
                customer=customer,
                brand=brand,
                amount=WALLET_CREDIT,
                idempotency_key=f"demo-wallet:{slug}:{customer.pk}",
                reason="Welcome credit",
            )
            result.created["wallet credits"] += write.created


def _seed_reward_codes_catalogue(brands: dict[str, Brand], result: DemoResult) -> None:
    """One points catalogue item per brand that gives a discount code: 5.00 off the next order
    for 200 points, valid 30 days (once: an item of that name is left as it is)."""
    name = "5.00 off your next order"
    for brand in brands.values():
        if RedemptionItem.objects.filter(brand=brand, name=name).exists():
            continue
        redemption_item_save(
            brand=brand,
            data={
                "name": name,
                "description": "A single-use code for 5.00 off one order, valid 30 days.",
                "points_cost": 200,
                "kind": RedemptionItem.Kind.DISCOUNT_AMOUNT,
                "discount_amount": Decimal("5.00"),
                "code_valid_days": 30,
            },
        )
        result.created["reward code catalogue items"] += 1


def _seed_rewards(brands: dict[str, Brand], result: DemoResult) -> None:
    """Per brand: a birthday reward (one of its products free, issued by the hourly birthday
    sweep) and a welcome reward (10% off), issued once to the brand's top members."""
    for slug, brand in brands.items():
        existing = {t.name: t for t in RewardTemplate.objects.filter(brand=brand)}
        product = Product.objects.filter(brand=brand, is_active=True).order_by("price", "pk")
        specs = [
            (
                "Birthday treat",
                {
                    "kind": "free_product",
                    "product": product.first(),
                    "trigger": "birthday",
                    "valid_days": 14,
                    "description": "Something on us, on your birthday.",
                },
            ),
            (
                "Welcome",
                {
                    "kind": "discount_percentage",
                    "percentage": Decimal("10"),
                    "minimum_order": Decimal("15.00"),
                    "valid_days": 30,
                    "description": "10% off your next order.",
                },
            ),
        ]
        for name, data in specs:
            if name in existing or (data.get("kind") == "free_product" and not data["product"]):
                continue
            existing[name] = reward_template_save(brand=brand, data={"name": name, **data})
            result.created["reward templates"] += 1
        welcome = existing.get("Welcome")
        if welcome is None:
            continue
        for customer in _top_members(brand, WALLET_CUSTOMERS):
            _, created = reward_issue_template(
                template=welcome,
                customer=customer,
                idempotency_key=f"demo-reward:{slug}:{customer.pk}",
                source=CustomerReward.Source.STAFF,
                reason="Demo welcome",
            )
            result.created["rewards issued"] += created


def _seed_campaign(brands: dict[str, Brand], result: DemoResult) -> None:
    """One cross-brand campaign of the first brand across every demo brand (live from 60 days
    ago for 30 more days: 20.00 at each of two brands gives 200 points), then the safety-net
    sweep counts the paid orders already in its period and issues the rewards due."""
    from campaigns.models import CrossBrandCampaign
    from campaigns.services import campaign_save, process_cross_brand_accumulation

    owner = brands[BRANDS[0].slug]
    if not CrossBrandCampaign.objects.filter(brand=owner, name="Across the group").exists():
        now = timezone.now()
        campaign_save(
            brand=owner,
            data={
                "name": "Across the group",
                "description": "Spend 20.00 at two of our brands and get 200 points.",
                "brands": list(brands.values()),
                "starts_at": now - timedelta(days=60),
                "ends_at": now + timedelta(days=30),
                "requirement": CrossBrandCampaign.Requirement.EACH_BRAND,
                "min_spend_per_brand": Decimal("20.00"),
                "min_brands": 2,
                "reward_kind": CrossBrandCampaign.RewardKind.POINTS,
                "reward_points": 200,
            },
        )
        result.created["campaigns"] += 1
    result.created["campaign rewards"] += process_cross_brand_accumulation().rewards_issued


DEMO_VOUCHER_PROMOTION = "Welcome voucher: 15% off"
DEMO_VOUCHER_CODES = 200


def _seed_vouchers(brands: dict[str, Brand], result: DemoResult) -> None:
    """Per brand, a voucher promotion (15% off everything, only with one of its codes) and a
    batch of single-use codes that tills can check offline; the codes are generated here as
    well, so the demo has them without a worker (generation is re-runnable)."""
    from promotions.models import Promotion
    from promotions.services.lifecycle import promotion_save
    from vouchers.models import VoucherBatch
    from vouchers.services import voucher_batch_create, voucher_batch_generate

    now = timezone.now()
    for brand in brands.values():
        promotion = Promotion.objects.filter(brand=brand, name=DEMO_VOUCHER_PROMOTION).first()
        if promotion is None:
            promotion = promotion_save(
                promotion=Promotion(
                    brand=brand,
                    name=DEMO_VOUCHER_PROMOTION,
                    type=Promotion.Type.PERCENT_DISCOUNT,
                    status=Promotion.Status.ACTIVE,
                    starts_at=now - timedelta(days=1),
                    ends_at=now + timedelta(days=365),
                    params={"percent": "15"},
                    all_products=True,
                    stacking=Promotion.Stacking.STACKABLE,
                )
            )
            result.created["promotions"] += 1
        batch = VoucherBatch.objects.filter(promotion=promotion).first()
        if batch is None:
            batch = voucher_batch_create(
                promotion=promotion,
                name="Welcome mailing",
                quantity=DEMO_VOUCHER_CODES,
                prefix="WELCOME-",
                length=8,
                valid_until=now + timedelta(days=180),
                offline=True,
            )
            result.created["voucher batches"] += 1
        result.created["voucher codes"] += voucher_batch_generate(batch_id=batch.pk).generated - (
            batch.generated
        )


DEMO_EXPERIMENT = "10% off against no promotion"


def _seed_experiment(brands: dict[str, Brand], result: DemoResult) -> None:
    """A draft A/B experiment of the first brand, ready to start from the admin: its "10% off"
    promotion against no promotion, half the customers each, for two weeks from tomorrow."""
    from experiments.models import Experiment
    from experiments.services import VariantInput, experiment_create
    from promotions.models import Promotion

    brand = brands[BRANDS[0].slug]
    ten = Promotion.objects.filter(brand=brand, name="10% off").first()
    if ten is None or Experiment.objects.filter(brand=brand, name=DEMO_EXPERIMENT).exists():
        return
    start = (timezone.now() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    experiment_create(
        brand=brand,
        name=DEMO_EXPERIMENT,
        hypothesis="Ten percent off brings more buyers than it costs in margin.",
        starts_at=start,
        ends_at=start + timedelta(days=14),
        variants=[
            VariantInput(name="No promotion", promotion=None, is_control=True),
            VariantInput(name="10% off", promotion=ten),
        ],
    )
    result.created["experiments"] += 1


def _seed_storefront_login(brands: dict[str, Brand], password: str, result: DemoResult) -> None:
    """A storefront login for the first brand's top member, so that `/account/` shows points, a
    tier, badges, a code, the catalogue and a wallet out of the box (once: a member who has a
    login keeps it as it is)."""
    brand = brands[BRANDS[0].slug]
    # The storefront opens at the brand a customer first knew: one whose first brand this is.
    member = next(
        (
            customer
            for customer in _top_members(brand, 20)
            if customer.brand_links.order_by("first_seen_at", "id").first().brand_id == brand.pk
        ),
        None,
    )
    if member is None or member.user_id is not None or not member.email:
        return
    user = get_user_model().objects.create_user(
        username=member.email, email=member.email, password=password
    )
    Customer.objects.filter(pk=member.pk).update(user=user)
    result.storefront_logins.append((member.email, password, brand.name))


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
    changes nothing that exists (users keep their password and status, devices their key,
    templates their text). Two transactions: the catalogue and the orders, then the loyalty
    data that follows the paid orders; an interrupted run is completed by the next."""
    password = admin_password or os.environ.get("DEMO_ADMIN_PASSWORD") or "admin"
    result = DemoResult()
    loyalty_before = _loyalty_counts()
    with transaction.atomic():
        result.created["notification templates"] += default_templates_install()
        brands = _seed_brands(result)
        _seed_users(brands, password, result)
        for brand in brands.values():
            _seed_device(brand, result)
        labels = _seed_labels(brands, result)
        for spec in BRANDS:
            _seed_catalog(brands[spec.slug], spec, products_per_brand, labels, progress, result)
        _seed_customers(customers, brands, labels, progress, result)
        _seed_loyalty_programs(brands, result)
        _seed_promotions(brands, result, DEMO_CASHBACK)
        _seed_orders(orders, brands, progress, result)
        _seed_promotions(brands, result, DEMO_PROMOTIONS)
        # The VIP example rule (10% off VIP customers' new orders), after the orders for the
        # same reason as the discounts.
        result.created["VIP example parts"] += sum(vip_example_install().values())
    # The paid orders' outbox tasks (points, cashback, badges) run once this commits; with an
    # eager Celery they are done by now, and the loyalty steps below only fill in what is
    # missing (everything, when no task ran, as in a test's transaction).
    with transaction.atomic():
        _seed_loyalty_points()
        # Before the badges and wallets, which go to the members with the most points.
        _seed_campaign(brands, result)
        _seed_badges(brands, get_user_model().objects.filter(username="admin").first(), result)
        _seed_wallets(brands, result)
        _seed_reward_codes_catalogue(brands, result)
        _seed_rewards(brands, result)
        _seed_storefront_login(brands, password, result)
        _seed_vouchers(brands, result)
        _seed_experiment(brands, result)
    result.created.update(_loyalty_counts() - loyalty_before)
    return result
