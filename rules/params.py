"""What a rule may say, checked when it is saved (never at order time).

Conditions: each entity has an allow-list of fields, each field a kind, each kind its operators.
A condition's text value is parsed once into a typed value (`ConditionSpec.value`), so the engine
compares typed values and never parses. Action parameters are validated per action type: unknown
keys, wrong types and out-of-range numbers are refused with a message naming the key.

Condition fields (entity → field: kind, meaning):

    CUSTOMER  order_count          int     orders of the customer at the brand that were paid
              lifetime_spend       money   what those orders paid, less refunds
              tier                 text    name of the customer's loyalty tier at the brand
              days_since_signup    int     whole days since the customer record was created
              birthday_this_month  bool    the birth date's month is the current month
    ORDER     total                money   after promotions, before rule discounts
              subtotal             money   before any discount
              channel              text    web, pos or app
              store                text    the store's code (empty for web orders)
              line_count           int     number of order lines
    PRODUCT   category             category  the line's category or any category below it
              sku                  text    the line's SKU

PRODUCT conditions hold when any line of the order satisfies them. HAS_LABEL / NOT_HAS_LABEL
test customer labels (CUSTOMER) or product labels (PRODUCT: some line has it / no line has it).
"""

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from core.errors import ApplicationError
from core.text import unstorable_value

INT, MONEY, TEXT, BOOL, CATEGORY = "int", "money", "text", "bool", "category"

FIELDS: dict[str, dict[str, str]] = {
    "CUSTOMER": {
        "order_count": INT,
        "lifetime_spend": MONEY,
        "tier": TEXT,
        "days_since_signup": INT,
        "birthday_this_month": BOOL,
    },
    "ORDER": {
        "total": MONEY,
        "subtotal": MONEY,
        "channel": TEXT,
        "store": TEXT,
        "line_count": INT,
    },
    "PRODUCT": {"category": CATEGORY, "sku": TEXT},
}

LABEL_OPERATORS = frozenset({"HAS_LABEL", "NOT_HAS_LABEL"})
ORDERED = frozenset({"EQUALS", "NOT_EQUALS", "GT", "GTE", "LT", "LTE", "IN", "BETWEEN"})
OPERATORS_BY_KIND: dict[str, frozenset[str]] = {
    INT: ORDERED,
    MONEY: ORDERED,
    TEXT: frozenset({"EQUALS", "NOT_EQUALS", "IN", "CONTAINS"}),
    BOOL: frozenset({"EQUALS", "NOT_EQUALS"}),
    CATEGORY: frozenset({"EQUALS", "NOT_EQUALS", "IN"}),
}
MAX_IN_VALUES = 100


def _error(message: str, field: str) -> ApplicationError:
    return ApplicationError(message, code="invalid_rule", fields={field: [message]})


@dataclass(frozen=True)
class ConditionSpec:
    entity: str
    field: str
    operator: str
    value: Any = None  # typed: int, Decimal, str, bool, a tuple for IN, a pair for BETWEEN
    label_id: int | None = None
    group: int = 0


def _scalar(kind: str, text: str) -> Any:
    text = text.strip()
    if kind == INT:
        if not re.fullmatch(r"-?[0-9]{1,12}", text):
            raise ValueError(f"{text!r} is not a whole number.")
        return int(text)
    if kind == MONEY:
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{text!r} is not an amount.") from None
        if not amount.is_finite() or amount.as_tuple().exponent < -2 or abs(amount) >= 10**12:
            raise ValueError(f"{text!r} is not an amount with at most 2 decimals.")
        return amount
    if kind == BOOL:
        lowered = text.lower()
        if lowered not in ("true", "false", "yes", "no", "1", "0"):
            raise ValueError(f"{text!r} is not true or false.")
        return lowered in ("true", "yes", "1")
    if not text:
        raise ValueError("A value is required.")
    return text.lower() if kind == CATEGORY else text


def condition_parse(
    *, entity: str, field: str, operator: str, value: str, label_id: int | None, group: int = 0
) -> ConditionSpec:
    """Check a condition and parse its value. Raises `ApplicationError` naming the bad part."""
    if entity not in FIELDS:
        raise _error(f"Unknown entity {entity!r}.", "entity")
    if operator in LABEL_OPERATORS:
        if entity == "ORDER":
            raise _error("Label tests apply to the customer or to products.", "entity")
        if label_id is None:
            raise _error(f"{operator} needs a label.", "label")
        if field or value.strip():
            raise _error(f"{operator} takes a label, not a field or value.", "value")
        return ConditionSpec(entity, "", operator, None, label_id, group)
    if label_id is not None:
        raise _error("Only HAS_LABEL and NOT_HAS_LABEL take a label.", "label")
    kind = FIELDS[entity].get(field)
    if kind is None:
        allowed = ", ".join(sorted(FIELDS[entity]))
        raise _error(f"{entity} has no field {field!r}; allowed: {allowed}.", "field")
    if operator not in OPERATORS_BY_KIND[kind]:
        allowed = ", ".join(sorted(OPERATORS_BY_KIND[kind]))
        raise _error(f"{operator} does not apply to {field}; allowed: {allowed}.", "operator")
    try:
        if operator in ("IN", "BETWEEN"):
            parts = value.split(",")
            if operator == "BETWEEN":
                if len(parts) != 2:
                    raise ValueError("BETWEEN takes two values: low,high.")
                low, high = (_scalar(kind, part) for part in parts)
                if low > high:
                    raise ValueError("The low value is above the high value.")
                typed: Any = (low, high)
            else:
                if not value.strip() or len(parts) > MAX_IN_VALUES:
                    raise ValueError(f"IN takes 1 to {MAX_IN_VALUES} comma-separated values.")
                typed = tuple(_scalar(kind, part) for part in parts)
        else:
            typed = _scalar(kind, value)
    except ValueError as error:
        raise _error(str(error), "value") from None
    return ConditionSpec(entity, field, operator, typed, None, group)


# --- Actions --------------------------------------------------------------------------------

DISCOUNT_BASES = ("remaining", "subtotal")
_NOTIFY_EVENT = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")
MAX_BONUS_POINTS = 1_000_000


def _decimal(params: dict, key: str, *, maximum: Decimal) -> Decimal:
    raw = params[key]
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise _error(f"{key} must be a number.", key)
    try:
        number = Decimal(str(raw).strip())
    except InvalidOperation:
        raise _error(f"{key} must be a number.", key) from None
    if not number.is_finite() or number <= 0:
        raise _error(f"{key} must be above 0.", key)
    if number > maximum:
        raise _error(f"{key} must be at most {maximum}.", key)
    if number.as_tuple().exponent < -2:
        raise _error(f"{key} takes at most 2 decimals.", key)
    return number


def _text(params: dict, key: str, *, required: bool, limit: int = 200) -> str:
    raw = params.get(key, "")
    if not isinstance(raw, str):
        raise _error(f"{key} must be text.", key)
    if required and not raw.strip():
        raise _error(f"{key} is required.", key)
    if len(raw) > limit:
        raise _error(f"{key} takes at most {limit} characters.", key)
    return raw.strip()


ACTION_KEYS: dict[str, tuple[frozenset[str], frozenset[str]]] = {  # (required, optional)
    "DISCOUNT": (
        frozenset(),
        frozenset({"percentage", "amount", "description", "max_amount", "base"}),
    ),
    "ADD_LABEL": (frozenset({"label"}), frozenset()),
    "REMOVE_LABEL": (frozenset({"label"}), frozenset()),
    "AWARD_BONUS_POINTS": (frozenset({"points"}), frozenset({"reason"})),
    "NOTIFY": (frozenset({"event"}), frozenset({"payload"})),
    "AWARD_BADGE": (frozenset({"badge"}), frozenset()),
    "ISSUE_REWARD": (frozenset({"template"}), frozenset()),
}


def action_params_clean(*, action_type: str, params: Any, event: str | None = None) -> dict:
    """The action's parameters, checked and normalised (numbers as decimal strings).

    `params` may be a dict or its JSON text. `event` is the trigger's event, when known: a
    discount only makes sense on `order.created`, where the order is being priced.
    """
    if isinstance(params, str):
        try:
            params = json.loads(params or "{}")
        except json.JSONDecodeError as error:
            raise _error(f"Not valid JSON: {error.msg}.", "action_params") from None
    if not isinstance(params, dict):
        raise _error("The parameters must be a JSON object.", "action_params")
    problem = unstorable_value(params)
    if problem:
        path, message = problem
        raise _error(f"{path}: {message}" if path else message, path or "action_params")
    if action_type not in ACTION_KEYS:
        raise _error(f"Unknown action type {action_type!r}.", "action_type")
    required, optional = ACTION_KEYS[action_type]
    unknown = set(params) - required - optional
    if unknown:
        allowed = ", ".join(sorted(required | optional))
        raise _error(f"Unknown key {sorted(unknown)[0]!r}; allowed: {allowed}.", "action_params")
    missing = required - set(params)
    if missing:
        raise _error(f"Missing key {sorted(missing)[0]!r}.", "action_params")

    if action_type == "DISCOUNT":
        if event is not None and event != "order.created":
            raise _error("A discount runs on order.created triggers only.", "action_type")
        if ("percentage" in params) == ("amount" in params):
            raise _error("Give either percentage or amount.", "action_params")
        clean: dict[str, Any] = {}
        if "percentage" in params:
            clean["percentage"] = str(_decimal(params, "percentage", maximum=Decimal(100)))
        else:
            clean["amount"] = str(_decimal(params, "amount", maximum=Decimal(10**9)))
        if "max_amount" in params:
            clean["max_amount"] = str(_decimal(params, "max_amount", maximum=Decimal(10**9)))
        clean["description"] = _text(params, "description", required=False)
        base = params.get("base", "remaining")
        if base not in DISCOUNT_BASES:
            raise _error("base is remaining (after promotions) or subtotal.", "base")
        clean["base"] = base
        return clean
    if action_type in ("ADD_LABEL", "REMOVE_LABEL"):
        return {"label": _text(params, "label", required=True, limit=80)}
    if action_type == "AWARD_BONUS_POINTS":
        points = params["points"]
        if isinstance(points, bool) or not isinstance(points, int):
            raise _error("points must be a whole number.", "points")
        if not 0 < points <= MAX_BONUS_POINTS:
            raise _error(f"points must be between 1 and {MAX_BONUS_POINTS}.", "points")
        return {"points": points, "reason": _text(params, "reason", required=False)}
    if action_type == "AWARD_BADGE":
        badge = params["badge"]
        if isinstance(badge, bool) or not isinstance(badge, int) or not 0 < badge < 2**63:
            raise _error("badge must be the id of one of the brand's badges.", "badge")
        return {"badge": badge}
    if action_type == "ISSUE_REWARD":
        template = params["template"]
        if isinstance(template, bool) or not isinstance(template, int) or not 0 < template < 2**63:
            raise _error("template must be the id of one of the brand's rewards.", "template")
        return {"template": template}
    event_name = _text(params, "event", required=True, limit=64)
    if not _NOTIFY_EVENT.fullmatch(event_name):
        raise _error("event is a dotted lower-case name, e.g. rules.vip_welcome.", "event")
    payload = params.get("payload", {})
    if not isinstance(payload, dict) or len(json.dumps(payload)) > 4000:
        raise _error("payload must be a JSON object of at most 4000 characters.", "payload")
    return {"event": event_name, "payload": payload}
