"""A person deleted while a goal's first computation is still queued (with a
broker: seconds to minutes after the goal is created) loses what their attributes achieved,
where the same person deleted a moment later keeps it (SPEC §3: every achievement they had
keeps counting; §4.5: the result never depends on arrival order).

The broker's queue is simulated: the recompute task is held back and run afterwards, as a
worker would, everything else goes through the API in-process.
"""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from campaigns.models import Workspace
from goals import engine, tasks
from tests.goals.test_api_scenarios import achievements, goal

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.xfail(
    strict=True,
    reason="open defect: settle_before_deletion skips a goal never computed (current_version 0)",
)
@pytest.mark.parametrize(
    "criteria",
    [
        {"trigger": {"type": "attribute", "key": "plan", "op": "eq", "value": "pro"}},
        {"trigger": {"type": "event", "name": "buy"},
         "filters": [{"type": "attribute", "key": "plan", "op": "eq", "value": "pro"}]},
    ],
    ids=["attribute-trigger", "attribute-filter"],
)  # fmt: skip
def test_a_person_deleted_before_the_first_computation_keeps_what_they_achieved(
    api: APIClient, workspace: Workspace, monkeypatch: pytest.MonkeyPatch, criteria: Any
) -> None:
    queued: list[int] = []
    monkeypatch.setattr(tasks.recompute_goal, "delay", queued.append)
    g = goal(api, criteria=criteria)  # its first recompute waits in the queue
    assert queued == [g["id"]]
    response = api.put(
        "/api/v1/people/dee",
        {"attributes": {"plan": "pro"}, "timestamp": "2026-01-12T08:00:00Z"},
        format="json",
    )
    assert response.status_code == 201
    response = api.post(
        "/api/v1/people/dee/events",
        {"name": "buy", "timestamp": "2026-01-12T09:00:00Z"},
        format="json",
    )
    assert response.status_code == 201
    assert api.delete("/api/v1/people/dee").status_code == 204
    engine.recompute(goal_id=queued.pop())  # the worker gets to it
    assert len(achievements(api, g["id"])) == 1
