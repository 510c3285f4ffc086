"""Races found by driving processing concurrently on PostgreSQL with a real worker (audit 5),
replayed here in a chosen interleaving: incremental updates against ingestion, a build that
outlives its lease, a worker that dies mid-build, a person deleted while a build runs."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns import services
from campaigns.models import Campaign, Message, Person, Workspace
from goals import engine
from goals.engine import build, credit, incremental, recomputes, reconciliation
from goals.models import Goal, GoalStatus
from tests.goals.helpers import ingest, make_goal, recompute_now, results
from tests.goals.test_engine import event
from tests.goals.test_engine_regressions import person

pytestmark = pytest.mark.django_db(transaction=True)

#: Threads on their own connections to one database, and row locks: PostgreSQL.
postgresql_only = pytest.mark.postgresql


def in_thread(work: Any) -> threading.Thread:
    """Run ``work`` on a thread of its own (its own database connection)."""

    def run() -> None:
        try:
            work()
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@postgresql_only
def test_an_incremental_update_does_not_hold_ingestion_of_its_workspace(
    workspace: Workspace, api: APIClient, monkeypatch: Any
) -> None:
    """``_apply_to_goal`` locked the goal with a bare ``FOR UPDATE`` joined to its workspace,
    so it locked the workspace row too: every ingestion's commit (whose foreign-key checks take
    KEY SHARE on that row) waited for the update, and under load the two deadlocked (500s on
    ``/batch``). Only the goal row may be locked."""
    goal = make_goal(workspace)
    ingest(api, event("ada", "plan_activated", "2026-01-14T10:00:00Z"))
    ada = Person.objects.get(identifier="ada")
    inside, release = threading.Event(), threading.Event()
    real_apply = engine.apply_people

    def slow_apply(spec: Any, **kwargs: Any) -> None:
        inside.set()
        release.wait(10)
        real_apply(spec, **kwargs)

    monkeypatch.setattr(incremental, "apply_people", slow_apply)
    updating = in_thread(lambda: incremental._apply_to_goal(goal.pk, [ada.key]))
    try:
        assert inside.wait(10)
        # An ingestion-like write into the workspace, committing while the update runs.
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            Campaign.objects.create(workspace=workspace, name="Launch")
    finally:
        release.set()
        updating.join(10)
    assert Campaign.objects.filter(workspace=workspace, name="Launch").exists()


@postgresql_only
def test_a_build_longer_than_its_lease_keeps_it(
    workspace: Workspace, api: APIClient, monkeypatch: Any
) -> None:
    """A build renews its lease from a heartbeat, so the lease can be short (a dead worker's
    goal comes back quickly) without a long phase of a live build losing it to another
    worker."""
    # A heartbeat may be late by most of the lease on a loaded machine and still renew it.
    monkeypatch.setattr(recomputes, "LEASE", timedelta(seconds=3))
    monkeypatch.setattr(recomputes, "LEASE_HEARTBEAT", timedelta(seconds=0.1))
    goal = make_goal(workspace)
    ingest(api, event("ada", "plan_activated", "2026-01-14T10:00:00Z"))
    real_build = engine.build_attributed
    taken: list[Any] = []

    def long_build(spec: Any, **kwargs: Any) -> int:
        count = real_build(spec, **kwargs)
        stop = threading.Event()
        stop.wait(4)  # a long phase: longer than the lease
        taken.append(recomputes._claim(goal.pk))  # what another worker's task would try
        return count

    monkeypatch.setattr(recomputes, "build_attributed", long_build)
    Goal.objects.filter(pk=goal.pk).update(requested_version=goal.requested_version + 1)
    assert engine.recompute(goal_id=goal.pk) is True
    assert taken == [None]
    goal.refresh_from_db()
    assert goal.current_version == goal.requested_version
    assert goal.recompute_lease_until is None


def test_a_goal_whose_worker_died_mid_build_is_restarted_by_reconcile_soon(
    workspace: Workspace, api: APIClient, monkeypatch: Any
) -> None:
    """A worker killed (SIGKILL) mid-build leaves its lease on the goal and its task unacked
    (Redis redelivers it only after an hour). Reconcile restarts the recompute once the lease
    expires: that must be within a minute or two, not the 30 minutes it was, during which the
    goal stayed ``recomputing`` and every change to it waited."""
    assert timedelta(minutes=2) >= recomputes.LEASE
    goal = make_goal(workspace)
    ingest(api, event("ada", "plan_activated", "2026-01-14T10:00:00Z"))
    Goal.objects.filter(pk=goal.pk).update(
        requested_version=goal.requested_version + 1, status=GoalStatus.RECOMPUTING
    )
    assert recomputes._claim(goal.pk) is not None  # the worker that then died
    assert engine.reconcile()["restarted"] == 0  # its lease still holds
    later = timezone.now() + recomputes.LEASE + timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert engine.reconcile()["restarted"] == 1  # in-process: the recompute ran
    goal.refresh_from_db()
    assert goal.status == GoalStatus.READY
    assert goal.current_version == goal.requested_version


@postgresql_only
def test_a_person_deleted_while_a_build_writes_keeps_their_achievements(
    workspace: Workspace, api: APIClient, monkeypatch: Any
) -> None:
    """A build read ada's attribute changes, then ada was deleted, then the build wrote her
    achievement, with the person link the deletion had cleared everywhere else. The next
    recompute took her for alive (link set), found no attribute history, and dropped the
    achievement: deleting a person changed past results (SPEC §3)."""
    goal = make_goal(
        workspace, trigger={"type": "attribute", "key": "plan", "op": "eq", "value": "pro"}
    )
    ingest(api, person("ada", "2026-01-05T10:00:00Z", plan="pro"))
    ingest(api, person("bob", "2026-01-06T10:00:00Z", plan="pro"))
    before = results(goal)
    assert len(before) == 2
    real_credit_sql = credit._credit_sql
    deleted: list[str] = []

    def delete_mid_build(*args: Any, **kwargs: Any) -> Any:
        if not deleted:  # the rows are staged: the person goes before they are written
            services.person_delete(person=Person.objects.get(identifier="ada"))
            deleted.append("ada")
        return real_credit_sql(*args, **kwargs)

    monkeypatch.setattr(build, "_credit_sql", delete_mid_build)
    Goal.objects.filter(pk=goal.pk).update(window_days=3)
    recompute_now(goal)
    assert deleted == ["ada"]
    monkeypatch.setattr(build, "_credit_sql", real_credit_sql)
    assert len(results(goal)) == 2
    recompute_now(goal)  # ada's history is gone now: her achievement is carried over
    after = results(goal)
    assert len(after) == 2
    assert sorted(r[1:] for r in after) == sorted(r[1:] for r in before)


@postgresql_only
def test_concurrent_reach_refreshes_of_one_set_of_messages_do_not_deadlock(
    workspace: Workspace,
) -> None:
    """Found with a real worker: two reconcile passes (or a pass and an ingestion task)
    refresh ``Message.reached_*`` of overlapping messages at once. An UPDATE locks rows in the
    order its plan reads them: a scan of the table reads updated rows where they moved, an
    index scan reads them by id, so two refreshes locked the same rows in opposite orders and
    PostgreSQL killed one (``deadlock detected``): the reconcile pass failed, its cursor never
    advanced, and every later pass redid the same work and failed again. Here one refresh
    reads by table scan the rows that were updated in descending id order, the other by
    index, both held up by a third transaction's lock on the middle row, then let go."""
    ada = Person.objects.create(workspace=workspace, identifier="ada")
    sent = timezone.now() - timedelta(days=1)
    Message.objects.bulk_create(
        Message(
            workspace=workspace,
            client_id=f"m{i}",
            person=ada,
            person_key=ada.key,
            channel="email",
            sent_at=sent,
        )
        for i in range(40)
    )
    ids = sorted(Message.objects.values_list("pk", flat=True))
    for pk in reversed(ids):  # moves each row: the table's order is now descending ids
        Message.objects.filter(pk=pk).update(sent_at=sent)
    middle = ids[len(ids) // 2]
    errors: list[BaseException] = []
    started = threading.Barrier(3)

    def refresh(scan: str) -> Any:
        def work() -> None:
            with connection.cursor() as cursor:
                for plan in ("indexscan", "bitmapscan", "seqscan", "tidscan"):
                    if plan != scan:
                        cursor.execute(f"SET enable_{plan} = off")
            started.wait(10)
            try:
                services.message_reach_refresh(message_ids=ids)
            except BaseException as exc:  # reported below
                errors.append(exc)

        return work

    with transaction.atomic():
        list(Message.objects.select_for_update().filter(pk=middle))
        threads = [in_thread(refresh("seqscan")), in_thread(refresh("indexscan"))]
        started.wait(10)
        threading.Event().wait(1.0)  # both refreshes now wait for the middle row
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert Message.objects.filter(reached_sent_at=sent).count() == len(ids)


@postgresql_only
def test_reconcile_passes_do_not_overlap(workspace: Workspace, monkeypatch: Any) -> None:
    """Found with a real worker: a pass longer than ``GOALS_RECONCILE_SECONDS`` (after a bulk
    import every goal's catch-up re-reads it) did not stop beat sending the next one, so passes
    ran side by side on every worker slot, each redoing the same work and waiting on the
    others' row locks; ingestion tasks queued behind them and new data took minutes instead of
    seconds. A pass that finds another running restarts lost recomputes (cheap, and they must
    not wait) and leaves the rest to the running pass."""
    goal = make_goal(workspace)
    inside, release = threading.Event(), threading.Event()
    real_catch_up = engine.catch_up

    def slow_catch_up(**kwargs: Any) -> None:
        if not inside.is_set():  # the first pass's; not the restarted recompute's own
            inside.set()
            release.wait(10)
        real_catch_up(**kwargs)

    monkeypatch.setattr(reconciliation, "catch_up", slow_catch_up)
    monkeypatch.setattr(recomputes, "catch_up", slow_catch_up)
    first: list[dict[str, int]] = []
    thread = in_thread(lambda: first.append(engine.reconcile()))
    try:
        assert inside.wait(10)
        Goal.objects.filter(pk=goal.pk).update(requested_version=goal.requested_version + 1)
        second = engine.reconcile()  # while the first pass is catching up
    finally:
        release.set()
        thread.join(30)
    assert second["skipped"] == 1
    assert second["reconciled"] == 0
    assert second["restarted"] == 1  # in-process: the recompute ran
    assert first[0]["skipped"] == 0
    assert first[0]["reconciled"] == 1
    goal.refresh_from_db()
    assert goal.current_version == goal.requested_version


def test_a_change_made_while_the_lease_holder_catches_up_is_built(
    workspace: Workspace, api: APIClient, monkeypatch: Any
) -> None:
    """A change committed after a recompute's switch but before it gave its lease back (while
    it drops the old result and catches up) had its own task find the lease held. In-process
    (no broker, no beat, no retry) that task gives up, trusting the holder to build again for
    any newer change; the holder returned without looking, and the goal stayed
    ``recomputing`` for good, readers held on the old result. The holder looks again."""
    goal = make_goal(workspace)
    ingest(api, event("ada", "plan_activated", "2026-01-14T10:00:00Z"))
    real_catch_up = engine.catch_up
    changed: list[bool] = []

    def catch_up_while_a_change_arrives(**kwargs: Any) -> None:
        if not changed:
            changed.append(True)
            engine.recompute_request(goal=Goal.objects.get(pk=goal.pk))  # its task: lease held
        real_catch_up(**kwargs)

    monkeypatch.setattr(recomputes, "catch_up", catch_up_while_a_change_arrives)
    goal = recompute_now(goal)
    assert changed == [True]
    assert goal.current_version == goal.requested_version
    assert goal.status == GoalStatus.READY
    assert goal.recompute_lease_until is None
