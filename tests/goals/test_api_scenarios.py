"""Client scenarios end to end over HTTP (SPEC §3, §4, §5, §7): goals created through the API,
data ingested through the single endpoints and the batch, results read from the report and the
achievements list. Every expected number is worked out by hand from the spec."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from campaigns.models import Workspace
from goals.models import Goal
from tests.goals.helpers import builds_read_as_built, recompute_now

pytestmark = pytest.mark.django_db(transaction=True)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content
    return response.json() if response.content else None


def create(api: APIClient, url: str, body: dict[str, Any]) -> dict[str, Any]:
    return ok(api.post(url, body, format="json"), 201)


def goal(api: APIClient, **body: Any) -> dict[str, Any]:
    body.setdefault("name", "Goal")
    return create(api, "/api/v1/goals", body)


BUY = {"trigger": {"type": "event", "name": "buy"}}


def campaign_goal(
    api: APIClient, campaign: dict[str, Any], criteria: dict[str, Any] = BUY, **body: Any
) -> dict[str, Any]:
    """A goal (by default: the event ``buy``) with ``campaign`` as its one source."""
    return goal(
        api, criteria=criteria, sources=[{"type": "campaign", "id": campaign["id"]}], **body
    )


def batch(api: APIClient, *items: dict[str, Any]) -> dict[str, Any]:
    body = ok(api.post("/api/v1/batch", {"items": list(items)}, format="json"))
    assert body["rejected"] == 0, body
    return body


def report(api: APIClient, goal_id: int, **params: Any) -> dict[str, Any]:
    return ok(api.get(f"/api/v1/goals/{goal_id}/report", params))


def achievements(api: APIClient, goal_id: int, **params: Any) -> list[dict[str, Any]]:
    return ok(api.get(f"/api/v1/goals/{goal_id}/achievements", params))["results"]


def msg(
    api: APIClient, id: str, person: str | None, channel: str, sent_at: Any, **extra: Any
) -> Any:
    body = {"id": id, "channel": channel, "sent_at": sent_at, **extra}
    if person is not None:
        body["person"] = person
    return ok(api.post("/api/v1/messages", body, format="json"), 201)


def metric(api: APIClient, id: str, name: str, ts: Any, machine: bool | None = None) -> Any:
    body: dict[str, Any] = {"metric": name, "timestamp": ts}
    if machine is not None:
        body["machine"] = machine
    return api.post(f"/api/v1/messages/{id}/metrics", body, format="json")


def event(api: APIClient, person: str, name: str, ts: Any, **body: Any) -> Any:
    return api.post(
        f"/api/v1/people/{person}/events", {"name": name, "timestamp": ts, **body}, format="json"
    )


def same_after_recompute(api: APIClient, *goal_ids: int) -> None:
    """A full recompute from the stored data gives what the incremental updates gave (§6),
    read as the build wrote it (``builds_read_as_built``)."""
    for goal_id in goal_ids:

        def state(goal_id: int = goal_id) -> tuple[Any, ...]:
            rows = achievements(api, goal_id, page_size=500)
            report_ = report(api, goal_id, start="2025-10-01", end="2026-06-30", period="week")
            # Rows at one instant are listed by row id, which a recompute renumbers.
            rows = sorted(
                rows, key=lambda r: (r["achieved_at"], r["person_key"], str(r["trigger"]))
            )
            return [{k: v for k, v in r.items() if k != "id"} for r in rows], report_

        before = state()
        with builds_read_as_built():
            recompute_now(Goal.objects.get(pk=goal_id))
        assert state() == before


def credited(api: APIClient, goal_id: int) -> dict[tuple[str, str], Any]:
    return {(a["person"], a["achieved_at"]): a["message"] for a in achievements(api, goal_id)}


# --- attribution windows in a non-UTC zone ----------------------------------------------------


def test_window_starts_at_local_midnight_across_a_dst_change(
    api: APIClient, workspace: Workspace
) -> None:
    """Berlin moves to summer time on 2026-03-29. An achievement on 03-30 with W = 1 has its
    window start at local midnight of 03-29, still winter time: 2026-03-28T23:00Z."""
    campaign = create(api, "/api/v1/campaigns", {"name": "Spring", "status": "running"})
    g = campaign_goal(api, campaign, attribution={"window_days": 1})
    for person, touch in (("in", "2026-03-28T23:00:00Z"), ("out", "2026-03-28T22:59:59Z")):
        msg(api, f"m-{person}", person, "email", "2026-03-28T20:00:00Z", campaign=campaign["id"])
        ok(metric(api, f"m-{person}", "delivered", touch), 201)
        ok(event(api, person, "buy", "2026-03-30T08:00:00+02:00"), 201)
    assert credited(api, g["id"]) == {
        ("in", "2026-03-30T06:00:00Z"): "m-in",
        ("out", "2026-03-30T06:00:00Z"): None,
    }
    body = report(api, g["id"], start="2026-03-30", end="2026-03-30")
    assert body["total_people"] == 2
    assert [s["people"] for s in body["by_source"]] == [1]
    assert body["unattributed"]["people"] == 1
    same_after_recompute(api, g["id"])


def test_a_zero_day_window_is_the_same_local_day(api: APIClient, workspace: Workspace) -> None:
    campaign = create(api, "/api/v1/campaigns", {"name": "Night"})
    g = campaign_goal(api, campaign, attribution={"window_days": 0})
    # The achievement is at 00:30 Berlin on 03-10 (23:30Z on 03-09).
    cases = {
        "same-day": "2026-03-09T23:00:00Z",  # local 00:00 on 03-10: qualifies
        "day-before": "2026-03-09T22:59:59Z",  # local 23:59:59 on 03-09
        "at-a": "2026-03-09T23:30:00Z",  # exactly at A: qualifies
        "after-a": "2026-03-09T23:30:01Z",
    }
    for person, touch in cases.items():
        msg(api, f"m-{person}", person, "sms", "2026-03-09T20:00:00Z", campaign=campaign["id"])
        ok(metric(api, f"m-{person}", "delivered", touch), 201)
        ok(event(api, person, "buy", 1773099000), 201)  # 2026-03-09T23:30:00Z
    got = {person: m for (person, _), m in credited(api, g["id"]).items()}
    assert got == {"same-day": "m-same-day", "day-before": None, "at-a": "m-at-a", "after-a": None}
    assert report(api, g["id"], start="2026-03-10", end="2026-03-10")["total_people"] == 4
    assert report(api, g["id"], start="2026-03-09", end="2026-03-09")["total_people"] == 0
    same_after_recompute(api, g["id"])


# --- metrics and the qualifying step ----------------------------------------------------------


def test_machine_exclusion_still_proves_the_earlier_steps(
    api: APIClient, workspace: Workspace
) -> None:
    """With machine opens and clicks excluded, a machine click does not reach `opened` but does
    prove `delivered` (§4.5): one goal qualifying on opened, one on delivered."""
    campaign = create(api, "/api/v1/campaigns", {"name": "C"})
    sources = [{"type": "campaign", "id": campaign["id"]}]
    trigger = {"criteria": {"trigger": {"type": "event", "name": "buy"}}, "sources": sources}
    on_open = goal(
        api, attribution={"metrics": {"email": "opened"}, "count_machine": False}, **trigger
    )
    on_delivery = goal(api, attribution={"count_machine": False}, **trigger)
    on_open_machine = goal(api, attribution={"metrics": {"email": "opened"}}, **trigger)
    msg(api, "m1", "ada", "email", "2026-02-01T08:00:00Z", campaign=campaign["id"])
    ok(metric(api, "m1", "clicked", "2026-02-01T09:00:00Z", machine=True), 201)
    ok(event(api, "ada", "buy", "2026-02-01T10:00:00Z"), 201)

    assert [a["message"] for a in achievements(api, on_open["id"])] == [None]
    [a] = achievements(api, on_delivery["id"])
    assert (a["message"], a["touch_at"]) == ("m1", "2026-02-01T09:00:00Z")
    [a] = achievements(api, on_open_machine["id"])
    assert (a["message"], a["touch_at"]) == ("m1", "2026-02-01T09:00:00Z")

    # A human open later than the purchase changes nothing; one before it qualifies.
    ok(metric(api, "m1", "opened", "2026-02-01T09:30:00Z"), 201)
    [a] = achievements(api, on_open["id"])
    assert (a["message"], a["touch_at"]) == ("m1", "2026-02-01T09:30:00Z")
    same_after_recompute(api, on_open["id"], on_delivery["id"], on_open_machine["id"])


def test_non_chain_metrics_never_qualify_and_clicks_imply_opens(
    api: APIClient, workspace: Workspace
) -> None:
    campaign = create(api, "/api/v1/campaigns", {"name": "C"})
    g = campaign_goal(
        api,
        campaign,
        attribution={"metrics": {"email": "opened", "sms": "clicked", "push": "sent"}},
    )
    cid = campaign["id"]
    msg(api, "conv", "a", "email", "2026-02-01T08:00:00Z", campaign=cid)
    for name in ("converted", "bounced", "dropped", "failed", "spammed", "unsubscribed"):
        ok(metric(api, "conv", name, "2026-02-01T09:00:00Z"), 201)
    msg(api, "click", "b", "email", "2026-02-01T08:00:00Z", campaign=cid)
    ok(metric(api, "click", "clicked", "2026-02-01T09:00:00Z"), 201)
    msg(api, "sms", "c", "sms", "2026-02-01T08:00:00Z", campaign=cid)
    ok(metric(api, "sms", "delivered", "2026-02-01T08:10:00Z"), 201)
    msg(api, "push", "d", "push", "2026-02-01T08:00:00Z", campaign=cid)  # sent_at is `sent`
    for person in "abcd":
        ok(event(api, person, "buy", "2026-02-01T10:00:00Z"), 201)
    got = {a["person"]: (a["message"], a["touch_at"]) for a in achievements(api, g["id"])}
    assert got == {
        "a": (None, None),
        "b": ("click", "2026-02-01T09:00:00Z"),
        "c": (None, None),
        "d": ("push", "2026-02-01T08:00:00Z"),
    }
    same_after_recompute(api, g["id"])


def test_metrics_out_of_order_and_repeated(api: APIClient, workspace: Workspace) -> None:
    """The touch is the first time the message reached the metric or a later one, whatever
    order the metrics arrive in; a repeated metric is stored once."""
    campaign = create(api, "/api/v1/campaigns", {"name": "C"})
    g = campaign_goal(api, campaign, attribution={"metrics": {"email": "opened"}})
    msg(api, "m", "ada", "email", "2026-02-01T08:00:00Z", campaign=campaign["id"])
    ok(event(api, "ada", "buy", "2026-02-01T12:00:00Z"), 201)
    ok(metric(api, "m", "opened", "2026-02-01T11:00:00Z"), 201)
    ok(metric(api, "m", "opened", "2026-02-01T11:00:00Z"), 200)
    ok(metric(api, "m", "clicked", "2026-02-01T10:00:00Z"), 201)  # clicked before the open
    ok(metric(api, "m", "delivered", "2026-02-01T08:01:00Z"), 201)
    [a] = achievements(api, g["id"])
    assert (a["message"], a["touch_at"]) == ("m", "2026-02-01T10:00:00Z")
    detail = ok(api.get("/api/v1/messages/m"))
    assert len(detail["metrics"]) == 3
    same_after_recompute(api, g["id"])


@pytest.mark.parametrize(
    ("channel", "metric_name"),
    [("sms", "opened"), ("in_app", "delivered"), ("webhook", "opened"), ("slack", "delivered")],
)
def test_a_metric_the_channel_lacks_is_refused_naming_the_field(
    api: APIClient, workspace: Workspace, channel: str, metric_name: str
) -> None:
    msg(api, "m", "ada", channel, "2026-02-01T08:00:00Z")
    response = metric(api, "m", metric_name, "2026-02-01T09:00:00Z")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["metric"]
    body = ok(
        api.post(
            "/api/v1/batch",
            {
                "items": [
                    {
                        "type": "metric",
                        "message": "m",
                        "metric": metric_name,
                        "timestamp": 1e9 + 0.5,
                    },
                    {
                        "type": "metric",
                        "message": "m",
                        "metric": "clicked",
                        "timestamp": 1769936400.25,
                    },
                ]
            },
            format="json",
        )
    )
    assert [r["status"] for r in body["results"]] == [400, 201]
    assert list(body["results"][0]["errors"]) == ["metric"]


# --- triggers and filters -----------------------------------------------------------------------


def test_message_triggers_with_restrictions(api: APIClient, workspace: Workspace) -> None:
    a = create(api, "/api/v1/campaigns", {"name": "A"})
    b = create(api, "/api/v1/campaigns", {"name": "B"})
    news = create(
        api,
        "/api/v1/broadcasts",
        {"name": "News", "kind": "newsletter", "channels": ["email"], "status": "sent"},
    )
    opened_email = goal(
        api,
        criteria={"trigger": {"type": "message", "metric": "opened", "channel": "email"}},
        sources=[{"type": "campaign", "id": a["id"]}],
    )
    clicked_a = goal(
        api, criteria={"trigger": {"type": "message", "metric": "clicked", "campaign": a["id"]}}
    )
    delivered_news = goal(
        api,
        criteria={"trigger": {"type": "message", "metric": "delivered", "broadcast": news["id"]}},
    )
    # ada: email from A, clicked (implies opened) at 10:00 without a recorded open.
    msg(api, "a1", "ada", "email", "2026-02-02T08:00:00Z", campaign=a["id"])
    ok(metric(api, "a1", "clicked", "2026-02-02T10:00:00Z"), 201)
    ok(metric(api, "a1", "clicked", "2026-02-02T11:00:00Z"), 201)  # a second click
    # bo: push from B opened; sms from A clicked.
    msg(api, "b1", "bo", "push", "2026-02-02T08:00:00Z", campaign=b["id"])
    ok(metric(api, "b1", "opened", "2026-02-02T09:00:00Z"), 201)
    msg(api, "a2", "bo", "sms", "2026-02-02T08:00:00Z", campaign=a["id"])
    ok(metric(api, "a2", "clicked", "2026-02-02T12:00:00Z"), 201)
    # cy: newsletter opened (implies delivered) and a second newsletter delivered.
    msg(api, "n1", "cy", "email", "2026-02-03T08:00:00Z", broadcast=news["id"])
    ok(metric(api, "n1", "opened", "2026-02-03T09:00:00Z"), 201)
    msg(api, "n2", "cy", "email", "2026-02-04T08:00:00Z", broadcast=news["id"])
    ok(metric(api, "n2", "delivered", "2026-02-04T08:05:00Z"), 201)

    got = [
        (x["person"], x["achieved_at"], x["message"]) for x in achievements(api, opened_email["id"])
    ]
    # The achievement is the open itself; its own message is the last touch (delivered: the
    # click at 10:00 proves it). cy's newsletter is an email too, but not a source.
    assert got == [("ada", "2026-02-02T10:00:00Z", "a1"), ("cy", "2026-02-03T09:00:00Z", None)]
    times = [(x["person"], x["achieved_at"]) for x in achievements(api, clicked_a["id"])]
    assert times == [("ada", "2026-02-02T10:00:00Z"), ("bo", "2026-02-02T12:00:00Z")]
    times = [(x["person"], x["achieved_at"]) for x in achievements(api, delivered_news["id"])]
    assert times == [("cy", "2026-02-03T09:00:00Z"), ("cy", "2026-02-04T08:05:00Z")]
    body = report(api, delivered_news["id"], start="2026-02-01", end="2026-02-28")
    assert (body["total_people"], body["achievements"]) == (1, 2)
    same_after_recompute(api, opened_email["id"], clicked_a["id"], delivered_news["id"])


def test_attribute_trigger_with_segment_filters(api: APIClient, workspace: Workspace) -> None:
    vip = create(api, "/api/v1/segments", {"name": "VIP"})
    churned = create(api, "/api/v1/segments", {"name": "Churned"})
    g = goal(
        api,
        criteria={
            "trigger": {"type": "attribute", "key": "plan", "op": "eq", "value": "pro"},
            "filters": [
                {"type": "segment", "segment": vip["id"], "in": True},
                {"type": "segment", "segment": churned["id"], "in": False},
                {"type": "attribute", "key": "address.country", "op": "eq", "value": "DE"},
            ],
        },
    )

    def put(person: str, ts: str, **attributes: Any) -> None:
        response = api.put(
            f"/api/v1/people/{person}", {"attributes": attributes, "timestamp": ts}, format="json"
        )
        assert response.status_code in (200, 201), response.content

    def seg(person: str, segment: dict[str, Any], action: str, ts: str) -> None:
        ok(
            api.post(
                f"/api/v1/people/{person}/segments",
                {"segment": segment["id"], "action": action, "timestamp": ts},
                format="json",
            ),
            201,
        )

    # ada: VIP, DE, becomes pro -> achievement; same value again -> none; away and back -> again.
    seg("ada", vip, "enter", "2026-02-01T00:00:00Z")
    put("ada", "2026-02-01T01:00:00Z", address={"country": "DE"})
    put("ada", "2026-02-02T00:00:00Z", plan="pro")
    put("ada", "2026-02-03T00:00:00Z", plan="pro")
    put("ada", "2026-02-04T00:00:00Z", plan=None)
    put("ada", "2026-02-05T00:00:00Z", plan="pro")
    # bo: pro while in VIP but also churned -> no; leaves churned, becomes pro again -> yes.
    seg("bo", vip, "enter", "2026-02-01T00:00:00Z")
    seg("bo", churned, "enter", "2026-02-01T00:00:00Z")
    put("bo", "2026-02-02T00:00:00Z", plan="pro", address={"country": "DE"})
    seg("bo", churned, "leave", "2026-02-03T00:00:00Z")
    put("bo", "2026-02-04T00:00:00Z", plan="basic")
    put("bo", "2026-02-05T00:00:00Z", plan="pro")
    # cy: becomes pro before entering VIP (filter false at that moment), then enters: no.
    put("cy", "2026-02-02T00:00:00Z", plan="pro", address={"country": "DE"})
    seg("cy", vip, "enter", "2026-02-03T00:00:00Z")
    # dee: country is FR.
    seg("dee", vip, "enter", "2026-02-01T00:00:00Z")
    put("dee", "2026-02-02T00:00:00Z", plan="pro", address={"country": "FR"})

    got = [(x["person"], x["achieved_at"]) for x in achievements(api, g["id"])]
    assert got == [
        ("ada", "2026-02-02T00:00:00Z"),
        ("ada", "2026-02-05T00:00:00Z"),
        ("bo", "2026-02-05T00:00:00Z"),
    ]
    body = report(api, g["id"], start="2026-02-01", end="2026-02-28", period="week")
    assert (body["total_people"], body["achievements"]) == (2, 3)
    assert body["impact"] is None
    assert [p["period_start"] for p in body["progress"]] == [
        "2026-01-26",
        "2026-02-02",
        "2026-02-09",
        "2026-02-16",
        "2026-02-23",
    ]
    # ada's first is 02-02 01:00 Berlin (week of 02-02); bo's 02-05.
    assert [p["people"] for p in body["progress"]] == [0, 2, 0, 0, 0]
    assert [p["achievements"] for p in body["progress"]] == [0, 3, 0, 0, 0]
    same_after_recompute(api, g["id"])


def test_segment_trigger_and_event_conditions_with_dotted_keys(
    api: APIClient, workspace: Workspace
) -> None:
    seg = create(api, "/api/v1/segments", {"name": "Trial"})
    on_enter = goal(api, criteria={"trigger": {"type": "segment", "segment": seg["id"]}})
    on_event = goal(
        api,
        criteria={
            "trigger": {
                "type": "event",
                "name": "order",
                "conditions": [
                    {"key": "cart.total", "op": "gte", "value": 50},
                    {"key": "cart.coupon", "op": "not_exists"},
                    {"key": "tags", "op": "contains", "value": "gift"},
                ],
            }
        },
        impact={"currency": "JPY", "event_key": "cart.total"},
    )
    for action, ts in (
        ("enter", "2026-02-01T10:00:00Z"),
        ("enter", "2026-02-01T11:00:00Z"),  # already inside
        ("leave", "2026-02-02T10:00:00Z"),
        ("enter", "2026-02-03T10:00:00Z"),
    ):
        ok(
            api.post(
                "/api/v1/people/ada/segments",
                {"segment": seg["id"], "action": action, "timestamp": ts},
                format="json",
            ),
            201,
        )
    assert [x["achieved_at"] for x in achievements(api, on_enter["id"])] == [
        "2026-02-01T10:00:00Z",
        "2026-02-03T10:00:00Z",
    ]
    ok(
        event(
            api,
            "ada",
            "order",
            "2026-02-01T10:00:00Z",
            data={"cart": {"total": "50"}, "tags": ["gift"]},
        ),
        201,
    )
    ok(
        event(
            api,
            "ada",
            "order",
            "2026-02-01T11:00:00Z",
            data={"cart": {"total": 49.99}, "tags": ["gift"]},
        ),
        201,
    )
    ok(
        event(
            api,
            "ada",
            "order",
            "2026-02-01T12:00:00Z",
            data={"cart": {"total": 120, "coupon": "X"}, "tags": ["gift"]},
        ),
        201,
    )
    ok(
        event(
            api,
            "ada",
            "order",
            "2026-02-01T13:00:00Z",
            data={"cart": {"total": 1200}, "tags": ["gift", "x"]},
        ),
        201,
    )
    ok(
        event(
            api,
            "ada",
            "order",
            "2026-02-01T14:00:00Z",
            data={"cart": {"total": 70}, "tags": "none"},
        ),
        201,
    )
    rows = achievements(api, on_event["id"])
    assert [(x["achieved_at"], x["revenue"]) for x in rows] == [
        ("2026-02-01T10:00:00Z", "50"),
        ("2026-02-01T13:00:00Z", "1200"),
    ]
    body = report(api, on_event["id"], start="2026-02-01", end="2026-02-01")
    assert body["impact"] == {"amount": "1250", "currency": "JPY"}
    same_after_recompute(api, on_enter["id"], on_event["id"])


# --- people deleted, sources deleted, the tracking start --------------------------------------


def test_a_deleted_person_keeps_counting_and_the_identifier_comes_back_as_someone_new(
    api: APIClient, workspace: Workspace
) -> None:
    campaign = create(api, "/api/v1/campaigns", {"name": "C", "status": "running"})
    g = campaign_goal(api, campaign, impact={"currency": "EUR", "static": "10.5"})
    ok(api.put("/api/v1/people/ada", {"email": "ada@example.org"}, format="json"), 201)
    msg(api, "m1", "ada", "email", "2026-02-01T08:00:00Z", campaign=campaign["id"])
    ok(metric(api, "m1", "delivered", "2026-02-01T08:01:00Z"), 201)
    ok(event(api, "ada", "buy", "2026-02-02T10:00:00Z"), 201)
    ok(event(api, "ada", "buy", "2026-02-03T10:00:00Z"), 201)
    before = report(api, g["id"], start="2026-02-01", end="2026-02-28")
    assert (before["total_people"], before["achievements"]) == (1, 2)
    assert before["impact"] == {"amount": "21.00", "currency": "EUR"}

    assert api.delete("/api/v1/people/ada").status_code == 204
    assert api.get("/api/v1/people/ada").status_code == 404
    assert report(api, g["id"], start="2026-02-01", end="2026-02-28") == before
    rows = achievements(api, g["id"])
    assert [(r["person"], r["message"], r["revenue"]) for r in rows] == [
        (None, "m1", "10.50"),
        (None, "m1", "10.50"),
    ]
    old_key = rows[0]["person_key"]
    assert rows[1]["person_key"] == old_key
    assert ok(api.get("/api/v1/messages/m1"))["person"] is None
    # A late metric of the deleted person's message still re-attributes (earlier touch: same).
    ok(metric(api, "m1", "opened", "2026-02-01T09:00:00Z"), 201)
    assert report(api, g["id"], start="2026-02-01", end="2026-02-28") == before

    # The identifier again: a new person, with a new key, who has no message.
    ok(api.put("/api/v1/people/ada", {"attributes": {"x": 1}}, format="json"), 201)
    ok(event(api, "ada", "buy", "2026-02-04T10:00:00Z"), 201)
    after = report(api, g["id"], start="2026-02-01", end="2026-02-28")
    assert (after["total_people"], after["achievements"]) == (2, 3)
    assert after["impact"] == {"amount": "31.50", "currency": "EUR"}
    assert after["unattributed"]["people"] == 1
    rows = achievements(api, g["id"])
    assert rows[2]["person"] == "ada"
    assert rows[2]["person_key"] != old_key
    assert rows[2]["attributed"] is False

    # A recompute (a change of impact) gives the same people.
    ok(
        api.patch(
            f"/api/v1/goals/{g['id']}",
            {"impact": {"currency": "EUR", "static": "1"}},
            format="json",
        )
    )
    again = report(api, g["id"], start="2026-02-01", end="2026-02-28")
    assert (again["total_people"], again["achievements"]) == (2, 3)
    assert again["impact"] == {"amount": "3.00", "currency": "EUR"}
    same_after_recompute(api, g["id"])


def test_deleted_stopped_and_archived_sources_keep_their_credit(
    api: APIClient, workspace: Workspace
) -> None:
    names = ("Draft", "Stopped", "Archived", "Deleted")
    camps = {n: create(api, "/api/v1/campaigns", {"name": n, "status": "draft"}) for n in names}
    news = create(api, "/api/v1/broadcasts", {"name": "News", "kind": "newsletter"})
    g = goal(
        api,
        criteria={"trigger": {"type": "event", "name": "buy"}},
        sources=[{"type": "campaign", "id": c["id"]} for c in camps.values()]
        + [{"type": "broadcast", "id": news["id"]}],
    )
    for i, (name, c) in enumerate([*camps.items(), ("News", news)]):
        person = f"p{i}"
        source = {"broadcast": c["id"]} if name == "News" else {"campaign": c["id"]}
        msg(api, f"m{i}", person, "push", "2026-02-01T08:00:00Z", **source)
        ok(metric(api, f"m{i}", "delivered", "2026-02-01T08:01:00Z"), 201)
        ok(event(api, person, "buy", "2026-02-01T09:00:00Z"), 201)
    ok(
        api.patch(
            f"/api/v1/campaigns/{camps['Stopped']['id']}", {"status": "stopped"}, format="json"
        )
    )
    ok(
        api.patch(
            f"/api/v1/campaigns/{camps['Archived']['id']}", {"status": "archived"}, format="json"
        )
    )
    assert api.delete(f"/api/v1/campaigns/{camps['Deleted']['id']}").status_code == 204
    assert api.delete(f"/api/v1/broadcasts/{news['id']}").status_code == 204
    # A late delivery of the deleted campaign still counts.
    msg(api, "late", "p9", "push", "2026-02-01T08:00:00Z", campaign=camps["Deleted"]["id"])
    ok(metric(api, "late", "delivered", "2026-02-01T08:01:00Z"), 201)
    ok(event(api, "p9", "buy", "2026-02-01T09:00:00Z"), 201)
    # A change of the goal recomputes: nothing moves to unattributed.
    ok(api.patch(f"/api/v1/goals/{g['id']}", {"attribution": {"window_days": 3}}, format="json"))

    body = report(api, g["id"], start="2026-02-01", end="2026-02-01")
    by = {s["source"]["name"]: (s["people"], s["source"]["deleted"]) for s in body["by_source"]}
    assert by == {
        "Draft": (1, False),
        "Stopped": (1, False),
        "Archived": (1, False),
        "Deleted": (2, True),
        "News": (1, True),
    }
    assert body["unattributed"]["people"] == 0
    assert body["total_people"] == 6
    same_after_recompute(api, g["id"])


def test_anonymous_and_transactional_messages_never_count(
    api: APIClient, workspace: Workspace
) -> None:
    campaign = create(api, "/api/v1/campaigns", {"name": "C"})
    g = campaign_goal(api, campaign, criteria={"trigger": {"type": "message", "metric": "clicked"}})
    msg(
        api, "anon", None, "in_app", "2026-02-01T08:00:00Z", anonymous=True, campaign=campaign["id"]
    )
    ok(metric(api, "anon", "clicked", "2026-02-01T09:00:00Z"), 201)
    msg(api, "tx", "ada", "email", "2026-02-01T08:00:00Z")
    ok(metric(api, "tx", "clicked", "2026-02-01T09:00:00Z"), 201)
    rows = achievements(api, g["id"])
    assert [(r["person"], r["message"]) for r in rows] == [("ada", None)]
    body = report(api, g["id"], start="2026-02-01", end="2026-02-01")
    assert (body["total_people"], body["unattributed"]["people"]) == (1, 1)
    same_after_recompute(api, g["id"])


def test_nothing_before_the_tracking_start(api: APIClient, workspace: Workspace) -> None:
    campaign = create(api, "/api/v1/campaigns", {"name": "C"})
    g = campaign_goal(api, campaign, attribution={"window_days": 90})
    msg(api, "early", "ada", "email", "2025-10-31T23:00:00Z", campaign=campaign["id"])
    ok(metric(api, "early", "delivered", "2025-10-31T23:59:59Z"), 201)
    msg(api, "start", "bo", "email", "2025-10-31T23:00:00Z", campaign=campaign["id"])
    ok(metric(api, "start", "delivered", "2025-11-01T00:00:00Z"), 201)
    ok(event(api, "ada", "buy", "2025-10-31T23:59:59+00:00"), 201)  # before: not counted
    ok(event(api, "ada", "buy", 1761955200), 201)  # 2025-11-01T00:00:00Z: counted
    ok(event(api, "bo", "buy", 1761955200.5), 201)
    rows = achievements(api, g["id"])
    assert [(r["person"], r["achieved_at"], r["message"]) for r in rows] == [
        ("ada", "2025-11-01T00:00:00Z", None),
        ("bo", "2025-11-01T00:00:00.500000Z", "start"),
    ]
    # Berlin: 2025-11-01T01:00 local; 2025-10-31 is empty.
    assert report(api, g["id"], start="2025-10-31", end="2025-10-31")["total_people"] == 0
    assert report(api, g["id"], start="2025-11-01", end="2025-11-01")["total_people"] == 2
    same_after_recompute(api, g["id"])
