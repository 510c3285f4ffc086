"""campaigns.values: client values Python accepts but the database cannot store."""

from __future__ import annotations

import json
from typing import Any

import pytest

from campaigns import values


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1), ("42", 42), (" 7 ", 7), (values.MAX_ID, 2**63 - 1), (str(values.MAX_ID), 2**63 - 1)],
)
def test_parse_id_reads_integers_and_strings_of_digits(value: Any, expected: int) -> None:
    assert values.parse_id(value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, values.ID_ERROR),
        (0, values.ID_ERROR),
        (-3, values.ID_ERROR),
        (True, values.ID_ERROR),
        (1.5, values.ID_ERROR),
        ("seven", values.ID_ERROR),
        ("-3", values.ID_ERROR),
        (values.MAX_ID + 1, values.ID_RANGE_ERROR),
        ("99999999999999999999", values.ID_RANGE_ERROR),
        ("9" * 5000, values.ID_RANGE_ERROR),  # more digits than Python converts
    ],
)
def test_parse_id_says_why_it_refuses(value: Any, reason: str) -> None:
    with pytest.raises(ValueError) as refused:
        values.parse_id(value)
    assert str(refused.value) == reason


def test_json_error_names_the_path_of_what_cannot_be_stored() -> None:
    data = json.loads('{"a": [1, {"b": 1e400}], "c": "x"}')
    assert values.json_error(data, "data") == ("data.a.1.b", values.NON_FINITE_ERROR)
    assert values.json_error(float("nan"), "value") == ("value", values.NON_FINITE_ERROR)
    assert values.json_error({"k": "a\x00b"}, "data") == ("data.k", values.NUL_ERROR)
    assert values.json_error({"a\x00": 1}, "data") == ("data", values.NUL_ERROR)


def test_json_error_accepts_what_can_be_stored() -> None:
    data = {"big": 10**30, "max": 1.7e308, "s": "text", "n": None, "t": True, "l": [1.5, "x"]}
    assert values.json_error(data, "data") is None


def nested(levels: int, leaf: Any = 1) -> Any:
    """``levels`` lists one inside the other around ``leaf``."""
    for _ in range(levels):
        leaf = [leaf]
    return leaf


def test_json_error_refuses_nesting_deeper_than_the_limit_by_its_path() -> None:
    assert values.json_error({"k": nested(values.MAX_JSON_DEPTH - 1)}, "data") is None
    assert values.json_error({"k": nested(values.MAX_JSON_DEPTH)}, "data") == (
        "data.k" + ".0" * (values.MAX_JSON_DEPTH - 1),
        values.DEPTH_ERROR,
    )
