"""Recomputes: a goal's new result built beside the current one, then switched to.

Readers keep the old version while the new one is built (``build``); ``current_version``
switches in one short transaction, then catch-up applies the people whose data arrived while
building. Two recomputes of one goal never build at once: a worker claims the goal with a
conditional UPDATE on ``recompute_lease_until`` (a lease, not a database lock, so it works on
SQLite and PostgreSQL alike, needs no connection held open for minutes, and expires if a worker
dies). A build overtaken by a newer change is discarded at the switch (version check).
Incremental updates and the switch serialise on the goal row (``select_for_update``).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from campaigns.models import Event, Person
from goals import partitions
from goals.engine.build import build_attributed
from goals.engine.credit import attribute_achievements
from goals.engine.evaluation import BUILD_FIELDS, Row, _filters_hold, _History, _revenue
from goals.engine.incremental import _insert_rows, catch_up, catch_up_version, unseen_since
from goals.engine.rollup import build_rollup
from goals.engine.shards import Shard, _on_shards, _shard_sql, _shards
from goals.engine.spec import GoalSpec, Trigger
from goals.models import Achievement, Goal, GoalRollup, GoalStatus, TriggerKind

logger = logging.getLogger(__name__)


#: How long a recompute's lease lasts without renewal: a worker that dies (SIGKILL, OOM, a lost
#: host) gives its goal back this long after its last heartbeat, so reconcile can restart it.
LEASE = timedelta(seconds=60)


#: How often a running build renews its lease, from a thread of its own (a build's phases may
#: each take longer than ``LEASE``).
LEASE_HEARTBEAT = timedelta(seconds=15)


def recompute_request(*, goal: Goal) -> None:
    """Ask for ``goal`` to be recomputed from stored data (queued after the current commit).

    Readers keep the previous complete result until the new one replaces it.
    """
    Goal.objects.filter(pk=goal.pk).update(
        requested_version=F("requested_version") + 1,
        status=GoalStatus.RECOMPUTING,
        updated_at=timezone.now(),
    )
    goal.refresh_from_db(fields=["requested_version", "status", "updated_at"])
    from goals import tasks  # goals.tasks imports this module

    goal_id = goal.pk

    def queue() -> None:
        # After the commit: the change is stored whatever happens here, so the request that
        # made it is answered as done. A failure (the recompute run in-process, or a broker
        # not reachable to queue it) is logged, not a 500 that made a client send its new
        # goal again; the goal stays `recomputing` and reconcile restarts it.
        try:
            tasks.recompute_goal.delay(goal_id)
        except Exception:
            logger.exception("goal %s: the recompute it asked for failed", goal_id)

    transaction.on_commit(queue)


class LeaseHeld(Exception):
    """Another worker is recomputing this goal; try again later."""


class LeaseLost(Exception):
    """This worker's lease expired and another worker took the goal over."""


def _claim(goal_id: int) -> datetime | None:
    """Take the goal for a build; the returned expiry instant is this worker's token."""
    now = timezone.now()
    until = now + LEASE
    taken = (
        Goal.objects.filter(pk=goal_id)
        .filter(Q(recompute_lease_until__isnull=True) | Q(recompute_lease_until__lt=now))
        .update(recompute_lease_until=until)
    )
    return until if taken == 1 else None


def _renew(goal_id: int, token: datetime) -> datetime:
    """Extend our lease between the phases of a long build; raises ``LeaseLost`` if another
    worker took it over after it expired (our build must then not be switched in)."""
    until = timezone.now() + LEASE
    if not Goal.objects.filter(pk=goal_id, recompute_lease_until=token).update(
        recompute_lease_until=until
    ):
        raise LeaseLost(goal_id)
    return until


def _release(goal_id: int, token: datetime | None = None) -> None:
    """Give the goal back; with a token, only if the lease is still ours."""
    leases = Goal.objects.filter(pk=goal_id)
    if token is not None:
        leases = leases.filter(recompute_lease_until=token)
    leases.update(recompute_lease_until=None)


class _Lease:
    """A claimed lease kept alive while its build runs: a heartbeat thread (its own database
    connection) renews it every ``LEASE_HEARTBEAT``, so the lease can be short and a dead
    worker's goal is free again within ``LEASE``. ``token`` is the current expiry instant;
    ``lock`` is held by every renewal and by the switch, so the token the switch compares
    cannot change under it."""

    def __init__(self, goal_id: int, token: datetime):
        self.goal_id = goal_id
        self.token = token
        self.lost = False
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        # Inside a transaction the claim is not even visible to other connections, and the
        # heartbeat's UPDATE would wait for this transaction's row lock: no heartbeat there.
        if connection.in_atomic_block:
            return
        self._thread = threading.Thread(
            target=self._beat, name=f"goals-lease-{self.goal_id}", daemon=True
        )
        self._thread.start()

    def _beat(self) -> None:
        try:
            while not self._stop.wait(LEASE_HEARTBEAT.total_seconds()):
                with self.lock:
                    if self.lost or self._stop.is_set():
                        return
                    try:
                        self.token = _renew(self.goal_id, self.token)
                    except LeaseLost:
                        self.lost = True
                        return
                    except DatabaseError:
                        logger.warning(
                            "goal %s: lease heartbeat failed", self.goal_id, exc_info=True
                        )
                        connection.close()  # a fresh connection next beat
        finally:
            connection.close()  # this thread's own connection

    def renew(self) -> None:
        """Renew now (between a build's phases); ``LeaseLost`` if it is no longer ours."""
        with self.lock:
            if self.lost:
                raise LeaseLost(self.goal_id)
            try:
                self.token = _renew(self.goal_id, self.token)
            except LeaseLost:
                self.lost = True
                raise

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def recompute(*, goal_id: int) -> bool:
    """Rebuild a goal's result from stored data and switch readers to it.

    Returns False when there was nothing to do (already current, overtaken by a newer change,
    or the goal is gone). Raises ``LeaseHeld`` when another worker is building this goal (the
    task retries).
    """
    try:
        return _recompute(goal_id=goal_id)
    except IntegrityError:
        # The goal was deleted while its result was being written (its rollup rows refer to
        # it), and went with its rows except those the build wrote after the deletion.
        if not _drop_if_goal_gone(goal_id):
            raise
        return False


def _drop_if_goal_gone(goal_id: int) -> bool:
    """Whether the goal is gone; if so, delete achievement rows a build wrote for it after it
    was deleted (achievements have no database constraint on their goal)."""
    if Goal.objects.filter(pk=goal_id).exists():
        return False
    if connection.vendor == "postgresql":
        partitions.drop_goal_results(goal_id)
    deleted, _ = Achievement.objects.filter(goal_id=goal_id).delete()
    logger.info("goal %s was deleted during its recompute (%s rows dropped)", goal_id, deleted)
    return True


#: Builds one recompute may make in a row when changes keep arriving while it builds.
MAX_BUILDS = 5


def _recompute(*, goal_id: int) -> bool:
    """Rebuild a goal's result from stored data and switch readers to it.

    Returns False when there was nothing to do (already current, or the goal is gone).
    Raises ``LeaseHeld`` when another worker is building this goal (the task retries).
    A change that arrives while building, or after the switch while this worker still holds
    the lease, makes it build again for it (the change's own task will then find the goal
    current).
    """
    if not Goal.objects.filter(pk=goal_id).exists():
        return False
    token = _claim(goal_id)
    if token is None:
        raise LeaseHeld(goal_id)
    lease = _Lease(goal_id, token)  # renewed by a heartbeat while the build runs
    lease.start()
    built_any = False
    try:
        for _ in range(MAX_BUILDS):
            goal = Goal.objects.select_related("workspace").filter(pk=goal_id).first()
            if goal is None:  # deleted since the lease was claimed: nothing to build
                _drop_if_goal_gone(goal_id)
                return built_any
            target = goal.requested_version
            if goal.current_version == target:
                if goal.status != GoalStatus.READY:
                    Goal.objects.filter(pk=goal_id, requested_version=target).update(
                        status=GoalStatus.READY
                    )
                return built_any
            # Rows received from here on may be missing from the build: caught up below.
            unseen = unseen_since()
            built = _build_and_switch(goal, target, unseen=unseen, lease=lease)
            if built is not None:
                count, caught_up_from = built
                clock = time.perf_counter()
                _drop_other_versions(goal_id, keep=target, shards=_shards(count))
                logger.info(
                    "goal %s: older versions dropped in %.2fs", goal_id, time.perf_counter() - clock
                )
                # Data committed while the switch's catch-up ran went to the old version:
                # bring it into this one (``unseen_since``: from the oldest transaction open
                # when that catch-up began). Then, and only then, the result is complete
                # (SPEC §6): a client waiting for ``ready`` finds what it sent meanwhile.
                catch_up(goal_id=goal_id, since=caught_up_from)
                Goal.objects.filter(
                    pk=goal_id, current_version=target, requested_version=target
                ).update(status=GoalStatus.READY)
                # Look again: a change committed since the switch found our lease held, and
                # its task (in-process: no retry, no beat) left the build to us.
                built_any = True
        return built_any
    except LeaseLost:
        # The goal row no longer held our lease: deleted (then drop what the build wrote for
        # it), or taken over by another worker after the lease expired.
        if not _drop_if_goal_gone(goal_id):
            logger.warning("goal %s: lease lost during a build; another worker took over", goal_id)
        return False
    finally:
        lease.stop()
        _release(goal_id, lease.token)


def _drop_version(goal_id: int, version: int) -> None:
    """Delete one version's achievements (on PostgreSQL: drop its table) and rollup."""
    if connection.vendor == "postgresql":
        partitions.drop_result(goal_id, version)
    else:
        Achievement.objects.filter(goal_id=goal_id, version=version).delete()
    GoalRollup.objects.filter(goal_id=goal_id, version=version).delete()


def _drop_other_versions(goal_id: int, *, keep: int, shards: int) -> None:
    """Delete the goal's achievements and rollup of every version but ``keep`` (readers have
    switched to it): on PostgreSQL by dropping their tables, else row by row over ``shards``
    connections at once."""
    GoalRollup.objects.filter(goal_id=goal_id).exclude(version=keep).delete()
    if connection.vendor == "postgresql":
        partitions.drop_other_results(goal_id, keep=keep)
        return
    table = Achievement._meta.db_table

    def drop_share(shard: Shard) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE goal_id = %s AND version <> %s "
                f"AND {_shard_sql(table, shard)}",
                [goal_id, keep],
            )

    _on_shards(shards, drop_share)


def _build_and_switch(
    goal: Goal, target: int, *, unseen: datetime, lease: _Lease
) -> tuple[int, datetime] | None:
    """Build version ``target`` beside the current one and switch readers to it; returns its
    number of achievements and where the catch-up after the switch starts (``unseen_since``
    when the catch-up before it began). The goal stays ``recomputing``: the caller says
    ``ready`` once that catch-up is done.

    Returns None, leaving nothing behind, when a newer change arrived meanwhile. ``lease``
    holds this worker's lease; it is renewed between phases (and by its heartbeat) and checked
    at the switch.
    """
    goal_id = goal.pk
    clock = time.perf_counter()
    spec = GoalSpec.load(goal)
    # Leftovers of a build that died half-way carry this version: start clean (on PostgreSQL
    # ``build_attributed`` replaces the version's table).
    if connection.vendor != "postgresql":
        Achievement.objects.filter(goal_id=goal_id, version=target).delete()
    GoalRollup.objects.filter(goal_id=goal_id, version=target).delete()
    if spec.uses_attributes:
        # Deleted people's attribute history went with them. Their events, messages and
        # segment changes are re-evaluated like anyone's, but attribute filters keep the
        # verdict of the previous result, and attribute triggers are carried over below.
        spec.deleted_verdicts = set(
            _of_deleted_people(
                Achievement.objects.filter(goal_id=goal_id, version=goal.current_version)
            ).values_list("trigger_kind", "trigger_id")
        )
    # A version being built is written by its build alone: nothing to skip or merge.
    count = build_attributed(spec, version=target)
    if spec.trigger_type == TriggerKind.ATTRIBUTE and goal.current_version:
        _carry_over_deleted_people(spec, source=goal.current_version, target=target)
        attribute_achievements(spec, version=target)
    logger.info(
        "goal %s version %s: %s achievements built and attributed in %.2fs",
        goal_id, target, count, time.perf_counter() - clock,
    )  # fmt: skip
    lease.renew()
    # After the last attribution step: the rollup sums the final credits. (Writing it from
    # the achievements' INSERT ... RETURNING in the same statement measured slower.)
    clock = time.perf_counter()
    cells = build_rollup(goal_id, target, shards=_shards(count))
    logger.info(
        "goal %s version %s: %s rollup rows built in %.2fs",
        goal_id, target, cells, time.perf_counter() - clock,
    )  # fmt: skip
    lease.renew()
    # Data committed while building extended the result readers see, not this one: bring it in
    # before they switch, or it vanishes from their reports until the catch-up after the switch.
    caught_up_from = unseen_since(after_catch_up=True)
    catch_up_version(spec, version=target, since=unseen)
    lease.renew()
    with lease.lock, transaction.atomic():
        locked = Goal.objects.select_for_update().filter(pk=goal_id).first()
        if locked is None or locked.recompute_lease_until != lease.token:
            raise LeaseLost(goal_id)  # deleted or taken over since the renewal: never switch
        if locked.requested_version != target:
            _drop_version(goal_id, target)
            return None
        Goal.objects.filter(pk=goal_id).update(
            current_version=target,
            rollup_version=target,
            # The settings the build used: a change of them since then is a newer version
            # (above). Incremental updates extend this result with them (SPEC §6).
            result_spec=spec.snapshot(),
            computed_at=timezone.now(),
            reconciled_through=unseen,
        )
    return count, caught_up_from


def _of_deleted_people(achievements: QuerySet[Achievement]) -> QuerySet[Achievement]:
    """The achievements of people who were deleted: no person has their key any more.

    Not ``person IS NULL``: deleting a person clears the link on the rows that exist then,
    but a build or an incremental update that read the person's rows just before the deletion
    writes them afterwards with the link still set (achievements have no foreign-key
    constraint), and those people would then be taken for alive and lose what they achieved."""
    return achievements.filter(~Exists(Person.objects.filter(key=OuterRef("person_key"))))


def _carry_over_deleted_people(spec: GoalSpec, *, source: int, target: int) -> None:
    """Carry deleted people's achievements of an attribute-triggered goal into a new version.

    The attribute changes that triggered them were personal data and went with the people,
    so they cannot be re-evaluated; the achievements are kept where the goal's segment filters
    hold, with revenue following the current impact, and the local day and window re-derived
    in the current zone.
    """
    old = (
        _of_deleted_people(
            Achievement.objects.filter(
                goal_id=spec.goal.pk, version=source, trigger_kind=spec.trigger_type
            )
        )
        .values_list(*(Achievement._meta.get_field(f).attname for f in BUILD_FIELDS))  # type: ignore[union-attr]
        .iterator(2000)
    )
    at = {name: BUILD_FIELDS.index(name) for name in BUILD_FIELDS}
    batch: list[Row] = []

    def flush() -> None:
        data: dict[int, Any] = {}
        if spec.goal.impact_event_key and spec.trigger_type == TriggerKind.EVENT:
            ids = [row[at["trigger_id"]] for row in batch]
            data = dict(Event.objects.filter(pk__in=ids).values_list("id", "data"))
        # Their segment changes are kept (under their key): the goal's segment filters, which
        # may have changed since, are decided as for anyone; attribute filters keep the verdict
        # of the previous result (``spec.deleted_verdicts``, which these rows are in).
        keys = (row[at["person_key"]] for row in batch)
        history = _History(spec, keys) if spec.filters else None
        rows = []
        for row in batch:
            trig = Trigger(
                row[at["trigger_kind"]], row[at["trigger_id"]], row[at["person_key"]], None,
                row[at["achieved_at"]], data.get(row[at["trigger_id"]]),
            )  # fmt: skip
            if history is not None and not _filters_hold(spec, history, trig):
                continue
            copied = list(row)
            copied[at["goal"]], copied[at["version"]] = spec.goal.pk, target
            # The workspace's zone may have changed since (its recompute is this one): the
            # local day and the window follow the current zone, as ``evaluate`` gives them.
            copied[at["local_date"]] = row[at["achieved_at"]].astimezone(spec.tz).date()
            copied[at["window_start"]] = spec.window_start(row[at["achieved_at"]])
            copied[at["revenue"]], copied[at["revenue_missing"]] = _revenue(spec, trig)
            rows.append(tuple(copied))
        _insert_rows(rows)
        batch.clear()

    for row in old:
        batch.append(row)
        if len(batch) >= 2000:
            flush()
    flush()
