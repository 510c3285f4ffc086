"""What counts as a number in conditions and event-key impact (SPEC §4.1, §4.2), end to end over
HTTP: a goal defined through the API, events through the batch, the result read from the
achievement list, and the same result after a full recompute."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from campaigns.models import Workspace
from tests.goals.test_api_scenarios import achievements, batch, goal, same_after_recompute

pytestmark = pytest.mark.django_db(transaction=True)


def _events(api: APIClient, values: dict[str, Any]) -> None:
    """One ``buy`` per person, with ``total`` set to the person's value."""
    batch(
        api,
        *(
            {"type": "event", "person": person, "name": "buy", "data": {"total": value},
             "timestamp": "2026-02-01T10:00:00Z"}
            for person, value in values.items()
        ),
    )  # fmt: skip


@pytest.mark.parametrize("op", ["gt", "gte", "lt", "lte"])
def test_a_numeric_string_value_compares_like_the_number_it_is(
    api: APIClient, workspace: Workspace, op: str
) -> None:
    """``{"op": "gt", "value": "100"}`` (what the builder stores for a typed 100) means what
    ``{"op": "gt", "value": 100}`` means: a total that is not a number matches neither. It
    used to be compared as text with "100", so "n/a", "" and "-" passed ``lt "100"`` and
    "n/a" passed ``gt "100"``."""
    as_number = goal(
        api,
        name="number",
        criteria={"trigger": {"type": "event", "name": "buy",
                              "conditions": [{"key": "total", "op": op, "value": 100}]}},
    )  # fmt: skip
    as_text = goal(
        api,
        name="numeric text",
        criteria={"trigger": {"type": "event", "name": "buy",
                              "conditions": [{"key": "total", "op": op, "value": "100"}]}},
    )  # fmt: skip
    _events(
        api,
        {"n50": 50, "n100": 100, "s150": "150", "n-a": "n/a", "empty": "", "dash": "-",
         "nan": "NaN", "date": "2026-01-05"},
    )  # fmt: skip
    numeric = {"gt": {"s150"}, "gte": {"n100", "s150"}, "lt": {"n50"}, "lte": {"n50", "n100"}}
    for g in (as_number, as_text):
        assert {a["person"] for a in achievements(api, g["id"])} == numeric[op], g["name"]
    same_after_recompute(api, as_number["id"], as_text["id"])


def test_two_texts_still_compare_as_text(api: APIClient, workspace: Workspace) -> None:
    """ISO dates order as text (decisions.md, Operators): only a number against a text that is
    no number fails to match."""
    since = {"key": "total", "op": "gte", "value": "2026-01-01"}
    g = goal(api, criteria={"trigger": {"type": "event", "name": "buy", "conditions": [since]}})
    _events(api, {"later": "2026-01-05", "earlier": "2025-12-31", "number": 2027})
    assert {a["person"] for a in achievements(api, g["id"])} == {"later"}


def test_numbers_are_written_with_ascii_digits_and_no_underscores(
    api: APIClient, workspace: Workspace
) -> None:
    """A numeric string is a JSON-style decimal literal. Python's ``Decimal`` also reads
    "1_000" and other scripts' digits ("١٢"), which no JSON client, JavaScript or SQL reads as
    a number: such an amount is missing (revenue 0, flagged), as "1,5" is, and such a value
    does not equal the number."""
    priced = goal(
        api,
        name="priced",
        criteria={"trigger": {"type": "event", "name": "buy"}},
        impact={"currency": "EUR", "event_key": "total"},
    )
    thousand = goal(
        api,
        name="thousand",
        criteria={"trigger": {"type": "event", "name": "buy",
                              "conditions": [{"key": "total", "op": "eq", "value": 1000}]}},
    )  # fmt: skip
    _events(
        api,
        {"underscore": "1_000", "arabic": "١٢", "plain": "1000", "exponent": "1e3",
         "blanks": " 12 "},
    )  # fmt: skip
    rows = achievements(api, priced["id"])
    revenue = {a["person"]: (a["revenue"], a["revenue_missing"]) for a in rows}
    assert revenue == {
        "underscore": ("0.00", True),
        "arabic": ("0.00", True),
        "plain": ("1000.00", False),
        "exponent": ("1000.00", False),
        "blanks": ("12.00", False),
    }
    assert {a["person"] for a in achievements(api, thousand["id"])} == {"plain", "exponent"}
    same_after_recompute(api, priced["id"], thousand["id"])
