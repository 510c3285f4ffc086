"""The periodic reconcile pass: a safety net for tasks lost between a commit and the queue."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection

from campaigns.models import Campaign, Event, Message, PendingMetric, Person, Workspace
from goals import engine
from goals.engine import incremental, recomputes, reconciliation
from goals.models import Achievement, Goal, GoalStatus
from tests.goals.helpers import make_goal

pytestmark = pytest.mark.django_db(transaction=True)


def lost_event(person: Person) -> Event:
    """A "plan_activated" event stored without its process_ingested task (as if the broker
    lost it)."""
    return Event.objects.create(
        workspace=person.workspace,
        person=person,
        person_key=person.key,
        name="plan_activated",
        timestamp=datetime(2026, 1, 14, 10, tzinfo=UTC),
        client_id=str(uuid.uuid4()),
    )


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
    assert recomputes._claim(goal.pk)  # a worker is building it right now
    assert engine.reconcile()["restarted"] == 0
    recomputes._release(goal.pk)


def test_it_evaluates_data_whose_ingestion_task_was_lost(workspace: Workspace) -> None:
    goal = make_goal(workspace)
    person = Person.objects.create(workspace=workspace, identifier="ada")
    lost_event(person)
    goal.refresh_from_db()
    assert not Achievement.objects.filter(goal=goal, version=goal.current_version).exists()
    assert engine.reconcile()["reconciled"] == 1
    achieved = Achievement.objects.get(goal=goal, version=goal.current_version)
    assert achieved.person_key == person.key
    # A second pass finds nothing new and changes nothing.
    engine.reconcile()
    assert Achievement.objects.filter(goal=goal).count() == 1


def test_it_stores_metrics_kept_for_a_message_whose_task_missed_them(
    workspace: Workspace,
) -> None:
    campaign = Campaign.objects.create(workspace=workspace, name="Onboarding", status="running")
    goal = make_goal(workspace, sources=[campaign])
    person = Person.objects.create(workspace=workspace, identifier="ada")
    at = datetime(2026, 1, 14, 10, tzinfo=UTC)
    # A metric kept before its message arrived, then the message, an achieving event, and no
    # task that moved the metric (the race ``process_ingested`` covers, with the task lost).
    PendingMetric.objects.create(
        workspace=workspace, message_client_id="m1", metric="delivered", timestamp=at
    )
    message = Message.objects.create(
        workspace=workspace,
        client_id="m1",
        person=person,
        person_key=person.key,
        channel="email",
        campaign=campaign,
        sent_at=at - timedelta(hours=1),
    )
    Event.objects.create(
        workspace=workspace,
        person=person,
        person_key=person.key,
        name="plan_activated",
        timestamp=at + timedelta(hours=2),
        client_id="e1",
    )

    assert engine.reconcile()["waiting_metrics"] == 1

    assert not PendingMetric.objects.exists()
    assert message.metrics.get().metric == "delivered"
    goal.refresh_from_db()
    achieved = Achievement.objects.get(goal=goal, version=goal.current_version)
    assert (achieved.message_id, achieved.touch_at) == (message.pk, at)
    assert engine.reconcile()["waiting_metrics"] == 0


def test_it_drops_the_staging_tables_of_builds_that_died(workspace: Workspace) -> None:
    building, idle = make_goal(workspace, name="Building"), make_goal(workspace, name="Idle")
    assert recomputes._claim(building.pk)  # a worker is building it right now
    scratch = {
        f"goals_stage_{building.pk}_9": True,  # kept: its build may still be running
        f"goals_stage_{idle.pk}_4": False,  # left by a worker that died mid-build
        f"goals_stage_{idle.pk + 1000}_2": False,  # of a goal deleted since
    }
    on_postgresql = connection.vendor == "postgresql"
    if on_postgresql:
        with connection.cursor() as cursor:
            for name in scratch:
                cursor.execute(f"CREATE UNLOGGED TABLE {name} (id bigint)")

    dropped = engine.reconcile()["scratch_tables"]
    recomputes._release(building.pk)

    # SQLite's staging tables are temporary: they go with their connection.
    assert dropped == (2 if on_postgresql else 0)
    tables = set(connection.introspection.table_names())
    expected = {name for name, kept in scratch.items() if kept} if on_postgresql else set()
    assert {name for name in tables if name.startswith("goals_stage_")} == expected
    with connection.cursor() as cursor:
        for name in expected:
            cursor.execute(f"DROP TABLE {name}")


def test_it_deletes_the_rows_of_a_goal_deleted_while_a_build_wrote_them(
    workspace: Workspace,
) -> None:
    kept, gone = make_goal(workspace, name="Kept"), make_goal(workspace, name="Gone")
    person = Person.objects.create(workspace=workspace, identifier="ada")
    at = datetime(2026, 1, 14, 10, tzinfo=UTC)
    rows = [
        Achievement(
            goal_id=goal.pk,
            version=goal.current_version,
            person_key=person.key,
            achieved_at=at,
            local_date=at.date(),
            trigger_kind="event",
            trigger_id=n,
        )
        for n, goal in enumerate([kept, gone, gone])
    ]
    engine.reconcile()  # what earlier tests' committed builds left
    Goal.objects.filter(pk=gone.pk).delete()
    # What a worker that died mid-build leaves: rows written after its goal was deleted.
    Achievement.objects.bulk_create(rows)

    # On PostgreSQL the rows are in the deleted goal's own result table, which goes whole.
    dropped = "result_tables" if connection.vendor == "postgresql" else "orphaned_goals"
    assert engine.reconcile()[dropped] == 1
    assert list(Achievement.objects.values_list("goal_id", flat=True)) == [kept.pk]
    assert engine.reconcile()[dropped] == 0


def test_a_pass_reads_what_arrived_once_per_workspace_and_only_for_goals_it_affects(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found with a real worker after a bulk import: each goal's catch-up re-read every row
    received since the last pass and re-evaluated everyone in it, for minutes per goal, under
    the goal's row lock. A pass reads the rows once per workspace, and a goal re-evaluates the
    people whose new data can affect it, as the ingestion task would have."""
    activated = make_goal(workspace, name="activated")
    churned = make_goal(workspace, name="churned", trigger={"type": "event", "name": "churned"})
    person = Person.objects.create(workspace=workspace, identifier="ada")
    lost_event(person)
    reads: list[int] = []
    applied: list[tuple[int, set[uuid.UUID]]] = []
    real_read, real_apply = engine.received_since, incremental._apply_to_goal

    def counted_read(workspace_id: int, since: datetime) -> incremental.Received:
        reads.append(workspace_id)
        return real_read(workspace_id, since)

    def recorded_apply(goal_id: int, keys: Any) -> None:
        applied.append((goal_id, set(keys)))
        real_apply(goal_id, keys)

    monkeypatch.setattr(reconciliation, "received_since", counted_read)
    monkeypatch.setattr(incremental, "received_since", counted_read)
    monkeypatch.setattr(incremental, "_apply_to_goal", recorded_apply)

    assert engine.reconcile()["reconciled"] == 2

    assert reads == [workspace.pk]
    assert applied == [(activated.pk, {person.key})]
    activated.refresh_from_db()
    churned.refresh_from_db()
    assert (
        Achievement.objects.filter(goal=activated, version=activated.current_version).count() == 1
    )
    assert not Achievement.objects.filter(goal=churned).exists()
    assert activated.reconciled_through is not None and churned.reconciled_through is not None


def fail_for(goal: Goal, monkeypatch: Any) -> None:
    """Applying new data to ``goal`` raises (a bug in its evaluation, its rollup's revenue out
    of range); other goals are applied as usual."""
    real_apply = incremental.apply_people

    def apply_people(spec: Any, **kwargs: Any) -> None:
        if spec.goal.pk == goal.pk:
            raise RuntimeError("this goal cannot be applied")
        real_apply(spec, **kwargs)

    monkeypatch.setattr(incremental, "apply_people", apply_people)


def test_a_goal_that_fails_does_not_keep_new_data_from_the_workspaces_other_goals(
    workspace: Workspace, monkeypatch: Any, caplog: Any
) -> None:
    """Every goal of the workspace was applied in one loop: the first that raised stopped the
    loop, and the goals after it got the new data only once that goal was fixed."""
    failing = make_goal(workspace, name="A failing goal")  # first, by id and by name
    other = make_goal(workspace, name="Other goal")
    person = Person.objects.create(workspace=workspace, identifier="ada")
    event = lost_event(person)
    fail_for(failing, monkeypatch)
    with pytest.raises(incremental.GoalsFailed) as raised:  # so that the task retries
        engine.process_ingested(workspace_id=workspace.pk, event_ids=[event.pk])
    assert raised.value.goal_ids == [failing.pk]
    assert f"goal {failing.pk}: new data could not be applied" in caplog.text
    assert Achievement.objects.filter(goal=other, version=other.current_version).count() == 1
    assert not Achievement.objects.filter(goal=failing).exists()


def test_a_goal_that_fails_does_not_stop_the_reconcile_pass(
    workspace: Workspace, monkeypatch: Any
) -> None:
    failing = make_goal(workspace, name="A failing goal")
    other = make_goal(workspace, name="Other goal")
    lost_event(Person.objects.create(workspace=workspace, identifier="ada"))
    fail_for(failing, monkeypatch)
    through = Goal.objects.get(pk=failing.pk).reconciled_through
    result = engine.reconcile()
    assert (result["reconciled"], result["failed"]) == (1, 1)
    assert Achievement.objects.filter(goal=other, version=other.current_version).count() == 1
    # The failing goal keeps its mark, so the next pass (once it can be applied) catches up.
    assert Goal.objects.get(pk=failing.pk).reconciled_through == through
    monkeypatch.undo()
    assert engine.reconcile()["failed"] == 0
    assert Achievement.objects.filter(goal=failing, version=failing.current_version).count() == 1


def test_a_pass_keeps_the_mark_a_recompute_switched_in_during_it_set_back(
    workspace: Workspace, monkeypatch: Any
) -> None:
    """Found reading the reconcile pass during a load run: a recompute switching in while a pass
    runs sets the goal's mark back to where its build may have missed rows (its catch-up,
    after the switch, covers them). The pass, which read the older mark before the switch,
    then wrote its own: if the recompute's worker died before its catch-up, no later pass
    looked at those rows again."""
    goal = make_goal(workspace)
    build_began = datetime(2026, 1, 1, tzinfo=UTC)
    real_catch_up = reconciliation.catch_up

    def switched_meanwhile(**kwargs: Any) -> None:
        # The switch of a build that began long before this pass (``_build_and_switch``).
        Goal.objects.filter(pk=goal.pk).update(reconciled_through=build_began)
        real_catch_up(**kwargs)

    monkeypatch.setattr(reconciliation, "catch_up", switched_meanwhile)
    engine.reconcile()
    assert Goal.objects.get(pk=goal.pk).reconciled_through == build_began
    monkeypatch.undo()
    engine.reconcile()  # the next pass starts there, and moves the mark on
    through = Goal.objects.get(pk=goal.pk).reconciled_through
    assert through is not None and through > build_began
