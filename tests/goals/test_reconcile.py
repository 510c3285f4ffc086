"""The periodic reconcile pass: a safety net for tasks lost between a commit and the queue."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from campaigns.models import Event, Person, Workspace
from goals import engine
from goals.models import Achievement, Goal, GoalStatus
from tests.goals.helpers import make_goal

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_restarts_a_recompute_whose_task_was_lost(workspace: Workspace) -> None:
    goal = make_goal(workspace)
    # A change was saved, but its task never reached a worker.
    Goal.objects.filter(pk=goal.pk).update(
        requested_version=goal.requested_version + 1, status=GoalStatus.RECOMPUTING
    )
    result = engine.reconcile()
    goal.refresh_from_db()
    assert result["restarted"] == 1
    assert goal.status == GoalStatus.READY
    assert goal.current_version == goal.requested_version


def test_it_leaves_a_recompute_that_holds_its_lease_alone(workspace: Workspace) -> None:
    goal = make_goal(workspace)
    Goal.objects.filter(pk=goal.pk).update(requested_version=goal.requested_version + 1)
    assert engine._claim(goal.pk)  # a worker is building it right now
    assert engine.reconcile()["restarted"] == 0
    engine._release(goal.pk)


def test_it_evaluates_data_whose_ingestion_task_was_lost(workspace: Workspace) -> None:
    goal = make_goal(workspace)
    person = Person.objects.create(workspace=workspace, identifier="ada")
    # Stored without its process_ingested task (as if the broker lost it).
    Event.objects.create(
        workspace=workspace,
        person=person,
        person_key=person.key,
        name="plan_activated",
        timestamp=datetime(2026, 1, 14, 10, tzinfo=UTC),
        client_id=str(uuid.uuid4()),
    )
    goal.refresh_from_db()
    assert not Achievement.objects.filter(goal=goal, version=goal.current_version).exists()
    assert engine.reconcile()["reconciled"] == 1
    achieved = Achievement.objects.get(goal=goal, version=goal.current_version)
    assert achieved.person_key == person.key
    # A second pass finds nothing new and changes nothing.
    engine.reconcile()
    assert Achievement.objects.filter(goal=goal).count() == 1
