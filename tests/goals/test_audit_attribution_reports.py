"""Black-box audit of last-touch attribution (SPEC §4.5) and reports (§5, §7) through the REST
API only; every expected number is worked out by hand from the spec. The `workspace` fixture
is in Europe/Berlin (CET +1, CEST +2 from 2026-03-29 to 2026-10-25)."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from rest_framework.test import APIClient

from campaigns.models import Workspace
from tests.goals.test_api_scenarios import (
    achievements,
    campaign_goal,
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


def credited(api: APIClient, goal_id: int) -> dict[str, Any]:
    return {a["person"]: a["message"] for a in achievements(api, goal_id, page_size=500)}


def touches(api: APIClient, goal_id: int) -> dict[str, Any]:
    return {
        a["person"]: (a["message"], a["touch_at"])
        for a in achievements(api, goal_id, page_size=500)
    }


# --- windows -----------------------------------------------------------------------------------


def test_window_across_the_autumn_dst_change(api: APIClient, workspace: Workspace) -> None:
    """Berlin falls back on 2026-10-25 (03:00 CEST -> 02:00 CET). An achievement at
    2026-10-26 10:00 CET (09:00Z) with W = 1 opens its window at local midnight of 10-25,
    still summer time: 2026-10-24T22:00Z (not 23:00Z, which A's own offset would give)."""
    c = create(api, "/api/v1/campaigns", {"name": "Autumn"})
    g = campaign_goal(api, c, attribution={"window_days": 1})
    cases = {
        "in": "2026-10-24T22:00:00Z",
        "in-late": "2026-10-24T22:30:00Z",
        "out": "2026-10-24T21:59:59Z",
    }
    for person, touch in cases.items():
        msg(api, f"m-{person}", person, "email", "2026-10-24T20:00:00Z", campaign=c["id"])
        ok(metric(api, f"m-{person}", "delivered", touch), 201)
        ok(event(api, person, "buy", "2026-10-26T10:00:00+01:00"), 201)
    assert credited(api, g["id"]) == {"in": "m-in", "in-late": "m-in-late", "out": None}
    same_after_recompute(api, g["id"])


def test_window_w2_spanning_the_spring_change(api: APIClient, workspace: Workspace) -> None:
    """A at 2026-03-30 00:30 CEST (03-29T22:30Z), W = 2: window from 2026-03-28 00:00 CET
    = 2026-03-27T23:00Z."""
    c = create(api, "/api/v1/campaigns", {"name": "Spring"})
    g = campaign_goal(api, c, attribution={"window_days": 2})
    cases = {"in": "2026-03-27T23:00:00Z", "out": "2026-03-27T22:59:59Z"}
    for person, touch in cases.items():
        msg(api, f"m-{person}", person, "push", "2026-03-27T20:00:00Z", campaign=c["id"])
        ok(metric(api, f"m-{person}", "delivered", touch), 201)
        ok(event(api, person, "buy", "2026-03-29T22:30:00Z"), 201)
    assert credited(api, g["id"]) == {"in": "m-in", "out": None}
    # A's local date is 03-30.
    assert report(api, g["id"], start="2026-03-30", end="2026-03-30")["total_people"] == 2
    assert report(api, g["id"], start="2026-03-29", end="2026-03-29")["total_people"] == 0
    same_after_recompute(api, g["id"])


def test_window_w0_on_the_autumn_change_day(api: APIClient, workspace: Workspace) -> None:
    """A at 2026-10-25 12:00 CET (11:00Z), W = 0: from 10-25 00:00 CEST = 10-24T22:00Z."""
    c = create(api, "/api/v1/campaigns", {"name": "Same day"})
    g = campaign_goal(api, c, attribution={"window_days": 0})
    cases = {
        "in": "2026-10-24T22:00:00Z",
        "out": "2026-10-24T21:59:59Z",
        "at": "2026-10-25T11:00:00Z",
        "after": "2026-10-25T11:00:01Z",
    }
    for person, touch in cases.items():
        msg(api, f"m-{person}", person, "email", "2026-10-24T20:00:00Z", campaign=c["id"])
        ok(metric(api, f"m-{person}", "delivered", touch), 201)
        ok(event(api, person, "buy", "2026-10-25T11:00:00Z"), 201)
    assert credited(api, g["id"]) == {"in": "m-in", "out": None, "at": "m-at", "after": None}
    same_after_recompute(api, g["id"])


def test_window_90_days(api: APIClient, workspace: Workspace) -> None:
    """A at 2026-04-15 12:00 CEST (10:00Z), W = 90: 04-15 - 90 days = 2026-01-15, local
    midnight CET = 2026-01-14T23:00Z."""
    c = create(api, "/api/v1/campaigns", {"name": "Long"})
    g = campaign_goal(api, c, attribution={"window_days": 90})
    cases = {"in": "2026-01-14T23:00:00Z", "out": "2026-01-14T22:59:59Z"}
    for person, touch in cases.items():
        msg(api, f"m-{person}", person, "email", "2026-01-14T20:00:00Z", campaign=c["id"])
        ok(metric(api, f"m-{person}", "delivered", touch), 201)
        ok(event(api, person, "buy", "2026-04-15T10:00:00Z"), 201)
    assert credited(api, g["id"]) == {"in": "m-in", "out": None}
    r = ok(
        api.patch(f"/api/v1/goals/{g['id']}", {"attribution": {"window_days": 91}}, format="json"),
        400,
    )
    assert "attribution.window_days" in r["errors"]

    same_after_recompute(api, g["id"])


# --- qualifying metric and touch time -----------------------------------------------------------


def test_default_qualifying_metric_per_channel(api: APIClient, workspace: Workspace) -> None:
    """Defaults: delivered for email/push/whatsapp/sms; sent for in_app/webhook/slack."""
    c = create(api, "/api/v1/campaigns", {"name": "Channels"})
    g = campaign_goal(api, c)
    for channel in ("email", "push", "whatsapp", "sms", "in_app", "webhook", "slack"):
        # Only sent: qualifies only where the default is sent.
        msg(api, f"s-{channel}", f"p-{channel}", channel, "2026-02-01T08:00:00Z", campaign=c["id"])
        ok(metric(api, f"s-{channel}", "sent", "2026-02-01T08:00:00Z"), 201)
        ok(event(api, f"p-{channel}", "buy", "2026-02-01T10:00:00Z"), 201)
    got = touches(api, g["id"])
    assert got == {
        "p-email": (None, None),
        "p-push": (None, None),
        "p-whatsapp": (None, None),
        "p-sms": (None, None),
        "p-in_app": ("s-in_app", "2026-02-01T08:00:00Z"),
        "p-webhook": ("s-webhook", "2026-02-01T08:00:00Z"),
        "p-slack": ("s-slack", "2026-02-01T08:00:00Z"),
    }
    # An sms delivered qualifies.
    ok(metric(api, "s-sms", "delivered", "2026-02-01T09:00:00Z"), 201)
    assert touches(api, g["id"])["p-sms"] == ("s-sms", "2026-02-01T09:00:00Z")
    # A webhook with no metric at all has reached sent at its sent_at.
    msg(api, "wh2", "p-webhook", "webhook", "2026-02-01T09:30:00Z", campaign=c["id"])
    assert touches(api, g["id"])["p-webhook"] == ("wh2", "2026-02-01T09:30:00Z")
    same_after_recompute(api, g["id"])


def test_touch_time_is_first_reach_of_metric_or_later(api: APIClient, workspace: Workspace) -> None:
    c = create(api, "/api/v1/campaigns", {"name": "Chain"})
    g = campaign_goal(api, c)
    # A click with no delivered recorded: delivered at the click time.
    msg(api, "m1", "ada", "email", "2026-02-01T08:00:00Z", campaign=c["id"])
    ok(metric(api, "m1", "clicked", "2026-02-01T09:00:00Z"), 201)
    # A later delivered does not move it later.
    ok(metric(api, "m1", "delivered", "2026-02-01T09:30:00Z"), 201)
    ok(event(api, "ada", "buy", "2026-02-01T12:00:00Z"), 201)
    assert touches(api, g["id"]) == {"ada": ("m1", "2026-02-01T09:00:00Z")}
    # An opened earlier than the click moves it earlier.
    ok(metric(api, "m1", "opened", "2026-02-01T08:30:00Z"), 201)
    assert touches(api, g["id"]) == {"ada": ("m1", "2026-02-01T08:30:00Z")}
    same_after_recompute(api, g["id"])


def test_touch_after_achievement_via_late_delivered(api: APIClient, workspace: Workspace) -> None:
    """A delivered after A but a click before A: the click proves delivered before A."""
    c = create(api, "/api/v1/campaigns", {"name": "Chain"})
    g = campaign_goal(api, c)
    msg(api, "m1", "bob", "sms", "2026-02-01T08:00:00Z", campaign=c["id"])
    ok(metric(api, "m1", "delivered", "2026-02-01T13:00:00Z"), 201)
    ok(event(api, "bob", "buy", "2026-02-01T12:00:00Z"), 201)
    assert touches(api, g["id"]) == {"bob": (None, None)}
    ok(metric(api, "m1", "clicked", "2026-02-01T11:00:00Z"), 201)
    assert touches(api, g["id"]) == {"bob": ("m1", "2026-02-01T11:00:00Z")}
    same_after_recompute(api, g["id"])


def test_machine_metrics_with_count_machine_false(api: APIClient, workspace: Workspace) -> None:
    c = create(api, "/api/v1/campaigns", {"name": "Machine"})
    src = [{"type": "campaign", "id": c["id"]}]
    crit = {"trigger": {"type": "event", "name": "buy"}}
    on_click = goal(
        api,
        criteria=crit,
        sources=src,
        attribution={"metrics": {"email": "clicked"}, "count_machine": False},
    )
    on_open = goal(
        api,
        criteria=crit,
        sources=src,
        attribution={"metrics": {"email": "opened"}, "count_machine": False},
    )
    on_open_m = goal(api, criteria=crit, sources=src, attribution={"metrics": {"email": "opened"}})
    msg(api, "m1", "ada", "email", "2026-02-01T08:00:00Z", campaign=c["id"])
    ok(metric(api, "m1", "opened", "2026-02-01T08:10:00Z", machine=True), 201)
    ok(metric(api, "m1", "clicked", "2026-02-01T08:20:00Z", machine=True), 201)
    ok(event(api, "ada", "buy", "2026-02-01T12:00:00Z"), 201)
    assert touches(api, on_click["id"]) == {"ada": (None, None)}
    assert touches(api, on_open["id"]) == {"ada": (None, None)}
    assert touches(api, on_open_m["id"]) == {"ada": ("m1", "2026-02-01T08:10:00Z")}
    # A human click later: opened and clicked reached at 09:00.
    ok(metric(api, "m1", "clicked", "2026-02-01T09:00:00Z"), 201)
    assert touches(api, on_click["id"]) == {"ada": ("m1", "2026-02-01T09:00:00Z")}
    assert touches(api, on_open["id"]) == {"ada": ("m1", "2026-02-01T09:00:00Z")}
    assert touches(api, on_open_m["id"]) == {"ada": ("m1", "2026-02-01T08:10:00Z")}
    same_after_recompute(api, on_click["id"], on_open["id"], on_open_m["id"])


# --- ties and latest touch ----------------------------------------------------------------------


def test_latest_touch_wins_then_sent_time_then_id(api: APIClient, workspace: Workspace) -> None:
    c = create(api, "/api/v1/campaigns", {"name": "Ties"})
    g = campaign_goal(api, c)
    t = "2026-02-01T09:00:00Z"
    # Latest touch wins even though sent earlier.
    msg(api, "late-touch", "a", "email", "2026-02-01T07:00:00Z", campaign=c["id"])
    ok(metric(api, "late-touch", "delivered", "2026-02-01T09:30:00Z"), 201)
    msg(api, "early-touch", "a", "email", "2026-02-01T08:00:00Z", campaign=c["id"])
    ok(metric(api, "early-touch", "delivered", t), 201)
    # Same touch: later sent_at wins.
    msg(api, "later-sent", "b", "email", "2026-02-01T08:00:00Z", campaign=c["id"])
    msg(api, "earlier-sent", "b", "email", "2026-02-01T07:00:00Z", campaign=c["id"])
    # Same touch and sent: higher id wins (m10 above m9).
    msg(api, "m10", "c", "email", "2026-02-01T08:00:00Z", campaign=c["id"])
    msg(api, "m9", "c", "email", "2026-02-01T08:00:00Z", campaign=c["id"])
    for m in ("later-sent", "earlier-sent", "m10", "m9"):
        ok(metric(api, m, "delivered", t), 201)
    for p in "abc":
        ok(event(api, p, "buy", "2026-02-01T10:00:00Z"), 201)
    assert credited(api, g["id"]) == {"a": "late-touch", "b": "later-sent", "c": "m10"}

    same_after_recompute(api, g["id"])


# --- sources -------------------------------------------------------------------------------------


def broadcast(api: APIClient, name: str, kind: str, channel: str) -> dict[str, Any]:
    body = {"name": name, "kind": kind, "status": "sent", "channels": [channel]}
    return create(api, "/api/v1/broadcasts", body)


def refused_as_source(api: APIClient, broadcast_id: int) -> list[str]:
    """Create a goal with this broadcast as its source: refused; the fields its 400 names."""
    body = {
        "name": "x",
        "criteria": {"trigger": {"type": "event", "name": "buy"}},
        "sources": [{"type": "broadcast", "id": broadcast_id}],
    }
    bad = api.post("/api/v1/goals", body, format="json")
    assert bad.status_code == 400, bad.content
    return list(bad.json()["errors"])


def test_sources_kinds_and_deleted(api: APIClient, workspace: Workspace) -> None:
    draft = create(api, "/api/v1/campaigns", {"name": "Draft", "status": "draft"})
    other = create(api, "/api/v1/campaigns", {"name": "Not a source", "status": "running"})
    news = broadcast(api, "News", "newsletter", "email")
    apib = broadcast(api, "API", "api_triggered", "email")
    inapp = broadcast(api, "InApp", "in_app", "in_app")
    assert refused_as_source(api, apib["id"]) == ["sources.0.id"]
    g = goal(
        api,
        criteria={"trigger": {"type": "event", "name": "buy"}},
        sources=[{"type": "campaign", "id": draft["id"]}, {"type": "broadcast", "id": news["id"]}],
    )
    t = "2026-02-01T08:00:00Z"
    msg(api, "d1", "p1", "in_app", t, campaign=draft["id"])
    msg(api, "n1", "p2", "email", t, broadcast=news["id"])
    ok(metric(api, "n1", "delivered", t), 201)
    msg(api, "o1", "p3", "in_app", t, campaign=other["id"])
    msg(api, "t1", "p4", "in_app", t)  # transactional
    msg(api, "anon", None, "in_app", t, campaign=draft["id"], anonymous=True)
    msg(api, "ib", "p5", "in_app", t, broadcast=inapp["id"])
    for p in ("p1", "p2", "p3", "p4", "p5"):
        ok(event(api, p, "buy", "2026-02-01T10:00:00Z"), 201)
    assert credited(api, g["id"]) == {"p1": "d1", "p2": "n1", "p3": None, "p4": None, "p5": None}
    ok(api.delete(f"/api/v1/campaigns/{draft['id']}"), 204)
    # A message of the deleted source arriving now still credits it.
    msg(api, "d2", "p6", "in_app", t, campaign=draft["id"])
    ok(event(api, "p6", "buy", "2026-02-01T10:00:00Z"), 201)
    got = credited(api, g["id"])
    assert got["p1"] == "d1" and got["p6"] == "d2"
    rows = achievements(api, g["id"], page_size=500)
    src = {a["person"]: a["source"] for a in rows}
    assert src["p1"]["deleted"] is True and src["p1"]["id"] == draft["id"]
    body = report(api, g["id"], start="2026-02-01", end="2026-02-01")
    by = {(s["source"]["type"], s["source"]["id"]): s for s in body["by_source"]}
    assert by[("campaign", draft["id"])]["source"]["deleted"] is True
    assert by[("campaign", draft["id"])]["people"] == 2
    assert by[("broadcast", news["id"])]["people"] == 1
    assert by[("broadcast", news["id"])]["source"]["deleted"] is False
    assert body["unattributed"]["people"] == 3
    assert body["total_people"] == 6

    same_after_recompute(api, g["id"])


# --- reports ------------------------------------------------------------------------------------


def _csv(api: APIClient, goal_id: int, **params: Any) -> list[dict[str, str]]:
    r = api.get(f"/api/v1/goals/{goal_id}/report", params, HTTP_ACCEPT="text/csv")
    assert r.status_code == 200, r.content
    text = r.content.decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    r2 = api.get(f"/api/v1/goals/{goal_id}/report", {**params, "format": "csv"})
    assert r2.status_code == 200, r2.content
    assert r2.content.decode() == text
    return rows


def test_report_numbers_daily_weekly_and_csv(api: APIClient, workspace: Workspace) -> None:
    c = create(api, "/api/v1/campaigns", {"name": "Camp"})
    g = campaign_goal(
        api,
        c,
        criteria={"trigger": {"type": "event", "name": "buy"}},
        impact={"currency": "EUR", "event_key": "amount"},
        attribution={"window_days": 0},
    )
    # Messages: ada touched on 02-02 (Mon), bob never.
    msg(api, "m-ada", "ada", "webhook", "2026-02-02T07:00:00Z", campaign=c["id"])
    # ada: 02-02 10.50 (attributed), 02-03 "x" (window 0 -> unattributed, revenue 0)
    ok(event(api, "ada", "buy", "2026-02-02T09:00:00Z", data={"amount": "10.50"}), 201)
    ok(event(api, "ada", "buy", "2026-02-03T09:00:00Z", data={"amount": "x"}), 201)
    # bob: 02-01T23:30Z = 02-02 (Mon) 00:30 Berlin, amount 5; 02-09 (Mon) no amount; one on
    # 02-01 local (22:30Z), before the range.
    ok(event(api, "bob", "buy", "2026-02-01T22:30:00Z", data={"amount": 100}), 201)
    ok(event(api, "bob", "buy", "2026-02-01T23:30:00Z", data={"amount": 5}), 201)
    ok(event(api, "bob", "buy", "2026-02-09T09:00:00Z", data={}), 201)
    # carl: 02-08 (Sun) 23:30Z = 02-09 00:30 Berlin, amount 2.25
    ok(event(api, "carl", "buy", "2026-02-08T23:30:00Z", data={"amount": 2.25}), 201)

    body = report(api, g["id"], start="2026-02-02", end="2026-02-09")
    assert body["total_people"] == 3
    assert body["achievements"] == 5
    assert body["impact"] == {"amount": "17.75", "currency": "EUR"}
    prog = {p["period_start"]: p for p in body["progress"]}
    assert list(prog) == [f"2026-02-0{d}" for d in range(2, 10)]
    assert [
        (p["people"], p["cumulative_people"], p["achievements"], p["revenue"])
        for p in body["progress"]
    ] == [
        (2, 2, 2, "15.50"),  # 02-02: ada, bob (bob's 23:30Z on 02-01 is 02-02 local)
        (0, 2, 1, "0.00"),  # 02-03: ada again
        (0, 2, 0, "0.00"),
        (0, 2, 0, "0.00"),
        (0, 2, 0, "0.00"),
        (0, 2, 0, "0.00"),
        (0, 2, 0, "0.00"),
        (1, 3, 2, "2.25"),  # 02-09: bob again (0), carl 2.25
    ]
    [s] = body["by_source"]
    assert (s["people"], s["achievements"], s["revenue"]) == (1, 1, "10.50")
    assert s["source"] == {"type": "campaign", "id": c["id"], "name": "Camp", "deleted": False}
    assert next((p["period_start"], p["people"], p["revenue"]) for p in s["progress"]) == (
        "2026-02-02",
        1,
        "10.50",
    )
    un = body["unattributed"]
    assert (un["people"], un["achievements"], un["revenue"]) == (3, 4, "7.25")

    week = report(api, g["id"], start="2026-02-02", end="2026-02-09", period="week")
    assert [
        (p["period_start"], p["people"], p["cumulative_people"], p["achievements"], p["revenue"])
        for p in week["progress"]
    ] == [
        ("2026-02-02", 2, 2, 3, "15.50"),
        ("2026-02-09", 1, 3, 2, "2.25"),
    ]
    assert week["total_people"] == 3
    wun = week["unattributed"]["progress"]
    assert [(p["period_start"], p["people"], p["revenue"]) for p in wun] == [
        ("2026-02-02", 2, "5.00"),
        ("2026-02-09", 2, "2.25"),
    ]
    # A range starting mid-week: the week is labelled by its Monday.
    mid = report(api, g["id"], start="2026-02-03", end="2026-02-09", period="week")
    assert [(p["period_start"], p["people"], p["achievements"]) for p in mid["progress"]] == [
        ("2026-02-02", 1, 1),
        ("2026-02-09", 2, 2),
    ]
    assert mid["total_people"] == 3  # ada (02-03), bob and carl (02-09)

    inner = report(api, g["id"], start="2026-02-03", end="2026-02-05", period="week")
    assert [
        (p["period_start"], p["people"], p["cumulative_people"], p["achievements"], p["revenue"])
        for p in inner["progress"]
    ] == [("2026-02-02", 1, 1, 1, "0.00")]
    assert inner["impact"] == {"amount": "0.00", "currency": "EUR"}
    rows = _csv(api, g["id"], start="2026-02-02", end="2026-02-09", period="week")
    total = [r for r in rows if r["series"] == "total"]
    assert [
        (r["period_start"], r["people"], r["cumulative_people"], r["achievements"], r["revenue"])
        for r in total
    ] == [
        ("2026-02-02", "2", "2", "3", "15.50"),
        ("2026-02-09", "1", "3", "2", "2.25"),
        ("", "3", "3", "5", "17.75"),
    ]
    assert total[-1]["revenue_missing_achievements"] == "2"
    un_rows = [r for r in rows if r["series"] == "unattributed"]
    assert [(r["period_start"], r["people"], r["revenue"]) for r in un_rows] == [
        ("2026-02-02", "2", "5.00"),
        ("2026-02-09", "2", "2.25"),
        ("", "3", "7.25"),
    ]
    same_after_recompute(api, g["id"])


def test_report_without_impact(api: APIClient, workspace: Workspace) -> None:
    c = create(api, "/api/v1/campaigns", {"name": "Camp"})
    g = campaign_goal(api, c)
    ok(event(api, "ada", "buy", "2026-02-02T09:00:00Z"), 201)
    body = report(api, g["id"], start="2026-02-02", end="2026-02-02")
    assert body["impact"] is None
    assert body["total_people"] == 1
    assert body["progress"][0]["revenue"] == "0.00"


def test_report_static_impact(api: APIClient, workspace: Workspace) -> None:
    c = create(api, "/api/v1/campaigns", {"name": "Camp"})
    g = campaign_goal(api, c, impact={"currency": "JPY", "static": "100"})
    ok(event(api, "ada", "buy", "2026-02-02T09:00:00Z"), 201)
    ok(event(api, "ada", "buy", "2026-02-03T09:00:00Z"), 201)
    body = report(api, g["id"], start="2026-02-02", end="2026-02-03")
    assert body["impact"] == {"amount": "200", "currency": "JPY"}
    assert body["total_people"] == 1


# --- achievements list filters -----------------------------------------------------------------


def test_achievement_filters(api: APIClient, workspace: Workspace) -> None:
    c1 = create(api, "/api/v1/campaigns", {"name": "One"})
    c2 = create(api, "/api/v1/campaigns", {"name": "Two"})
    g = goal(
        api,
        criteria={"trigger": {"type": "event", "name": "buy"}},
        sources=[{"type": "campaign", "id": c1["id"]}, {"type": "campaign", "id": c2["id"]}],
    )
    msg(api, "a1", "a", "slack", "2026-02-01T08:00:00Z", campaign=c1["id"])
    msg(api, "b1", "b", "slack", "2026-02-01T08:00:00Z", campaign=c2["id"])
    ok(event(api, "a", "buy", "2026-02-01T22:30:00Z"), 201)  # local 02-01 23:30
    ok(event(api, "b", "buy", "2026-02-01T23:30:00Z"), 201)  # local 02-02 00:30
    ok(event(api, "c", "buy", "2026-02-02T10:00:00Z"), 201)

    def people(**params: Any) -> list[str]:
        return sorted(a["person"] for a in achievements(api, g["id"], **params))

    assert people(date="2026-02-01") == ["a"]
    assert people(date="2026-02-02") == ["b", "c"]
    assert people(start="2026-02-01", end="2026-02-01") == ["a"]
    assert people(source=f"campaign:{c1['id']}") == ["a"]
    assert people(campaign=c2["id"]) == ["b"]
    assert people(attributed="false") == ["c"]
    assert people(attributed="true") == ["a", "b"]


# --- arrival order ------------------------------------------------------------------------------


def _scenario(api: APIClient, order: str) -> Any:
    c = create(api, "/api/v1/campaigns", {"name": f"C-{order}"})
    g = campaign_goal(api, c, attribution={"window_days": 1})

    def messages() -> None:
        msg(api, f"{order}-1", f"{order}-p", "email", "2026-02-01T08:00:00Z", campaign=c["id"])
        msg(api, f"{order}-2", f"{order}-p", "email", "2026-02-01T08:30:00Z", campaign=c["id"])

    def metrics() -> None:
        ok(metric(api, f"{order}-1", "clicked", "2026-02-01T09:00:00Z"), 201)
        ok(metric(api, f"{order}-2", "delivered", "2026-02-01T11:30:00Z"), 201)
        ok(metric(api, f"{order}-2", "opened", "2026-02-01T11:00:00Z"), 201)

    def events() -> None:
        ok(event(api, f"{order}-p", "buy", "2026-02-01T10:00:00Z"), 201)
        ok(event(api, f"{order}-p", "buy", "2026-02-01T12:00:00Z"), 201)

    if order == "a":
        events()
        messages()
        metrics()
    else:
        messages()
        metrics()
        events()
    rows = achievements(api, g["id"], page_size=500)
    return sorted(
        (r["achieved_at"], str(r["message"]), str(r["touch_at"]))
        for r in rows
        if r["person"] == f"{order}-p"
    )


def test_arrival_order_does_not_matter(api: APIClient, workspace: Workspace) -> None:
    expected = [
        ("2026-02-01T10:00:00Z", "X-1", "2026-02-01T09:00:00Z"),
        ("2026-02-01T12:00:00Z", "X-2", "2026-02-01T11:00:00Z"),
    ]
    for order in ("a", "b"):
        got = _scenario(api, order)
        assert got == [(t, m.replace("X", order), tt) for t, m, tt in expected]


# --- re-attribution -----------------------------------------------------------------------------


def test_late_data_moves_credit_and_report_follows(api: APIClient, workspace: Workspace) -> None:
    c1 = create(api, "/api/v1/campaigns", {"name": "Alpha"})
    c2 = create(api, "/api/v1/campaigns", {"name": "Beta"})
    g = goal(
        api,
        criteria={"trigger": {"type": "event", "name": "buy"}},
        impact={"currency": "EUR", "static": "3"},
        attribution={"window_days": 0},
        sources=[{"type": "campaign", "id": c1["id"]}, {"type": "campaign", "id": c2["id"]}],
    )
    # A at 2026-02-05 12:00 Berlin (11:00Z); window from 2026-02-04T23:00Z.
    ok(event(api, "ada", "buy", "2026-02-05T11:00:00Z"), 201)

    def summary() -> tuple[Any, ...]:
        body = report(api, g["id"], start="2026-02-05", end="2026-02-05")
        by = {
            s["source"]["name"]: (s["people"], s["achievements"], s["revenue"])
            for s in body["by_source"]
        }
        un = body["unattributed"]
        return by, (un["people"], un["achievements"], un["revenue"]), body["total_people"]

    assert summary() == ({"Alpha": (0, 0, "0.00"), "Beta": (0, 0, "0.00")}, (1, 1, "3.00"), 1)
    # Alpha's delivered email at 08:00Z arrives after the purchase.
    msg(api, "a", "ada", "email", "2026-02-05T07:00:00Z", campaign=c1["id"])
    ok(metric(api, "a", "delivered", "2026-02-05T08:00:00Z"), 201)
    assert credited(api, g["id"]) == {"ada": "a"}
    assert summary() == ({"Alpha": (1, 1, "3.00"), "Beta": (0, 0, "0.00")}, (0, 0, "0.00"), 1)
    # Beta's later touch (09:00Z) takes the credit.
    msg(api, "b", "ada", "push", "2026-02-05T06:00:00Z", campaign=c2["id"])
    ok(metric(api, "b", "clicked", "2026-02-05T09:00:00Z"), 201)
    assert credited(api, g["id"]) == {"ada": "b"}
    assert summary() == ({"Beta": (1, 1, "3.00"), "Alpha": (0, 0, "0.00")}, (0, 0, "0.00"), 1)
    # An earlier open of Beta's push (the day before, local) moves its touch out of the
    # W = 0 window: the credit goes back to Alpha.
    ok(metric(api, "b", "opened", "2026-02-04T22:00:00Z"), 201)
    assert touches(api, g["id"]) == {"ada": ("a", "2026-02-05T08:00:00Z")}
    assert summary() == ({"Alpha": (1, 1, "3.00"), "Beta": (0, 0, "0.00")}, (0, 0, "0.00"), 1)
    # Widening the window (a recompute) gives Beta the credit at its 22:00Z touch? No: the
    # latest touch wins, Alpha's 08:00Z is later than Beta's 22:00Z the day before.
    ok(api.patch(f"/api/v1/goals/{g['id']}", {"attribution": {"window_days": 1}}, format="json"))
    assert touches(api, g["id"]) == {"ada": ("a", "2026-02-05T08:00:00Z")}
    same_after_recompute(api, g["id"])


def test_sent_qualifying_metric_uses_earliest_sent(api: APIClient, workspace: Workspace) -> None:
    c = create(api, "/api/v1/campaigns", {"name": "C"})
    g = campaign_goal(api, c, attribution={"metrics": {"email": "sent"}, "window_days": 0})
    # sent_at 2026-02-05T08:00Z, A at 10:00Z: qualifies at sent_at.
    msg(api, "m", "ada", "email", "2026-02-05T08:00:00Z", campaign=c["id"])
    ok(event(api, "ada", "buy", "2026-02-05T10:00:00Z"), 201)
    assert touches(api, g["id"]) == {"ada": ("m", "2026-02-05T08:00:00Z")}
    # Unix seconds for a metric: 1770278400 = 2026-02-05T08:00:00Z; a delivered at 07:30Z.
    ok(metric(api, "m", "delivered", 1770276600), 201)
    assert touches(api, g["id"]) == {"ada": ("m", "2026-02-05T07:30:00Z")}
    same_after_recompute(api, g["id"])


def test_report_validation_and_money(api: APIClient, workspace: Workspace) -> None:
    c = create(api, "/api/v1/campaigns", {"name": "C"})
    g = campaign_goal(api, c, impact={"currency": "EUR", "event_key": "order.total"})
    ok(event(api, "a", "buy", "2026-02-05T10:00:00Z", data={"order": {"total": "10.5"}}), 201)
    ok(event(api, "b", "buy", "2026-02-05T10:00:00Z", data={"order": {"total": -2}}), 201)
    ok(event(api, "c", "buy", "2026-02-05T10:00:00Z", data={"order": {"total": None}}), 201)
    ok(event(api, "d", "buy", "2026-02-05T10:00:00Z", data={"order": "x"}), 201)
    ok(event(api, "e", "buy", "2026-02-05T10:00:00Z", data={"order": {"total": True}}), 201)
    body = report(api, g["id"], start="2026-02-05", end="2026-02-05")
    assert body["total_people"] == 5
    assert body["impact"] == {"amount": "8.50", "currency": "EUR"}
    rev = {a["person"]: (a["revenue"], a["revenue_missing"]) for a in achievements(api, g["id"])}
    assert rev == {
        "a": ("10.50", False),
        "b": ("-2.00", False),
        "c": ("0.00", True),
        "d": ("0.00", True),
        "e": ("0.00", True),
    }
    for params in (
        {"start": "2026-02-06", "end": "2026-02-05"},
        {"period": "month"},
        {"start": "2026-02-31"},
    ):
        r = api.get(f"/api/v1/goals/{g['id']}/report", params)
        assert r.status_code == 400, (params, r.content)
        assert "errors" in r.json()
    same_after_recompute(api, g["id"])


def test_report_default_range_is_last_30_local_days(api: APIClient, workspace: Workspace) -> None:
    import datetime as dt
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Europe/Berlin")
    today = dt.datetime.now(zone).date()
    first = today - dt.timedelta(days=29)
    c = create(api, "/api/v1/campaigns", {"name": "C"})
    g = campaign_goal(api, c)
    midnight = dt.datetime.combine(first, dt.time(), zone)
    ok(event(api, "in", "buy", midnight.isoformat()), 201)
    ok(event(api, "out", "buy", (midnight - dt.timedelta(seconds=1)).isoformat()), 201)
    body = report(api, g["id"])
    assert body["total_people"] == 1
    assert body["progress"][0]["period_start"] == first.isoformat()
    assert body["progress"][-1]["period_start"] == today.isoformat()
    assert len(body["progress"]) == 30


def test_by_source_weekly_people_distinct_per_period_and_csv_sources(
    api: APIClient, workspace: Workspace
) -> None:
    c = create(api, "/api/v1/campaigns", {"name": "C"})
    b = create(
        api,
        "/api/v1/broadcasts",
        {"name": "N", "kind": "newsletter", "status": "sent", "channels": ["email"]},
    )
    g = goal(
        api,
        criteria={"trigger": {"type": "event", "name": "buy"}},
        impact={"currency": "USD", "static": "1.5"},
        sources=[{"type": "campaign", "id": c["id"]}, {"type": "broadcast", "id": b["id"]}],
    )
    msg(api, "c1", "ada", "slack", "2026-02-02T08:00:00Z", campaign=c["id"])
    for ts in ("2026-02-02T10:00:00Z", "2026-02-03T10:00:00Z", "2026-02-09T10:00:00Z"):
        ok(event(api, "ada", "buy", ts), 201)
    msg(api, "n1", "bob", "email", "2026-02-09T08:00:00Z", broadcast=b["id"])
    ok(metric(api, "n1", "delivered", "2026-02-09T08:01:00Z"), 201)
    ok(event(api, "bob", "buy", "2026-02-09T10:00:00Z"), 201)
    body = report(api, g["id"], start="2026-02-02", end="2026-02-15", period="week")
    assert body["total_people"] == 2
    assert body["impact"] == {"amount": "6.00", "currency": "USD"}
    by = {s["source"]["type"]: s for s in body["by_source"]}
    assert (
        by["campaign"]["people"],
        by["campaign"]["achievements"],
        by["campaign"]["revenue"],
    ) == (1, 3, "4.50")
    # ada's 02-09 purchase: window 7 days from 02-02 00:00 local, touch 02-02 08:00Z: in.
    assert [(p["period_start"], p["people"], p["revenue"]) for p in by["campaign"]["progress"]] == [
        ("2026-02-02", 1, "3.00"),
        ("2026-02-09", 1, "1.50"),
    ]
    assert [
        (p["period_start"], p["people"], p["revenue"]) for p in by["broadcast"]["progress"]
    ] == [("2026-02-02", 0, "0.00"), ("2026-02-09", 1, "1.50")]
    assert [(p["people"], p["cumulative_people"]) for p in body["progress"]] == [(1, 1), (1, 2)]
    rows = _csv(api, g["id"], start="2026-02-02", end="2026-02-15", period="week")
    src = [
        (r["source_type"], r["period_start"], r["people"], r["achievements"], r["revenue"])
        for r in rows
        if r["series"] == "source"
    ]
    assert sorted(src) == sorted(
        [
            ("campaign", "2026-02-02", "1", "2", "3.00"),
            ("campaign", "2026-02-09", "1", "1", "1.50"),
            ("campaign", "", "1", "3", "4.50"),
            ("broadcast", "2026-02-02", "0", "0", "0.00"),
            ("broadcast", "2026-02-09", "1", "1", "1.50"),
            ("broadcast", "", "1", "1", "1.50"),
        ]
    )
    assert all(r["currency"] == "USD" for r in rows)
    same_after_recompute(api, g["id"])


def test_achievement_filters_more(api: APIClient, workspace: Workspace) -> None:
    c = create(api, "/api/v1/campaigns", {"name": "C"})
    b = create(
        api,
        "/api/v1/broadcasts",
        {"name": "N", "kind": "newsletter", "status": "sent", "channels": ["email"]},
    )
    g = goal(
        api,
        criteria={"trigger": {"type": "event", "name": "buy"}},
        sources=[{"type": "campaign", "id": c["id"]}, {"type": "broadcast", "id": b["id"]}],
    )
    msg(api, "n1", "bob", "email", "2026-02-09T08:00:00Z", broadcast=b["id"])
    ok(metric(api, "n1", "delivered", "2026-02-09T08:01:00Z"), 201)
    ok(event(api, "bob", "buy", "2026-02-09T10:00:00Z"), 201)
    ok(event(api, "ann", "buy", "2026-02-09T10:00:00Z"), 201)

    def people(**params: Any) -> list[str]:
        return sorted(a["person"] for a in achievements(api, g["id"], **params))

    assert people(broadcast=b["id"]) == ["bob"]
    assert people(source=f"broadcast:{b['id']}") == ["bob"]
    assert people(source_type="broadcast", source_id=b["id"]) == ["bob"]
    assert people(source=f"campaign:{c['id']}") == []
    assert people(attributed="0") == ["ann"]
    assert people(attributed="True") == ["bob"]
    assert (
        api.get(f"/api/v1/goals/{g['id']}/achievements", {"attributed": "maybe"}).status_code == 400
    )
    [row] = achievements(api, g["id"], broadcast=b["id"])
    assert row["source"] == {"type": "broadcast", "id": b["id"], "name": "N", "deleted": False}
    assert row["attributed"] is True and row["touch_at"] == "2026-02-09T08:01:00Z"


# --- zones in reports ---------------------------------------------------------------------------


def test_daily_buckets_across_autumn_change(api: APIClient, workspace: Workspace) -> None:
    c = create(api, "/api/v1/campaigns", {"name": "C"})
    g = campaign_goal(api, c)
    ok(event(api, "a", "buy", "2026-10-24T21:30:00Z"), 201)  # 10-24 23:30 CEST
    ok(event(api, "b", "buy", "2026-10-24T22:30:00Z"), 201)  # 10-25 00:30 CEST
    ok(event(api, "c", "buy", "2026-10-25T22:30:00Z"), 201)  # 10-25 23:30 CET
    ok(event(api, "d", "buy", "2026-10-25T23:00:00Z"), 201)  # 10-26 00:00 CET
    body = report(api, g["id"], start="2026-10-24", end="2026-10-26")
    assert [(p["period_start"], p["people"], p["cumulative_people"]) for p in body["progress"]] == [
        ("2026-10-24", 1, 1),
        ("2026-10-25", 2, 3),
        ("2026-10-26", 1, 4),
    ]
    dates = {a["person"] for a in achievements(api, g["id"], date="2026-10-25")}
    assert dates == {"b", "c"}
    same_after_recompute(api, g["id"])


def test_weekly_buckets_in_new_york(make_token_client: Any, workspace: Workspace) -> None:
    from campaigns import services

    ny = services.workspace_create(name="NY", time_zone="America/New_York")
    api = make_token_client(ny)
    c = create(api, "/api/v1/campaigns", {"name": "C"})
    g = campaign_goal(api, c, attribution={"window_days": 0})
    ok(event(api, "a", "buy", "2026-02-08T03:00:00Z"), 201)  # Sat 02-07 22:00 EST
    ok(event(api, "b", "buy", "2026-02-09T04:30:00Z"), 201)  # Sun 02-08 23:30 EST
    ok(event(api, "c", "buy", "2026-02-09T05:00:00Z"), 201)  # Mon 02-09 00:00 EST
    body = report(api, g["id"], start="2026-02-01", end="2026-02-15", period="week")
    assert [(p["period_start"], p["people"], p["cumulative_people"]) for p in body["progress"]] == [
        ("2026-01-26", 0, 0),
        ("2026-02-02", 2, 2),
        ("2026-02-09", 1, 3),
    ]
    # W = 0 in New York: touch at Mon 00:00 EST (05:00Z) for an achievement that day.
    msg(api, "m-in", "d", "webhook", "2026-02-09T05:00:00Z", campaign=c["id"])
    msg(api, "m-out", "e", "webhook", "2026-02-09T04:59:59Z", campaign=c["id"])
    ok(event(api, "d", "buy", "2026-02-09T20:00:00Z"), 201)
    ok(event(api, "e", "buy", "2026-02-09T20:00:00Z"), 201)
    got = credited(api, g["id"])
    assert (got["d"], got["e"]) == ("m-in", None)


def test_metric_before_its_message(api: APIClient, workspace: Workspace) -> None:
    c = create(api, "/api/v1/campaigns", {"name": "C"})
    g = campaign_goal(api, c)
    ok(event(api, "ada", "buy", "2026-02-05T10:00:00Z"), 201)
    r = metric(api, "early", "delivered", "2026-02-05T09:00:00Z")
    assert r.status_code in (201, 202), r.content
    assert credited(api, g["id"]) == {"ada": None}
    msg(api, "early", "ada", "email", "2026-02-05T08:00:00Z", campaign=c["id"])
    assert touches(api, g["id"]) == {"ada": ("early", "2026-02-05T09:00:00Z")}
    body = report(api, g["id"], start="2026-02-05", end="2026-02-05")
    assert body["by_source"][0]["people"] == 1 and body["unattributed"]["people"] == 0
    same_after_recompute(api, g["id"])


# --- more sources and people -------------------------------------------------------------------


def test_in_app_broadcast_is_no_source_and_anonymous_with_person(
    api: APIClient, workspace: Workspace
) -> None:
    inapp = broadcast(api, "InApp", "in_app", "in_app")
    refused_as_source(api, inapp["id"])
    c = create(api, "/api/v1/campaigns", {"name": "C"})
    g = campaign_goal(api, c)
    r = api.post(
        "/api/v1/messages",
        {
            "id": "anon-p",
            "person": "ada",
            "channel": "in_app",
            "sent_at": "2026-02-05T08:00:00Z",
            "campaign": c["id"],
            "anonymous": True,
        },
        format="json",
    )
    ok(event(api, "ada", "buy", "2026-02-05T10:00:00Z"), 201)
    if r.status_code == 201:
        assert credited(api, g["id"]) == {"ada": None}
    else:
        assert r.status_code == 400, r.content


def test_deleted_person_keeps_counting_in_reports(api: APIClient, workspace: Workspace) -> None:
    c = create(api, "/api/v1/campaigns", {"name": "C"})
    g = campaign_goal(api, c, impact={"currency": "EUR", "static": "2"})
    msg(api, "m", "ada", "slack", "2026-02-05T08:00:00Z", campaign=c["id"])
    ok(event(api, "ada", "buy", "2026-02-05T10:00:00Z"), 201)
    ok(api.delete("/api/v1/people/ada"), 204)
    ok(event(api, "ada", "buy", "2026-02-06T10:00:00Z"), 201)  # a new person "ada"
    body = report(api, g["id"], start="2026-02-05", end="2026-02-06")
    assert body["total_people"] == 2
    assert body["impact"]["amount"] == "4.00"
    assert body["by_source"][0]["people"] == 1
    assert body["unattributed"]["people"] == 1
    rows = achievements(api, g["id"])
    assert sorted((r["person"] or "-", r["message"] or "-") for r in rows) == [
        ("-", "m"),
        ("ada", "-"),
    ]
    same_after_recompute(api, g["id"])


def test_message_trigger_credits_itself(api: APIClient, workspace: Workspace) -> None:
    c = create(api, "/api/v1/campaigns", {"name": "C"})
    g = campaign_goal(
        api, c, criteria={"trigger": {"type": "message", "metric": "clicked", "campaign": c["id"]}}
    )
    msg(api, "m", "ada", "email", "2026-02-05T08:00:00Z", campaign=c["id"])
    ok(metric(api, "m", "clicked", "2026-02-05T09:00:00Z"), 201)
    assert touches(api, g["id"]) == {"ada": ("m", "2026-02-05T09:00:00Z")}
    same_after_recompute(api, g["id"])


def test_source_removed_and_added_recomputes(api: APIClient, workspace: Workspace) -> None:
    c1 = create(api, "/api/v1/campaigns", {"name": "C1"})
    c2 = create(api, "/api/v1/campaigns", {"name": "C2"})
    g = campaign_goal(api, c1)
    msg(api, "m1", "ada", "slack", "2026-02-05T08:00:00Z", campaign=c1["id"])
    msg(api, "m2", "ada", "slack", "2026-02-05T09:00:00Z", campaign=c2["id"])
    ok(event(api, "ada", "buy", "2026-02-05T10:00:00Z"), 201)
    assert credited(api, g["id"]) == {"ada": "m1"}
    ok(
        api.patch(
            f"/api/v1/goals/{g['id']}",
            {
                "sources": [
                    {"type": "campaign", "id": c1["id"]},
                    {"type": "campaign", "id": c2["id"]},
                ]
            },
            format="json",
        )
    )
    assert credited(api, g["id"]) == {"ada": "m2"}
    body = report(api, g["id"], start="2026-02-05", end="2026-02-05")
    assert [(s["source"]["name"], s["people"]) for s in body["by_source"]] == [
        ("C2", 1),
        ("C1", 0),
    ]
    ok(
        api.patch(
            f"/api/v1/goals/{g['id']}",
            {"sources": [{"type": "campaign", "id": c1["id"]}]},
            format="json",
        )
    )
    assert credited(api, g["id"]) == {"ada": "m1"}
    body = report(api, g["id"], start="2026-02-05", end="2026-02-05")
    assert [(s["source"]["name"], s["people"]) for s in body["by_source"]] == [("C1", 1)]


def test_zone_whose_clocks_change_at_midnight(make_token_client: Any, workspace: Workspace) -> None:
    """America/Santiago springs forward at 2026-09-06 00:00 (-04 -> -03: the day starts at
    01:00, 04:00Z) and falls back at 2026-04-05 00:00 (-03 -> -04: 23:00-24:00 of 04-04
    twice, 04-05 starts at 04:00Z)."""
    from campaigns import services

    ws = services.workspace_create(name="Santiago", time_zone="America/Santiago")
    api = make_token_client(ws)
    c = create(api, "/api/v1/campaigns", {"name": "C"})
    g = campaign_goal(api, c, attribution={"window_days": 0})
    for person, touch, a in (
        ("sep-in", "2026-09-06T04:00:00Z", "2026-09-06T15:00:00Z"),
        ("sep-out", "2026-09-06T03:59:59Z", "2026-09-06T15:00:00Z"),
        ("apr-in", "2026-04-05T04:00:00Z", "2026-04-05T15:00:00Z"),
        ("apr-out", "2026-04-05T03:59:59Z", "2026-04-05T15:00:00Z"),
    ):
        msg(api, f"m-{person}", person, "webhook", touch, campaign=c["id"])
        ok(event(api, person, "buy", a), 201)
    assert credited(api, g["id"]) == {
        "sep-in": "m-sep-in",
        "sep-out": None,
        "apr-in": "m-apr-in",
        "apr-out": None,
    }
    ok(event(api, "x", "buy", "2026-09-06T03:59:59Z"), 201)  # 09-05 23:59:59 -04
    ok(event(api, "y", "buy", "2026-04-05T03:30:00Z"), 201)  # 04-04 23:30 -04 (2nd time)
    ok(event(api, "z", "buy", "2026-04-05T02:30:00Z"), 201)  # 04-04 23:30 -03 (1st time)
    body = report(api, g["id"], start="2026-09-05", end="2026-09-06")
    assert [(p["period_start"], p["people"]) for p in body["progress"]] == [
        ("2026-09-05", 1),
        ("2026-09-06", 2),
    ]
    body = report(api, g["id"], start="2026-04-04", end="2026-04-05")
    assert [(p["period_start"], p["people"]) for p in body["progress"]] == [
        ("2026-04-04", 2),
        ("2026-04-05", 2),
    ]
    same_after_recompute(api, g["id"])


def test_tracking_start_bounds_touches(api: APIClient, workspace: Workspace) -> None:
    """Tracking starts 2025-11-01T00:00Z (01:00 Berlin). A on 2025-11-03 with W = 7."""
    c = create(api, "/api/v1/campaigns", {"name": "C"})
    g = campaign_goal(api, c)
    for person, touch in (("in", "2025-11-01T00:00:00Z"), ("out", "2025-10-31T23:59:59Z")):
        r = api.post(
            "/api/v1/messages",
            {
                "id": f"m-{person}",
                "person": person,
                "channel": "slack",
                "sent_at": touch,
                "campaign": c["id"],
            },
            format="json",
        )
        assert r.status_code == 201, r.content
        ok(event(api, person, "buy", "2025-11-03T10:00:00Z"), 201)
    ok(event(api, "early", "buy", "2025-10-31T23:59:59Z"), 201)
    assert credited(api, g["id"]) == {"in": "m-in", "out": None}
    body = report(api, g["id"], start="2025-10-31", end="2025-11-03")
    assert body["total_people"] == 2


def test_reattribution_moves_people_between_series(api: APIClient, workspace: Workspace) -> None:
    ca = create(api, "/api/v1/campaigns", {"name": "A"})
    cb = create(api, "/api/v1/campaigns", {"name": "B"})
    g = goal(
        api,
        criteria={"trigger": {"type": "event", "name": "buy"}},
        impact={"currency": "EUR", "static": "1"},
        attribution={"window_days": 1},
        sources=[{"type": "campaign", "id": ca["id"]}, {"type": "campaign", "id": cb["id"]}],
    )
    for ts in ("2026-02-02T10:00:00Z", "2026-02-03T10:00:00Z", "2026-02-05T10:00:00Z"):
        ok(event(api, "ada", "buy", ts), 201)
    ok(event(api, "bob", "buy", "2026-02-03T10:00:00Z"), 201)
    msg(api, "a1", "ada", "email", "2026-02-02T08:00:00Z", campaign=ca["id"])
    ok(metric(api, "a1", "delivered", "2026-02-02T09:00:00Z"), 201)

    def state(start: str, end: str, period: str = "day") -> Any:
        body = report(api, g["id"], start=start, end=end, period=period)
        series = {s["source"]["name"]: s for s in body["by_source"]}
        series["-"] = body["unattributed"]
        return body["total_people"], {
            name: (
                s["people"],
                s["achievements"],
                s["revenue"],
                [p["people"] for p in s["progress"]],
            )
            for name, s in series.items()
        }

    assert state("2026-02-02", "2026-02-05") == (
        2,
        {
            "A": (1, 2, "2.00", [1, 1, 0, 0]),
            "B": (0, 0, "0.00", [0, 0, 0, 0]),
            "-": (2, 2, "2.00", [0, 1, 0, 1]),
        },
    )
    msg(api, "b1", "ada", "push", "2026-02-03T08:00:00Z", campaign=cb["id"])
    ok(metric(api, "b1", "delivered", "2026-02-03T09:00:00Z"), 201)
    assert state("2026-02-02", "2026-02-05") == (
        2,
        {
            "A": (1, 1, "1.00", [1, 0, 0, 0]),
            "B": (1, 1, "1.00", [0, 1, 0, 0]),
            "-": (2, 2, "2.00", [0, 1, 0, 1]),
        },
    )
    assert state("2026-02-03", "2026-02-05") == (
        2,
        {
            "A": (0, 0, "0.00", [0, 0, 0]),
            "B": (1, 1, "1.00", [1, 0, 0]),
            "-": (2, 2, "2.00", [1, 0, 1]),
        },
    )
    msg(api, "b2", "ada", "sms", "2026-02-04T23:00:00Z", campaign=cb["id"])
    ok(metric(api, "b2", "delivered", "2026-02-04T23:30:00Z"), 201)
    assert state("2026-02-02", "2026-02-05") == (
        2,
        {
            "A": (1, 1, "1.00", [1, 0, 0, 0]),
            "B": (1, 2, "2.00", [0, 1, 0, 1]),
            "-": (1, 1, "1.00", [0, 1, 0, 0]),
        },
    )
    assert state("2026-02-02", "2026-02-08", "week") == (
        2,
        {
            "A": (1, 1, "1.00", [1]),
            "B": (1, 2, "2.00", [1]),
            "-": (1, 1, "1.00", [1]),
        },
    )
    same_after_recompute(api, g["id"])


def _batch_scenario(api: APIClient, tag: str, reverse: bool) -> Any:
    c = create(api, "/api/v1/campaigns", {"name": f"C-{tag}"})
    g = campaign_goal(api, c, attribution={"window_days": 0})
    p = f"{tag}-p"
    items: list[dict[str, Any]] = [
        {"type": "event", "person": p, "name": "buy", "timestamp": "2026-12-31T12:00:00Z"},
        {"type": "event", "person": p, "name": "buy", "timestamp": "2027-01-04T12:00:00Z"},
        {
            "type": "message",
            "id": f"{tag}-1",
            "person": p,
            "channel": "email",
            "sent_at": "2026-12-31T08:00:00Z",
            "campaign": c["id"],
        },
        {
            "type": "metric",
            "message": f"{tag}-1",
            "metric": "opened",
            "timestamp": "2026-12-31T09:00:00Z",
        },
        {
            "type": "message",
            "id": f"{tag}-2",
            "person": p,
            "channel": "whatsapp",
            "sent_at": "2027-01-03T23:30:00Z",
            "campaign": c["id"],
        },
        {
            "type": "metric",
            "message": f"{tag}-2",
            "metric": "delivered",
            "timestamp": "2027-01-03T23:30:00Z",
        },
    ]
    if reverse:
        items.reverse()
    body = ok(api.post("/api/v1/batch", {"items": items}, format="json"))
    assert body["rejected"] == 0, body
    rows = [r for r in achievements(api, g["id"], page_size=500) if r["person"] == p]
    got = sorted((r["achieved_at"], str(r["message"]), str(r["touch_at"])) for r in rows)
    week = report(api, g["id"], start="2026-12-28", end="2027-01-10", period="week")
    return g, got, [(x["period_start"], x["people"], x["achievements"]) for x in week["progress"]]


def test_batch_arrival_order_and_iso_week_53(api: APIClient, workspace: Workspace) -> None:
    """2026-12-28 is the Monday of ISO week 2026-W53; 2027-01-04 starts 2027-W01."""
    first = _batch_scenario(api, "x", reverse=False)
    second = _batch_scenario(api, "y", reverse=True)
    assert first[1] == [
        ("2026-12-31T12:00:00Z", "x-1", "2026-12-31T09:00:00Z"),
        ("2027-01-04T12:00:00Z", "x-2", "2027-01-03T23:30:00Z"),  # 01-04 00:30 Berlin
    ]
    assert [(a, m.replace("y", "x"), t) for a, m, t in second[1]] == first[1]
    assert first[2] == [("2026-12-28", 1, 1), ("2027-01-04", 0, 1)]
    # The y goal's report also counts person x (no source needed): two people.
    assert second[2] == [("2026-12-28", 2, 2), ("2027-01-04", 0, 2)]
    same_after_recompute(api, first[0]["id"], second[0]["id"])


def test_late_metric_for_a_deleted_persons_message(api: APIClient, workspace: Workspace) -> None:
    """The deleted person's achievement and message keep counting (§3): a delivery recorded
    after the deletion still credits the message (the result never depends on arrival order,
    §4.5)."""
    c = create(api, "/api/v1/campaigns", {"name": "C"})
    g = campaign_goal(api, c)
    msg(api, "m", "ada", "email", "2026-02-05T08:00:00Z", campaign=c["id"])
    ok(event(api, "ada", "buy", "2026-02-05T10:00:00Z"), 201)
    assert credited(api, g["id"]) == {"ada": None}
    ok(api.delete("/api/v1/people/ada"), 204)
    ok(metric(api, "m", "delivered", "2026-02-05T09:00:00Z"), 201)
    rows = achievements(api, g["id"])
    assert [(r["person"], r["message"], r["touch_at"]) for r in rows] == [
        (None, "m", "2026-02-05T09:00:00Z")
    ]
    body = report(api, g["id"], start="2026-02-05", end="2026-02-05")
    assert (body["by_source"][0]["people"], body["unattributed"]["people"]) == (1, 0)
    same_after_recompute(api, g["id"])


def test_out_of_order_events_keep_first_days_right(api: APIClient, workspace: Workspace) -> None:
    c = create(api, "/api/v1/campaigns", {"name": "C"})
    g = campaign_goal(api, c, attribution={"window_days": 90})
    msg(api, "m", "ada", "slack", "2026-02-01T08:00:00Z", campaign=c["id"])
    for day in ("05", "03", "04", "09"):
        ok(event(api, "ada", "buy", f"2026-02-{day}T10:00:00Z"), 201)
    ok(event(api, "bob", "buy", "2026-02-04T10:00:00Z"), 201)

    def firsts(start: str, end: str, period: str = "day") -> Any:
        body = report(api, g["id"], start=start, end=end, period=period)
        [s] = body["by_source"]
        return (
            body["total_people"],
            [p["people"] for p in body["progress"]],
            s["people"],
            [p["people"] for p in s["progress"]],
            [p["people"] for p in body["unattributed"]["progress"]],
        )

    assert firsts("2026-02-03", "2026-02-05") == (2, [1, 1, 0], 1, [1, 1, 1], [0, 1, 0])
    assert firsts("2026-02-04", "2026-02-05") == (2, [2, 0], 1, [1, 1], [1, 0])
    assert firsts("2026-02-05", "2026-02-09") == (1, [1, 0, 0, 0, 0], 1, [1, 0, 0, 0, 1], [0] * 5)
    assert firsts("2026-02-02", "2026-02-15", "week") == (2, [2, 0], 1, [1, 1], [1, 0])
    assert firsts("2026-02-06", "2026-02-15", "week") == (1, [0, 1], 1, [0, 1], [0, 0])
    same_after_recompute(api, g["id"])


def test_impact_added_changed_and_removed(api: APIClient, workspace: Workspace) -> None:
    c = create(api, "/api/v1/campaigns", {"name": "C"})
    g = campaign_goal(api, c)
    msg(api, "m", "ada", "slack", "2026-02-05T08:00:00Z", campaign=c["id"])
    ok(event(api, "ada", "buy", "2026-02-05T10:00:00Z", data={"v": "4.5"}), 201)
    ok(event(api, "bob", "buy", "2026-02-05T10:00:00Z", data={"v": 1}), 201)
    url = f"/api/v1/goals/{g['id']}"

    def money() -> Any:
        body = report(api, g["id"], start="2026-02-05", end="2026-02-05")
        return (
            body["impact"],
            body["by_source"][0]["revenue"],
            body["unattributed"]["revenue"],
            body["progress"][0]["revenue"],
        )

    assert money() == (None, "0.00", "0.00", "0.00")
    ok(api.patch(url, {"impact": {"currency": "USD", "static": "5"}}, format="json"))
    assert money() == ({"amount": "10.00", "currency": "USD"}, "5.00", "5.00", "10.00")
    ok(api.patch(url, {"impact": {"currency": "EUR", "event_key": "v"}}, format="json"))
    assert money() == ({"amount": "5.50", "currency": "EUR"}, "4.50", "1.00", "5.50")
    ok(api.patch(url, {"impact": None}, format="json"))
    assert money() == (None, "0.00", "0.00", "0.00")
