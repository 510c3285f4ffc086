"""The attribution window of SPEC §4.5 end to end over HTTP, in zones the other
tests do not use: Asia/Kathmandu (UTC+05:45, no DST), Pacific/Chatham (UTC+13:45 in summer,
+12:45 in winter, changes at 02:45/03:45 local) and America/New_York, with W = 0, 1, 7 and 90,
DST changes inside the window and the tracking start clamping it.

Every expected instant is worked out by hand (and written in UTC):

* the window starts at local midnight W days before A's local date, on the calendar, never
  A's midnight less W * 24 hours (which is off by the DST shift when one lies between);
* a touch exactly at the start qualifies, one a second earlier does not; a touch exactly at
  A qualifies, one a second later does not.

Each case runs on three goals whose data is the same, so that every way the product has to
credit is used: the default settings (on PostgreSQL: the LATERAL walk of the touch index
and the SQL event staging), a non-default qualifying metric (the as-of join), and an event
condition (Python evaluation). Then a full recompute must give the same (§6).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from campaigns import services
from tests.goals.test_api_scenarios import (
    achievements,
    create,
    event,
    goal,
    metric,
    msg,
    ok,
    report,
    same_after_recompute,
)

pytestmark = pytest.mark.django_db(transaction=True)


#: (zone, W, the achievement as the client sends it, its local date, window start in UTC)
CASES = [
    # Kathmandu, W = 0: local 2026-02-10 00:10 is 2026-02-09T18:25Z; the window opens at local
    # midnight of 02-10, 2026-02-09T18:15Z (a UTC-day rule would open it at 02-09T00:00Z).
    ("Asia/Kathmandu", 0, "2026-02-10T00:10:00+05:45", "2026-02-10", "2026-02-09T18:15:00Z"),
    # Kathmandu, W = 1, A one second before local midnight: still 02-10; start 02-09 local.
    ("Asia/Kathmandu", 1, "2026-02-10T23:59:59+05:45", "2026-02-10", "2026-02-08T18:15:00Z"),
    # Chatham, W = 7 across the end of summer time (2026-04-05 03:45 CHADT -> 02:45 CHAST):
    # A 04-10 09:00 +12:45, start 04-03 00:00 +13:45 = 04-02T10:15Z (24-hour days: 11:15Z).
    ("Pacific/Chatham", 7, "2026-04-10T09:00:00+12:45", "2026-04-10", "2026-04-02T10:15:00Z"),
    # Chatham, W = 0 on the day summer time ends: 04-05 00:00 is still +13:45.
    ("Pacific/Chatham", 0, "2026-04-05T23:00:00+12:45", "2026-04-05", "2026-04-04T10:15:00Z"),
    # Chatham, W = 90 from 2026-01-20: local 2025-10-22 00:00 is before the tracking start,
    # which clamps the start to 2025-11-01T00:00Z (decisions: touches before it never count).
    ("Pacific/Chatham", 90, "2026-01-20T12:00:00+13:45", "2026-01-20", "2025-11-01T00:00:00Z"),
    # New York, W = 90 across the start of summer time (03-08): A 05-20 10:00 EDT, start
    # 02-19 00:00 EST = 02-19T05:00Z (24-hour days from A's midnight: 04:00Z).
    ("America/New_York", 90, "2026-05-20T10:00:00-04:00", "2026-05-20", "2026-02-19T05:00:00Z"),
    # New York, W = 0 on the day summer time ends (2025-11-02, 25 hours long): the day began
    # at 00:00 EDT = 04:00Z, not A's instant less the hours since a 24-hour midnight.
    ("America/New_York", 0, "2025-11-02T23:30:00-05:00", "2025-11-02", "2025-11-02T04:00:00Z"),
]

SETTINGS = {
    # The defaults: email qualifies on delivered.
    "default": ({}, "delivered", None),
    # Another touch column (opened): the as-of join on PostgreSQL.
    "opened": ({"metrics": {"email": "opened"}}, "opened", None),
    # An event condition: the trigger is evaluated in Python, not by the SQL staging.
    "condition": ({}, "delivered", [{"key": "ok", "op": "eq", "value": 1}]),
}


def shift(iso: str, seconds: int) -> str:
    """``iso`` moved by ``seconds``, written in UTC as the API answers (``...Z``)."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")) + timedelta(seconds=seconds)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def zoned(make_token_client: Callable[..., APIClient]) -> Callable[[str], APIClient]:
    def make(zone: str) -> APIClient:
        workspace = services.workspace_create(name=f"Audit {zone}", time_zone=zone)
        return make_token_client(workspace)

    return make


@pytest.mark.parametrize("how", list(SETTINGS))
@pytest.mark.parametrize(("zone", "window", "achieved", "local_day", "start"), CASES)
def test_window_edges_in_zones(
    zoned: Callable[[str], APIClient],
    zone: str,
    window: int,
    achieved: str,
    local_day: str,
    start: str,
    how: str,
) -> None:
    api = zoned(zone)
    attribution, step, conditions = SETTINGS[how]
    campaign = create(api, "/api/v1/campaigns", {"name": "C", "status": "running"})
    trigger: dict[str, Any] = {"type": "event", "name": "buy"}
    if conditions:
        trigger["conditions"] = conditions
    g = goal(
        api,
        criteria={"trigger": trigger},
        sources=[{"type": "campaign", "id": campaign["id"]}],
        attribution={"window_days": window, **attribution},
    )
    touches = {
        "at-start": start,
        "before-start": shift(start, -1),
        "at-a": achieved,
        "after-a": shift(achieved, 1),
    }
    for person, touch in touches.items():
        # Sent well before the window: the sent time plays no part here.
        msg(api, f"m-{person}", person, "email", "2025-11-01T00:00:00Z", campaign=campaign["id"])
        ok(metric(api, f"m-{person}", step, touch), 201)
        ok(event(api, person, "buy", achieved, data={"ok": 1}), 201)

    got = {a["person"]: (a["message"], a["touch_at"]) for a in achievements(api, g["id"])}
    assert got == {
        "at-start": ("m-at-start", shift(start, 0)),
        "before-start": (None, None),
        "at-a": ("m-at-a", shift(achieved, 0)),
        "after-a": (None, None),
    }
    # The achievement's local date is the workspace's (§2): all four on that day.
    body = report(api, g["id"], start=local_day, end=local_day)
    assert (body["total_people"], body["unattributed"]["people"]) == (4, 2)
    same_after_recompute(api, g["id"])


@pytest.mark.parametrize("conditions", [False, True], ids=["sql-staging", "python"])
@pytest.mark.parametrize(
    ("zone", "midnight", "day_before", "day"),
    [
        # Chatham, the day after summer time ended: 04-06 00:00 +12:45 = 04-05T11:15Z.
        ("Pacific/Chatham", "2026-04-05T11:15:00Z", "2026-04-05", "2026-04-06"),
        # Chatham in summer: 01-01 00:00 +13:45 = 2025-12-31T10:15Z.
        ("Pacific/Chatham", "2025-12-31T10:15:00Z", "2025-12-31", "2026-01-01"),
        # Kathmandu: 03-01 00:00 +05:45 = 02-28T18:15Z.
        ("Asia/Kathmandu", "2026-02-28T18:15:00Z", "2026-02-28", "2026-03-01"),
    ],
)
def test_local_days_at_midnight_in_zones(
    zoned: Callable[[str], APIClient],
    zone: str,
    midnight: str,
    day_before: str,
    day: str,
    conditions: bool,
) -> None:
    """An achievement's day is the workspace zone's calendar day (§2), on the incremental
    path, and after a recompute (on PostgreSQL the SQL staging finds days by their first
    instants, unless the goal has conditions)."""
    api = zoned(zone)
    trigger: dict[str, Any] = {"type": "event", "name": "buy"}
    if conditions:
        trigger["conditions"] = [{"key": "ok", "op": "exists"}]
    g = goal(api, criteria={"trigger": trigger}, impact={"currency": "EUR", "static": "1"})
    ok(event(api, "late", "buy", shift(midnight, -1), data={"ok": 1}), 201)
    ok(event(api, "first", "buy", midnight, data={"ok": 1}), 201)
    for _ in range(2):
        before = report(api, g["id"], start=day_before, end=day_before)
        after = report(api, g["id"], start=day, end=day)
        assert (before["total_people"], after["total_people"]) == (1, 1)
        assert [a["person"] for a in achievements(api, g["id"], date=day)] == ["first"]
        same_after_recompute(api, g["id"])


@pytest.mark.parametrize("how", ["default", "opened"])
def test_ties_between_non_ascii_delivery_ids(zoned: Callable[[str], APIClient], how: str) -> None:
    """Same touch and sent time: the higher delivery id wins, by length, then code point
    (decisions). The as-of join, the LATERAL walk and the incremental UPDATE must agree with
    Python on ids beyond ASCII: é (U+E9) > z; 😀 (U+1F600) > fullwidth z (U+FF5A);
    "aé" (two characters) > "😀" (one)."""
    api = zoned("Asia/Kathmandu")
    attribution, step, _ = SETTINGS[how]
    campaign = create(api, "/api/v1/campaigns", {"name": "C"})
    g = goal(
        api,
        criteria={"trigger": {"type": "event", "name": "buy"}},
        sources=[{"type": "campaign", "id": campaign["id"]}],
        attribution=attribution,
    )
    pairs = {"p1": ("é", "z"), "p2": ("😀", "\uff5a"), "p3": ("aé", "😀"), "p4": ("ß", "Z")}
    for person, ids in pairs.items():
        for client_id in reversed(ids):  # the winner arrives last
            msg(api, f"{person}{client_id}", person, "email", "2026-02-01T08:00:00Z",
                campaign=campaign["id"])  # fmt: skip
            ok(metric(api, f"{person}{client_id}", step, "2026-02-01T09:00:00Z"), 201)
        ok(event(api, person, "buy", "2026-02-01T10:00:00Z"), 201)
    expected = {person: f"{person}{ids[0]}" for person, ids in pairs.items()}
    # The ids carry the person's name as a prefix of the same length, so the rule reads the rest.
    assert {a["person"]: a["message"] for a in achievements(api, g["id"])} == expected
    same_after_recompute(api, g["id"])
