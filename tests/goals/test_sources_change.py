"""``goals.services.sources_change``: several sources added and removed as one change."""

from __future__ import annotations

from typing import Any

import pytest

from campaigns import services as campaign_services
from campaigns import sources
from campaigns.errors import DomainError
from campaigns.models import Workspace
from goals import services
from goals.models import Goal, GoalSource

SIGNUP = {"trigger": {"type": "event", "name": "signup"}}


def refs(goal: Goal) -> set[tuple[str, int]]:
    return {row.ref for row in GoalSource.objects.filter(goal=goal)}


@pytest.fixture
def goal(workspace: Workspace) -> Goal:
    return services.goal_create(workspace=workspace, name="Activation", criteria=SIGNUP)


def test_it_adds_and_removes_in_one_recompute(
    workspace: Workspace, goal: Goal, django_capture_on_commit_callbacks: Any
) -> None:
    a, b, c = (sources.campaign_create(workspace=workspace, name=n) for n in "abc")
    services.sources_change(goal=goal, add=[("campaign", a.pk), ("campaign", b.pk)])
    version = Goal.objects.get(pk=goal.pk).requested_version
    with django_capture_on_commit_callbacks() as callbacks:
        services.sources_change(
            goal=goal, add=[("campaign", c.pk), ("campaign", a.pk)], remove=[("campaign", b.pk)]
        )
    assert refs(goal) == {("campaign", a.pk), ("campaign", c.pk)}
    assert len(callbacks) == 1
    assert Goal.objects.get(pk=goal.pk).requested_version == version + 1


def test_no_change_is_no_recompute(
    workspace: Workspace, goal: Goal, django_capture_on_commit_callbacks: Any
) -> None:
    a = sources.campaign_create(workspace=workspace, name="a")
    services.sources_change(goal=goal, add=[("campaign", a.pk)])
    with django_capture_on_commit_callbacks() as callbacks:
        services.sources_change(goal=goal, add=[("campaign", a.pk)], remove=[("broadcast", 12345)])
    assert callbacks == []


def test_a_deleted_source_stays_removable_but_cannot_be_added(
    workspace: Workspace, goal: Goal
) -> None:
    kept = sources.campaign_create(workspace=workspace, name="kept")
    services.sources_change(goal=goal, add=[("campaign", kept.pk)])
    campaign_services.source_soft_delete(source=kept)
    services.sources_change(goal=goal, add=[("campaign", kept.pk)])  # still a source: fine
    assert refs(goal) == {("campaign", kept.pk)}
    services.sources_change(goal=goal, remove=[("campaign", kept.pk)])
    assert refs(goal) == set()
    with pytest.raises(DomainError) as caught:
        services.sources_change(goal=goal, add=[("campaign", kept.pk)])
    assert list(caught.value.errors) == ["add.0.id"]


def test_every_bad_source_is_named_and_nothing_is_stored(
    workspace: Workspace, other_workspace: Workspace, goal: Goal
) -> None:
    good = sources.campaign_create(workspace=workspace, name="good")
    api = sources.broadcast_create(workspace=workspace, name="api", kind="api_triggered")
    theirs = sources.campaign_create(workspace=other_workspace, name="theirs")
    with pytest.raises(DomainError) as caught:
        services.sources_change(
            goal=goal,
            add=[("campaign", good.pk), ("broadcast", api.pk), ("campaign", theirs.pk)],
        )
    assert caught.value.errors == {
        "add.1.id": ["API-triggered broadcasts can't be goal sources"],
        "add.2.id": [f"no campaign with id {theirs.pk} in this workspace"],
    }
    assert refs(goal) == set()
