"""The periodic reconcile pass (Celery beat): restarts recomputes a dead worker left, catches
goals up on data no task applied, applies metrics that waited for their message, and drops
what deleted goals and abandoned builds left behind.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from campaigns.models import Message, PendingMetric
from campaigns.services import message_reach_refresh, pending_metrics_apply
from goals import partitions
from goals.engine.incremental import catch_up, received_since, unseen_since
from goals.engine.recomputes import _drop_if_goal_gone
from goals.engine.rollup import rollup_backfill
from goals.models import Achievement, Goal, GoalStatus

logger = logging.getLogger(__name__)


def reconcile() -> dict[str, int]:
    """Periodic safety net (beat): restart recomputes whose task was lost, re-evaluate people
    whose data arrived since the last pass (a task lost between commit and queue), build the
    rollup of results computed before rollups existed, and clear what builds that died left
    (their staging tables; rows written for a goal deleted meanwhile)."""
    now = timezone.now()
    restarted = 0
    # A recompute whose worker died before its switch, or after it but before its catch-up
    # (switched in, still ``recomputing``): the restarted task finishes either.
    stuck = Goal.objects.filter(
        Q(requested_version__gt=F("current_version")) | Q(status=GoalStatus.RECOMPUTING)
    ).filter(Q(recompute_lease_until__isnull=True) | Q(recompute_lease_until__lt=now))
    from goals import tasks

    for goal_id in stuck.values_list("id", flat=True):
        try:
            tasks.recompute_goal.delay(goal_id)
        except Exception:  # in-process, the recompute itself; else the broker not reachable
            logger.exception("goal %s: the restarted recompute failed", goal_id)
            continue
        restarted += 1
    with _reconcile_pass() as alone:
        if not alone:
            # Another pass is running (a long one, after a bulk import): it covers the rest.
            # Passes side by side redid the same work on every worker slot, waiting on each
            # other's row locks, and ingestion tasks queued behind them for minutes.
            rest = dict.fromkeys(RECONCILE_STEPS, 0)
            return {"restarted": restarted, "skipped": 1, **rest}
        return {"restarted": restarted, "skipped": 0, **_reconcile_rest(now)}


#: What ``_reconcile_rest`` counts.
RECONCILE_STEPS = (
    "waiting_metrics",
    "reconciled",
    "failed",
    "rollups",
    "scratch_tables",
    "result_tables",
    "orphaned_goals",
)


#: The PostgreSQL advisory lock held by the running reconcile pass.
RECONCILE_LOCK = 0x60A150


@contextmanager
def _reconcile_pass() -> Iterator[bool]:
    """Whether this is the only reconcile pass running (PostgreSQL: a session advisory lock,
    released at the end or with the connection of a worker that died). SQLite runs tasks
    in-process, one database writer at a time: always alone."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [RECONCILE_LOCK])
        (alone,) = cursor.fetchone()
    try:
        yield bool(alone)
    finally:
        if alone:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [RECONCILE_LOCK])


def _reconcile_rest(now: datetime) -> dict[str, int]:
    """The reconcile pass after restarting lost recomputes; one pass at a time."""
    # The next pass starts where rows this one may not see begin.
    unseen = unseen_since()
    waiting_metrics = _apply_waiting_metrics()
    reconciled = failed = 0
    # What arrived is read once per workspace (since the earliest of its goals' last passes),
    # not once per goal: after a bulk import each goal re-read the same rows for minutes.
    by_workspace: dict[int, list[tuple[int, datetime | None]]] = defaultdict(list)
    for goal_id, workspace_id, through in Goal.objects.filter(current_version__gt=0).values_list(
        "id", "workspace_id", "reconciled_through"
    ):
        by_workspace[workspace_id].append((goal_id, through))
    for workspace_id, goals in by_workspace.items():
        since = min(through or now - timedelta(days=1) for _, through in goals)
        received = received_since(workspace_id, since)
        received.refresh_reach()
        for goal_id, through in goals:
            # Each goal on its own, as ``process_ingested`` does: one that fails is logged,
            # keeps its ``reconciled_through`` (the next pass tries it again) and does not
            # stop the pass for the goals after it.
            try:
                catch_up(goal_id=goal_id, since=since, received=received)
            except Exception:
                logger.exception("goal %s: reconcile could not catch it up", goal_id)
                failed += 1
                continue
            # Only if no recompute switched in meanwhile: its switch set the mark back to
            # where its build may have missed rows, and its own catch-up (after the switch)
            # may never run (the worker died); this pass's ``since`` may lie after that mark.
            Goal.objects.filter(pk=goal_id, reconciled_through=through).update(
                reconciled_through=unseen
            )
            reconciled += 1
    rollups = 0
    for goal_id in (
        Goal.objects.filter(current_version__gt=0)
        .exclude(rollup_version=F("current_version"))
        .values_list("id", flat=True)
    ):
        try:
            rollups += rollup_backfill(goal_id=goal_id)
        except Exception:
            logger.exception("goal %s: reconcile could not build its rollup", goal_id)
            failed += 1
    return {
        "waiting_metrics": waiting_metrics,
        "reconciled": reconciled,
        "failed": failed,
        "rollups": rollups,
        "scratch_tables": _drop_stale_staging(now),
        "result_tables": _drop_stale_results(now),
        "orphaned_goals": _drop_orphaned_achievements(),
    }


def _apply_waiting_metrics() -> int:
    """Store the metrics kept for a message that has arrived since, which its ingestion task
    missed (lost between the commit and the queue, in the one race ``process_ingested``
    covers): moved like the task moves them, received now, so the catch-up that follows
    re-evaluates their people. Returns how many messages received metrics."""
    arrived = PendingMetric.objects.filter(
        Exists(
            Message.objects.filter(
                workspace_id=OuterRef("workspace_id"), client_id=OuterRef("message_client_id")
            )
        )
    ).values_list("workspace_id", "message_client_id")
    waiting: dict[int, set[str]] = defaultdict(set)
    for workspace_id, client_id in arrived:
        waiting[workspace_id].add(client_id)
    moved = 0
    for workspace_id, client_ids in waiting.items():
        message_ids = pending_metrics_apply(workspace_id=workspace_id, client_ids=client_ids)
        message_reach_refresh(message_ids=sorted(message_ids))
        moved += len(message_ids)
    return moved


def _drop_orphaned_achievements() -> int:
    """Delete achievements of goals that no longer exist: rows a build wrote after its goal
    was deleted, when its worker died before removing them (achievements have no database
    constraint on their goal). Returns how many goals' rows were deleted.

    The goal ids present are found by a loose index scan (one index probe per goal, through
    the indexes that lead with the goal), not by reading every achievement. On PostgreSQL only
    the default partition is searched: results' own tables go with ``_drop_stale_results``."""
    table = partitions.DEFAULT if connection.vendor == "postgresql" else Achievement._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH RECURSIVE g(id) AS (SELECT MIN(goal_id) FROM {table} UNION ALL "
            f"SELECT (SELECT MIN(goal_id) FROM {table} WHERE goal_id > g.id) FROM g "
            f"WHERE g.id IS NOT NULL) SELECT id FROM g WHERE id IS NOT NULL"
        )
        present = {goal_id for (goal_id,) in cursor.fetchall()}
    orphaned = present - set(Goal.objects.filter(pk__in=present).values_list("pk", flat=True))
    for goal_id in orphaned:
        _drop_if_goal_gone(goal_id)
    return len(orphaned)


def _drop_stale_staging(now: datetime) -> int:
    """Drop the staging tables of builds that died (``build_attributed`` drops its own): those
    of goals no worker is building. On SQLite they are temporary and went with their
    connection."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            r"AND tablename ~ '^goals_stage_[0-9]+_[0-9]+$'"
        )
        names = [name for (name,) in cursor.fetchall()]
    building = set(Goal.objects.filter(recompute_lease_until__gte=now).values_list("id", flat=True))
    stale = [name for name in names if int(name.split("_")[2]) not in building]
    with connection.cursor() as cursor:
        for name in stale:
            cursor.execute(f"DROP TABLE IF EXISTS {name}")  # a name matched above
    return len(stale)


def _drop_stale_results(now: datetime) -> int:
    """Drop the result tables (PostgreSQL, ``goals.partitions``) no reader or build needs: of
    deleted goals, and of versions other than the current one of goals no worker is building
    (a build that died, or a replaced result whose table could not be dropped at once)."""
    if connection.vendor != "postgresql":
        return 0
    # Tables first, goals second: a table made after this listing is left alone, and a goal's
    # state read afterwards is at least as new as its table.
    found = partitions.leaves()
    goals = {
        pk: (current, lease is not None and lease >= now)
        for pk, current, lease in Goal.objects.values_list(
            "pk", "current_version", "recompute_lease_until"
        )
    }
    dropped = 0
    for name, goal_id, version in found:
        current, building = goals.get(goal_id, (None, False))
        if version != current and not building:
            dropped += partitions.drop_leaf(name)
    return dropped
