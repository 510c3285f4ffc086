"""Deleting a goal while an incremental update of it runs (PostgreSQL: result tables and row
locks). Found by ingesting batches while goals were created, changed and deleted: the goal's
DELETE and the ingestion's update deadlocked, and either answered 500 (the ingestion after
its data had committed, so a client retrying it stored events without ids twice)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from campaigns.models import Person, Workspace
from goals import engine
from goals.engine import incremental
from goals.models import Goal
from tests.goals.helpers import ingest, make_goal
from tests.goals.test_engine import event

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgresql]


def test_a_goal_deleted_during_its_incremental_update_waits_for_it(
    workspace: Workspace, api: APIClient, monkeypatch: Any
) -> None:
    """The update holds the goal row and then reads the goal's result table; the deletion
    dropped the result tables first and then waited for the goal row: each waited for the
    other. The deletion now takes the goal row first, so it simply waits for the update."""
    goal = make_goal(workspace)
    ingest(api, event("ada", "plan_activated", "2026-01-14T10:00:00Z"))
    ada = Person.objects.get(identifier="ada")
    inside, release = threading.Event(), threading.Event()
    real_apply = engine.apply_people
    failures: list[BaseException] = []

    def slow_apply(spec: Any, **kwargs: Any) -> None:
        inside.set()
        release.wait(10)
        real_apply(spec, **kwargs)

    def update() -> None:
        try:
            incremental._apply_to_goal(goal.pk, [ada.key])
        except BaseException as exc:  # the deadlock's loser, if it is this side
            failures.append(exc)
        finally:
            connection.close()

    monkeypatch.setattr(incremental, "apply_people", slow_apply)
    updating = threading.Thread(target=update, daemon=True)
    updating.start()
    assert inside.wait(10)
    # The update resumes (and reads the result table) while the deletion is under way.
    threading.Timer(1.0, release.set).start()

    response = api.delete(f"/api/v1/goals/{goal.pk}")
    updating.join(15)

    assert response.status_code == 204, response.content
    assert failures == []
    assert not Goal.objects.filter(pk=goal.pk).exists()
