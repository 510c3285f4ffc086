"""SPEC §6 as a reader sees a recompute: "readers keep seeing the last complete result until the
new one is complete".

Found with a real worker over Redis and PostgreSQL: a message delivered while a 15 s recompute
ran counted at once (the old result was extended), then vanished from the report the moment
the goal turned ``ready``, and came back a second later. The new result was switched in
before catch-up had brought in what arrived while it was being built, and its status said
``ready`` meanwhile."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.models import Event, Workspace
from goals import engine
from goals.engine import incremental, recomputes, reconciliation
from goals.models import Achievement, Goal, GoalRollup, GoalStatus
from tests.goals.helpers import ingest, make_goal, recompute_now, results
from tests.goals.test_engine import event

pytestmark = pytest.mark.django_db(transaction=True)


def _counts(goal_id: int) -> tuple[int, int, str]:
    goal = Goal.objects.get(pk=goal_id)
    achievements = Achievement.objects.filter(goal=goal, version=goal.current_version).count()
    total = sum(
        GoalRollup.objects.filter(
            goal=goal, version=goal.current_version, scope_type="total"
        ).values_list("achievements", flat=True)
    )
    return achievements, total, goal.status


def test_data_arriving_during_a_build_is_in_the_new_result_when_readers_switch_to_it(
    workspace: Workspace, api: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    goal = make_goal(workspace)
    ingest(api, event("ada", "plan_activated", "2026-01-14T10:00:00Z"))
    assert _counts(goal.pk)[:2] == (1, 1)
    real_build = recomputes.build_attributed

    def build_while_bob_arrives(spec: Any, **kwargs: Any) -> int:
        count = real_build(spec, **kwargs)
        # Ingested (and, in-process, applied to the result readers see) while building.
        ingest(api, event("bob", "plan_activated", "2026-01-15T10:00:00Z"))
        assert _counts(goal.pk)[:2] == (2, 2)  # the previous result, extended
        return count

    at_switch: list[tuple[int, int, str]] = []
    real_drop = recomputes._drop_other_versions

    def seen_right_after_the_switch(goal_id: int, **kwargs: Any) -> None:
        at_switch.append(_counts(goal_id))
        real_drop(goal_id, **kwargs)

    monkeypatch.setattr(recomputes, "build_attributed", build_while_bob_arrives)
    monkeypatch.setattr(recomputes, "_drop_other_versions", seen_right_after_the_switch)
    goal = recompute_now(goal)
    monkeypatch.undo()

    # Readers never saw bob's achievement disappear: the result switched in already had it.
    assert at_switch[0][:2] == (2, 2)
    assert _counts(goal.pk) == (2, 2, GoalStatus.READY)
    assert results(goal) == results(recompute_now(goal))


def test_ready_is_said_only_once_catch_up_is_done(
    workspace: Workspace, api: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that waits for ``ready`` and reads the report must find what it ingested
    during the recompute: the status turns ``ready`` after the catch-up, not at the switch."""
    goal = make_goal(workspace)
    statuses: list[str] = []
    real_catch_up = recomputes.catch_up

    def catch_up(**kwargs: Any) -> None:
        statuses.append(Goal.objects.get(pk=goal.pk).status)
        real_catch_up(**kwargs)

    monkeypatch.setattr(recomputes, "catch_up", catch_up)
    engine.recompute_request(goal=goal)  # in-process: runs now
    goal.refresh_from_db()
    assert statuses == [GoalStatus.RECOMPUTING]
    assert goal.status == GoalStatus.READY


def test_a_goal_left_recomputing_after_its_switch_is_made_ready_by_reconcile(
    workspace: Workspace, api: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that died between the switch and its catch-up (kill -9) left the goal switched
    in but still ``recomputing``: reconcile restarts it, and it is ``ready`` again."""
    goal = make_goal(workspace)
    ingest(api, event("ada", "plan_activated", "2026-01-14T10:00:00Z"))

    def dies(**kwargs: Any) -> None:
        raise SystemExit("worker killed")

    monkeypatch.setattr(recomputes, "catch_up", dies)
    Goal.objects.filter(pk=goal.pk).update(status=GoalStatus.RECOMPUTING)  # as a change does
    with pytest.raises(SystemExit):
        recompute_now(goal)
    monkeypatch.undo()
    goal.refresh_from_db()
    assert goal.current_version == goal.requested_version
    assert goal.status == GoalStatus.RECOMPUTING
    Goal.objects.filter(pk=goal.pk).update(recompute_lease_until=None)  # the lease expired

    reconciliation.reconcile()

    goal.refresh_from_db()
    assert goal.status == GoalStatus.READY
    assert engine.recompute(goal_id=goal.pk) is False  # nothing left to build
    assert _counts(goal.pk) == (1, 1, GoalStatus.READY)


def test_on_sqlite_the_catch_up_after_the_switch_does_not_re_read_the_whole_overlap(
    workspace: Workspace, api: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The catch-up before the switch looked back the whole overlap (five minutes on SQLite);
    the one after it looks back the clock margin only: doing both over five minutes
    re-evaluated everyone who arrived in them twice, in the request that changed the goal."""
    goal = make_goal(workspace)
    ingest(api, event("ada", "plan_activated", "2026-01-14T10:00:00Z"))
    Event.objects.filter(workspace=workspace).update(
        received_at=timezone.now() - timedelta(minutes=2)
    )
    calls: list[int] = []
    real_apply = incremental.apply_people

    def recorded(spec: Any, *, version: int, person_keys: Any) -> None:
        calls.append(version)
        real_apply(spec, version=version, person_keys=person_keys)

    monkeypatch.setattr(incremental, "apply_people", recorded)
    goal = recompute_now(goal)
    # SQLite: before the switch, once. PostgreSQL sees that no transaction is open: neither
    # catch-up reaches back two minutes.
    assert calls == ([goal.current_version] if connection.vendor == "sqlite" else [])
