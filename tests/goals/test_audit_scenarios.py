"""Audit scenarios end to end over HTTP (SPEC §3, §4.1, §4.5, §7): data ingested through the
single endpoints and the batch, results read from the achievements list and the report."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from campaigns.models import Workspace
from tests.goals.test_api_scenarios import (
    achievements,
    batch,
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


def put(api: APIClient, person: str, ts: str, **attributes: Any) -> None:
    response = api.put(
        f"/api/v1/people/{person}", {"attributes": attributes, "timestamp": ts}, format="json"
    )
    assert response.status_code in (200, 201), response.content


def seg(api: APIClient, person: str, segment: int, action: str, ts: Any) -> None:
    ok(
        api.post(
            f"/api/v1/people/{person}/segments",
            {"segment": segment, "action": action, "timestamp": ts},
            format="json",
        ),
        201,
    )


def times(api: APIClient, goal_id: int) -> list[tuple[str | None, str]]:
    return [(a["person"], a["achieved_at"]) for a in achievements(api, goal_id)]


def test_deleting_a_person_in_the_batch_that_stores_their_achievement_keeps_it(
    api: APIClient, workspace: Workspace
) -> None:
    """A batch is applied person upserts, events, ..., deletions last (decisions.md): the
    event and the attribute change come before the deletion, so what they achieved keeps
    counting under the anonymous key (§3), as it does when the same items come one by one."""
    filtered = goal(
        api,
        criteria={
            "trigger": {"type": "event", "name": "buy"},
            "filters": [{"type": "attribute", "key": "country", "op": "eq", "value": "DE"}],
        },
    )
    on_pro = goal(
        api, criteria={"trigger": {"type": "attribute", "key": "plan", "op": "eq", "value": "pro"}}
    )
    batch(
        api,
        {"type": "person", "person": "ada", "attributes": {"country": "DE", "plan": "pro"},
         "timestamp": "2026-02-01T08:00:00Z"},
        {"type": "event", "person": "ada", "name": "buy", "timestamp": "2026-02-01T09:00:00Z"},
        {"type": "delete_person", "person": "ada"},
    )  # fmt: skip
    # The same, one request at a time.
    put(api, "bo", "2026-02-01T08:00:00Z", country="DE", plan="pro")
    ok(event(api, "bo", "buy", "2026-02-01T09:00:00Z"), 201)
    assert api.delete("/api/v1/people/bo").status_code == 204

    for g, at in ((filtered, "2026-02-01T09:00:00Z"), (on_pro, "2026-02-01T08:00:00Z")):
        assert times(api, g["id"]) == [(None, at), (None, at)]
        assert report(api, g["id"], start="2026-02-01", end="2026-02-01")["total_people"] == 2
    same_after_recompute(api, filtered["id"], on_pro["id"])


def test_one_batch_in_any_order_gives_what_single_requests_give(
    api: APIClient, workspace: Workspace
) -> None:
    """Every kind of item in one batch, listed against the flow (the metric before its message,
    the achievement before the touch), gives what the same data sent one request at a time
    gives (§4.5, §7)."""
    campaign = create(api, "/api/v1/campaigns", {"name": "C", "status": "running"})
    vip = create(api, "/api/v1/segments", {"name": "VIP"})
    g = campaign_goal(
        api,
        campaign,
        criteria={
            "trigger": {
                "type": "event",
                "name": "buy",
                "conditions": [{"key": "order.total", "op": "gt", "value": 10}],
            },
            "filters": [
                {"type": "segment", "segment": vip["id"]},
                {"type": "attribute", "key": "tier", "op": "neq", "value": "staff"},
            ],
        },
        impact={"currency": "EUR", "event_key": "order.total"},
        attribution={"metrics": {"email": "opened"}, "count_machine": False},
    )
    cid = campaign["id"]
    body = batch(
        api,
        {"type": "metric", "message": "b-m1", "metric": "opened", "timestamp": 1769936400},
        {"type": "metric", "message": "b-m1", "metric": "opened", "timestamp": 1769932800,
         "machine": True},
        {"type": "event", "person": "b-ada", "name": "buy", "id": "e1",
         "data": {"order": {"total": "12.5"}}, "timestamp": "2026-02-01T10:00:00+01:00"},
        {"type": "event", "person": "b-ada", "name": "buy", "id": "e1",
         "data": {"order": {"total": "99"}}, "timestamp": "2026-02-01T10:00:00+01:00"},
        {"type": "event", "person": "b-ada", "name": "buy", "id": "e2",
         "data": {"order": {"total": 10}}, "timestamp": "2026-02-01T10:30:00+01:00"},
        {"type": "message", "id": "b-m1", "person": "b-ada", "channel": "email",
         "campaign": cid, "sent_at": "2026-02-01T07:00:00Z"},
        {"type": "segment", "person": "b-ada", "segment": vip["id"], "action": "enter",
         "timestamp": "2026-02-01T00:00:00Z"},
        {"type": "person", "person": "b-ada", "attributes": {"tier": "gold"}},
    )  # fmt: skip
    # Metrics are applied after messages: stored, not waiting (decisions.md, batch order).
    assert [r["status"] for r in body["results"]] == [201, 201, 201, 200, 201, 201, 201, 201]

    # The same, one request at a time, in the order of the flow.
    put(api, "s-ada", "2026-02-27T00:00:00Z", tier="gold")
    seg(api, "s-ada", vip["id"], "enter", "2026-02-01T00:00:00Z")
    msg(api, "s-m1", "s-ada", "email", "2026-02-01T07:00:00Z", campaign=cid)
    ok(metric(api, "s-m1", "opened", 1769932800, machine=True), 201)
    ok(metric(api, "s-m1", "opened", 1769936400), 201)
    ok(event(api, "s-ada", "buy", "2026-02-01T10:00:00+01:00", id="s-e1",
             data={"order": {"total": "12.5"}}), 201)  # fmt: skip
    ok(event(api, "s-ada", "buy", "2026-02-01T10:00:00+01:00", id="s-e1",
             data={"order": {"total": "99"}}), 200)  # fmt: skip
    ok(event(api, "s-ada", "buy", "2026-02-01T10:30:00+01:00", id="s-e2",
             data={"order": {"total": 10}}), 201)  # fmt: skip

    rows = achievements(api, g["id"])
    got = sorted((r["person"], r["achieved_at"], r["revenue"], r["message"], r["touch_at"])
                 for r in rows)  # fmt: skip
    # The human open at 09:00Z qualifies; the machine open at 08:00Z does not reach `opened`.
    assert got == [
        ("b-ada", "2026-02-01T09:00:00Z", "12.50", "b-m1", "2026-02-01T09:00:00Z"),
        ("s-ada", "2026-02-01T09:00:00Z", "12.50", "s-m1", "2026-02-01T09:00:00Z"),
    ]
    body = report(api, g["id"], start="2026-02-01", end="2026-02-01")
    assert (body["total_people"], body["impact"]) == (2, {"amount": "25.00", "currency": "EUR"})
    same_after_recompute(api, g["id"])


def test_ties_go_to_the_later_sent_time_then_the_higher_delivery_id_whatever_the_arrival(
    api: APIClient, workspace: Workspace
) -> None:
    campaign = create(api, "/api/v1/campaigns", {"name": "C"})
    g = campaign_goal(api, campaign)
    cid = campaign["id"]
    touch = "2026-02-01T09:00:00Z"
    # ada: same touch; m-late was sent later and wins though it arrives first.
    msg(api, "m-late", "ada", "email", "2026-02-01T08:30:00Z", campaign=cid)
    msg(api, "m-early", "ada", "email", "2026-02-01T08:00:00Z", campaign=cid)
    # bo: same touch and sent time: "m10" is higher than "m9" (length, then characters).
    msg(api, "m10", "bo", "push", "2026-02-01T08:00:00Z", campaign=cid)
    msg(api, "m9", "bo", "push", "2026-02-01T08:00:00Z", campaign=cid)
    # cy: the later touch wins over the later sent time.
    msg(api, "c-sent-late", "cy", "sms", "2026-02-01T08:50:00Z", campaign=cid)
    msg(api, "c-touch-late", "cy", "sms", "2026-02-01T08:00:00Z", campaign=cid)
    for m in ("m-early", "m-late", "m9", "m10"):
        ok(metric(api, m, "delivered", touch), 201)
    ok(metric(api, "c-sent-late", "delivered", "2026-02-01T08:55:00Z"), 201)
    ok(metric(api, "c-touch-late", "delivered", "2026-02-01T08:56:00Z"), 201)
    for person in ("ada", "bo", "cy"):
        ok(event(api, person, "buy", "2026-02-01T12:00:00Z"), 201)
    assert {a["person"]: a["message"] for a in achievements(api, g["id"])} == {
        "ada": "m-late",
        "bo": "m10",
        "cy": "c-touch-late",
    }
    same_after_recompute(api, g["id"])


def test_late_messages_and_metrics_re_attribute(api: APIClient, workspace: Workspace) -> None:
    """The achievement first, then touches arriving in every order (§4.5)."""
    campaign = create(api, "/api/v1/campaigns", {"name": "C"})
    g = campaign_goal(api, campaign, attribution={"window_days": 1})
    cid = campaign["id"]
    ok(event(api, "ada", "buy", "2026-02-03T12:00:00Z"), 201)
    assert [a["message"] for a in achievements(api, g["id"])] == [None]
    # A metric before its message: kept waiting (202), used once the message arrives.
    assert metric(api, "m1", "delivered", "2026-02-02T10:00:00Z").status_code == 202
    assert [a["message"] for a in achievements(api, g["id"])] == [None]
    msg(api, "m1", "ada", "email", "2026-02-02T09:00:00Z", campaign=cid)
    assert [(a["message"], a["touch_at"]) for a in achievements(api, g["id"])] == [
        ("m1", "2026-02-02T10:00:00Z")
    ]
    # A later touch in the window takes over; a touch after the achievement does not.
    msg(api, "m2", "ada", "email", "2026-02-03T08:00:00Z", campaign=cid)
    ok(metric(api, "m2", "delivered", "2026-02-03T12:00:01Z"), 201)
    assert [a["message"] for a in achievements(api, g["id"])] == ["m1"]
    ok(metric(api, "m2", "opened", "2026-02-03T11:00:00Z"), 201)  # proves delivered at 11:00
    assert [(a["message"], a["touch_at"]) for a in achievements(api, g["id"])] == [
        ("m2", "2026-02-03T11:00:00Z")
    ]
    # An earlier step of m1 does not change its touch's rank against m2.
    ok(metric(api, "m1", "sent", "2026-02-02T09:00:00Z"), 201)
    assert [a["message"] for a in achievements(api, g["id"])] == ["m2"]
    same_after_recompute(api, g["id"])


@pytest.mark.parametrize(
    ("condition", "matching"),
    [
        ({"key": "a.b", "op": "eq", "value": 3}, {"n3", "s3"}),
        ({"key": "a.b", "op": "neq", "value": 3}, {"n4", "s-x", "missing", "null", "t"}),
        ({"key": "a.b", "op": "gt", "value": 3}, {"n4"}),
        ({"key": "a.b", "op": "gte", "value": 3}, {"n3", "s3", "n4"}),
        ({"key": "a.b", "op": "lt", "value": 4}, {"n3", "s3"}),
        ({"key": "a.b", "op": "lte", "value": 4}, {"n3", "s3", "n4"}),
        ({"key": "a.b", "op": "contains", "value": "x"}, {"s-x"}),
        ({"key": "a.b", "op": "exists"}, {"n3", "s3", "n4", "s-x", "t"}),
        ({"key": "a.b", "op": "not_exists"}, {"missing", "null"}),
        ({"key": "a", "op": "exists"}, {"n3", "s3", "n4", "s-x", "null", "t"}),
    ],
)
def test_each_event_operator_on_a_dotted_key(
    api: APIClient, workspace: Workspace, condition: dict[str, Any], matching: set[str]
) -> None:
    g = goal(api, criteria={"trigger": {"type": "event", "name": "e", "conditions": [condition]}})
    data: dict[str, Any] = {
        "n3": {"a": {"b": 3}},
        "s3": {"a": {"b": "3.0"}},
        "n4": {"a": {"b": 4}},
        "s-x": {"a": {"b": "box"}},
        "missing": {},
        "null": {"a": {"b": None}},
        "t": {"a": {"b": True}},
    }
    batch(
        api,
        *(
            {"type": "event", "person": person, "name": "e", "data": body,
             "timestamp": "2026-02-01T10:00:00Z"}
            for person, body in data.items()
        ),
    )  # fmt: skip
    assert {a["person"] for a in achievements(api, g["id"])} == matching


def test_attribute_and_segment_triggers_around_the_tracking_start(
    api: APIClient, workspace: Workspace
) -> None:
    """A state reached before the tracking start is not a new achievement when it is
    confirmed after it; a change after the start is (§4.1)."""
    trial = create(api, "/api/v1/segments", {"name": "Trial"})
    on_pro = goal(
        api, criteria={"trigger": {"type": "attribute", "key": "plan", "op": "eq", "value": "pro"}}
    )
    on_enter = goal(api, criteria={"trigger": {"type": "segment", "segment": trial["id"]}})
    put(api, "ada", "2025-10-30T00:00:00Z", plan="pro")
    put(api, "ada", "2025-11-02T00:00:00Z", plan="pro")  # the same value again
    put(api, "bo", "2025-10-30T00:00:00Z", plan="basic")
    put(api, "bo", "2025-11-02T00:00:00Z", plan="pro")
    seg(api, "ada", trial["id"], "enter", "2025-10-30T00:00:00Z")
    seg(api, "ada", trial["id"], "enter", "2025-11-02T00:00:00Z")  # already inside
    seg(api, "bo", trial["id"], "enter", "2025-10-30T00:00:00Z")
    seg(api, "bo", trial["id"], "leave", "2025-10-31T00:00:00Z")
    seg(api, "bo", trial["id"], "enter", 1762041600)  # 2025-11-02T00:00:00Z
    assert times(api, on_pro["id"]) == [("bo", "2025-11-02T00:00:00Z")]
    assert times(api, on_enter["id"]) == [("bo", "2025-11-02T00:00:00Z")]
    # A late patch before ada's first turns her first into a change away and back? No: both
    # before the start; her state at the start already matched.
    put(api, "ada", "2025-10-29T00:00:00Z", plan="basic")
    assert times(api, on_pro["id"]) == [("bo", "2025-11-02T00:00:00Z")]
    same_after_recompute(api, on_pro["id"], on_enter["id"])


def test_message_trigger_counts_machine_opens_only_when_the_goal_does(
    api: APIClient, workspace: Workspace
) -> None:
    news = create(
        api, "/api/v1/broadcasts",
        {"name": "News", "kind": "newsletter", "channels": ["email"], "status": "sent"},
    )  # fmt: skip
    trigger = {"trigger": {"type": "message", "metric": "opened", "broadcast": news["id"]}}
    human = goal(api, criteria=trigger, attribution={"count_machine": False})
    anyone = goal(api, criteria=trigger)
    msg(api, "n1", "ada", "email", "2026-02-01T08:00:00Z", broadcast=news["id"])
    ok(metric(api, "n1", "opened", "2026-02-01T08:01:00Z", machine=True), 201)
    ok(metric(api, "n1", "clicked", "2026-02-01T09:00:00Z"), 201)
    msg(api, "n2", "bo", "email", "2026-02-01T08:00:00Z", broadcast=news["id"])
    ok(metric(api, "n2", "clicked", "2026-02-01T08:02:00Z", machine=True), 201)
    assert times(api, human["id"]) == [("ada", "2026-02-01T09:00:00Z")]
    assert times(api, anyone["id"]) == [
        ("ada", "2026-02-01T08:01:00Z"),
        ("bo", "2026-02-01T08:02:00Z"),
    ]
    same_after_recompute(api, human["id"], anyone["id"])


def test_an_instant_whose_local_date_is_past_the_calendar_is_refused_not_a_500(
    api: APIClient, workspace: Workspace
) -> None:
    """9999-12-31T23:30Z is 10000-01-01 in Berlin: no local date (§2) can hold it, and its
    achievement failed to evaluate after the event was stored (a 500 in-process, a task
    retrying for ever with a broker). It is refused as out of range, by its field (§7)."""
    g = goal(api, criteria={"trigger": {"type": "event", "name": "buy"}})
    for ts in ("9999-12-31T23:30:00Z", 253402299000):
        response = event(api, "ada", "buy", ts)
        assert response.status_code == 400, response.content
        assert list(response.json()["errors"]) == ["timestamp"]
    body = ok(
        api.post(
            "/api/v1/batch",
            {"items": [
                {"type": "event", "person": "bo", "name": "buy",
                 "timestamp": "9999-12-31T23:30:00Z"},
                {"type": "message", "id": "m", "person": "bo", "channel": "email",
                 "sent_at": "9999-12-31T23:00:00+00:00"},
                {"type": "event", "person": "bo", "name": "buy",
                 "timestamp": "9999-12-30T00:00:00Z"},
            ]},
            format="json",
        )
    )  # fmt: skip
    assert [r["status"] for r in body["results"]] == [400, 400, 201]
    assert times(api, g["id"]) == [("bo", "9999-12-30T00:00:00Z")]
    same_after_recompute(api, g["id"])


def test_report_counts_people_per_source_and_unattributed_from_ingested_data(
    api: APIClient, workspace: Workspace
) -> None:
    """§5 on data ingested through the API: each person once in the total, on their first
    achievement in the range; per source and unattributed, the people each credited."""
    a = create(api, "/api/v1/campaigns", {"name": "A"})
    news = create(api, "/api/v1/broadcasts", {"name": "News", "kind": "newsletter"})
    g = goal(
        api,
        criteria={"trigger": {"type": "event", "name": "buy"}},
        sources=[{"type": "campaign", "id": a["id"]}, {"type": "broadcast", "id": news["id"]}],
        impact={"currency": "EUR", "static": "5"},
        attribution={"window_days": 0},
    )
    # ada: A on 02-02, News on 02-03 (Berlin days), unattributed on 02-04.
    msg(api, "a1", "ada", "email", "2026-02-02T07:00:00Z", campaign=a["id"])
    ok(metric(api, "a1", "delivered", "2026-02-02T07:01:00Z"), 201)
    msg(api, "n1", "ada", "email", "2026-02-03T07:00:00Z", broadcast=news["id"])
    ok(metric(api, "n1", "delivered", "2026-02-03T07:01:00Z"), 201)
    for day in ("02", "03", "04"):
        ok(event(api, "ada", "buy", f"2026-02-{day}T12:00:00Z"), 201)
    # bo: twice by A on 02-03; cy: unattributed on 02-02 and 02-09 (another ISO week).
    msg(api, "a2", "bo", "push", "2026-02-03T07:00:00Z", campaign=a["id"])
    ok(metric(api, "a2", "delivered", "2026-02-03T07:01:00Z"), 201)
    ok(event(api, "bo", "buy", "2026-02-03T12:00:00Z"), 201)
    ok(event(api, "bo", "buy", "2026-02-03T13:00:00Z"), 201)
    ok(event(api, "cy", "buy", "2026-02-02T12:00:00Z"), 201)
    ok(event(api, "cy", "buy", "2026-02-09T12:00:00Z"), 201)

    body = report(api, g["id"], start="2026-02-02", end="2026-02-15", period="week")
    assert (body["total_people"], body["achievements"]) == (3, 7)
    assert body["impact"] == {"amount": "35.00", "currency": "EUR"}
    assert [(p["period_start"], p["people"], p["cumulative_people"], p["achievements"],
             p["revenue"]) for p in body["progress"]] == [
        ("2026-02-02", 3, 3, 6, "30.00"),
        ("2026-02-09", 0, 3, 1, "5.00"),
    ]  # fmt: skip
    by = {s["source"]["name"]: (s["people"], s["achievements"], s["revenue"])
          for s in body["by_source"]}  # fmt: skip
    assert by == {"A": (2, 3, "15.00"), "News": (1, 1, "5.00")}
    un = body["unattributed"]
    assert (un["people"], un["achievements"], un["revenue"]) == (2, 3, "15.00")
    assert [(p["period_start"], p["people"]) for p in un["progress"]] == [
        ("2026-02-02", 2),
        ("2026-02-09", 1),
    ]
    rows = achievements(api, g["id"], attributed="false")
    assert sorted((r["person"], r["achieved_at"]) for r in rows) == [
        ("ada", "2026-02-04T12:00:00Z"),
        ("cy", "2026-02-02T12:00:00Z"),
        ("cy", "2026-02-09T12:00:00Z"),
    ]
    rows = achievements(api, g["id"], source=f"broadcast:{news['id']}")
    assert [(r["person"], r["message"], r["source"]["type"]) for r in rows] == [
        ("ada", "n1", "broadcast")
    ]
    csv = api.get(f"/api/v1/goals/{g['id']}/report", {"start": "2026-02-02",
                  "end": "2026-02-15", "period": "week", "format": "csv"})  # fmt: skip
    assert csv.status_code == 200
    assert csv.content.decode().count("\n") >= 9


def test_deleting_a_person_in_the_batch_that_stores_their_message_keeps_its_achievement(
    api: APIClient, workspace: Workspace
) -> None:
    """The message, its click and the deletion in one batch: the click is a message trigger
    that a filter on attributes admitted before the attributes went (§3, §4.1)."""
    g = goal(
        api,
        criteria={
            "trigger": {"type": "message", "metric": "clicked"},
            "filters": [{"type": "attribute", "key": "country", "op": "eq", "value": "DE"}],
        },
    )
    batch(
        api,
        {"type": "metric", "message": "m1", "metric": "clicked", "timestamp": 1769936400},
        {"type": "message", "id": "m1", "person": "ada", "channel": "sms",
         "sent_at": "2026-02-01T08:00:00Z"},
        {"type": "person", "person": "ada", "attributes": {"country": "DE"},
         "timestamp": "2026-02-01T00:00:00Z"},
        {"type": "delete_person", "person": "ada"},
    )  # fmt: skip
    assert times(api, g["id"]) == [(None, "2026-02-01T09:00:00Z")]
    same_after_recompute(api, g["id"])
