"""Promotion → compiled form: plain, versioned, JSON-able, deterministic, with a content hash.

The compiled form is what the calculators (`calculator.py`, `engine.js`) read; `ENGINE.md`
describes it. Everything the engines need is resolved here, once: money to integer minor units,
percentages to basis points, categories to their descendants, times to epoch seconds and
minutes from local midnight, the remaining use and budget counts to a snapshot.

Admin-facing `params` (on the model) use decimal strings for money and percentages and ids for
products, categories and labels; `PARAM_FIELDS` lists them per type.
"""

import functools
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection

from catalog.models import Product
from catalog.selectors import CategoryTree, category_tree
from core.money import to_minor
from promotions.models import Promotion
from promotions.services.calculator import SCHEMA_VERSION, VOUCHER_SCHEMA_VERSION, canonical_json

T = Promotion.Type
# The many-to-many relations of a promotion (the validator checks the same list).
RELATIONS = (
    "stores",
    "customer_labels",
    "excluded_customer_labels",
    "products",
    "categories",
    "product_labels",
    "excluded_products",
    "excluded_categories",
    "excluded_product_labels",
)

# The admin-facing parameters of each type (validated by `validator.py`).
PARAM_FIELDS: dict[str, tuple[str, ...]] = {
    T.PERCENT_DISCOUNT: ("percent",),
    T.AMOUNT_DISCOUNT: ("amount", "mode"),
    T.HAPPY_HOUR: ("percent", "amount"),
    T.BOGO: ("buy_quantity", "get_quantity", "percent", "get_scope"),
    T.COMBO: ("price", "groups"),
    T.FREE_ITEM: ("gift_product", "gift_quantity", "trigger_quantity"),
    T.CASHBACK: ("percent", "cap"),
    T.PAYMENT_DISCOUNT: ("payment_methods", "percent", "amount"),
    T.PACKAGE: ("price", "items"),
    T.MIX_MATCH: ("quantity", "price", "percent"),
    T.UPSELL: (
        "trigger_quantity",
        "target_product",
        "target_quantity",
        "percent",
        "amount",
        "price",
    ),
    T.THRESHOLD: ("tiers",),
    T.CROSS_BRAND: (
        "brands",
        "period_start",
        "period_end",
        "spend_per_brand",
        "total_spend",
        "min_brands",
        "reward",
    ),
}


# A plain decimal number: no exponent, no NaN or Infinity, at most 12 digits each side.
_PLAIN_NUMBER = re.compile(r"-?[0-9]{1,12}(\.[0-9]{1,12})?")


def plain_decimal(value: Any) -> Decimal:
    """A JSON number or a decimal string (`"12.5"`, `10`, `" -3 "`) as a `Decimal`.

    Raises `ValueError` for anything else: booleans, lists and objects, `"abc"`, NaN,
    Infinity, exponents (`"1e5"`) and more than 12 digits on either side of the point.
    """
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value!r} is not a number")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{value!r} is not a number")
    text = repr(value) if isinstance(value, float) else str(value).strip()
    if not _PLAIN_NUMBER.fullmatch(text):
        raise ValueError(f"{value!r} is not a plain number")
    return Decimal(text)


def percent_to_basis_points(value: Any) -> int:
    """ "12.5" → 1250. Refuses more precision than a basis point, and what `plain_decimal`
    refuses."""
    scaled = plain_decimal(value) * 100
    if scaled != scaled.to_integral_value():
        raise ValueError("percentages have at most two decimals")
    return int(scaled)


def decimal_or_none(value: Any) -> Decimal | None:
    """None for a missing value (None or ""), else `plain_decimal(value)`."""
    if value is None or value == "":
        return None
    return plain_decimal(value)


def time_to_minutes(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def content_hash(compiled: dict) -> str:
    return hashlib.sha256(canonical_json(compiled).encode("ascii")).hexdigest()


@dataclass(frozen=True)
class _Catalog:
    """What the compiler reads of the brand's catalog, loaded once per compile."""

    currency: str
    tree: CategoryTree
    prices: dict[int, int]

    def descendants(self, category_ids) -> list[int]:
        return sorted(self.tree.descendants(category_ids))

    def money(self, value: Any) -> int | None:
        amount = decimal_or_none(value)
        return None if amount is None else to_minor(amount, self.currency)


def _load_catalog(promotion: Promotion, product_ids: set[int]) -> _Catalog:
    currency = promotion.brand.currency
    prices = {
        pk: to_minor(price, currency)
        for pk, price in Product.objects.filter(brand_id=promotion.brand_id, id__in=product_ids)
        .order_by()
        .values_list("id", "price")
    }
    return _Catalog(
        currency=currency, tree=category_tree(brand_id=promotion.brand_id), prices=prices
    )


@functools.cache
def _relations_sql() -> str:
    """One UNION ALL over the through tables of every relation (built once)."""
    quote = connection.ops.quote_name
    parts = []
    for name in RELATIONS:
        field = Promotion._meta.get_field(name)
        through = field.remote_field.through._meta
        source = through.get_field(field.m2m_field_name()).column
        target = through.get_field(field.m2m_reverse_field_name()).column
        # Only model metadata goes into the text, quoted; the promotion id is a parameter.
        parts.append(
            f"SELECT '{name}', {quote(target)} FROM {quote(through.db_table)} "  # noqa: S608
            f"WHERE {quote(source)} = %s"
        )
    return " UNION ALL ".join(parts)


def _stored_relations(promotion: Promotion) -> dict[str, list[int]]:
    """Every many-to-many relation of a saved promotion, in one query."""
    stored: dict[str, list[int]] = {name: [] for name in RELATIONS}
    with connection.cursor() as cursor:
        cursor.execute(_relations_sql(), [promotion.pk] * len(RELATIONS))
        for name, pk in cursor.fetchall():
            stored[name].append(pk)
    return stored


def _relation_ids(promotion: Promotion, relations: dict | None) -> Callable[[str], list[int]]:
    """Ids of a many-to-many relation: given (an unsaved draft) or read from the database."""
    given = relations or {}
    stored = (
        _stored_relations(promotion)
        if promotion.pk is not None and set(given) != set(RELATIONS)
        else {}
    )

    def ids(name: str) -> list[int]:
        values = given[name] if name in given else stored.get(name, ())
        return sorted({int(pk) for pk in values})

    return ids


def _param_scope(scope: dict | None, catalog: _Catalog) -> dict | None:
    """A scope given inside params: {"products": [...], "categories": [...], "labels": [...]}."""
    if scope is None:
        return None
    return {
        "all_products": bool(scope.get("all_products")),
        "product_ids": sorted(int(pk) for pk in scope.get("products") or ()),
        "category_ids": catalog.descendants(int(pk) for pk in scope.get("categories") or ()),
        "label_ids": sorted(int(pk) for pk in scope.get("labels") or ()),
        "excluded_product_ids": [],
        "excluded_category_ids": [],
        "excluded_label_ids": [],
    }


def _percent_or_amount(params: dict, catalog: _Catalog) -> dict:
    compiled: dict[str, Any] = {}
    if params.get("percent") not in (None, ""):
        compiled["percent_bp"] = percent_to_basis_points(params["percent"])
    if params.get("amount") not in (None, ""):
        compiled["amount"] = catalog.money(params["amount"])
    if params.get("price") not in (None, ""):
        compiled["price"] = catalog.money(params["price"])
    return compiled


def _compile_params(promotion: Promotion, catalog: _Catalog) -> dict:
    params = promotion.params or {}
    kind = promotion.type
    if kind in (T.PERCENT_DISCOUNT, T.HAPPY_HOUR, T.CASHBACK):
        return _percent_or_amount(params, catalog)
    if kind == T.AMOUNT_DISCOUNT:
        return {**_percent_or_amount(params, catalog), "mode": params.get("mode") or "per_unit"}
    if kind == T.BOGO:
        return {
            "buy_quantity": int(params.get("buy_quantity") or 1),
            "get_quantity": int(params.get("get_quantity") or 1),
            "percent_bp": percent_to_basis_points(params.get("percent", 100)),
            "get_scope": _param_scope(params.get("get_scope"), catalog),
        }
    if kind == T.COMBO:
        return {
            "price": catalog.money(params.get("price")),
            "groups": [
                {
                    "name": group.get("name") or "",
                    "quantity": int(group.get("quantity") or 1),
                    "scope": _param_scope(group, catalog),
                }
                for group in params.get("groups") or ()
            ],
        }
    if kind == T.PACKAGE:
        return {
            "price": catalog.money(params.get("price")),
            "items": sorted(
                (
                    {"product_id": int(item["product"]), "quantity": int(item.get("quantity") or 1)}
                    for item in params.get("items") or ()
                ),
                key=lambda item: item["product_id"],
            ),
        }
    if kind == T.MIX_MATCH:
        return {"quantity": int(params.get("quantity") or 1), **_percent_or_amount(params, catalog)}
    if kind == T.FREE_ITEM:
        gift = int(params["gift_product"]) if params.get("gift_product") else None
        return {
            "gift_product_id": gift,
            "gift_quantity": int(params.get("gift_quantity") or 1),
            "trigger_quantity": int(params.get("trigger_quantity") or 0),
            "gift_unit_price": catalog.prices.get(gift),
        }
    if kind == T.UPSELL:
        target = int(params["target_product"]) if params.get("target_product") else None
        return {
            "target_product_id": target,
            "target_quantity": int(params.get("target_quantity") or 1),
            "trigger_quantity": int(params.get("trigger_quantity") or 1),
            "target_unit_price": catalog.prices.get(target),
            **_percent_or_amount(params, catalog),
        }
    if kind == T.THRESHOLD:
        tiers = []
        for tier in params.get("tiers") or ():
            compiled_tier = {"min_subtotal": catalog.money(tier.get("min_subtotal"))}
            compiled_tier.update(_percent_or_amount(tier, catalog))
            tiers.append(compiled_tier)
        return {"tiers": sorted(tiers, key=lambda tier: tier["min_subtotal"] or 0)}
    if kind == T.PAYMENT_DISCOUNT:
        return {
            "payment_methods": sorted(
                str(method) for method in params.get("payment_methods") or ()
            ),
            **_percent_or_amount(params, catalog),
        }
    if kind == T.CROSS_BRAND:
        return {
            "brand_ids": sorted(int(pk) for pk in params.get("brands") or ()),
            "period_start": params.get("period_start"),
            "period_end": params.get("period_end"),
            "spend_per_brand": catalog.money(params.get("spend_per_brand")),
            "total_spend": catalog.money(params.get("total_spend")),
            "min_brands": int(params.get("min_brands") or 0) or None,
            "reward": params.get("reward") or {},
        }
    raise ValueError(f"unknown promotion type {kind!r}")


def _epoch(value) -> int | None:
    return None if value is None else int(value.timestamp())


def _limits(promotion: Promotion, catalog: _Catalog) -> dict:
    """The limits, with the remaining uses and budget as of compiling (pricing refreshes them
    from the usage counters; see `orders.selectors.promotions_with_live_limits`)."""
    from orders.selectors import promotion_remaining

    budget = catalog.money(promotion.budget)
    order_cap = catalog.money(promotion.max_discount_per_order)
    if promotion.type == T.CASHBACK and (promotion.params or {}).get("cap") not in (None, ""):
        cashback_cap = catalog.money(promotion.params["cap"])
        order_cap = cashback_cap if order_cap is None else min(order_cap, cashback_cap)
    remaining_uses, remaining_budget = promotion.max_uses_total, budget
    if promotion.pk is not None and (remaining_uses is not None or budget is not None):
        remaining_uses, remaining_budget = promotion_remaining(
            promotion_ids=[promotion.pk], currency=catalog.currency
        ).get(promotion.pk, (remaining_uses, remaining_budget))
    return {
        "max_applications": promotion.max_applications_per_order,
        "remaining_uses": remaining_uses,
        "max_uses_per_customer": promotion.max_uses_per_customer,
        "remaining_budget": remaining_budget,
        "order_cap": order_cap,
        "min_subtotal": catalog.money(promotion.min_eligible_subtotal),
    }


def _referenced_products(promotion: Promotion) -> set[int]:
    params = promotion.params or {}
    return {
        int(params[key])
        for key in ("gift_product", "target_product")
        if str(params.get(key) or "").isdigit()
    }


def promotion_compile(*, promotion: Promotion, relations: dict | None = None) -> dict:
    """The compiled form of `promotion` (schema_version, integer money, resolved scope, ...).

    Deterministic: the same promotion gives the same dict, so the same hash. Reads the brand's
    category tree and the prices of referenced products in two queries, plus one per relation
    not given in `relations` (a draft being previewed gives them all).
    """
    _ids = _relation_ids(promotion, relations)
    catalog = _load_catalog(promotion, _referenced_products(promotion))
    windows = [
        {"start": time_to_minutes(window["start"]), "end": time_to_minutes(window["end"])}
        for window in promotion.time_windows or ()
    ]
    compiled = {
        "schema_version": SCHEMA_VERSION,
        "id": promotion.pk,
        "version": promotion.version,
        "brand_id": promotion.brand_id,
        "name": promotion.name,
        "type": promotion.type,
        "status": promotion.status,
        "priority": promotion.priority,
        "stacking": promotion.stacking,
        "target": promotion.target,
        "validity": {
            "starts_at": _epoch(promotion.starts_at),
            "ends_at": _epoch(promotion.ends_at),
            "days": sorted({int(day) for day in promotion.days_of_week or ()}),
            "windows": sorted(windows, key=lambda window: (window["start"], window["end"])),
        },
        "stores": _ids("stores"),
        "channels": sorted(set(promotion.channels or ())),
        "targeting": {
            "labels_any": _ids("customer_labels"),
            "labels_excluded": _ids("excluded_customer_labels"),
            "tiers": sorted(set(promotion.customer_tiers or ())),
            "new_customers_only": promotion.new_customers_only,
            "signed_in_only": promotion.signed_in_only,
        },
        "code": promotion.code.strip().upper() or None,
        "limits": _limits(promotion, catalog),
        "scope": {
            "all_products": promotion.all_products,
            "product_ids": _ids("products"),
            "category_ids": catalog.descendants(_ids("categories")),
            "label_ids": _ids("product_labels"),
            "excluded_product_ids": _ids("excluded_products"),
            "excluded_category_ids": catalog.descendants(_ids("excluded_categories")),
            "excluded_label_ids": _ids("excluded_product_labels"),
        },
        "params": _compile_params(promotion, catalog),
    }
    voucher = _voucher(promotion)
    if voucher is not None:
        compiled["voucher"] = voucher
    experiment = _experiment(promotion)
    if experiment is not None:
        compiled["experiment"] = experiment
    if voucher is not None or experiment is not None:
        # Schema 2: an engine that knows neither vouchers nor experiments reports the promotion
        # `unsupported` instead of giving it without a code or to everyone. Others keep schema 1.
        compiled["schema_version"] = VOUCHER_SCHEMA_VERSION
    return compiled


def _experiment(promotion: Promotion) -> dict | None:
    """The running experiment the promotion is a variant of, as the engines assign it (one
    query, two when there is one): None when it is in no running experiment."""
    if promotion.pk is None:
        return None
    variant = (
        promotion.experiment_variants.filter(experiment__status="running")
        .select_related("experiment")
        .first()
    )
    if variant is None:
        return None
    experiment = variant.experiment
    variants = list(experiment.variants.order_by("pk").values("pk", "weight", "is_control"))
    audience = {"labels": [], "tiers": []}
    if experiment.audience == "label":
        audience["labels"] = [experiment.audience_label_id]
    elif experiment.audience == "tier":
        audience["tiers"] = [experiment.audience_tier]
    return {
        "id": experiment.pk,
        "salt": experiment.salt,
        "variant": variant.pk,
        "control": next((v["pk"] for v in variants if v["is_control"]), None),
        "variants": [{"id": v["pk"], "weight": v["weight"]} for v in variants],
        "audience": audience,
        "starts_at": _epoch(experiment.starts_at),
        "ends_at": _epoch(experiment.ends_at),
    }


def _voucher(promotion: Promotion) -> dict | None:
    """The voucher requirement of a promotion with batches (one query, two with an offline
    batch): the brand's public key and the offline batches a till may accept, by id. None when
    the promotion has no batch."""
    if promotion.pk is None:
        return None
    batches = list(
        promotion.voucher_batches.order_by("pk").values(
            "pk", "prefix", "length", "offline", "voided_at", "valid_from", "valid_until"
        )
    )
    if not batches:
        return None
    offline = [b for b in batches if b["offline"] and b["voided_at"] is None]
    key = None
    if offline:
        # The vouchers app builds on promotions; its key table is read, never written, here.
        from vouchers.models import BrandVoucherKey

        key_row = BrandVoucherKey.objects.filter(brand_id=promotion.brand_id).first()
        key = key_row.public_key if key_row else None
    return {
        "key": key,
        "batches": [
            {
                "id": batch["pk"],
                "prefix": batch["prefix"],
                "length": batch["length"],
                "starts_at": _epoch(batch["valid_from"]),
                "ends_at": _epoch(batch["valid_until"]),
            }
            for batch in offline
        ]
        if key
        else [],
    }
