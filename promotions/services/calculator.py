"""The promotion calculator: a basket, its context and compiled promotions in, a priced result out.

Pure: no Django, no ORM, no clock, no I/O. Integer arithmetic only (minor units and basis
points). `promotions/static/promotions/engine.js` implements the same contract and must produce a
byte-identical `result_to_json`; `promotions/ENGINE.md` is the full contract. In short:

Compiled promotion (schema_version 1), a JSON-able dict::

    {"schema_version": 1, "id": 7, "name": "...", "type": "bogo", "status": "active",
     "priority": 10, "stacking": "standard" | "stackable" | "exclusive",
     "target": "items" | "order",                       # percent_discount, amount_discount
     "validity": {"starts_at": epoch | None, "ends_at": epoch | None,   # [start, end)
                  "days": [1..7],                        # ISO weekdays, [] = every day
                  "windows": [{"start": 660, "end": 840}]},  # local minutes, end <= start
                                                              # crosses midnight
     "stores": [ids], "channels": ["web", "pos", "app"],  # [] = everywhere
     "targeting": {"labels_any": [], "labels_excluded": [], "tiers": [],
                   "new_customers_only": False, "signed_in_only": False},
     "code": "SUMMER" | None,
     "limits": {"max_applications", "remaining_uses", "max_uses_per_customer",
                "remaining_budget", "order_cap", "min_subtotal"},   # int | None each
     "scope": {"all_products": False, "product_ids": [], "category_ids": [], "label_ids": [],
               "excluded_product_ids": [], "excluded_category_ids": [],
               "excluded_label_ids": []},
     "params": {...type specific, see ENGINE.md...}}

Basket: ``{"lines": [{"line_id", "product_id", "category_id", "label_ids", "quantity",
"unit_price"}]}``. Context: ``{"now": utc epoch seconds, "local": "YYYY-MM-DDTHH:MM" store time,
"store_id", "channel", "customer_id", "customer_labels", "tier", "is_new_customer",
"signed_in", "payment_method", "codes", "customer_usage": {"<promotion id>": uses},
"vouchers": [ids of the promotions whose voucher code was checked]}``. A promotion of schema 2
carries a `voucher` requirement and applies only when its id is in `vouchers`.

Ties between units: remaining price (direction depends on the role), then lower product id, then
a unit no standard promotion took, then earlier line, then earlier unit of the line. Percentages
round half up once per application; amounts are split by largest remainder with the same ties.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

ENGINE_VERSION = "1.2.0"
SCHEMA_VERSION = 1
# Schema 2 is schema 1 with a `voucher` requirement; both are read.
VOUCHER_SCHEMA_VERSION = 2
SCHEMA_VERSIONS = (SCHEMA_VERSION, VOUCHER_SCHEMA_VERSION)
BASIS_POINTS = 10_000
# Every amount, and the basket subtotal, stays below 2**53 so JavaScript Numbers are exact.
MAX_AMOUNT = 2**53 - 1

ITEM_PHASE = "item"
ORDER_PHASE = "order"
CASHBACK_PHASE = "cashback"

STANDARD = "standard"
STACKABLE = "stackable"
EXCLUSIVE = "exclusive"
STACKING_MODES = (STANDARD, STACKABLE, EXCLUSIVE)

NOT_APPLICABLE = "not_applicable"
UNSUPPORTED = "unsupported"
NOT_ACTIVE = "not_active"
NOT_STARTED = "not_started"
EXPIRED = "expired"
OUTSIDE_TIME_WINDOW = "outside_time_window"
WRONG_STORE = "wrong_store"
WRONG_CHANNEL = "wrong_channel"
CUSTOMER_NOT_TARGETED = "customer_not_targeted"
CODE_REQUIRED = "code_required"
USAGE_LIMIT_REACHED = "usage_limit_reached"
BUDGET_EXHAUSTED = "budget_exhausted"
CONDITION_NOT_MET = "condition_not_met"
NO_ELIGIBLE_UNITS = "no_eligible_units"
NOT_BEST_DEAL = "not_best_deal"
NOT_IN_VARIANT = "not_in_variant"

_LOCAL_TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})(?::[0-9]{2})?")
_CODE_STRIP = " \t\n\r"


# --- arithmetic -----------------------------------------------------------------------------


def percent_of(amount: int, basis_points: int) -> int:
    """`basis_points` (clamped to 0..10000) of `amount`, rounded half up once.

    Integer form of round_half_up(a * b / 10000): (2ab + 10000) // 20000.
    """
    basis_points = min(max(basis_points, 0), BASIS_POINTS)
    return (2 * amount * basis_points + BASIS_POINTS) // (2 * BASIS_POINTS)


def _allocate(
    total: int,
    units: Sequence[int],
    weights: Sequence[int],
    product: Sequence[int],
    claimed: Sequence[bool],
) -> list[int]:
    """Split `total` over `units` in proportion to `weights` by largest remainder.

    Leftover minor units go to the largest remainders; ties to the lower product id, then a unit
    not taken by a standard promotion, then the earlier unit (earlier line, then earlier unit of
    the line). With total <= sum(weights) no
    part exceeds its weight.
    """
    count = len(units)
    weight_sum = sum(weights)
    if weight_sum <= 0:
        if total:
            raise ValueError("cannot allocate a non-zero amount over zero weights")
        return [0] * count
    parts = [0] * count
    remainders = [0] * count
    given = 0
    for index in range(count):
        share, remainder = divmod(total * weights[index], weight_sum)
        parts[index] = share
        remainders[index] = remainder
        given += share
    leftover = total - given
    if leftover:
        order = sorted(
            range(count),
            key=lambda i: (-remainders[i], product[units[i]], claimed[units[i]], units[i]),
        )
        for index in order[:leftover]:
            parts[index] += 1
    return parts


# --- input ----------------------------------------------------------------------------------


def split_by_weights(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` over parts in proportion to `weights` by largest remainder, leftover units
    to the earlier part on ties (the rule the engine uses for lines, see ENGINE.md)."""
    count = len(weights)
    return _allocate(total, range(count), weights, [0] * count, [False] * count)


def _integer(value: Any, what: str, minimum: int = 0) -> int:
    if type(value) is not int or value < minimum or value > MAX_AMOUNT:
        raise ValueError(f"{what} must be an integer between {minimum} and {MAX_AMOUNT}")
    return value


def _optional_integer(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if type(value) is not int or abs(value) > MAX_AMOUNT:
        raise ValueError(f"{what} must be an integer or null")
    return value


def normalise_code(code: str) -> str:
    """Voucher codes compare trimmed and upper-cased (ASCII letters only, like engine.js)."""
    trimmed = code.strip(_CODE_STRIP)
    return "".join(chr(ord(c) - 32) if "a" <= c <= "z" else c for c in trimmed)


def _iso_weekday(year: int, month: int, day: int) -> int:
    """ISO weekday (Monday 1 .. Sunday 7) from a civil date, integer only."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    days = era * 146097 + day_of_era - 719468
    return (days + 3) % 7 + 1


class _Context:
    __slots__ = (
        "channel",
        "codes",
        "customer_id",
        "is_new_customer",
        "labels",
        "minute",
        "now",
        "payment_method",
        "signed_in",
        "store_id",
        "tier",
        "usage",
        "vouchers",
        "weekday",
    )

    def __init__(self, context: dict) -> None:
        self.now = _integer(context.get("now"), "context.now", minimum=-MAX_AMOUNT)
        match = _LOCAL_TIME.fullmatch(str(context.get("local") or ""))
        if match is None:
            raise ValueError('context.local must be "YYYY-MM-DDTHH:MM"')
        year, month, day, hour, minute = (int(match.group(i)) for i in range(1, 6))
        if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59):
            raise ValueError("context.local is not a valid local time")
        self.weekday = _iso_weekday(year, month, day)
        self.minute = hour * 60 + minute
        self.store_id = context.get("store_id")
        self.channel = context.get("channel")
        self.customer_id = context.get("customer_id")
        self.labels = set(context.get("customer_labels") or ())
        self.tier = context.get("tier")
        self.is_new_customer = context.get("is_new_customer") is True
        self.signed_in = context.get("signed_in") is True
        self.payment_method = context.get("payment_method") or None
        self.codes = {normalise_code(code) for code in context.get("codes") or ()}
        self.usage = {
            str(key): value for key, value in (context.get("customer_usage") or {}).items()
        }
        # Integers only (a JSON `true` is no promotion id, as in engine.js).
        self.vouchers = {v for v in context.get("vouchers") or () if type(v) is int}


class _Basket:
    """The basket expanded into units; unit u belongs to line `line[u]`."""

    __slots__ = (
        "by_category",
        "by_label",
        "by_product",
        "line_ids",
        "lines",
        "price",
        "product",
        "quantity",
        "scopes",
        "start",
        "unit_line",
    )

    def __init__(self, basket: dict) -> None:
        lines = basket.get("lines")
        if not isinstance(lines, list):
            raise ValueError("basket.lines must be a list")
        self.lines = []
        self.product: list[int] = []
        self.price: list[int] = []
        self.unit_line: list[int] = []
        self.start: list[int] = []
        self.quantity: list[int] = []
        self.by_product: dict[Any, list[int]] = {}
        self.by_category: dict[Any, list[int]] = {}
        self.by_label: dict[Any, list[int]] = {}
        self.scopes: dict[int, tuple[dict, list[int]]] = {}
        subtotal = 0
        for index, line in enumerate(lines):
            line_id = line.get("line_id")
            if line_id is not None and type(line_id) not in (int, str):
                raise ValueError("line_id must be a string, an integer or null")
            product_id = _integer(line.get("product_id"), "product_id")
            category_id = _optional_integer(line.get("category_id"), "category_id")
            quantity = _integer(line.get("quantity"), "quantity", minimum=1)
            unit_price = _integer(line.get("unit_price"), "unit_price")
            label_ids = line.get("label_ids") or []
            subtotal += quantity * unit_price
            if subtotal > MAX_AMOUNT:
                raise ValueError("the basket subtotal is too large")
            self.lines.append((line_id, product_id, category_id, label_ids, quantity, unit_price))
            self.start.append(len(self.price))
            self.quantity.append(quantity)
            self.product.extend([product_id] * quantity)
            self.price.extend([unit_price] * quantity)
            self.unit_line.extend([index] * quantity)
            self.by_product.setdefault(product_id, []).append(index)
            if category_id is not None:
                self.by_category.setdefault(category_id, []).append(index)
            for label_id in set(label_ids):
                self.by_label.setdefault(label_id, []).append(index)

    def scope_lines(self, scope: dict | None) -> list[int]:
        """Indexes of the lines whose product is in `scope`, ascending; computed once per scope."""
        if not scope:
            return []
        cached = self.scopes.get(id(scope))
        if cached is not None:
            return cached[1]
        if scope.get("all_products"):
            candidates: Sequence[int] = range(len(self.lines))
        else:
            found: set[int] = set()
            # Intersect in C with the keys present in the basket: scopes are often long lists.
            for index, key in (
                (self.by_product, "product_ids"),
                (self.by_category, "category_ids"),
                (self.by_label, "label_ids"),
            ):
                wanted = scope.get(key)
                if wanted:
                    for value in index.keys() & wanted:
                        found.update(index[value])
            candidates = sorted(found)
        excluded_products = scope.get("excluded_product_ids") or ()
        excluded_categories = scope.get("excluded_category_ids") or ()
        excluded_labels = scope.get("excluded_label_ids") or ()
        result = []
        for index in candidates:
            _, product_id, category_id, label_ids, _, _ = self.lines[index]
            if product_id in excluded_products:
                continue
            if category_id is not None and category_id in excluded_categories:
                continue
            if excluded_labels and any(label in excluded_labels for label in label_ids):
                continue
            result.append(index)
        self.scopes[id(scope)] = (scope, result)
        return result

    def product_lines(self, product_id: Any) -> list[int]:
        return self.by_product.get(product_id, [])


# --- candidates -----------------------------------------------------------------------------


def _in_time(validity: dict, context: _Context, windows_required: bool) -> bool:
    days = validity.get("days") or ()
    windows = validity.get("windows") or ()
    weekday = context.weekday
    if not windows:
        return not windows_required and (not days or weekday in days)
    minute = context.minute
    previous_day = 7 if weekday == 1 else weekday - 1
    for window in windows:
        start, end = window["start"], window["end"]
        if start < end:
            if start <= minute < end and (not days or weekday in days):
                return True
        else:  # crosses midnight: belongs to the day on which it starts
            if minute >= start and (not days or weekday in days):
                return True
            if minute < end and (not days or previous_day in days):
                return True
    return False


def _rejection(promotion: dict, context: _Context) -> str | None:
    """The reason `promotion` is not a candidate in `context`, or None."""
    schema = promotion.get("schema_version")
    if type(schema) is not int or schema not in SCHEMA_VERSIONS:
        return UNSUPPORTED
    promotion_type = promotion.get("type")
    if promotion_type == "cross_brand":
        return NOT_APPLICABLE
    if promotion_type not in _HANDLERS or _stacking(promotion) not in STACKING_MODES:
        return UNSUPPORTED
    status = promotion.get("status") or "active"
    if status == "ended":
        return EXPIRED
    if status not in ("active", "scheduled"):
        return NOT_ACTIVE
    validity = promotion.get("validity") or {}
    starts_at = validity.get("starts_at")
    if starts_at is not None and context.now < starts_at:
        return NOT_STARTED
    ends_at = validity.get("ends_at")
    if ends_at is not None and context.now >= ends_at:
        return EXPIRED
    if not _in_time(validity, context, promotion_type == "happy_hour"):
        return OUTSIDE_TIME_WINDOW
    stores = promotion.get("stores") or ()
    if stores and context.store_id not in stores:
        return WRONG_STORE
    channels = promotion.get("channels") or ()
    if channels and context.channel not in channels:
        return WRONG_CHANNEL
    targeting = promotion.get("targeting") or {}
    labels_any = targeting.get("labels_any") or ()
    if labels_any and not any(label in context.labels for label in labels_any):
        return CUSTOMER_NOT_TARGETED
    if any(label in context.labels for label in targeting.get("labels_excluded") or ()):
        return CUSTOMER_NOT_TARGETED
    tiers = targeting.get("tiers") or ()
    if tiers and context.tier not in tiers:
        return CUSTOMER_NOT_TARGETED
    if targeting.get("new_customers_only") and not context.is_new_customer:
        return CUSTOMER_NOT_TARGETED
    if targeting.get("signed_in_only") and not context.signed_in:
        return CUSTOMER_NOT_TARGETED
    limits = promotion.get("limits") or {}
    per_customer = limits.get("max_uses_per_customer")
    if per_customer is not None and context.customer_id is None:
        return CUSTOMER_NOT_TARGETED
    experiment = promotion.get("experiment")
    if experiment is not None and experiment_variant(
        experiment,
        now=context.now,
        customer_id=context.customer_id,
        labels=context.labels,
        tier=context.tier,
    ) != experiment.get("variant"):
        return NOT_IN_VARIANT
    code = promotion.get("code")
    if code and normalise_code(code) not in context.codes:
        return CODE_REQUIRED
    if promotion.get("voucher") is not None and promotion.get("id") not in context.vouchers:
        return CODE_REQUIRED
    remaining_uses = limits.get("remaining_uses")
    if remaining_uses is not None and remaining_uses <= 0:
        return USAGE_LIMIT_REACHED
    if per_customer is not None and context.usage.get(str(promotion.get("id")), 0) >= per_customer:
        return USAGE_LIMIT_REACHED
    remaining_budget = limits.get("remaining_budget")
    if remaining_budget is not None and remaining_budget <= 0:
        return BUDGET_EXHAUSTED
    return None


_MASK32 = 0xFFFFFFFF


def _rotl32(value: int, bits: int) -> int:
    return ((value << bits) | (value >> (32 - bits))) & _MASK32


def murmur3_32(data: bytes, seed: int = 0) -> int:
    """MurmurHash3 (x86, 32-bit) of `data`: the experiments' bucketing hash (engine.js
    `murmur3_32` gives the same integer)."""
    c1, c2 = 0xCC9E2D51, 0x1B873593
    h = seed & _MASK32
    length = len(data)
    whole = length - length % 4
    for index in range(0, whole, 4):
        k = int.from_bytes(data[index : index + 4], "little")
        k = _rotl32((k * c1) & _MASK32, 15)
        h ^= (k * c2) & _MASK32
        h = (_rotl32(h, 13) * 5 + 0xE6546B64) & _MASK32
    k = 0
    tail = data[whole:]
    if len(tail) == 3:
        k ^= tail[2] << 16
    if len(tail) >= 2:
        k ^= tail[1] << 8
    if tail:
        k ^= tail[0]
        k = _rotl32((k * c1) & _MASK32, 15)
        h ^= (k * c2) & _MASK32
    h ^= length
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _MASK32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _MASK32
    return h ^ (h >> 16)


def experiment_bucket(salt: str, customer_id: int, total: int) -> int:
    """The customer's bucket in 0..total-1: MurmurHash3 of the UTF-8 text "<salt>:<id>"."""
    return murmur3_32(f"{salt}:{customer_id}".encode()) % total


def experiment_includes(experiment: dict, *, now: int, customer_id, labels, tier) -> bool:
    """Whether the experiment assigns this basket a variant by its bucket: within its dates, an
    identified customer, in its audience. Everyone else gets the control."""
    starts_at, ends_at = experiment.get("starts_at"), experiment.get("ends_at")
    if (starts_at is not None and now < starts_at) or (ends_at is not None and now >= ends_at):
        return False
    if type(customer_id) is not int or not 0 <= customer_id <= MAX_AMOUNT:
        return False
    audience = experiment.get("audience") or {}
    audience_labels = audience.get("labels") or ()
    if audience_labels and not any(label in labels for label in audience_labels):
        return False
    audience_tiers = audience.get("tiers") or ()
    return not (audience_tiers and tier not in audience_tiers)


def experiment_variant(experiment: dict, *, now: int, customer_id, labels, tier) -> int | None:
    """The variant id an experiment assigns (see ENGINE.md, "Experiments"): the control for an
    anonymous basket, a customer outside the audience or outside the experiment's dates;
    otherwise the variant whose cumulative weight (variants by id) passes the bucket."""
    control = experiment.get("control")
    if not experiment_includes(
        experiment, now=now, customer_id=customer_id, labels=labels, tier=tier
    ):
        return control
    variants = sorted(
        (
            v
            for v in experiment.get("variants") or ()
            if type(v.get("weight")) is int and abs(v["weight"]) <= MAX_AMOUNT
        ),
        key=lambda v: v.get("id") or 0,
    )
    total = sum(max(v["weight"], 0) for v in variants)
    if total <= 0:
        return control
    bucket = experiment_bucket(str(experiment.get("salt") or ""), customer_id, total)
    for variant in variants:
        bucket -= max(variant["weight"], 0)
        if bucket < 0:
            return variant.get("id")
    return control


def _stacking(promotion: dict) -> str:
    return promotion.get("stacking") or STANDARD


def _phase(promotion: dict) -> str:
    promotion_type = promotion["type"]
    if promotion_type == "cashback":
        return CASHBACK_PHASE
    if promotion_type in ("threshold", "payment_discount"):
        return ORDER_PHASE
    if promotion_type in ("percent_discount", "amount_discount"):
        return ORDER_PHASE if promotion.get("target") == "order" else ITEM_PHASE
    return ITEM_PHASE


# --- one pricing run ------------------------------------------------------------------------


class _Outcome:
    """What one promotion would do: per-unit amounts, units it takes part with, suggestions."""

    __slots__ = ("amounts", "applications", "participants", "reason", "suggestions", "units")

    def __init__(
        self,
        *,
        reason: str | None = None,
        units: list[int] | None = None,
        amounts: list[int] | None = None,
        applications: int = 0,
        participants: list[int] | None = None,
        suggestions: list[dict] | None = None,
    ) -> None:
        self.reason = reason
        self.units = units or []
        self.amounts = amounts or []
        self.applications = applications
        self.participants = participants or []
        self.suggestions = suggestions or []


class _Run:
    """The state of one pricing pass: remaining price and standard claim of every unit."""

    __slots__ = (
        "applied",
        "basket",
        "cashback",
        "claimed",
        "earned",
        "payment_method",
        "reasons",
        "remaining",
        "suggestions",
    )

    def __init__(self, basket: _Basket, payment_method: str | None) -> None:
        self.basket = basket
        self.payment_method = payment_method
        self.remaining = list(basket.price)
        self.claimed = [False] * len(basket.price)
        # Units a standard cashback earned on (cashback never looks at `claimed`).
        self.earned = [False] * len(basket.price)
        self.applied: list[tuple] = []
        self.cashback: list[tuple] = []
        self.suggestions: list[dict] = []
        self.reasons: dict[int, str] = {}

    def available(self, lines: Sequence[int], stackable: bool) -> list[int]:
        """Units of `lines` with a remaining price, not taken by a standard promotion unless
        the asking promotion is stackable."""
        remaining, claimed, start, quantity = (
            self.remaining,
            self.claimed,
            self.basket.start,
            self.basket.quantity,
        )
        units = []
        for line in lines:
            first = start[line]
            for unit in range(first, first + quantity[line]):
                if remaining[unit] > 0 and (stackable or not claimed[unit]):
                    units.append(unit)
        return units

    def cashback_available(self, lines: Sequence[int], stackable: bool) -> list[int]:
        """Units of `lines` still to pay for, whatever discounted them, that no standard
        cashback earned on yet unless the asking cashback is stackable."""
        remaining, earned, start, quantity = (
            self.remaining,
            self.earned,
            self.basket.start,
            self.basket.quantity,
        )
        units = []
        for line in lines:
            first = start[line]
            for unit in range(first, first + quantity[line]):
                if remaining[unit] > 0 and (stackable or not earned[unit]):
                    units.append(unit)
        return units

    def cheapest_first(self, units: list[int]) -> list[int]:
        remaining, product, claimed = self.remaining, self.basket.product, self.claimed
        return sorted(units, key=lambda u: (remaining[u], product[u], claimed[u], u))

    def dearest_first(self, units: list[int]) -> list[int]:
        remaining, product, claimed = self.remaining, self.basket.product, self.claimed
        return sorted(units, key=lambda u: (-remaining[u], product[u], claimed[u], u))

    def total(self, units: Sequence[int]) -> int:
        remaining = self.remaining
        return sum(remaining[u] for u in units)

    def allocate(self, amount: int, units: list[int]) -> list[int]:
        remaining = self.remaining
        return _allocate(
            amount, units, [remaining[u] for u in units], self.basket.product, self.claimed
        )


def _below_minimum(run: _Run, units: list[int], limits: dict) -> bool:
    minimum = limits.get("min_subtotal")
    return minimum is not None and run.total(units) < minimum


def _simple(run: _Run, promotion: dict, stackable: bool, limits: dict) -> _Outcome:
    """percent_discount, amount_discount and happy_hour: percent or amount off eligible units."""
    units = run.available(run.basket.scope_lines(promotion.get("scope")), stackable)
    if not units:
        return _Outcome(reason=NO_ELIGIBLE_UNITS)
    if _below_minimum(run, units, limits):
        return _Outcome(reason=CONDITION_NOT_MET)
    params = promotion.get("params") or {}
    percent = params.get("percent_bp")
    amount = max(0, params.get("amount") or 0)
    if percent is None and params.get("mode") == "per_order":
        total = min(amount, run.total(units))
        return _Outcome(
            units=units, amounts=run.allocate(total, units), applications=1, participants=units
        )
    units = run.cheapest_first(units)
    max_applications = limits.get("max_applications")
    if max_applications is not None:
        units = units[: max(0, max_applications)]
    if percent is not None:
        amounts = run.allocate(percent_of(run.total(units), percent), units)
    else:
        remaining = run.remaining
        amounts = [min(amount, remaining[u]) for u in units]
    return _Outcome(units=units, amounts=amounts, applications=len(units), participants=units)


def _bogo(run: _Run, promotion: dict, stackable: bool, limits: dict) -> _Outcome:
    """Buy X from the scope, get Y from the get scope at P% off; as many times as possible."""
    basket = run.basket
    params = promotion.get("params") or {}
    buy_lines = basket.scope_lines(promotion.get("scope"))
    get_scope = params.get("get_scope")
    get_lines = buy_lines if get_scope is None else basket.scope_lines(get_scope)
    buy_units = run.available(buy_lines, stackable)
    get_units = buy_units if get_scope is None else run.available(get_lines, stackable)
    in_buy = set(buy_units)
    in_get = set(get_units)
    eligible = buy_units + [u for u in get_units if u not in in_buy]
    if not eligible:
        return _Outcome(reason=NO_ELIGIBLE_UNITS)
    if _below_minimum(run, eligible, limits):
        return _Outcome(reason=CONDITION_NOT_MET)
    buy_quantity = max(1, params.get("buy_quantity") or 1)
    get_quantity = max(1, params.get("get_quantity") or 1)
    percent = params.get("percent_bp")
    if percent is None:
        percent = BASIS_POINTS
    both = sum(1 for u in buy_units if u in in_get)
    buy_only = len(buy_units) - both
    get_only = len(get_units) - both
    applications = min(
        (buy_only + both) // buy_quantity,
        (get_only + both) // get_quantity,
        (buy_only + get_only + both) // (buy_quantity + get_quantity),
    )
    max_applications = limits.get("max_applications")
    if max_applications is not None:
        applications = min(applications, max(0, max_applications))
    if applications <= 0:
        return _Outcome(reason=CONDITION_NOT_MET)
    needed_triggers = applications * buy_quantity
    needed_rewards = applications * get_quantity
    trigger_supply = buy_only + both
    rewards: list[int] = []
    for unit in run.cheapest_first(get_units):
        if len(rewards) == needed_rewards:
            break
        if unit in in_buy:
            if trigger_supply - 1 < needed_triggers:
                continue
            trigger_supply -= 1
        rewards.append(unit)
    rewarded = set(rewards)
    triggers = run.dearest_first([u for u in buy_units if u not in rewarded])[:needed_triggers]
    amounts: list[int] = []
    for index in range(applications):
        group = rewards[index * get_quantity : (index + 1) * get_quantity]
        amounts.extend(run.allocate(percent_of(run.total(group), percent), group))
    return _Outcome(
        units=rewards,
        amounts=amounts,
        applications=applications,
        participants=rewards + triggers,
    )


def _fixed_price_sets(
    run: _Run, groups: list[tuple[list[int], int]], price: int, limits: dict
) -> _Outcome:
    """combo and package: one unit set from every group, dearest first, at a fixed price."""
    seen: set[int] = set()
    eligible: list[int] = []
    pools = []
    for units, quantity in groups:
        for unit in units:
            if unit not in seen:
                seen.add(unit)
                eligible.append(unit)
        pools.append((run.dearest_first(units), max(1, quantity)))
    if not eligible:
        return _Outcome(reason=NO_ELIGIBLE_UNITS)
    if _below_minimum(run, eligible, limits):
        return _Outcome(reason=CONDITION_NOT_MET)
    max_applications = limits.get("max_applications")
    price = max(0, price)
    used: set[int] = set()
    positions = [0] * len(pools)
    units_out: list[int] = []
    amounts: list[int] = []
    applications = 0
    while max_applications is None or applications < max_applications:
        chosen: list[int] = []
        taken: set[int] = set()
        next_positions = []
        for group_index, (pool, quantity) in enumerate(pools):
            position = positions[group_index]
            picked = 0
            while picked < quantity and position < len(pool):
                unit = pool[position]
                position += 1
                if unit not in used and unit not in taken:
                    chosen.append(unit)
                    taken.add(unit)
                    picked += 1
            if picked < quantity:
                break
            next_positions.append(position)
        if len(next_positions) < len(pools):
            break
        saving = run.total(chosen) - price
        if saving <= 0:
            break
        positions = next_positions
        used |= taken
        units_out.extend(chosen)
        amounts.extend(run.allocate(saving, chosen))
        applications += 1
    if not applications:
        return _Outcome(reason=CONDITION_NOT_MET)
    return _Outcome(
        units=units_out, amounts=amounts, applications=applications, participants=units_out
    )


def _combo(run: _Run, promotion: dict, stackable: bool, limits: dict) -> _Outcome:
    params = promotion.get("params") or {}
    groups = [
        (
            run.available(run.basket.scope_lines(group.get("scope")), stackable),
            group.get("quantity") or 1,
        )
        for group in params.get("groups") or ()
    ]
    return _fixed_price_sets(run, groups, params.get("price") or 0, limits)


def _package(run: _Run, promotion: dict, stackable: bool, limits: dict) -> _Outcome:
    params = promotion.get("params") or {}
    groups = [
        (
            run.available(run.basket.product_lines(item.get("product_id")), stackable),
            item.get("quantity") or 1,
        )
        for item in params.get("items") or ()
    ]
    return _fixed_price_sets(run, groups, params.get("price") or 0, limits)


def _mix_match(run: _Run, promotion: dict, stackable: bool, limits: dict) -> _Outcome:
    """Any N units of the scope, dearest first, for a fixed price or at P% off; repeats."""
    units = run.available(run.basket.scope_lines(promotion.get("scope")), stackable)
    if not units:
        return _Outcome(reason=NO_ELIGIBLE_UNITS)
    if _below_minimum(run, units, limits):
        return _Outcome(reason=CONDITION_NOT_MET)
    params = promotion.get("params") or {}
    quantity = max(1, params.get("quantity") or 1)
    percent = params.get("percent_bp")
    price = max(0, params.get("price") or 0)
    max_applications = limits.get("max_applications")
    units = run.dearest_first(units)
    units_out: list[int] = []
    amounts: list[int] = []
    applications = 0
    while (applications + 1) * quantity <= len(units) and (
        max_applications is None or applications < max_applications
    ):
        group = units[applications * quantity : (applications + 1) * quantity]
        total = run.total(group)
        saving = percent_of(total, percent) if percent is not None else total - price
        if saving <= 0:
            break
        units_out.extend(group)
        amounts.extend(run.allocate(saving, group))
        applications += 1
    if not applications:
        return _Outcome(reason=CONDITION_NOT_MET)
    return _Outcome(
        units=units_out, amounts=amounts, applications=applications, participants=units_out
    )


def _reward_units(
    run: _Run,
    promotion: dict,
    stackable: bool,
    limits: dict,
    product_id: Any,
    trigger_quantity: int,
    per_application: int,
) -> tuple[str | None, list[int], list[int], int, int]:
    """Shared by free_item and upsell: trigger units (scope minus the reward product) and the
    reward product's units. Returns (reason, triggers, rewards, condition applications, missing).
    """
    basket = run.basket
    product = basket.product
    triggers = [
        u
        for u in run.available(basket.scope_lines(promotion.get("scope")), stackable)
        if product[u] != product_id
    ]
    rewards = run.cheapest_first(run.available(basket.product_lines(product_id), stackable))
    minimum = limits.get("min_subtotal")
    condition = (trigger_quantity <= 0 or len(triggers) >= trigger_quantity) and (
        minimum is None or run.total(triggers) >= minimum
    )
    if not condition:
        reason = NO_ELIGIBLE_UNITS if not triggers and not rewards else CONDITION_NOT_MET
        return reason, triggers, [], 0, 0
    applications = len(triggers) // trigger_quantity if trigger_quantity > 0 else 1
    max_applications = limits.get("max_applications")
    if max_applications is not None:
        applications = min(applications, max(0, max_applications))
    wanted = applications * per_application
    chosen = rewards[:wanted]
    return None, triggers, chosen, applications, wanted - len(chosen)


def _free_item(run: _Run, promotion: dict, stackable: bool, limits: dict) -> _Outcome:
    """A gift product free when the condition holds; suggests the gift when it is missing."""
    params = promotion.get("params") or {}
    gift = params.get("gift_product_id")
    gift_quantity = max(1, params.get("gift_quantity") or 1)
    trigger_quantity = params.get("trigger_quantity") or 0
    reason, triggers, gifts, applications, missing = _reward_units(
        run, promotion, stackable, limits, gift, trigger_quantity, gift_quantity
    )
    if reason:
        return _Outcome(reason=reason)
    suggestions = []
    if missing > 0:
        suggestions.append(
            {
                "type": "free_gift",
                "promotion_id": promotion.get("id"),
                "product_id": gift,
                "quantity": missing,
            }
        )
    if not gifts:
        return _Outcome(reason=NO_ELIGIBLE_UNITS, suggestions=suggestions)
    applications = -(-len(gifts) // gift_quantity)
    if trigger_quantity > 0:
        used = run.dearest_first(triggers)[: applications * trigger_quantity]
    elif limits.get("min_subtotal") is not None:
        used = triggers
    else:
        used = []
    remaining = run.remaining
    return _Outcome(
        units=gifts,
        amounts=[remaining[u] for u in gifts],
        applications=applications,
        participants=gifts + used,
        suggestions=suggestions,
    )


def _upsell_unit_price(params: dict, unit_price: int) -> int:
    percent = params.get("percent_bp")
    if percent is not None:
        return unit_price - percent_of(unit_price, percent)
    if params.get("price") is not None:
        return min(unit_price, max(0, params["price"]))
    return max(0, unit_price - max(0, params.get("amount") or 0))


def _upsell(run: _Run, promotion: dict, stackable: bool, limits: dict) -> _Outcome:
    """Trigger units bring a discount on a target product; suggests the target when absent."""
    params = promotion.get("params") or {}
    target = params.get("target_product_id")
    target_quantity = max(1, params.get("target_quantity") or 1)
    trigger_quantity = max(1, params.get("trigger_quantity") or 1)
    reason, triggers, targets, applications, missing = _reward_units(
        run, promotion, stackable, limits, target, trigger_quantity, target_quantity
    )
    if reason:
        return _Outcome(reason=reason)
    suggestions = []
    if missing > 0:
        unit_price = params.get("target_unit_price")
        suggestions.append(
            {
                "type": "upsell",
                "promotion_id": promotion.get("id"),
                "product_id": target,
                "quantity": missing,
                "unit_price": unit_price,
                "discounted_unit_price": (
                    None if unit_price is None else _upsell_unit_price(params, unit_price)
                ),
            }
        )
    if not targets:
        return _Outcome(reason=NO_ELIGIBLE_UNITS, suggestions=suggestions)
    applications = -(-len(targets) // target_quantity)
    remaining = run.remaining
    percent = params.get("percent_bp")
    amounts: list[int] = []
    if percent is not None:
        for index in range(applications):
            group = targets[index * target_quantity : (index + 1) * target_quantity]
            amounts.extend(run.allocate(percent_of(run.total(group), percent), group))
    elif params.get("price") is not None:
        price = max(0, params["price"])
        amounts = [max(0, remaining[u] - price) for u in targets]
    else:
        amount = max(0, params.get("amount") or 0)
        amounts = [min(amount, remaining[u]) for u in targets]
    used = run.dearest_first(triggers)[: applications * trigger_quantity]
    return _Outcome(
        units=targets,
        amounts=amounts,
        applications=applications,
        participants=targets + used,
        suggestions=suggestions,
    )


def _tier_reward(tier: dict) -> dict:
    if tier.get("percent_bp") is not None:
        return {"min_subtotal": tier["min_subtotal"], "percent_bp": tier["percent_bp"]}
    return {"min_subtotal": tier["min_subtotal"], "amount": tier.get("amount") or 0}


def _threshold(run: _Run, promotion: dict, stackable: bool, limits: dict) -> _Outcome:
    """Spend tiers on the eligible subtotal; the highest tier reached applies."""
    units = run.available(run.basket.scope_lines(promotion.get("scope")), stackable)
    if not units:
        return _Outcome(reason=NO_ELIGIBLE_UNITS)
    if _below_minimum(run, units, limits):
        return _Outcome(reason=CONDITION_NOT_MET)
    base = run.total(units)
    reached = None
    following = None
    for tier in (promotion.get("params") or {}).get("tiers") or ():
        minimum = tier["min_subtotal"]
        if minimum <= base:
            if reached is None or minimum > reached["min_subtotal"]:
                reached = tier
        elif following is None or minimum < following["min_subtotal"]:
            following = tier
    suggestions = []
    if following is not None:
        suggestions.append(
            {
                "type": "threshold",
                "promotion_id": promotion.get("id"),
                "amount_missing": following["min_subtotal"] - base,
                "next_tier": _tier_reward(following),
            }
        )
    if reached is None:
        return _Outcome(reason=CONDITION_NOT_MET, suggestions=suggestions)
    if reached.get("percent_bp") is not None:
        total = percent_of(base, reached["percent_bp"])
    else:
        total = min(max(0, reached.get("amount") or 0), base)
    return _Outcome(
        units=units,
        amounts=run.allocate(total, units),
        applications=1,
        participants=units,
        suggestions=suggestions,
    )


def _order_amount(run: _Run, units: list[int], params: dict) -> int:
    base = run.total(units)
    if params.get("percent_bp") is not None:
        return percent_of(base, params["percent_bp"])
    return min(max(0, params.get("amount") or 0), base)


def _cap(limits: dict) -> int | None:
    caps = [
        value
        for value in (limits.get("order_cap"), limits.get("remaining_budget"))
        if value is not None
    ]
    return min(caps) if caps else None


def _payment_discount(run: _Run, promotion: dict, stackable: bool, limits: dict) -> _Outcome:
    """Percent or amount off when paid with one of the listed methods; suggests the method."""
    units = run.available(run.basket.scope_lines(promotion.get("scope")), stackable)
    if not units:
        return _Outcome(reason=NO_ELIGIBLE_UNITS)
    if _below_minimum(run, units, limits):
        return _Outcome(reason=CONDITION_NOT_MET)
    params = promotion.get("params") or {}
    methods = params.get("payment_methods") or []
    total = _order_amount(run, units, params)
    method = run.payment_method
    if method is None or method not in methods:
        suggestions = []
        cap = _cap(limits)
        saving = total if cap is None else min(total, cap)
        if method is None and saving > 0:
            suggestions.append(
                {
                    "type": "payment_method",
                    "promotion_id": promotion.get("id"),
                    "payment_methods": list(methods),
                    "saving": saving,
                }
            )
        return _Outcome(reason=CONDITION_NOT_MET, suggestions=suggestions)
    return _Outcome(
        units=units, amounts=run.allocate(total, units), applications=1, participants=units
    )


def _cashback(run: _Run, promotion: dict, stackable: bool, limits: dict) -> _Outcome:
    """P% of what remains to pay on the eligible units, whatever discounted them, credited
    after payment."""
    units = run.cashback_available(run.basket.scope_lines(promotion.get("scope")), stackable)
    if not units:
        return _Outcome(reason=NO_ELIGIBLE_UNITS)
    if _below_minimum(run, units, limits):
        return _Outcome(reason=CONDITION_NOT_MET)
    params = promotion.get("params") or {}
    amount = percent_of(run.total(units), params.get("percent_bp") or 0)
    return _Outcome(amounts=[amount], applications=1, participants=units)


_Handler = Callable[[_Run, dict, bool, dict], _Outcome]
_HANDLERS: dict[str, _Handler] = {
    "percent_discount": _simple,
    "amount_discount": _simple,
    "happy_hour": _simple,
    "bogo": _bogo,
    "combo": _combo,
    "free_item": _free_item,
    "cashback": _cashback,
    "payment_discount": _payment_discount,
    "package": _package,
    "mix_match": _mix_match,
    "upsell": _upsell,
    "threshold": _threshold,
}


def _commit(run: _Run, position: int, promotion: dict, phase: str, outcome: _Outcome) -> None:
    """Cap the outcome, then write it into the run (or record why it did not apply)."""
    run.suggestions.extend(outcome.suggestions)
    if outcome.reason is not None:
        run.reasons[position] = outcome.reason
        return
    units, amounts = outcome.units, outcome.amounts
    total = sum(amounts)
    cap = _cap(promotion.get("limits") or {})
    capped = cap is not None and total > cap
    if capped:
        if phase != CASHBACK_PHASE:
            amounts = _allocate(cap, units, amounts, run.basket.product, run.claimed)
        total = cap
    if total <= 0:
        run.reasons[position] = CONDITION_NOT_MET
        return
    if _stacking(promotion) != STACKABLE:
        claimed = run.earned if phase == CASHBACK_PHASE else run.claimed
        for unit in outcome.participants:
            claimed[unit] = True
    if phase == CASHBACK_PHASE:
        run.cashback.append((position, promotion, total, capped))
        return
    remaining = run.remaining
    for unit, amount in zip(units, amounts, strict=True):
        remaining[unit] -= amount
    run.applied.append(
        (position, promotion, phase, total, outcome.applications, capped, units, amounts)
    )


def _order_key(entry: tuple[int, dict]) -> tuple[int, int, int]:
    position, promotion = entry
    return (-(promotion.get("priority") or 0), promotion["id"], position)


def _execute(basket: _Basket, entries: list[tuple[int, dict]], payment_method: str | None) -> _Run:
    """One pass: item phase, order phase, cashback, each in priority order (ties: lower id)."""
    run = _Run(basket, payment_method)
    phases: dict[str, list[tuple[int, dict]]] = {
        ITEM_PHASE: [],
        ORDER_PHASE: [],
        CASHBACK_PHASE: [],
    }
    for entry in entries:
        phases[_phase(entry[1])].append(entry)
    for phase in (ITEM_PHASE, ORDER_PHASE, CASHBACK_PHASE):
        for position, promotion in sorted(phases[phase], key=_order_key):
            handler = _HANDLERS[promotion["type"]]
            outcome = handler(
                run, promotion, _stacking(promotion) == STACKABLE, promotion.get("limits") or {}
            )
            _commit(run, position, promotion, phase, outcome)
    return run


def _rank(run: _Run) -> tuple[int, int, int, int, int]:
    """Best deal: largest discount, then the higher priority and lower id of its lead promotion."""
    discount = sum(entry[3] for entry in run.applied)
    lead = None
    for position, promotion in [(e[0], e[1]) for e in run.applied] + [
        (e[0], e[1]) for e in run.cashback
    ]:
        key = (promotion.get("priority") or 0, -promotion["id"], -position)
        if lead is None or key > lead:
            lead = key
    if lead is None:
        return (discount, 0, 0, 0, 0)
    return (discount, 1, *lead)


def calculate(
    *,
    basket: dict,
    context: dict,
    promotions: Sequence[dict],
    bundle_hash: str | None = None,
) -> dict:
    """Price `basket` in `context` with the compiled `promotions`. See ENGINE.md."""
    prepared_context = _Context(context)
    prepared_basket = _Basket(basket)
    reasons: dict[int, str] = {}
    regular: list[tuple[int, dict]] = []
    exclusives: list[tuple[int, dict]] = []
    for position, promotion in enumerate(promotions):
        if not isinstance(promotion, dict) or type(promotion.get("id")) is not int:
            raise ValueError("every promotion must be an object with an integer id")
        reason = _rejection(promotion, prepared_context)
        if reason is not None:
            reasons[position] = reason
        elif _stacking(promotion) == EXCLUSIVE:
            exclusives.append((position, promotion))
        else:
            regular.append((position, promotion))
    payment_method = prepared_context.payment_method
    best = _execute(prepared_basket, regular, payment_method)
    best_rank = _rank(best)
    options = [best]
    extra_suggestions: list[dict] = []
    for entry in exclusives:
        alone = _execute(prepared_basket, [entry], payment_method)
        if not alone.applied and not alone.cashback:
            reasons[entry[0]] = alone.reasons[entry[0]]
            extra_suggestions.extend(alone.suggestions)
            continue
        options.append(alone)
        rank = _rank(alone)
        if rank > best_rank:
            best, best_rank = alone, rank
    for option in options:
        reasons.update(option.reasons)
        if option is not best:
            for entry in option.applied + option.cashback:
                reasons[entry[0]] = NOT_BEST_DEAL
    return _result(
        prepared_basket,
        best,
        promotions,
        reasons,
        best.suggestions + extra_suggestions,
        bundle_hash,
    )


def _result(
    basket: _Basket,
    run: _Run,
    promotions: Sequence[dict],
    reasons: dict[int, str],
    suggestions: list[dict],
    bundle_hash: str | None,
) -> dict:
    line_allocations: list[dict[int, list]] = [{} for _ in basket.lines]
    unit_line = basket.unit_line
    applied = []
    for position, promotion, phase, total, applications, capped, units, amounts in run.applied:
        for unit, amount in zip(units, amounts, strict=True):
            if amount:
                allocations = line_allocations[unit_line[unit]]
                if position in allocations:
                    allocations[position][1] += amount
                else:
                    allocations[position] = [promotion["id"], amount]
        applied.append(
            {
                "promotion_id": promotion["id"],
                "name": promotion.get("name") or "",
                "type": promotion["type"],
                "stacking": _stacking(promotion),
                "phase": phase,
                "amount": total,
                "applications": applications,
                "capped": capped,
            }
        )
    lines = []
    subtotal = discount_total = 0
    for index, (line_id, product_id, _, _, quantity, unit_price) in enumerate(basket.lines):
        allocations = list(line_allocations[index].values())
        line_subtotal = quantity * unit_price
        line_discount = sum(amount for _, amount in allocations)
        subtotal += line_subtotal
        discount_total += line_discount
        lines.append(
            {
                "index": index,
                "line_id": line_id,
                "product_id": product_id,
                "quantity": quantity,
                "unit_price": unit_price,
                "subtotal": line_subtotal,
                "discount": line_discount,
                "total": line_subtotal - line_discount,
                "allocations": [
                    {"promotion_id": promotion_id, "amount": amount}
                    for promotion_id, amount in allocations
                ],
            }
        )
    cashback = [
        {
            "promotion_id": promotion["id"],
            "name": promotion.get("name") or "",
            "amount": total,
            "capped": capped,
        }
        for _, promotion, total, capped in run.cashback
    ]
    rejected = [
        {
            "promotion_id": promotions[position]["id"],
            "name": promotions[position].get("name") or "",
            "reason": reason,
        }
        for position, reason in sorted(
            reasons.items(), key=lambda item: (promotions[item[0]]["id"], item[0])
        )
    ]
    return {
        "engine_version": ENGINE_VERSION,
        "bundle_hash": bundle_hash,
        "subtotal": subtotal,
        "discount_total": discount_total,
        "total": subtotal - discount_total,
        "lines": lines,
        "applied": applied,
        "cashback": cashback,
        "cashback_total": sum(entry["amount"] for entry in cashback),
        "suggestions": sorted(suggestions, key=lambda s: (s["promotion_id"], s["type"])),
        "rejected": rejected,
    }


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, ASCII only, no floats: byte-identical to engine.js."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def result_to_json(result: dict) -> str:
    return canonical_json(result)


def promotions_bundle_hash(promotions: Sequence[dict]) -> str:
    """SHA-256 of the canonical JSON of the compiled promotions ordered by id."""
    ordered = sorted(promotions, key=lambda promotion: promotion["id"])
    return hashlib.sha256(canonical_json(ordered).encode("ascii")).hexdigest()
