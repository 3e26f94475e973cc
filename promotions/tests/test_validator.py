from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from brands.tests.factories import BrandFactory, StoreFactory
from catalog.tests.factories import CategoryFactory, ProductFactory
from labels.models import Label
from labels.tests.factories import LabelFactory
from promotions.models import Promotion
from promotions.services.validator import promotion_validate
from promotions.tests.factories import PromotionFactory

pytestmark = pytest.mark.django_db
T = Promotion.Type


def codes(promotion, **relations):
    return {
        (issue.field, issue.code)
        for issue in promotion_validate(promotion=promotion, relations=relations or None)
    }


def test_a_complete_promotion_has_no_issue():
    assert codes(PromotionFactory()) == set()


@pytest.mark.parametrize(
    ("percent", "code"),
    [
        ("0", "percent_out_of_range"),
        ("100.01", "percent_out_of_range"),
        ("abc", "invalid_percent"),
        ("12.345", "invalid_percent"),
        (None, "required"),
    ],
)
def test_percentages_are_above_zero_and_at_most_100(percent, code):
    promotion = PromotionFactory.build(brand=BrandFactory(), params={"percent": percent})
    assert ("params.percent", code) in codes(promotion)


def test_100_percent_is_allowed():
    promotion = PromotionFactory.build(brand=BrandFactory(), params={"percent": "100"})
    assert codes(promotion) == set()


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("-1", "amount_not_positive"),
        ("0", "amount_not_positive"),
        ("1.005", "invalid_amount"),
        ("x", "invalid_amount"),
    ],
)
def test_amounts_are_positive_cents(amount, code):
    promotion = PromotionFactory.build(
        brand=BrandFactory(), type=T.AMOUNT_DISCOUNT, params={"amount": amount}
    )
    assert ("params.amount", code) in codes(promotion)


def test_dates_windows_and_days_are_checked():
    now = timezone.now()
    promotion = PromotionFactory.build(
        brand=BrandFactory(),
        starts_at=now,
        ends_at=now - timedelta(hours=1),
        time_windows=[{"start": "25:00", "end": "02:00"}, {"start": "10:00", "end": "10:00"}],
        days_of_week=[0, 8],
    )
    found = codes(promotion)
    assert {
        ("ends_at", "ends_before_start"),
        ("time_windows.0", "invalid_window"),
        ("time_windows.1", "empty_window"),
        ("days_of_week", "invalid_days"),
    } <= found


def test_a_happy_hour_needs_windows():
    promotion = PromotionFactory.build(
        brand=BrandFactory(), type=T.HAPPY_HOUR, params={"percent": "10"}
    )
    assert ("time_windows", "windows_required") in codes(promotion)


def test_scope_must_not_be_empty_and_must_belong_to_the_brand():
    promotion = PromotionFactory(all_products=False)
    foreign_product = ProductFactory()
    foreign_category = CategoryFactory()

    assert ("products", "empty_scope") in codes(promotion)
    found = codes(promotion, products=[foreign_product.id], categories=[foreign_category.id])
    assert {("products", "unknown_or_foreign"), ("categories", "unknown_or_foreign")} <= found


def test_stores_and_labels_must_fit_the_promotion():
    promotion = PromotionFactory()
    product_label = LabelFactory(type=Label.Type.PRODUCT)
    other_brand_label = LabelFactory(type=Label.Type.CUSTOMER, brand=BrandFactory())
    found = codes(
        promotion,
        stores=[StoreFactory().id],
        customer_labels=[product_label.id],
        excluded_customer_labels=[other_brand_label.id],
    )
    assert {
        ("stores", "wrong_brand"),
        ("customer_labels", "wrong_label_type"),
        ("excluded_customer_labels", "wrong_brand"),
    } <= found


def test_threshold_tiers_must_ascend():
    promotion = PromotionFactory.build(
        brand=BrandFactory(),
        type=T.THRESHOLD,
        params={
            "tiers": [
                {"min_subtotal": "100.00", "amount": "15.00"},
                {"min_subtotal": "50.00", "amount": "5.00"},
            ]
        },
    )
    assert ("params.tiers.1.min_subtotal", "tiers_not_ascending") in codes(promotion)


def test_unknown_parameters_are_refused():
    promotion = PromotionFactory.build(
        brand=BrandFactory(), params={"percent": "10", "percnt": "5"}
    )
    assert ("params.percnt", "unknown_param") in codes(promotion)


def test_type_rules_for_gift_package_and_payment():
    brand = BrandFactory()
    foreign = ProductFactory()
    gift = PromotionFactory.build(
        brand=brand, type=T.FREE_ITEM, params={"gift_product": foreign.id}
    )
    package = PromotionFactory.build(
        brand=brand, type=T.PACKAGE, params={"price": "5.00", "items": []}
    )
    payment = PromotionFactory.build(brand=brand, type=T.PAYMENT_DISCOUNT, params={"percent": "5"})

    assert {
        ("params.gift_product", "unknown_or_foreign"),
        ("params.trigger_quantity", "condition_required"),
    } <= codes(gift)
    assert ("params.items", "items_required") in codes(package)
    assert ("params.payment_methods", "required") in codes(payment)


def test_a_live_code_cannot_be_used_twice_in_a_brand():
    live = PromotionFactory(status=Promotion.Status.ACTIVE, code="SUMMER")
    draft = PromotionFactory.build(brand=live.brand, code="summer")
    assert ("code", "duplicate_code") in codes(draft)


def test_overlapping_exclusive_promotions_conflict_but_disjoint_ones_do_not():
    product = ProductFactory(price=Decimal("5.00"))
    other = ProductFactory(brand=product.brand)
    live = PromotionFactory(
        brand=product.brand,
        status=Promotion.Status.ACTIVE,
        stacking="exclusive",
        all_products=False,
    )
    live.products.set([product])
    candidate = PromotionFactory.build(
        brand=product.brand, stacking="exclusive", all_products=False
    )

    assert ("stacking", "exclusive_conflict") in codes(candidate, products=[product.id])
    assert ("stacking", "exclusive_conflict") not in codes(candidate, products=[other.id])
    later = PromotionFactory.build(
        brand=product.brand,
        stacking="exclusive",
        all_products=False,
        starts_at=live.ends_at + timedelta(days=1),
        ends_at=live.ends_at + timedelta(days=2),
    )
    assert ("stacking", "exclusive_conflict") not in codes(later, products=[product.id])


def test_cross_brand_needs_brands_period_spend_and_reward():
    promotion = PromotionFactory.build(
        brand=BrandFactory(), type=T.CROSS_BRAND, all_products=False, params={}
    )
    found = codes(promotion)
    assert {
        ("params.brands", "brands_required"),
        ("params.period_end", "invalid_period"),
        ("params.total_spend", "spend_required"),
        ("params.reward", "invalid_reward"),
    } <= found
