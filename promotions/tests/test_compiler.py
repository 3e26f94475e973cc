from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.tests.factories import CategoryFactory, ProductFactory
from labels.models import Label
from labels.tests.factories import LabelFactory
from orders.tests.factories import place_order
from promotions.models import Promotion
from promotions.services.calculator import calculate
from promotions.services.compiler import content_hash, promotion_compile
from promotions.services.lifecycle import promotion_save
from promotions.services.usage import usage_reserve
from promotions.tests.factories import PromotionFactory

pytestmark = pytest.mark.django_db
T = Promotion.Type


def _context(**overrides):
    now = timezone.now()
    context = {
        "now": int(now.timestamp()),
        "local": now.strftime("%Y-%m-%dT%H:%M"),
        "channel": "web",
        "store_id": None,
    }
    context.update(overrides)
    return context


def test_money_and_percentages_become_minor_units_and_basis_points():
    promotion = PromotionFactory(
        type=T.PERCENT_DISCOUNT,
        params={"percent": "12.5"},
        min_eligible_subtotal=Decimal("20.00"),
        max_discount_per_order=Decimal("5.50"),
        budget=Decimal("100.00"),
        max_uses_total=10,
    )
    product = ProductFactory(brand=promotion.brand, price=Decimal("4.00"))
    for _ in range(3):  # three orders used it, 1.00 each
        order = place_order(brand=promotion.brand, products_and_quantities=[(product, 1)])
        usage_reserve(order=order, applied={promotion.pk: Decimal("1.00")})

    compiled = promotion_compile(promotion=promotion)

    assert compiled["params"] == {"percent_bp": 1250}
    assert compiled["limits"] == {
        "max_applications": None,
        "remaining_uses": 7,
        "max_uses_per_customer": None,
        "remaining_budget": 9700,
        "order_cap": 550,
        "min_subtotal": 2000,
    }


def test_categories_are_resolved_with_their_descendants():
    root = CategoryFactory()
    child = CategoryFactory(brand=root.brand, parent=root)
    grandchild = CategoryFactory(brand=root.brand, parent=child)
    CategoryFactory(brand=root.brand)  # unrelated
    promotion = PromotionFactory(brand=root.brand, all_products=False)
    promotion.categories.set([root])

    compiled = promotion_compile(promotion=promotion)

    assert compiled["scope"]["category_ids"] == sorted([root.id, child.id, grandchild.id])


def test_windows_days_and_code_are_normalised():
    promotion = PromotionFactory(
        type=T.HAPPY_HOUR,
        params={"percent": "20"},
        time_windows=[{"start": "22:00", "end": "02:00"}, {"start": "11:00", "end": "14:00"}],
        days_of_week=[5, 1, 5],
        code=" happy ",
    )
    promotion.code = promotion.code.strip().upper()

    compiled = promotion_compile(promotion=promotion)

    assert compiled["validity"]["windows"] == [
        {"start": 660, "end": 840},
        {"start": 1320, "end": 120},
    ]
    assert compiled["validity"]["days"] == [1, 5]
    assert compiled["code"] == "HAPPY"


def test_compiling_is_deterministic_and_the_hash_follows_the_content():
    promotion = PromotionFactory()

    first = promotion_compile(promotion=promotion)
    again = promotion_compile(promotion=promotion)
    promotion.priority = 5
    changed = promotion_compile(promotion=promotion)

    assert first == again and content_hash(first) == content_hash(again)
    assert content_hash(changed) != content_hash(first)


def test_customer_labels_compile_to_ids_the_calculator_matches():
    vip = LabelFactory(type=Label.Type.CUSTOMER, name="Customer_VIP")
    product = ProductFactory(price=Decimal("10.00"))
    promotion = PromotionFactory(brand=product.brand, status=Promotion.Status.ACTIVE)
    promotion.customer_labels.set([vip])

    compiled = promotion_compile(promotion=promotion)
    basket = {
        "lines": [
            {
                "line_id": 0,
                "product_id": product.id,
                "category_id": None,
                "label_ids": [],
                "quantity": 1,
                "unit_price": 1000,
            }
        ]
    }
    vip_result = calculate(
        basket=basket, context=_context(customer_labels=[vip.id]), promotions=[compiled]
    )
    other_result = calculate(basket=basket, context=_context(), promotions=[compiled])

    assert vip_result["discount_total"] == 100
    assert other_result["discount_total"] == 0
    assert other_result["rejected"][0]["reason"] == "customer_not_targeted"


def _params_by_type(brand):
    a = ProductFactory(brand=brand, price=Decimal("4.00"))
    b = ProductFactory(brand=brand, price=Decimal("2.00"))
    category = CategoryFactory(brand=brand)
    return {
        T.PERCENT_DISCOUNT: {"percent": "10"},
        T.AMOUNT_DISCOUNT: {"amount": "1.00", "mode": "per_order"},
        T.HAPPY_HOUR: {"amount": "0.50"},
        T.BOGO: {"buy_quantity": 2, "get_quantity": 1, "percent": "100"},
        T.COMBO: {
            "price": "5.00",
            "groups": [
                {"name": "Main", "products": [a.id], "quantity": 1},
                {"name": "Side", "categories": [category.id], "products": [b.id], "quantity": 1},
            ],
        },
        T.FREE_ITEM: {"gift_product": b.id, "gift_quantity": 1, "trigger_quantity": 1},
        T.CASHBACK: {"percent": "5", "cap": "3.00"},
        T.PAYMENT_DISCOUNT: {"payment_methods": ["card"], "percent": "5"},
        T.PACKAGE: {
            "price": "5.00",
            "items": [{"product": b.id, "quantity": 1}, {"product": a.id}],
        },
        T.MIX_MATCH: {"quantity": 2, "price": "5.00"},
        T.UPSELL: {
            "target_product": b.id,
            "target_quantity": 1,
            "trigger_quantity": 1,
            "price": "1.00",
        },
        T.THRESHOLD: {"tiers": [{"min_subtotal": "5.00", "amount": "1.00"}]},
        T.CROSS_BRAND: {
            "brands": [brand.id],
            "period_start": "2033-01-01",
            "period_end": "2033-02-01",
            "total_spend": "100.00",
            "reward": {"type": "points", "value": 500},
        },
    }, (a, b)


@pytest.mark.parametrize("promotion_type", list(T.values))
def test_every_type_compiles_to_a_form_the_calculator_runs(promotion_type):
    product = ProductFactory()
    params, (a, b) = _params_by_type(product.brand)
    promotion = PromotionFactory(
        brand=product.brand,
        type=promotion_type,
        params=params[promotion_type],
        status=Promotion.Status.ACTIVE,
        time_windows=[{"start": "00:00", "end": "23:59"}] if promotion_type == T.HAPPY_HOUR else [],
    )

    compiled = promotion_compile(promotion=promotion)
    basket = {
        "lines": [
            {
                "line_id": i,
                "product_id": p.id,
                "category_id": None,
                "label_ids": [],
                "quantity": 2,
                "unit_price": int(p.price * 100),
            }
            for i, p in enumerate((a, b))
        ]
    }
    result = calculate(
        basket=basket, context=_context(payment_method="card"), promotions=[compiled]
    )

    assert compiled["type"] == promotion_type
    rejected = {entry["promotion_id"]: entry["reason"] for entry in result["rejected"]}
    if promotion_type == T.CROSS_BRAND:
        assert rejected == {promotion.id: "not_applicable"}
    elif promotion_type == T.CASHBACK:
        assert result["cashback_total"] > 0
    else:
        assert result["discount_total"] > 0, rejected


def test_compile_reads_a_bounded_number_of_queries(django_assert_max_num_queries):
    promotion = PromotionFactory()
    with django_assert_max_num_queries(14):
        promotion_compile(promotion=promotion)


def test_saving_stores_the_compiled_form_of_the_new_version():
    promotion = promotion_save(promotion=PromotionFactory.build(brand=ProductFactory().brand))

    promotion.refresh_from_db()
    assert promotion.version == 1
    assert promotion.compiled["version"] == 1
    assert promotion.compiled_hash == content_hash(promotion.compiled)
    assert promotion.versions.get().compiled_hash == promotion.compiled_hash
