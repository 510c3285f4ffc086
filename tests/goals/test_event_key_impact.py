"""Impact read from an event data key (SPEC §4.2) end to end over HTTP.

A number or numeric string counts; where the value is missing or not a number the achievement
still counts with revenue 0 and the report says how many (``revenue_missing_achievements``).
Money is Decimal: sums are exact. The incremental path (Python) and a full recompute (on
PostgreSQL: SQL staging with a Python re-check of values that are not plain amounts) must agree.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from campaigns.models import Workspace
from tests.goals.test_api_scenarios import (
    achievements,
    batch,
    goal,
    report,
    same_after_recompute,
)

pytestmark = pytest.mark.django_db(transaction=True)

_MISSING = object()

#: (the event's ``total``, expected revenue in EUR as the API writes it, or None: missing)
VALUES: list[tuple[Any, str | None]] = [
    (12.5, "12.50"),
    ("12.50", "12.50"),
    (" 7 ", "7.00"),
    ("1e3", "1000.00"),
    (1e3, "1000.00"),
    ("-5", "-5.00"),  # refunds are kept (decisions)
    ("5.", "5.00"),
    (".5", "0.50"),
    ("+3", "3.00"),
    (0.1, "0.10"),
    (0.2, "0.20"),
    ("-0", "0.00"),
    ("abc", None),
    (_MISSING, None),
    (True, None),
    (None, None),
    ({"x": 1}, None),
    ([5], None),
    ("", None),
    ("1_000", None),
    ("١٢", None),
    ("Infinity", None),
    ("NaN", None),
]


@pytest.mark.parametrize("recompute_first", [False, True], ids=["incremental", "recompute"])
def test_event_key_amounts(api: APIClient, workspace: Workspace, recompute_first: bool) -> None:
    impact = {"currency": "EUR", "event_key": "order.total"}
    criteria = {"trigger": {"type": "event", "name": "buy"}}
    if not recompute_first:
        g = goal(api, criteria=criteria, impact=impact)
    base = datetime(2026, 2, 2, 9, tzinfo=UTC)
    items = []
    for n, (value, _) in enumerate(VALUES):
        data: dict[str, Any] = {"order": {}} if value is _MISSING else {"order": {"total": value}}
        items.append(
            {"type": "event", "person": "ada", "name": "buy", "data": data,
             "timestamp": (base + timedelta(minutes=n)).isoformat()}
        )  # fmt: skip
    batch(api, *items)
    if recompute_first:
        g = goal(api, criteria=criteria, impact=impact)
    rows = achievements(api, g["id"], page_size=500)
    got = [(r["revenue"], r["revenue_missing"]) for r in rows]
    expected = [(v or "0.00", v is None) for _, v in VALUES]
    assert got == expected
    body = report(api, g["id"], start="2026-02-02", end="2026-02-02")
    # 12.5+12.5+7+1000+1000-5+5+0.5+3+0.1+0.2+0 = 2035.80, exactly.
    assert body["impact"] == {"amount": "2035.80", "currency": "EUR"}
    assert body["achievements"] == len(VALUES)
    assert body["revenue_missing_achievements"] == sum(v is None for _, v in VALUES)
    same_after_recompute(api, g["id"])


@pytest.mark.parametrize(
    ("currency", "values", "amounts", "total"),
    [
        ("JPY", [1200, "1200", "12.5"], ["1200", "1200", "12.5"], "2412.5"),
        ("KWD", ["1.005", 2, "0.0005"], ["1.005", "2.000", "0.0005"], "3.0055"),
        ("EUR", ["0.1234565", "0.0000005", "1"], ["0.123456", "0.000000", "1.00"], "1.123456"),
    ],
)
def test_event_key_amounts_keep_their_digits(
    api: APIClient,
    workspace: Workspace,
    currency: str,
    values: list[Any],
    amounts: list[str],
    total: str,
) -> None:
    """Amounts are shown with the currency's decimals, widened when one needs more (decisions)."""
    g = goal(
        api,
        criteria={"trigger": {"type": "event", "name": "buy"}},
        impact={"currency": currency, "event_key": "v"},
    )
    base = datetime(2026, 2, 2, 9, tzinfo=UTC)
    batch(
        api,
        *(
            {"type": "event", "person": "ada", "name": "buy", "data": {"v": v},
             "timestamp": (base + timedelta(minutes=n)).isoformat()}
            for n, v in enumerate(values)
        ),
    )  # fmt: skip
    got = [r["revenue"] for r in achievements(api, g["id"])]
    body = report(api, g["id"], start="2026-02-02", end="2026-02-02")
    print(currency, got, body["impact"])
    assert body["impact"] == {"amount": total, "currency": currency}
    same_after_recompute(api, g["id"])


@pytest.mark.parametrize("key", ["a.+1", "a. 1", "a.1 ", "a.-0", "a.01"])
def test_an_event_key_step_that_postgresql_reads_as_an_array_index(
    api: APIClient, workspace: Workspace, key: str
) -> None:
    """Dotted paths step into objects only (``conditions.get_path``); the SQL staging leaves
    keys with an all-digit step to Python for that reason (``#>`` indexes arrays). PostgreSQL
    also reads "+1", " 1" and "1 " as the array index 1, so the full recompute found 20 where
    the incremental update (and the achievement list before it) found a missing value."""
    g = goal(
        api,
        criteria={"trigger": {"type": "event", "name": "buy"}},
        impact={"currency": "EUR", "event_key": key},
    )
    batch(
        api,
        {"type": "event", "person": "ada", "name": "buy", "data": {"a": [10, 20]},
         "timestamp": "2026-02-02T09:00:00Z"},
    )  # fmt: skip
    [row] = achievements(api, g["id"])
    assert (row["revenue"], row["revenue_missing"]) == ("0.00", True)
    same_after_recompute(api, g["id"])
