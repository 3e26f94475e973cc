"""Promotion params and dates from untrusted input: every malformed value is a 400 naming it.

Before, a draft with a percent of "abc", "12.345", NaN, Infinity, true or a list was saved past
the validator (drafts may have issues) and then broke the compiler: a 500. A draft may still be
incomplete or out of range, but each value it has must be of its kind, its text storable, and
its end after its start (a check constraint of the table).
"""

import copy
import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from brands.tests.factories import BrandFactory
from core.tests.api_world import assert_error, token_client
from promotions.models import Promotion, PromotionVersion
from promotions.services.lifecycle import promotion_save
from promotions.services.validator import STRUCTURAL_CODES, promotion_validate
from promotions.tests.factories import PromotionFactory

pytestmark = pytest.mark.django_db
T = Promotion.Type

PERCENT, MONEY, WHOLE, ID = "percent", "money", "whole", "id"
NOT_NUMBERS = ["abc", "NaN", "Infinity", "-Infinity", "1e5", "", True, [10], {"v": 10}, "1\x00"]
BAD = {
    PERCENT: [*NOT_NUMBERS, "12.345", 12.345, "10.5.1", " ", "0x10"],
    MONEY: [*NOT_NUMBERS, "1.005", 1.005, "9" * 40, "-"],
    WHOLE: ["abc", "3", 2.5, True, [2], {"n": 1}],
    ID: ["abc", "7", 1.5, True, [1], {"id": 1}, 10**30],
}
BAD[PERCENT].remove("")  # an empty percent is missing, not malformed: a draft may lack it
BAD[MONEY].remove("")


def valid_params(tenant, other_brand_id: int) -> dict[str, dict]:
    product, cheap = tenant.product.pk, tenant.cheap_product.pk
    category = tenant.root_category.pk
    return {
        T.PERCENT_DISCOUNT: {"percent": "10"},
        T.AMOUNT_DISCOUNT: {"amount": "1.00", "mode": "per_unit"},
        T.HAPPY_HOUR: {"percent": "20"},
        T.BOGO: {"buy_quantity": 2, "get_quantity": 1, "percent": "50"},
        T.COMBO: {
            "price": "9.90",
            "groups": [
                {"name": "Main", "categories": [category], "quantity": 1},
                {"name": "Side", "products": [cheap], "quantity": 1},
            ],
        },
        T.FREE_ITEM: {"gift_product": cheap, "gift_quantity": 1, "trigger_quantity": 2},
        T.CASHBACK: {"percent": "5", "cap": "10.00"},
        T.PAYMENT_DISCOUNT: {"payment_methods": ["card_x"], "percent": "5"},
        T.PACKAGE: {"price": "20.00", "items": [{"product": product, "quantity": 1}]},
        T.MIX_MATCH: {"quantity": 3, "price": "10.00"},
        T.UPSELL: {
            "trigger_quantity": 1,
            "target_product": cheap,
            "target_quantity": 1,
            "price": "1.00",
        },
        T.THRESHOLD: {"tiers": [{"min_subtotal": "50.00", "amount": "5.00"}]},
        T.CROSS_BRAND: {
            "brands": [tenant.brand.pk, other_brand_id],
            "period_start": "2026-01-01",
            "period_end": "2026-03-31",
            "spend_per_brand": "50.00",
            "min_brands": 2,
            "reward": {"type": "points", "value": 500},
        },
    }


# Every numeric parameter of every type: (type, path inside params, kind).
NUMERIC_PARAMS = [
    (T.PERCENT_DISCOUNT, "percent", PERCENT),
    (T.AMOUNT_DISCOUNT, "amount", MONEY),
    (T.HAPPY_HOUR, "percent", PERCENT),
    (T.HAPPY_HOUR, "amount", MONEY),
    (T.BOGO, "buy_quantity", WHOLE),
    (T.BOGO, "get_quantity", WHOLE),
    (T.BOGO, "percent", PERCENT),
    (T.BOGO, "get_scope.products.0", ID),
    (T.COMBO, "price", MONEY),
    (T.COMBO, "groups.0.quantity", WHOLE),
    (T.COMBO, "groups.1.products.0", ID),
    (T.FREE_ITEM, "gift_product", ID),
    (T.FREE_ITEM, "gift_quantity", WHOLE),
    (T.FREE_ITEM, "trigger_quantity", WHOLE),
    (T.CASHBACK, "percent", PERCENT),
    (T.CASHBACK, "cap", MONEY),
    (T.PAYMENT_DISCOUNT, "percent", PERCENT),
    (T.PAYMENT_DISCOUNT, "amount", MONEY),
    (T.PACKAGE, "price", MONEY),
    (T.PACKAGE, "items.0.product", ID),
    (T.PACKAGE, "items.0.quantity", WHOLE),
    (T.MIX_MATCH, "quantity", WHOLE),
    (T.MIX_MATCH, "price", MONEY),
    (T.MIX_MATCH, "percent", PERCENT),
    (T.UPSELL, "trigger_quantity", WHOLE),
    (T.UPSELL, "target_product", ID),
    (T.UPSELL, "target_quantity", WHOLE),
    (T.UPSELL, "percent", PERCENT),
    (T.UPSELL, "amount", MONEY),
    (T.UPSELL, "price", MONEY),
    (T.THRESHOLD, "tiers.0.min_subtotal", MONEY),
    (T.THRESHOLD, "tiers.0.amount", MONEY),
    (T.THRESHOLD, "tiers.0.percent", PERCENT),
    (T.CROSS_BRAND, "brands.0", ID),
    (T.CROSS_BRAND, "spend_per_brand", MONEY),
    (T.CROSS_BRAND, "total_spend", MONEY),
    (T.CROSS_BRAND, "min_brands", WHOLE),
]
# The shape of each type's lists and objects, broken: (type, path inside params, value).
BAD_SHAPES = [
    (T.BOGO, "get_scope", "products"),
    (T.BOGO, "get_scope", {"products": 5}),
    (T.COMBO, "groups", "ab"),
    (T.COMBO, "groups", {"a": 1}),
    (T.COMBO, "groups", ["x"]),
    (T.COMBO, "groups.0", 5),
    (T.PACKAGE, "items", {"product": 1}),
    (T.PACKAGE, "items", 7),
    (T.PACKAGE, "items.0", "x"),
    (T.THRESHOLD, "tiers", 7),
    (T.THRESHOLD, "tiers", {"min_subtotal": "1"}),
    (T.THRESHOLD, "tiers.0", ["50.00"]),
    (T.PAYMENT_DISCOUNT, "payment_methods", 5),
    (T.PAYMENT_DISCOUNT, "payment_methods", {"card": 1}),
    (T.CROSS_BRAND, "brands", "1,2"),
    (T.PERCENT_DISCOUNT, "amount", "abc"),
    (T.PERCENT_DISCOUNT, "x\x00", 1),
]


def with_value(params: dict, path: str, value) -> dict:
    changed = copy.deepcopy(params)
    *parents, last = path.split(".")
    node = changed
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return changed


def cases(tenant, other_brand_id: int):
    base = valid_params(tenant, other_brand_id)
    for kind, path, value_kind in NUMERIC_PARAMS:
        for value in BAD[value_kind]:
            yield kind, path, with_value(base[kind], path, value)
    for kind, path, value in BAD_SHAPES:
        yield kind, path, with_value(base[kind], path, value)


def test_the_valid_params_of_every_type_pass(a):
    other = BrandFactory()
    for kind, params in valid_params(a, other.pk).items():
        promotion = PromotionFactory.build(
            brand=a.brand,
            type=kind,
            params=params,
            all_products=kind not in (T.COMBO, T.PACKAGE, T.CROSS_BRAND),
            time_windows=[{"start": "16:00", "end": "18:00"}] if kind == T.HAPPY_HOUR else [],
        )
        assert promotion_validate(promotion=promotion) == [], kind


def test_every_malformed_param_of_every_type_is_a_400_naming_it_and_saves_nothing(a):
    # Given a staff client, and every numeric parameter of every type spoiled in every way
    client = token_client(a.staff)
    other = BrandFactory()
    checked = 0

    for kind, path, params in cases(a, other.pk):
        payload = {
            "brand": "brand-a",
            "name": "Spoiled",
            "type": kind,
            "all_products": kind not in (T.COMBO, T.PACKAGE, T.CROSS_BRAND),
            "params": params,
        }
        # When a draft is created with it (JSON escapes for text the parser would refuse)
        response = client.post(
            "/api/v1/promotions/", json.dumps(payload), content_type="application/json"
        )

        # Then it is a 400 that names the parameter (or the part holding it, or inside it)
        assert response.status_code == 400, (kind, path, params, response.content[:300])
        fields = assert_error(response, 400)["fields"]
        named = f"params.{path}"
        assert any(
            named.startswith(field) or field.startswith(named)
            for field in fields
            if field.startswith("params")
        ), (kind, path, params, fields)
        checked += 1

    # And nothing was stored
    assert not Promotion.objects.filter(name="Spoiled").exists()
    assert checked > 300


def test_a_malformed_param_refuses_even_a_draft_with_a_structural_issue(a):
    promotion = PromotionFactory.build(brand=a.brand, params={"percent": "NaN"})

    issues = promotion_validate(promotion=promotion)

    assert [(i.field, i.code) for i in issues] == [("params.percent", "invalid_percent")]
    assert {issue.code for issue in issues} <= STRUCTURAL_CODES
    with pytest.raises(Exception) as error:
        promotion_save(promotion=promotion)
    assert error.value.fields == {
        "params.percent": [
            "invalid_percent: Give a percentage: a plain number, at most 2 decimals."
        ]
    }
    assert not PromotionVersion.objects.exists()


def test_an_out_of_range_percent_is_still_allowed_in_a_draft(a):
    promotion = promotion_save(
        promotion=PromotionFactory.build(brand=a.brand, params={"percent": 150})
    )

    assert promotion.compiled["params"] == {"percent_bp": 15000}


def test_preview_of_a_malformed_draft_is_a_400_naming_the_nested_field(a):
    response = token_client(a.staff).post(
        "/api/v1/promotions/preview/",
        {
            "promotion": {
                "brand": "brand-a",
                "name": "x",
                "type": "free_item",
                "all_products": True,
                "params": {"gift_product": "²", "trigger_quantity": 1},
            },
            "lines": [{"product": a.product.pk, "quantity": 1}],
        },
        format="json",
    )

    body = assert_error(response, 400, "promotion_invalid")
    assert list(body["fields"]) == ["promotion.params.gift_product"]


# --- ends_at before starts_at ---------------------------------------------------------------

START = timezone.now().replace(microsecond=0) + timedelta(days=10)


def dates(starts_at=None, ends_at=None) -> dict:
    return {
        key: value.isoformat()
        for key, value in (("starts_at", starts_at), ("ends_at", ends_at))
        if value is not None
    }


def test_an_end_before_the_start_is_a_400_on_create(a):
    for ends_at in (START - timedelta(days=1), START):
        response = token_client(a.staff).post(
            "/api/v1/promotions/",
            {
                "brand": "brand-a",
                "name": "Backwards",
                "type": "percent_discount",
                "all_products": True,
                "params": {"percent": "10"},
                **dates(START, ends_at),
            },
            format="json",
        )

        body = assert_error(response, 400, "promotion_invalid")
        assert list(body["fields"]) == ["ends_at"]
    assert not Promotion.objects.filter(name="Backwards").exists()


def test_a_partial_update_is_compared_with_the_stored_dates(a):
    # Given a saved draft from START to START + 5 days
    promotion = promotion_save(
        promotion=PromotionFactory.build(
            brand=a.brand, starts_at=START, ends_at=START + timedelta(days=5)
        )
    )
    client = token_client(a.staff)
    url = f"/api/v1/promotions/{promotion.pk}/"

    # When only one side moves past the other
    moved_end = client.patch(url, dates(ends_at=START - timedelta(hours=1)), format="json")
    moved_start = client.patch(url, dates(starts_at=START + timedelta(days=6)), format="json")

    # Then each is a 400 naming ends_at, and the promotion is unchanged
    assert list(assert_error(moved_end, 400, "promotion_invalid")["fields"]) == ["ends_at"]
    assert list(assert_error(moved_start, 400, "promotion_invalid")["fields"]) == ["ends_at"]
    promotion.refresh_from_db()
    assert (promotion.starts_at, promotion.ends_at, promotion.version) == (
        START,
        START + timedelta(days=5),
        1,
    )


def test_the_admin_refuses_an_end_before_the_start_in_plain_words(client, a):
    # Given a superuser on the add form
    client.force_login(a.staff.__class__.objects.create_superuser("root", "r@x.io", "pw-123456"))

    # When the end is before the start
    response = client.post(
        reverse("admin:promotions_promotion_add"),
        {
            "brand": a.brand.pk,
            "name": "Backwards",
            "description": "",
            "type": "percent_discount",
            "status": "draft",
            "priority": 0,
            "stacking": "standard",
            "target": "items",
            "cashback_to": "points",
            "starts_at_0": "2030-01-02",
            "starts_at_1": "00:00:00",
            "ends_at_0": "2030-01-01",
            "ends_at_1": "00:00:00",
            "days_of_week": "[]",
            "time_windows": "[]",
            "channels": "[]",
            "customer_tiers": "[]",
            "code": "",
            "all_products": "on",
            "params": '{"percent": "10", "note": "a\\u0000b"}',
            "versions-TOTAL_FORMS": "0",
            "versions-INITIAL_FORMS": "0",
        },
    )

    # Then the form is shown again with the reasons on their fields, no constraint name
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "ends_at" in form.errors
    assert "params" in form.errors
    page = response.content.decode()
    assert "promotion_ends_after_start" not in page
    assert "The end must be after the start." in page
    assert not Promotion.objects.filter(name="Backwards").exists()
