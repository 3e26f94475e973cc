"""Quote API latency end to end: `POST /api/v1/pricing/quote/` through Django's full request
stack (authentication, parsing, pipeline, rendering) in process, with the brand's compiled
bundle served from the cache. Median and p95 for {10, 100} active promotions x {5, 50} lines."""

import random
import statistics
import time
from decimal import Decimal

from django.test import Client
from knox.models import AuthToken

from brands.models import Brand
from catalog.models import Product
from customers.services import customer_create
from promotions.models import Promotion
from promotions.selectors import bundle_invalidate
from promotions.services.lifecycle import promotion_save

T = Promotion.Type


def random_promotion(brand, rng, products, index) -> None:
    """An active promotion of a common type over 8 random products (shared by the benches)."""
    kind = rng.choice(
        [T.PERCENT_DISCOUNT, T.AMOUNT_DISCOUNT, T.BOGO, T.MIX_MATCH, T.THRESHOLD, T.CASHBACK]
    )
    params = {
        T.PERCENT_DISCOUNT: {"percent": "10"},
        T.AMOUNT_DISCOUNT: {"amount": "0.50", "mode": "per_unit"},
        T.BOGO: {"buy_quantity": 2, "get_quantity": 1, "percent": "100"},
        T.MIX_MATCH: {"quantity": 3, "price": "5.00"},
        T.THRESHOLD: {"tiers": [{"min_subtotal": "50.00", "amount": "5.00"}]},
        T.CASHBACK: {"percent": "5"},
    }[kind]
    promotion = Promotion(
        brand=brand,
        name=f"Bench {index}",
        type=kind,
        status="active",
        priority=rng.randint(0, 10),
        stacking=rng.choice(["standard", "standard", "stackable"]),
        params=params,
    )
    scope = rng.sample(products, 8)
    promotion_save(promotion=promotion, relations={"products": [p.pk for p in scope]})


def main(runs: int = 200) -> None:
    rng = random.Random(7)
    brand = Brand.objects.create(name="Quote", slug="quote-bench", currency="EUR")
    products = list(
        Product.objects.bulk_create(
            Product(
                brand=brand,
                sku=f"Q{i}",
                name=f"Q{i}",
                price=Decimal(rng.choice(["1.99", "4.50", "9.90", "24.00"])),
            )
            for i in range(300)
        )
    )
    customer = customer_create(
        brand=brand,
        email="bench@example.com",
        password="bench-password-1",  # noqa: S106
    )
    _, token = AuthToken.objects.create(user=customer.user)
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    created = 0
    print(f"\nQuote API latency end to end ({runs} requests each, bundle cached)")
    print(f"{'promotions':>10} {'lines':>6} {'median ms':>10} {'p95 ms':>10}")
    for count in (10, 100):
        while created < count:
            random_promotion(brand, rng, products, created)
            created += 1
        bundle_invalidate(brand_id=brand.pk)
        for lines in (5, 50):
            body = {
                "brand": brand.slug,
                "lines": [
                    {"product": p.pk, "quantity": rng.randint(1, 3)}
                    for p in rng.sample(products, lines)
                ],
            }
            client.post("/api/v1/pricing/quote/", body, content_type="application/json")
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                response = client.post(
                    "/api/v1/pricing/quote/", body, content_type="application/json"
                )
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.content[:300]
            times.sort()
            p95 = times[int(len(times) * 0.95) - 1]
            print(f"{count:>10} {lines:>6} {statistics.median(times):>10.2f} {p95:>10.2f}")
