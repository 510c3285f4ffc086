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
    event,
    goal,
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
