"""On PostgreSQL each goal result is a partition of its own (``goals.partitions``): a recompute
writes, indexes and attaches a new table and drops the replaced one; reconcile drops the tables
builds left. On SQLite the same steps keep one plain table. Committed data (the builds' shares
run on other connections), so these tests commit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.models import Workspace
from goals import engine, partitions
from goals.models import Achievement, Goal
from tests.goals.helpers import ingest, make_goal, recompute_now, results
from tests.goals.test_engine import event

pytestmark = pytest.mark.django_db(transaction=True)

on_postgresql = pytest.fixture(lambda: connection.vendor == "postgresql")


def tables_of(goal: Goal) -> dict[str, bool]:
    """The goal's result tables: name -> attached to the achievements table."""
    if connection.vendor != "postgresql":
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, relispartition FROM pg_class WHERE relkind = 'r' AND relname ~ %s",
            [rf"^{partitions.PARENT}_{goal.pk}_[0-9]+$"],
        )
        return dict(cursor.fetchall())


def rows_in(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        (count,) = cursor.fetchone()
    return int(count)


def test_a_result_is_written_to_its_own_table_and_replaced_with_it(
    workspace: Workspace, api: APIClient, on_postgresql: bool
) -> None:
    goal = make_goal(workspace, compute=False)
    ingest(
        api,
        event("ada", "plan_activated", "2026-03-04T10:00:00Z"),
        event("bob", "plan_activated", "2026-03-05T10:00:00Z"),
    )
    goal = recompute_now(goal)
    assert goal.current_version == 1
    first = results(goal)
    assert len(first) == 2
    leaf = partitions.leaf_name(goal.pk, 1)
    assert tables_of(goal) == ({leaf: True} if on_postgresql else {})

    goal = recompute_now(goal)

    assert goal.current_version == 2
    assert results(goal) == first
    # The replaced result went with its table; nothing is left in the shared default one.
    assert set(Achievement.objects.filter(goal=goal).values_list("version", flat=True)) == {2}
    leaf = partitions.leaf_name(goal.pk, 2)
    assert tables_of(goal) == ({leaf: True} if on_postgresql else {})
    if on_postgresql:
        assert rows_in(leaf) == 2
        assert rows_in(partitions.DEFAULT) == 0
        with connection.cursor() as cursor:
            # The table has its own indexes, without the goal and version it holds alone.
            cursor.execute(
                "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = %s::regclass",
                [leaf],
            )
            keys = sorted(definition.split(" USING btree ")[1] for (definition,) in cursor)
        assert keys == ["(achieved_at, id)", "(id)", "(person_key, trigger_id, trigger_kind)"]

    # New data lands in the current result's table (through the partitioned parent).
    ingest(api, event("cy", "plan_activated", "2026-03-06T10:00:00Z"))
    assert len(results(goal)) == 3
    if on_postgresql:
        assert rows_in(leaf) == 3


def test_reconcile_drops_the_tables_builds_left(
    workspace: Workspace, api: APIClient, on_postgresql: bool
) -> None:
    engine.reconcile()  # what earlier tests' committed builds left
    idle = make_goal(workspace, name="Idle", compute=False)
    building = make_goal(workspace, name="Building", compute=False)
    gone = make_goal(workspace, name="Gone", compute=False)
    ingest(api, event("ada", "plan_activated", "2026-03-04T10:00:00Z"))
    for goal in (idle, building, gone):
        recompute_now(goal)  # version 1, current
    if on_postgresql:
        # A build of version 2 that died before attaching its table, for each goal.
        for goal in (idle, building, gone):
            partitions.create_leaf(goal.pk, 2)
    Goal.objects.filter(pk=building.pk).update(
        recompute_lease_until=timezone.now() + timedelta(minutes=5)
    )
    Goal.objects.filter(pk=gone.pk).delete()

    dropped = engine.reconcile()["result_tables"]

    if on_postgresql:
        # Idle's dead build and both of the deleted goal's tables; a running build's stays.
        assert dropped == 3
        assert tables_of(idle) == {partitions.leaf_name(idle.pk, 1): True}
        assert tables_of(building) == {
            partitions.leaf_name(building.pk, 1): True,
            partitions.leaf_name(building.pk, 2): False,
        }
        assert tables_of(gone) == {}
    else:
        assert dropped == 0
    assert len(results(idle)) == 1 and len(results(building)) == 1
    assert not Achievement.objects.filter(goal_id=gone.pk).exists()


def test_dropping_a_replaced_result_waits_only_briefly_for_readers(
    workspace: Workspace, api: APIClient, on_postgresql: bool, monkeypatch: Any
) -> None:
    """Dropping a partition needs the whole achievements table for an instant: while a reader
    holds it, the recompute gives up after ``DROP_LOCK_TIMEOUT`` and reconcile drops the table
    later; the new result is in place either way."""
    engine.reconcile()  # what earlier tests' committed builds left
    monkeypatch.setattr(partitions, "DROP_LOCK_TIMEOUT", "200ms")
    goal = make_goal(workspace, compute=False)
    ingest(api, event("ada", "plan_activated", "2026-03-04T10:00:00Z"))
    goal = recompute_now(goal)
    if on_postgresql:
        # A reader of the current result, in a transaction that outlasts the recompute.
        reader = connections.create_connection("default")
        try:
            with reader.cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.execute(
                    f"SELECT COUNT(*) FROM {Achievement._meta.db_table} "
                    "WHERE goal_id = %s AND version = 1",
                    [goal.pk],
                )
                goal = recompute_now(goal)
                cursor.execute("COMMIT")
        finally:
            reader.close()
    else:
        goal = recompute_now(goal)

    assert goal.current_version == 2 and len(results(goal)) == 1
    old, new = partitions.leaf_name(goal.pk, 1), partitions.leaf_name(goal.pk, 2)
    assert tables_of(goal) == ({old: True, new: True} if on_postgresql else {})
    assert engine.reconcile()["result_tables"] == (1 if on_postgresql else 0)
    assert tables_of(goal) == ({new: True} if on_postgresql else {})
    assert set(Achievement.objects.filter(goal=goal).values_list("version", flat=True)) == {2}


def test_deleting_a_goal_drops_its_result_tables(
    workspace: Workspace, api: APIClient, on_postgresql: bool
) -> None:
    goal = make_goal(workspace, compute=False)
    ingest(api, event("ada", "plan_activated", "2026-03-04T10:00:00Z"))
    goal = recompute_now(goal)
    assert len(tables_of(goal)) == (1 if on_postgresql else 0)

    assert api.delete(f"/api/v1/goals/{goal.pk}").status_code == 204

    assert tables_of(goal) == {}
    assert not Achievement.objects.filter(goal_id=goal.pk).exists()


@pytest.mark.postgresql
def test_attaching_a_result_table_skips_checking_every_row(workspace: Workspace) -> None:
    """A result table's own check proves the partition's bounds, so attaching it does not
    scan its rows while the parent table is locked (PostgreSQL says so at DEBUG1)."""
    goal = make_goal(workspace, compute=False)
    leaf = partitions.create_leaf(goal.pk, 7)
    notices: list[str] = []
    raw = connection.connection

    def heard(notice: Any) -> None:
        notices.append(notice.message_primary)

    raw.add_notice_handler(heard)
    try:
        with connection.cursor() as cursor:
            for create in partitions.leaf_indexes(goal.pk, 7):
                cursor.execute(create)
            cursor.execute("SET client_min_messages = debug1")
            partitions.attach_leaf(goal.pk, 7)
            cursor.execute("RESET client_min_messages")
    finally:
        raw.remove_notice_handler(heard)
        partitions.drop_result(goal.pk, 7)
    assert f'partition constraint for table "{leaf}" is implied by existing constraints' in notices


@pytest.mark.postgresql
def test_a_new_result_table_is_analyzed_before_readers_see_it(
    workspace: Workspace, api: APIClient
) -> None:
    """Without statistics the planner takes a large result for a few rows and sorts all of
    them for a page of the achievement list; autovacuum may be minutes away, or off."""
    goal = make_goal(workspace, compute=False)
    ingest(
        api, *(event(f"p{n}", "plan_activated", f"2026-03-04T10:{n:02d}:00Z") for n in range(40))
    )
    goal = recompute_now(goal)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.reltuples, (SELECT COUNT(*) FROM pg_stats s WHERE s.tablename = c.relname "
            "AND s.attname = 'achieved_at') FROM pg_class c WHERE c.relname = %s",
            [partitions.leaf_name(goal.pk, goal.current_version)],
        )
        rows, achieved_at_stats = cursor.fetchone()
    assert (rows, achieved_at_stats) == (40, 1)


@pytest.mark.postgresql
def test_connections_take_achievement_ids_a_thousand_at_a_time(db: Any) -> None:
    """A recompute's shares write at once; one sequence call per row made them queue on the
    sequence (migration 0012)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT seqcache FROM pg_sequence "
            "WHERE seqrelid = pg_get_serial_sequence('goals_achievement', 'id')::regclass"
        )
        assert cursor.fetchone() == (1000,)
