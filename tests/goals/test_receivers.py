"""Deleting a person clears their achievements' person link in every version a goal may hold,
and nothing else: the achievements keep counting under the anonymous key."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from campaigns import services
from campaigns.models import Person, Workspace
from goals.models import Achievement, Goal
from tests.goals.helpers import ingest, make_goal


def event(person: str, ts: str) -> dict[str, object]:
    return {"type": "event", "person": person, "name": "plan_activated", "timestamp": ts}


@pytest.fixture
def two_people(workspace: Workspace, api: APIClient) -> tuple[Person, Person]:
    ingest(api, event("ana", "2026-03-02T10:00:00Z"), event("ben", "2026-03-02T11:00:00Z"))
    return Person.objects.get(identifier="ana"), Person.objects.get(identifier="ben")


def test_it_clears_the_link_in_the_current_and_a_version_being_built(
    workspace: Workspace, two_people: tuple[Person, Person]
) -> None:
    ana, ben = two_people
    goal = make_goal(workspace)
    current = goal.current_version
    # A build of the next version is under way and has already written Ana's row.
    Goal.objects.filter(pk=goal.pk).update(requested_version=current + 1)
    building = Achievement.objects.get(goal=goal, version=current, person=ana)
    building.pk = None
    building.version = current + 1
    building.save()

    services.person_delete(person=ana)

    rows = Achievement.objects.filter(goal=goal, person_key=ana.key)
    assert sorted(rows.values_list("version", "person_id")) == [
        (current, None),
        (current + 1, None),
    ]
    assert Achievement.objects.get(goal=goal, version=current, person_key=ben.key).person == ben


def test_it_leaves_other_workspaces_alone(
    workspace: Workspace,
    other_workspace: Workspace,
    two_people: tuple[Person, Person],
    other_api: APIClient,
) -> None:
    ana, _ = two_people
    ingest(other_api, event("ana", "2026-03-02T10:00:00Z"))
    other_ana = Person.objects.get(workspace=other_workspace, identifier="ana")
    goal, other_goal = make_goal(workspace), make_goal(other_workspace)

    services.person_delete(person=ana)

    assert Achievement.objects.get(goal=goal, person_key=ana.key).person_id is None
    assert Achievement.objects.get(goal=other_goal).person == other_ana
