"""Conditions on event data and person attributes (SPEC §4.1): pure functions, no ORM.

A condition is ``{"key": "plan.tier", "op": "eq", "value": "pro"}``. Keys are dotted paths into
JSON objects. Semantics, chosen to be what a marketer expects from a segment builder:

* ``eq`` / ``neq``: equal values; numbers and numeric strings compare as numbers
  (``29 == "29.0"``); a missing key is not equal to anything (so ``neq`` holds).
* ``gt`` / ``gte`` / ``lt`` / ``lte``: numbers (or numeric strings) compare numerically,
  two strings that are not numbers compare as text (ISO dates order correctly); anything
  else (a number against a text that is no number, a missing key) does not match. So
  ``"100"`` means what ``100`` means: the builder stores a typed 100 as text, and "n/a" was
  "greater" than it as text.
* ``contains``: a substring of a string, or an element of a list.
* ``exists`` / ``not_exists``: the key is present with a non-null value / it is not.

A numeric string is a decimal literal in ASCII digits (``"12.50"``, ``" 5"``, ``"-3"``,
``"1e3"``), as JSON, JavaScript and SQL read one; ``Decimal`` alone also reads ``"1_000"`` and
other scripts' digits (``"١٢"``), which no client sends as a number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final

OPERATORS: Final = ("eq", "neq", "gt", "gte", "lt", "lte", "contains", "exists", "not_exists")
VALUELESS_OPERATORS: Final = frozenset({"exists", "not_exists"})

_MISSING: Final = object()

#: A numeric string: a decimal literal, optionally signed, with an exponent, blanks around.
_NUMERIC: Final = re.compile(r"\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*")


def get_path(obj: Any, key: str) -> Any:
    """The value at dotted ``key`` in nested objects, or ``_MISSING``."""
    current = obj
    for part in key.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        else:
            return _MISSING
    return current


def as_decimal(value: Any) -> Decimal | None:
    """A number or numeric string as a finite Decimal; None otherwise (bools are not numbers)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str) and not _NUMERIC.fullmatch(value):
        return None
    if isinstance(value, int | float | Decimal | str):
        try:
            number = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            return None
        return number if number.is_finite() else None
    return None


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right if isinstance(left, bool) and isinstance(right, bool) else False
    a, b = as_decimal(left), as_decimal(right)
    if a is not None and b is not None:
        return a == b
    return bool(left == right)


def _compare(left: Any, right: Any, op: str) -> bool:
    a, b = as_decimal(left), as_decimal(right)
    if a is None or b is None:
        # Text order only between two texts that are no numbers: a number (or numeric text)
        # against anything else does not match, whichever side is the condition's value.
        if a is None and b is None and isinstance(left, str) and isinstance(right, str):
            a_text, b_text = left, right
            return {
                "gt": a_text > b_text,
                "gte": a_text >= b_text,
                "lt": a_text < b_text,
                "lte": a_text <= b_text,
            }[op]
        return False
    return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[op]


def matches(condition: Mapping[str, Any], obj: Any) -> bool:
    """Whether ``obj`` (event data or an attribute set) satisfies ``condition``."""
    value = get_path(obj, condition["key"])
    op = condition["op"]
    present = value is not _MISSING and value is not None
    if op == "exists":
        return present
    if op == "not_exists":
        return not present
    expected = condition.get("value")
    if op == "eq":
        return present and _equal(value, expected)
    if op == "neq":
        return not (present and _equal(value, expected))
    if not present:
        return False
    if op == "contains":
        if isinstance(value, str):
            return isinstance(expected, str) and expected in value
        if isinstance(value, list):
            return any(_equal(item, expected) for item in value)
        return False
    return _compare(value, expected, op)


def all_match(conditions: list[Mapping[str, Any]], obj: Any) -> bool:
    return all(matches(condition, obj) for condition in conditions)
