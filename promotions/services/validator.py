"""Promotion validation: coded errors on named fields, no side effects.

`promotion_validate` checks one promotion as it would be saved: the instance's own fields plus
its many-to-many relations, given explicitly (a form or an API payload has them before they are
saved) or read from the database. A draft may be saved with errors; activating it may not
(`lifecycle._refuse_if_invalid`). The admin form and the API both call this module.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from brands.models import Store
from catalog.models import Category, Product
from core.text import unstorable_value
from labels.models import Label
from promotions.models import Promotion
from promotions.services.compiler import (
    PARAM_FIELDS,
    RELATIONS,
    decimal_or_none,
    percent_to_basis_points,
)

T = Promotion.Type
S = Promotion.Status
_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
CHANNELS = {"web", "pos", "app"}
# Types whose eligible units come from the promotion's scope.
_SCOPED = set(T.values) - {T.COMBO, T.PACKAGE, T.CROSS_BRAND}
LIVE_STATUSES = (S.ACTIVE, S.SCHEDULED)


# Issues that refuse even a draft: they name rows that do not exist or belong to another
# brand, or values that the database cannot store or the compiler cannot read (text with NUL,
# a number that is not a plain number, a list that is not a list, an end before the start).
# A draft may otherwise be incomplete or out of range.
STRUCTURAL_CODES = frozenset(
    {
        "unknown_or_foreign",
        "wrong_brand",
        "unknown_label",
        "unknown_brand",
        "invalid_text",
        "ends_before_start",
        "invalid_days",
        "invalid_windows",
        "invalid_window",
        "invalid_channel",
        "invalid_tiers",
        "invalid_params",
        "unknown_param",
        "invalid_percent",
        "invalid_amount",
        "not_a_whole_number",
        "invalid_product",
        "invalid_ids",
        "invalid_scope",
        "invalid_item",
        "invalid_tier",
        "not_a_list",
        "invalid_cashback_to",
        "wallet_cashback_only",
    }
)


@dataclass(frozen=True)
class ValidationIssue:
    field: str
    code: str
    message: str


@dataclass
class _Checker:
    promotion: Promotion
    relations: dict[str, set[int]]
    issues: list[ValidationIssue] = field(default_factory=list)

    def add(self, field_name: str, code: str, message: str) -> None:
        self.issues.append(ValidationIssue(field_name, code, message))

    @property
    def params(self) -> dict:
        return self.promotion.params if isinstance(self.promotion.params, dict) else {}

    # --- values ---------------------------------------------------------------------------

    def percent(self, field_name: str, value, *, required: bool = True) -> None:
        if value in (None, ""):
            if required:
                self.add(field_name, "required", "A percentage is required.")
            return
        try:
            basis_points = percent_to_basis_points(value)
        except (ValueError, ArithmeticError):
            self.add(
                field_name,
                "invalid_percent",
                "Give a percentage: a plain number, at most 2 decimals.",
            )
            return
        if not 0 < basis_points <= 10_000:
            self.add(field_name, "percent_out_of_range", "A percentage is above 0 and at most 100.")

    def money(self, field_name: str, value, *, required: bool = True, zero_ok: bool = False):
        if value in (None, ""):
            if required:
                self.add(field_name, "required", "An amount is required.")
            return None
        try:
            amount = decimal_or_none(value)
        except ValueError:
            self.add(field_name, "invalid_amount", "Give an amount: a plain number.")
            return None
        if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
            self.add(field_name, "invalid_amount", "Amounts have at most 2 decimals.")
            return None
        if amount < 0 or (amount == 0 and not zero_ok):
            self.add(field_name, "amount_not_positive", "The amount must be positive.")
            return None
        if amount >= Decimal("1e12"):
            self.add(field_name, "amount_too_large", "The amount is too large.")
            return None
        return amount

    def quantity(self, field_name: str, value, *, minimum: int = 1, required: bool = True):
        if value in (None, ""):
            if required:
                self.add(field_name, "required", "A quantity is required.")
            return None
        if type(value) is not int:
            self.add(field_name, "not_a_whole_number", f"A whole number from {minimum} to 1000.")
            return None
        if not minimum <= value <= 1000:
            self.add(field_name, "invalid_quantity", f"A whole number from {minimum} to 1000.")
            return None
        return value

    def list_or_none(self, field_name: str, value, message: str) -> list | None:
        """`value` when it is a list; None when missing or (with an issue) not a list."""
        if value is None or isinstance(value, list):
            return value
        self.add(field_name, "not_a_list", message)
        return None

    def one_of(self, prefix: str, data: dict, keys=("percent", "amount")) -> None:
        given = [key for key in keys if data.get(key) not in (None, "")]
        for key in given:
            path = f"{prefix}.{key}" if prefix else f"params.{key}"
            if key == "percent":
                self.percent(path, data[key])
            else:
                self.money(path, data[key], zero_ok=key == "price")
        if len(given) != 1:
            self.add(prefix or "params", "choose_one", f"Give exactly one of {', '.join(keys)}.")


def _relations_from_db(promotion: Promotion) -> dict[str, set[int]]:
    if promotion.pk is None:
        return {name: set() for name in RELATIONS}
    return {name: set(getattr(promotion, name).values_list("id", flat=True)) for name in RELATIONS}


def promotion_validate(
    *, promotion: Promotion, relations: dict[str, Iterable[int]] | None = None
) -> list[ValidationIssue]:
    """Every problem with `promotion`, as coded issues on fields. An empty list means valid."""
    given = {name: set(ids) for name, ids in (relations or {}).items()}
    stored = _relations_from_db(promotion) if set(given) != set(RELATIONS) else {}
    checker = _Checker(
        promotion, {name: given.get(name, stored.get(name, set())) for name in RELATIONS}
    )
    _check_text(checker)
    _check_when(checker)
    _check_where_and_who(checker)
    _check_limits(checker)
    _check_cashback_to(checker)
    _check_scope(checker)
    _check_params(checker)
    _check_conflicts(checker)
    return checker.issues


def issues_refusing(issues: list[ValidationIssue], *, live: bool) -> list[ValidationIssue]:
    """The issues that refuse a save: every one for a live promotion, the structural ones for a
    draft (or a preview)."""
    return issues if live else [issue for issue in issues if issue.code in STRUCTURAL_CODES]


def issues_as_fields(issues: list[ValidationIssue]) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for issue in issues:
        fields.setdefault(issue.field, []).append(f"{issue.code}: {issue.message}")
    return fields


# --- checks ---------------------------------------------------------------------------------


def _check_text(checker: _Checker) -> None:
    """Text PostgreSQL cannot store, anywhere in the JSON fields (the form and serializer text
    fields refuse it themselves)."""
    promotion = checker.promotion
    for name in ("params", "time_windows", "channels", "customer_tiers"):
        problem = unstorable_value(getattr(promotion, name), name)
        if problem:
            checker.add(problem[0], "invalid_text", problem[1])


def _check_when(checker: _Checker) -> None:
    promotion = checker.promotion
    if promotion.starts_at and promotion.ends_at and promotion.ends_at <= promotion.starts_at:
        checker.add("ends_at", "ends_before_start", "The end must be after the start.")
    days = promotion.days_of_week
    if not isinstance(days, list) or any(type(day) is not int or not 1 <= day <= 7 for day in days):
        checker.add("days_of_week", "invalid_days", "Days are ISO weekdays from 1 (Monday) to 7.")
    windows = promotion.time_windows
    if not isinstance(windows, list):
        checker.add("time_windows", "invalid_windows", "A list of {start, end} windows.")
        windows = []
    for index, window in enumerate(windows):
        path = f"time_windows.{index}"
        if not isinstance(window, dict) or set(window) != {"start", "end"}:
            checker.add(path, "invalid_window", 'A window is {"start": "HH:MM", "end": "HH:MM"}.')
            continue
        if not all(isinstance(window[k], str) and _TIME.fullmatch(window[k]) for k in window):
            checker.add(path, "invalid_window", "Times are HH:MM, 00:00 to 23:59.")
        elif window["start"] == window["end"]:
            checker.add(path, "empty_window", "A window cannot start and end at the same time.")
    if promotion.type == T.HAPPY_HOUR and not windows:
        checker.add("time_windows", "windows_required", "A happy hour needs its time windows.")


def _check_where_and_who(checker: _Checker) -> None:
    promotion = checker.promotion
    channels = promotion.channels
    if (
        not isinstance(channels, list)
        or not all(isinstance(channel, str) for channel in channels)
        or not set(channels) <= CHANNELS
    ):
        checker.add("channels", "invalid_channel", "Channels are web, pos and app.")
    stores = checker.relations["stores"]
    if stores and Store.objects.filter(id__in=stores, brand_id=promotion.brand_id).count() != len(
        stores
    ):
        checker.add("stores", "wrong_brand", "Every store must belong to the promotion's brand.")
    for name, expected in (
        ("customer_labels", Label.Type.CUSTOMER),
        ("excluded_customer_labels", Label.Type.CUSTOMER),
        ("product_labels", Label.Type.PRODUCT),
        ("excluded_product_labels", Label.Type.PRODUCT),
    ):
        ids = checker.relations[name]
        if not ids:
            continue
        labels = Label.objects.filter(id__in=ids)
        if labels.count() != len(ids):
            checker.add(name, "unknown_label", "Some labels do not exist.")
        elif labels.exclude(type=expected).exists():
            checker.add(name, "wrong_label_type", f"Only {expected} labels here.")
        elif labels.exclude(brand__isnull=True).exclude(brand_id=promotion.brand_id).exists():
            checker.add(name, "wrong_brand", "Labels must be global or of the promotion's brand.")
    if not isinstance(promotion.customer_tiers, list) or not all(
        isinstance(tier, str) for tier in promotion.customer_tiers
    ):
        checker.add("customer_tiers", "invalid_tiers", "A list of tier names.")
    code = promotion.code.strip()
    if code and not re.fullmatch(r"[A-Za-z0-9_-]{3,40}", code):
        checker.add("code", "invalid_code", "3 to 40 letters, digits, - or _.")


def _check_limits(checker: _Checker) -> None:
    promotion = checker.promotion
    for name in ("max_applications_per_order", "max_uses_total", "max_uses_per_customer"):
        if getattr(promotion, name) == 0:
            checker.add(name, "limit_not_positive", "Leave empty for no limit, or give at least 1.")
    for name in ("budget", "max_discount_per_order"):
        checker.money(name, getattr(promotion, name), required=False)
    checker.money("min_eligible_subtotal", promotion.min_eligible_subtotal, required=False)


def _check_cashback_to(checker: _Checker) -> None:
    """Where the cashback goes: points or the wallet, and the wallet for cashback only."""
    promotion = checker.promotion
    if promotion.cashback_to not in Promotion.CashbackTo.values:
        checker.add("cashback_to", "invalid_cashback_to", "Cashback goes to points or the wallet.")
    elif promotion.cashback_to == Promotion.CashbackTo.WALLET and promotion.type != T.CASHBACK:
        checker.add(
            "cashback_to",
            "wallet_cashback_only",
            "Only a cashback promotion can credit the wallet.",
        )


def _check_catalog_ids(checker: _Checker, path: str, model, ids: set[int]) -> None:
    if not ids:
        return
    found = set(
        model.objects.filter(id__in=ids, brand_id=checker.promotion.brand_id).values_list(
            "id", flat=True
        )
    )
    if found != ids:
        missing = ", ".join(str(pk) for pk in sorted(ids - found))
        checker.add(path, "unknown_or_foreign", f"Not of this brand or unknown: {missing}.")


def _int_ids(checker: _Checker, path: str, values) -> set[int]:
    if values in (None, ""):
        return set()
    if not isinstance(values, list) or any(type(value) is not int for value in values):
        checker.add(path, "invalid_ids", "A list of ids.")
        return set()
    return set(values)


def _check_scope(checker: _Checker) -> None:
    promotion = checker.promotion
    relations = checker.relations
    _check_catalog_ids(checker, "products", Product, relations["products"])
    _check_catalog_ids(checker, "excluded_products", Product, relations["excluded_products"])
    _check_catalog_ids(checker, "categories", Category, relations["categories"])
    _check_catalog_ids(checker, "excluded_categories", Category, relations["excluded_categories"])
    has_scope = promotion.all_products or any(
        relations[name] for name in ("products", "categories", "product_labels")
    )
    if promotion.type in _SCOPED and not has_scope:
        checker.add(
            "products", "empty_scope", "Choose products, categories, labels or all products."
        )


def _check_param_scope(checker: _Checker, path: str, scope) -> bool:
    if not isinstance(scope, dict) or not set(scope) <= {
        "products",
        "categories",
        "labels",
        "name",
        "quantity",
    }:
        checker.add(path, "invalid_scope", "A scope is {products, categories, labels}.")
        return False
    products = _int_ids(checker, f"{path}.products", scope.get("products"))
    categories = _int_ids(checker, f"{path}.categories", scope.get("categories"))
    labels = _int_ids(checker, f"{path}.labels", scope.get("labels"))
    _check_catalog_ids(checker, f"{path}.products", Product, products)
    _check_catalog_ids(checker, f"{path}.categories", Category, categories)
    if not (products or categories or labels):
        checker.add(path, "empty_scope", "Choose products, categories or labels.")
        return False
    return True


def _check_params(checker: _Checker) -> None:
    promotion = checker.promotion
    if not isinstance(promotion.params, dict):
        checker.add("params", "invalid_params", "Parameters are a JSON object.")
        return
    params = checker.params
    allowed = set(PARAM_FIELDS.get(promotion.type, ()))
    for key in sorted(set(params) - allowed):
        checker.add(f"params.{key}", "unknown_param", f"Not a parameter of {promotion.type}.")
    kind = promotion.type
    if kind == T.PERCENT_DISCOUNT:
        checker.percent("params.percent", params.get("percent"))
    elif kind == T.AMOUNT_DISCOUNT:
        checker.money("params.amount", params.get("amount"))
        if params.get("mode", "per_unit") not in ("per_unit", "per_order"):
            checker.add("params.mode", "invalid_mode", "per_unit or per_order.")
    elif kind in (T.HAPPY_HOUR, T.PAYMENT_DISCOUNT):
        checker.one_of("", params)
        if kind == T.PAYMENT_DISCOUNT:
            methods = checker.list_or_none(
                "params.payment_methods",
                params.get("payment_methods"),
                "A list of payment methods.",
            )
            if not methods or not all(isinstance(m, str) and m for m in methods):
                checker.add("params.payment_methods", "required", "List the payment methods.")
    elif kind == T.CASHBACK:
        checker.percent("params.percent", params.get("percent"))
        checker.money("params.cap", params.get("cap"), required=False)
    elif kind == T.BOGO:
        checker.quantity("params.buy_quantity", params.get("buy_quantity"))
        checker.quantity("params.get_quantity", params.get("get_quantity"))
        checker.percent("params.percent", params.get("percent", 100))
        if params.get("get_scope") is not None:
            _check_param_scope(checker, "params.get_scope", params["get_scope"])
    elif kind == T.COMBO:
        checker.money("params.price", params.get("price"), zero_ok=True)
        groups = checker.list_or_none("params.groups", params.get("groups"), "A list of groups.")
        if groups is None or len(groups) < 2:
            checker.add("params.groups", "groups_required", "A combo has at least two groups.")
        for index, group in enumerate(groups or ()):
            if _check_param_scope(checker, f"params.groups.{index}", group):
                checker.quantity(f"params.groups.{index}.quantity", group.get("quantity", 1))
    elif kind == T.PACKAGE:
        checker.money("params.price", params.get("price"), zero_ok=True)
        items = checker.list_or_none("params.items", params.get("items"), "A list of items.")
        if not items:
            checker.add("params.items", "items_required", "List the package's products.")
        else:
            ids = set()
            for index, item in enumerate(items):
                if not isinstance(item, dict) or type(item.get("product")) is not int:
                    checker.add(f"params.items.{index}", "invalid_item", "{product, quantity}.")
                    continue
                if item["product"] in ids:
                    checker.add(f"params.items.{index}", "duplicate_item", "Listed twice.")
                ids.add(item["product"])
                checker.quantity(f"params.items.{index}.quantity", item.get("quantity", 1))
            _check_catalog_ids(checker, "params.items", Product, ids)
    elif kind == T.MIX_MATCH:
        quantity = checker.quantity("params.quantity", params.get("quantity"))
        if quantity == 1:
            checker.add("params.quantity", "invalid_quantity", "Mix and match needs at least 2.")
        checker.one_of("", params, keys=("percent", "price"))
    elif kind == T.FREE_ITEM:
        _check_product_param(checker, "gift_product")
        checker.quantity("params.gift_quantity", params.get("gift_quantity", 1))
        checker.quantity("params.trigger_quantity", params.get("trigger_quantity", 0), minimum=0)
        if not params.get("trigger_quantity") and promotion.min_eligible_subtotal is None:
            checker.add(
                "params.trigger_quantity",
                "condition_required",
                "Give trigger units, a minimum eligible subtotal, or both.",
            )
    elif kind == T.UPSELL:
        _check_product_param(checker, "target_product")
        checker.quantity("params.target_quantity", params.get("target_quantity", 1))
        checker.quantity("params.trigger_quantity", params.get("trigger_quantity", 1))
        checker.one_of("", params, keys=("percent", "amount", "price"))
    elif kind == T.THRESHOLD:
        _check_tiers(checker, params.get("tiers"))
    elif kind == T.CROSS_BRAND:
        _check_cross_brand(checker, params)


def _check_product_param(checker: _Checker, key: str) -> None:
    value = checker.params.get(key)
    if value in (None, ""):
        checker.add(f"params.{key}", "required", "Choose a product.")
        return
    if type(value) is not int:
        checker.add(f"params.{key}", "invalid_product", "A product id.")
        return
    _check_catalog_ids(checker, f"params.{key}", Product, {value})


def _check_tiers(checker: _Checker, tiers) -> None:
    tiers = checker.list_or_none("params.tiers", tiers, "A list of spend tiers.")
    if not tiers:
        checker.add("params.tiers", "tiers_required", "Give at least one spend tier.")
        return
    previous = None
    for index, tier in enumerate(tiers):
        path = f"params.tiers.{index}"
        if not isinstance(tier, dict) or not set(tier) <= {"min_subtotal", "amount", "percent"}:
            checker.add(path, "invalid_tier", "A tier is {min_subtotal, amount or percent}.")
            continue
        minimum = checker.money(f"{path}.min_subtotal", tier.get("min_subtotal"))
        checker.one_of(path, tier)
        if minimum is not None:
            if previous is not None and minimum <= previous:
                checker.add(f"{path}.min_subtotal", "tiers_not_ascending", "Tiers go up in spend.")
            previous = minimum


def _check_cross_brand(checker: _Checker, params: dict) -> None:
    from brands.models import Brand

    brand_ids = _int_ids(checker, "params.brands", params.get("brands"))
    if len(brand_ids) < 2:
        checker.add("params.brands", "brands_required", "At least two participating brands.")
    elif Brand.objects.filter(id__in=brand_ids).count() != len(brand_ids):
        checker.add("params.brands", "unknown_brand", "Some brands do not exist.")
    elif checker.promotion.brand_id not in brand_ids:
        checker.add("params.brands", "owner_not_participating", "Include the owning brand.")
    start, end = params.get("period_start"), params.get("period_end")
    if not (isinstance(start, str) and isinstance(end, str) and start < end):
        checker.add("params.period_end", "invalid_period", "ISO dates, the end after the start.")
    per_brand = checker.money(
        "params.spend_per_brand", params.get("spend_per_brand"), required=False
    )
    total = checker.money("params.total_spend", params.get("total_spend"), required=False)
    if per_brand is None and total is None:
        checker.add("params.total_spend", "spend_required", "Give a spend per brand or in total.")
    min_brands = params.get("min_brands")
    if min_brands is not None and type(min_brands) is not int:
        checker.add("params.min_brands", "not_a_whole_number", "A whole number of brands.")
    elif min_brands is not None and not 1 <= min_brands <= len(brand_ids or {0}):
        checker.add(
            "params.min_brands", "invalid_min_brands", "Between 1 and the number of brands."
        )
    reward = params.get("reward")
    if (
        not isinstance(reward, dict)
        or reward.get("type") not in ("points", "voucher")
        or not reward.get("value")
    ):
        checker.add(
            "params.reward", "invalid_reward", '{"type": "points" or "voucher", "value": ...}.'
        )


def _check_conflicts(checker: _Checker) -> None:
    promotion = checker.promotion
    live = Promotion.objects.filter(brand_id=promotion.brand_id, status__in=LIVE_STATUSES)
    if promotion.pk:
        live = live.exclude(pk=promotion.pk)
    code = promotion.code.strip().upper()
    if code and live.filter(code__iexact=code).exists():
        checker.add(
            "code", "duplicate_code", "Another live promotion of this brand uses this code."
        )
    if promotion.stacking != Promotion.Stacking.EXCLUSIVE or promotion.type == T.CROSS_BRAND:
        return
    overlapping = live.filter(stacking=Promotion.Stacking.EXCLUSIVE).exclude(type=T.CROSS_BRAND)
    if promotion.ends_at:
        overlapping = overlapping.exclude(starts_at__gte=promotion.ends_at)
    if promotion.starts_at:
        overlapping = overlapping.exclude(ends_at__lte=promotion.starts_at)
    products = checker.relations["products"]
    categories = checker.relations["categories"]
    for other in overlapping.prefetch_related("products", "categories"):
        other_products = {p.id for p in other.products.all()}
        other_categories = {c.id for c in other.categories.all()}
        shared = (
            promotion.all_products
            or other.all_products
            or products & other_products
            or categories & other_categories
        )
        if shared:
            checker.add(
                "stacking",
                "exclusive_conflict",
                f"Overlaps the exclusive promotion {other.name!r} (id {other.pk}) "
                "in scope and time.",
            )
            return
