"""SPEC §6: while a change's recompute is pending or running, readers keep the last complete
result, and data arriving meanwhile extends that result with the settings it was built with.

Found by an audit: incremental updates read the goal's live (already changed) settings and
wrote into the current version, built with the previous ones, so a report mixed the two
(10 EUR + 5 JPY read as 15.00 EUR) until the recompute's switch and catch-up put it right.

Each test holds the recompute lease (``recomputes._claim``), as a worker building the new
result would, changes the goal through the API, ingests, reads the old result, then lets the
recompute run and compares its result with a fresh goal made with the new settings.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from rest_framework.test import APIClient

from campaigns.models import Campaign, Workspace
from goals import engine
from goals.engine import recomputes
from goals.engine.spec import GoalSpec
from goals.models import Achievement, Goal
from tests.goals.helpers import ingest, make_goal, results
from tests.goals.test_engine import event, message, metric

pytestmark = pytest.mark.django_db(transaction=True)

RANGE = {"start": "2026-03-01", "end": "2026-03-05"}


@pytest.fixture
def onboarding(workspace: Workspace) -> Campaign:
    return Campaign.objects.create(workspace=workspace, name="Onboarding", status="running")


def report(api: APIClient, goal: Goal) -> dict[str, Any]:
    response = api.get(f"/api/v1/goals/{goal.pk}/report", RANGE)
    assert response.status_code == 200, response.content
    return response.json()


def revenues(api: APIClient, goal: Goal) -> list[str]:
    listed = api.get(f"/api/v1/goals/{goal.pk}/achievements").json()["results"]
    return sorted(a["revenue"] for a in listed)


def change(api: APIClient, goal: Goal, **body: Any) -> None:
    """Change the goal through the API while its recompute cannot run (lease held)."""
    patched = api.patch(f"/api/v1/goals/{goal.pk}", body, format="json")
    assert patched.status_code == 200, patched.content
    assert patched.json()["status"] == "recomputing"


def recompute(goal: Goal) -> None:
    """The worker holding the lease gives it back; the recompute runs."""
    recomputes._release(goal.pk)
    assert engine.recompute(goal_id=goal.pk)
    goal.refresh_from_db()
    assert goal.current_version == goal.requested_version


def fresh(workspace: Workspace, goal: Goal, **fields: Any) -> Goal:
    """A new goal made directly with ``goal``'s current settings, computed from stored data."""
    goal.refresh_from_db()
    return make_goal(
        workspace,
        name="Fresh",
        trigger=goal.criteria["trigger"],
        filters=goal.criteria["filters"],
        sources=[s.campaign or s.broadcast for s in goal.sources.all()],  # type: ignore[misc]
        impact_currency=goal.impact_currency,
        impact_static=goal.impact_static,
        impact_event_key=goal.impact_event_key,
        window_days=goal.window_days,
        metrics=goal.metrics,
        count_machine=goal.count_machine,
        **fields,
    )


def same_report(api: APIClient, goal: Goal, other: Goal) -> None:
    assert results(goal) == results(other)
    assert report(api, goal) == report(api, other)


def test_data_arriving_during_an_impact_change_is_priced_as_the_old_result_is(
    api: APIClient, workspace: Workspace
) -> None:
    goal = make_goal(workspace, impact_currency="EUR", impact_static=Decimal("10"))
    ingest(api, event("ada", "plan_activated", "2026-03-02T10:00:00Z"))
    assert recomputes._claim(goal.pk)  # a worker is building the goal's new result

    change(api, goal, impact={"currency": "JPY", "static": "5"})
    ingest(api, event("ben", "plan_activated", "2026-03-03T10:00:00Z"))

    # The old result, extended as it was built: two achievements of 10 euros (not 15.00 EUR).
    assert report(api, goal)["impact"] == {"amount": "20.00", "currency": "EUR"}
    assert revenues(api, goal) == ["10.00", "10.00"]

    recompute(goal)
    assert report(api, goal)["impact"] == {"amount": "10", "currency": "JPY"}
    same_report(api, goal, fresh(workspace, goal))


def test_data_arriving_during_a_window_change_is_credited_with_the_old_window(
    api: APIClient, workspace: Workspace, onboarding: Campaign
) -> None:
    goal = make_goal(workspace, sources=[onboarding], window_days=7)
    ingest(
        api,
        message("m1", "ada", "2026-02-20T09:00:00Z", onboarding),
        metric("m1", "delivered", "2026-02-20T09:01:00Z"),
        message("m2", "ben", "2026-02-20T09:00:00Z", onboarding),
        metric("m2", "delivered", "2026-02-20T09:01:00Z"),
        event("ada", "plan_activated", "2026-03-02T10:00:00Z"),
    )
    assert report(api, goal)["unattributed"]["people"] == 1  # 10 days: outside 7
    assert recomputes._claim(goal.pk)

    change(api, goal, attribution={"window_days": 14})
    ingest(api, event("ben", "plan_activated", "2026-03-03T10:00:00Z"))

    body = report(api, goal)
    assert body["total_people"] == 2
    assert body["unattributed"]["people"] == 2  # ben's message is outside the old 7 days
    assert [s["people"] for s in body["by_source"]] == [0]

    recompute(goal)
    body = report(api, goal)
    assert [s["people"] for s in body["by_source"]] == [2]  # both inside 14 days
    same_report(api, goal, fresh(workspace, goal))


def test_data_arriving_during_a_criteria_change_is_judged_by_the_old_criteria(
    api: APIClient, workspace: Workspace
) -> None:
    """An event matching only the old trigger still extends the old result (the people a new
    row concerns are chosen by the result's own criteria); one matching only the new trigger
    waits for the new result."""
    goal = make_goal(workspace, trigger={"type": "event", "name": "plan_activated"})
    ingest(
        api,
        event("ada", "plan_activated", "2026-03-02T10:00:00Z"),
        event("ada", "trial_started", "2026-03-01T10:00:00Z"),
    )
    assert report(api, goal)["achievements"] == 1
    assert recomputes._claim(goal.pk)

    change(api, goal, criteria={"trigger": {"type": "event", "name": "trial_started"}})
    ingest(
        api,
        event("ben", "plan_activated", "2026-03-03T10:00:00Z"),
        event("cem", "trial_started", "2026-03-03T11:00:00Z"),
    )

    goal.refresh_from_db()
    old = Achievement.objects.filter(goal=goal, version=goal.current_version)
    assert sorted(a.person.identifier for a in old) == ["ada", "ben"]  # type: ignore[union-attr]
    assert report(api, goal)["total_people"] == 2

    recompute(goal)
    new = Achievement.objects.filter(goal=goal, version=goal.current_version)
    assert sorted(a.person.identifier for a in new) == ["ada", "cem"]  # type: ignore[union-attr]
    same_report(api, goal, fresh(workspace, goal))


def test_data_arriving_during_a_time_zone_change_keeps_the_old_zone(
    api: APIClient, workspace: Workspace
) -> None:
    """A workspace's new zone recomputes its goals; until then the old result's local days
    stay in the zone it was built in."""
    goal = make_goal(workspace)
    assert recomputes._claim(goal.pk)
    workspace.time_zone = "America/New_York"  # was Europe/Berlin
    workspace.save()

    ingest(api, event("ada", "plan_activated", "2026-03-02T23:30:00Z"))
    goal.refresh_from_db()
    (achievement,) = Achievement.objects.filter(goal=goal, version=goal.current_version)
    assert achievement.local_date.isoformat() == "2026-03-03"  # 00:30 in Berlin

    recompute(goal)
    (achievement,) = Achievement.objects.filter(goal=goal, version=goal.current_version)
    assert achievement.local_date.isoformat() == "2026-03-02"  # 18:30 in New York


def test_the_switch_records_the_settings_the_result_was_built_with(
    api: APIClient, workspace: Workspace, onboarding: Campaign
) -> None:
    goal = make_goal(workspace, sources=[onboarding], impact_currency="EUR", impact_static=1)
    assert recomputes._claim(goal.pk)
    change(api, goal, impact={"currency": "JPY", "static": "5"}, sources=[])
    goal = Goal.objects.select_related("workspace").get(pk=goal.pk)
    built = GoalSpec.for_result(goal)
    assert (built.goal.impact_currency, built.goal.impact_static) == ("EUR", Decimal(1))
    assert built.campaign_ids == [onboarding.pk]
    assert goal.report_currency == "EUR"
    assert (goal.impact_currency, goal.impact_static) == ("JPY", Decimal(5))  # untouched

    recompute(goal)
    goal = Goal.objects.select_related("workspace").get(pk=goal.pk)
    assert goal.result_spec == GoalSpec.load(goal).snapshot()
    assert GoalSpec.for_result(goal).campaign_ids == []
    assert goal.report_currency == "JPY"


def test_the_migration_records_the_results_that_are_current(
    workspace: Workspace, onboarding: Campaign
) -> None:
    """Migration 0011: a current result was built with the goal's own settings; one still
    recomputing a change at migration time stays unknown (read as the goal's fields)."""
    before, after = (
        ("goals", "0010_achievement_partition_local_indexes"),
        ("goals", "0011_goal_result_spec"),
    )
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    try:
        apps = executor.loader.project_state([before]).apps
        old_goal, old_source = (
            apps.get_model("goals", "Goal"),
            apps.get_model("goals", "GoalSource"),
        )
        fields = {
            "workspace_id": workspace.pk,
            "criteria": {"trigger": {"type": "event", "name": "plan_activated"}, "filters": []},
            "impact_currency": "EUR",
            "impact_static": Decimal("10.5"),
            "current_version": 1,
        }
        current = old_goal.objects.create(name="Current", requested_version=1, **fields)
        old_source.objects.create(goal_id=current.pk, campaign_id=onboarding.pk)
        changing = old_goal.objects.create(name="Changing", requested_version=2, **fields)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate([after])

    goal = Goal.objects.select_related("workspace").get(pk=current.pk)
    assert goal.result_spec == GoalSpec.load(goal).snapshot()
    assert goal.result_spec["campaign_ids"] == [onboarding.pk]
    assert goal.result_spec["time_zone"] == "Europe/Berlin"
    assert GoalSpec.for_result(goal).goal.impact_static == Decimal("10.5")
    assert Goal.objects.get(pk=changing.pk).result_spec is None
