"""A scripted POS device (`js/pos_client.mjs`, Node) against a live server.

It syncs (version with its 304, the bundle, engine.js downloaded from the server and imported),
prices 100 random baskets offline with that engine, and uploads them twice. The server
re-verifies every ticket with the Python calculator: zero mismatches, and the second upload is
100 duplicates that store nothing.
"""

import json
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from catalog.tests.factories import ProductFactory
from core.tests.api_world import build_tenant
from promotions.models import PosTicket, Promotion
from promotions.services.lifecycle import promotion_save
from promotions.tests.factories import PromotionFactory

CLIENT = Path(__file__).parent / "js" / "pos_client.mjs"
T = Promotion.Type


def seed_store_promotions(tenant) -> None:
    """Products in two categories and one promotion of most types, all live at the store."""
    brand, fruit, food = tenant.brand, tenant.child_category, tenant.root_category
    juice = ProductFactory(brand=brand, name="Juice", price=Decimal("3.20"), category=food)
    crisps = ProductFactory(brand=brand, name="Crisps", price=Decimal("1.85"), category=food)
    pear = ProductFactory(brand=brand, name="Pear", price=Decimal("0.95"), category=fruit)
    cookie = ProductFactory(brand=brand, name="Cookie", price=Decimal("1.10"), category=None)
    gift = ProductFactory(brand=brand, name="Sticker", price=Decimal("0.50"), category=None)
    bread = tenant.cheap_product

    def live(promotion_type, params, relations=None, **fields):
        promotion_save(
            promotion=PromotionFactory(
                brand=brand,
                name=f"{promotion_type} offer",
                type=promotion_type,
                params=params,
                status=Promotion.Status.ACTIVE,
                all_products=relations is None,
                **fields,
            ),
            relations=relations,
            actor=tenant.staff,
        )

    live(T.PERCENT_DISCOUNT, {"percent": "12.5"}, {"categories": [fruit.pk]}, priority=5)
    live(T.AMOUNT_DISCOUNT, {"amount": "0.30", "mode": "per_unit"}, {"products": [bread.pk]})
    live(T.BOGO, {"buy_quantity": 2, "get_quantity": 1, "percent": "100"}, {"products": [juice.pk]})
    live(T.MIX_MATCH, {"quantity": 3, "price": "4.00"}, {"products": [crisps.pk, cookie.pk]})
    live(
        T.FREE_ITEM,
        {"gift_product": gift.pk, "gift_quantity": 1, "trigger_quantity": 1},
        {"products": [pear.pk, crisps.pk, gift.pk]},
        stacking=Promotion.Stacking.STACKABLE,
    )
    live(
        T.THRESHOLD,
        {
            "tiers": [
                {"min_subtotal": "10.00", "amount": "1.00"},
                {"min_subtotal": "30.00", "percent": "5"},
            ]
        },
        stacking=Promotion.Stacking.STACKABLE,
    )
    live(T.PAYMENT_DISCOUNT, {"payment_methods": ["card_x"], "percent": "5"})
    live(T.CASHBACK, {"percent": "5", "cap": "2.00"}, stacking=Promotion.Stacking.STACKABLE)
    live(
        T.AMOUNT_DISCOUNT,
        {"amount": "1.50", "mode": "per_order"},
        code="SAVE",
        stacking=Promotion.Stacking.STACKABLE,
        target=Promotion.Target.ORDER,
    )
    live(
        T.PERCENT_DISCOUNT,
        {"percent": "15"},
        {"products": [cookie.pk, tenant.product.pk]},
        signed_in_only=True,
        stacking=Promotion.Stacking.STACKABLE,
    )


@pytest.mark.django_db(transaction=True)
def test_a_pos_prices_100_baskets_offline_and_the_server_finds_no_mismatch(live_server):
    # Given a store with live promotions of many types and its device
    tenant = build_tenant("a")
    seed_store_promotions(tenant)
    config = {
        "base_url": live_server.url,
        "device_key": tenant.device_key,
        "count": 100,
        "seed": 20240601,
        "store_id": tenant.store.pk,
        "time_zone": tenant.store.time_zone,
        "customers": [{"id": tenant.customer.pk, "labels": []}],
        "codes": ["save"],
        "payment_methods": ["card", "card_x"],
    }

    # When the device syncs, prices 100 baskets offline and uploads them twice
    run = subprocess.run(
        ["node", str(CLIENT), json.dumps(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)

    # Then it used the server's engine and bundle, and the baskets exercised the promotions
    assert report["not_modified_status"] == 304
    assert report["promotions"] == 10
    assert report["discounted"] >= 80
    assert set(report["applied_types"]) >= {
        "percent_discount",
        "amount_discount",
        "bogo",
        "mix_match",
        "free_item",
        "threshold",
        "payment_discount",
        "cashback",
    }, report["applied_types"]
    # And the server agrees on every ticket; the replay is 100 duplicates, nothing new
    first, second = report["first"]["counts"], report["second"]["counts"]
    assert first == {**dict.fromkeys(first, 0), "accepted": 100}, report["first"]["results"][:3]
    assert second == {**dict.fromkeys(second, 0), "duplicates": 100}
    assert [r["status"] for r in report["second"]["results"]] == ["accepted"] * 100
    assert PosTicket.objects.count() == 100
    assert not PosTicket.objects.exclude(status=PosTicket.Status.ACCEPTED).exists()
