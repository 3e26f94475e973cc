"""Text and numbers the database can store and a response can render.

PostgreSQL refuses the NUL character in `text` and `jsonb` columns, a lone surrogate (`"\\ud800"`
in JSON) cannot be encoded to UTF-8, and `jsonb` has no Infinity (`1e400` in JSON), so none of
them may reach a model or a response. The API's JSON parser, the promotion validator, the rule
action parameters and POS uploads all check their input with `unstorable_value`; Django's form
`CharField` already refuses NUL on its own.
"""

import math
from typing import Any

NUL_MESSAGE = "Text cannot contain the NUL character (\\u0000)."
SURROGATE_MESSAGE = "Text cannot contain an unpaired surrogate character (\\ud800 to \\udfff)."
NOT_FINITE_MESSAGE = "Numbers must be finite."


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored, as a sentence; None when it can."""
    if "\x00" in value:
        return NUL_MESSAGE
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE_MESSAGE
    return None


def unstorable_value(data: Any, prefix: str = "") -> tuple[str, str] | None:
    """The path (`"params.percent"`, `"lines.0.sku"`) and the problem of the first string
    (object keys included) or number of JSON-like `data` that cannot be stored; None when every
    one can.

    Walks with an explicit stack, so no nesting depth can exhaust Python's recursion limit.
    """
    stack: list[tuple[str, Any]] = [(prefix, data)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            problem = text_problem(node)
            if problem:
                return path, problem
        elif isinstance(node, float) and not math.isfinite(node):
            return path, NOT_FINITE_MESSAGE
        elif isinstance(node, dict):
            children = []
            for key, value in node.items():
                child = f"{path}.{key}" if path else str(key)
                if isinstance(key, str):
                    problem = text_problem(key)
                    if problem:
                        return path or "non_field_errors", problem
                children.append((child, value))
            stack.extend(reversed(children))
        elif isinstance(node, list | tuple):
            stack.extend(
                reversed(
                    [(f"{path}.{index}" if path else str(index), v) for index, v in enumerate(node)]
                )
            )
    return None


def json_depth(data: Any) -> int:
    """How deeply objects and arrays nest in `data` (a scalar is 0, `[]` is 1), without
    recursion."""
    deepest = 0
    stack: list[tuple[int, Any]] = [(0, data)]
    while stack:
        depth, node = stack.pop()
        if isinstance(node, dict):
            node = node.values()
        elif not isinstance(node, list | tuple):
            continue
        depth += 1
        deepest = max(deepest, depth)
        stack.extend((depth, child) for child in node)
    return deepest
