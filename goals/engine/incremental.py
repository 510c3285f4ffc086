"""Incremental updates: new data applied to the people it concerns.

**Order independence.** Incremental processing never applies a delta: for every person the new
rows concern, it re-derives that person's achievements for the goal from everything stored,
diffs them against the current result (``apply_people``), and re-attributes all of that
person's achievements. A late message, metric, segment change or attribute change therefore
lands exactly where it would have had it arrived first. ``catch_up`` applies what arrived
while a recompute was building.

**The result's own settings.** Everything here extends ``current_version`` with the settings
it was built with (``GoalSpec.for_result``), also in choosing whom new rows concern
(``Touched.people_for``): while a change recomputes, readers keep that result (SPEC §6), and
an event matching only its old trigger must still reach it. Rows the new settings concern are
the new version's catch-up's, after the switch.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from campaigns.bulk import batched
from campaigns.models import (
    Event,
    Message,
    MessageMetric,
    Person,
    PersonAttributeChange,
    SegmentMembershipChange,
)
from campaigns.services import message_reach_refresh
from goals.engine.credit import attribute_achievements
from goals.engine.evaluation import BUILD_FIELDS, CHUNK, KIND, TRIGGER_ID, Row, _chunks, evaluate
from goals.engine.rollup import _has_rollup, _rollup_apply, rollup_units
from goals.engine.spec import GoalSpec
from goals.models import Achievement, Goal, TriggerKind

logger = logging.getLogger(__name__)

#: The furthest back catch-up and the reconcile pass look before the moment they start from
#: (``unseen_since``): the whole of it on SQLite, where in-flight transactions can't be seen.
RECONCILE_OVERLAP = timedelta(minutes=5)


#: How far a row's ``received_at`` (the ingesting process's clock, read before its transaction
#: begins; retries keep it) may lie before its transaction's start on the database's clock.
CLOCK_MARGIN = timedelta(seconds=30)


#: People re-evaluated per transaction by catch-up (``_apply_to_goal``): what it holds in
#: memory, and how long it holds the goal row, stay bounded after a bulk import.
APPLY_CHUNK = 5000


def _insert_rows(rows: list[Row]) -> None:
    """Insert achievement rows, skipping any already there (the unique trigger constraint)."""
    attnames = [Achievement._meta.get_field(name).attname for name in BUILD_FIELDS]  # type: ignore[union-attr]
    Achievement.objects.bulk_create(
        [Achievement(**dict(zip(attnames, row, strict=True))) for row in rows],
        batch_size=2000,
        ignore_conflicts=True,
    )


def apply_people(spec: GoalSpec, *, version: int, person_keys: Iterable[uuid.UUID]) -> None:
    """Re-derive these people's achievements of the goal from stored data, and re-attribute.

    Deleted people's attribute history went with them. As a recompute does (``_build``), their
    events, messages and segment changes are re-derived (a late metric of their message moves
    a message trigger), with attribute filters keeping the verdict of the achievements they
    have; for an attribute trigger they keep the achievements they had.
    """
    keys = sorted(set(person_keys))
    if not keys:
        return
    # The rollup changes by what these people contribute after minus before.
    before = rollup_units(spec.goal.pk, version, keys) if _has_rollup(spec, version) else None
    keys_to_evaluate = keys
    if spec.uses_attributes:
        alive = set(Person.objects.filter(key__in=keys).values_list("key", flat=True))
        gone = [k for k in keys if k not in alive]
        if gone and spec.trigger_type == TriggerKind.ATTRIBUTE:
            keys_to_evaluate = [k for k in keys if k in alive]  # deleted people stay as they were
        elif gone:
            verdicts = set(spec.deleted_verdicts or ())
            for chunk_keys in _chunks(gone):
                verdicts.update(
                    Achievement.objects.filter(
                        goal_id=spec.goal.pk, version=version, person_key__in=list(chunk_keys)
                    ).values_list("trigger_kind", "trigger_id")
                )
            spec = dataclasses.replace(spec, deleted_verdicts=verdicts)
    #: (trigger kind, trigger id) -> row; what the stored data says these people achieved.
    wanted: dict[tuple[str, int], Row] = {}
    for chunk in evaluate(spec, version=version, person_keys=keys_to_evaluate):
        for row in chunk:
            wanted[(row[KIND], row[TRIGGER_ID])] = row
    existing: dict[tuple[str, int], tuple[int, Any]] = {}
    for chunk_keys in _chunks(keys_to_evaluate):
        for pk, kind, trigger_id, revenue, missing, at in Achievement.objects.filter(
            goal_id=spec.goal.pk, version=version, person_key__in=list(chunk_keys)
        ).values_list(
            "id", "trigger_kind", "trigger_id", "revenue", "revenue_missing", "achieved_at"
        ):
            existing[(kind, trigger_id)] = (pk, (revenue, missing, at))
    revenue_at = BUILD_FIELDS.index("revenue")
    missing_at = BUILD_FIELDS.index("revenue_missing")
    achieved_at = BUILD_FIELDS.index("achieved_at")

    def state(row: Row) -> tuple[Any, ...]:
        return (row[revenue_at], row[missing_at], row[achieved_at])

    stale = [pk for k, (pk, _) in existing.items() if k not in wanted]
    changed = {k for k, (_, old) in existing.items() if k in wanted and old != state(wanted[k])}
    for ids in _chunks(stale + [existing[k][0] for k in changed]):
        Achievement.objects.filter(pk__in=list(ids)).delete()
    _insert_rows([row for k, row in wanted.items() if k not in existing or k in changed])
    attribute_achievements(spec, version=version, person_keys=keys)
    if before is not None:
        _rollup_apply(spec.goal.pk, version, before, rollup_units(spec.goal.pk, version, keys))


@dataclass
class Touched:
    """The people one ingestion touched, by what touched them."""

    by_event_name: dict[str, set[uuid.UUID]] = field(default_factory=lambda: defaultdict(set))
    by_segment: dict[int, set[uuid.UUID]] = field(default_factory=lambda: defaultdict(set))
    by_attributes: set[uuid.UUID] = field(default_factory=set)
    # (campaign id, broadcast id) -> people whose messages from it were created or measured.
    by_message_source: dict[tuple[int | None, int | None], set[uuid.UUID]] = field(
        default_factory=lambda: defaultdict(set)
    )

    def read(
        self,
        *,
        events: QuerySet[Event] | None = None,
        segment_changes: QuerySet[SegmentMembershipChange] | None = None,
        attribute_changes: QuerySet[PersonAttributeChange] | None = None,
    ) -> None:
        """Add the people of these rows, by what touched them."""
        # Streamed (``iterator``): after a bulk import these are millions of rows, of which
        # only the distinct people are kept.
        if events is not None:
            for name, key in events.values_list("name", "person_key").iterator(CHUNK):
                self.by_event_name[name].add(key)
        if segment_changes is not None:
            rows = segment_changes.values_list("segment_id", "person_key").iterator(CHUNK)
            for segment_id, key in rows:
                self.by_segment[segment_id].add(key)
        if attribute_changes is not None:
            self.by_attributes.update(
                attribute_changes.values_list("person_key", flat=True).iterator(CHUNK)
            )

    def read_messages(self, message_ids: Iterable[int]) -> None:
        """Add the people of these messages (anonymous ones have none), by source."""
        for ids in _chunks(sorted(message_ids)):
            self.read_message_rows(Message.objects.filter(pk__in=list(ids)))

    def read_message_rows(self, messages: QuerySet[Message]) -> None:
        """Add the people of these messages (anonymous ones have none), by source."""
        rows = (
            messages.filter(person_key__isnull=False, anonymous=False)
            .values_list("campaign_id", "broadcast_id", "person_key")
            .distinct()
            .iterator(CHUNK)
        )
        for campaign_id, broadcast_id, key in rows:
            if key is not None:
                self.by_message_source[(campaign_id, broadcast_id)].add(key)

    def people_for(self, spec: GoalSpec) -> set[uuid.UUID]:
        """The people whose new rows can change a result built from ``spec``: callers pass the
        current result's (``GoalSpec.for_result``), so a row matching only a trigger being
        changed away from still reaches the result readers keep meanwhile."""
        keys: set[uuid.UUID] = set()
        kind = spec.trigger_type
        if kind == "event":
            keys |= self.by_event_name.get(str(spec.trigger.get("name")), set())
        if kind == "message":
            for people in self.by_message_source.values():
                keys |= people
        if spec.uses_attributes:
            keys |= self.by_attributes
        for segment_id in spec.segment_ids:
            keys |= self.by_segment.get(segment_id, set())
        sources = set(spec.campaign_ids), set(spec.broadcast_ids)
        for (campaign_id, broadcast_id), people in self.by_message_source.items():
            if campaign_id in sources[0] or broadcast_id in sources[1]:
                keys |= people
        return keys


def _touched(
    *,
    message_ids: Sequence[int],
    event_ids: Sequence[int],
    segment_change_ids: Sequence[int],
    attribute_change_ids: Sequence[int],
) -> Touched:
    touched = Touched()
    for ids in _chunks(list(event_ids)):
        touched.read(events=Event.objects.filter(pk__in=list(ids)))
    for ids in _chunks(list(segment_change_ids)):
        touched.read(segment_changes=SegmentMembershipChange.objects.filter(pk__in=list(ids)))
    for ids in _chunks(list(attribute_change_ids)):
        touched.read(attribute_changes=PersonAttributeChange.objects.filter(pk__in=list(ids)))
    touched.read_messages(message_ids)
    return touched


def _apply_to_goal(goal_id: int, keys: Iterable[uuid.UUID]) -> None:
    """Re-evaluate these people for one goal's current result, serialised on the goal row:
    ``APPLY_CHUNK`` people per transaction (each person's achievements depend on their own
    data only)."""
    for chunk in _chunks(sorted(set(keys)), APPLY_CHUNK):
        _apply_chunk_to_goal(goal_id, chunk)


def _apply_chunk_to_goal(goal_id: int, keys: Sequence[uuid.UUID]) -> None:
    with transaction.atomic():
        # ``of=("self",)``: the goal row only. A bare FOR UPDATE would lock the joined
        # workspace row too, and every ingestion into the workspace checks its foreign keys to
        # that row (KEY SHARE) at commit: they would wait for this update, and deadlock.
        goal = (
            Goal.objects.select_for_update(of=("self",))
            .select_related("workspace")
            .filter(pk=goal_id)
            .first()
        )
        if goal is None or goal.current_version == 0:
            return  # never computed: the pending recompute will include these rows
        # The settings the current result was built with, not the goal's live ones: a change
        # still recomputing must not leak into the result readers keep meanwhile (SPEC §6).
        apply_people(GoalSpec.for_result(goal), version=goal.current_version, person_keys=keys)


def process_ingested(
    *,
    workspace_id: int,
    message_ids: Sequence[int] = (),
    event_ids: Sequence[int] = (),
    segment_change_ids: Sequence[int] = (),
    attribute_change_ids: Sequence[int] = (),
) -> int:
    """Bring every goal of the workspace up to date with the rows one ingestion stored.

    Each goal on its own: one that fails (a bug in its evaluation, its rollup's revenue out of
    range) is logged and the rest still get the new data within seconds, instead of every
    goal after it in the loop waiting for that one to be fixed. ``GoalsFailed`` is raised
    at the end, so the task retries; re-deriving the goals that did succeed changes nothing.

    Returns how many goals were re-evaluated.
    """
    touched = _touched(
        message_ids=message_ids,
        event_ids=event_ids,
        segment_change_ids=segment_change_ids,
        attribute_change_ids=attribute_change_ids,
    )
    count = 0
    failed: list[int] = []
    goals = (
        Goal.objects.filter(workspace_id=workspace_id)
        .select_related("workspace")
        .prefetch_related("sources")
    )
    for goal in goals:
        try:
            keys = touched.people_for(GoalSpec.for_result(goal))
            if keys:
                _apply_to_goal(goal.pk, keys)
                count += 1
        except Exception:
            logger.exception("goal %s: new data could not be applied", goal.pk)
            failed.append(goal.pk)
    if failed:
        raise GoalsFailed(failed)
    return count


class GoalsFailed(Exception):
    """Some goals could not be brought up to date (each was logged); the others were."""

    def __init__(self, goal_ids: list[int]):
        super().__init__(f"goals {goal_ids} could not be brought up to date; the others were")
        self.goal_ids = goal_ids


def settle_before_deletion(*, workspace_id: int, person_key: uuid.UUID) -> None:
    """Bring a person's achievements of the goals that read attributes up to date, from their
    stored data, just before the person and their attribute history are deleted (SPEC §3:
    what they achieved keeps counting). Called inside the deletion's transaction.

    After the deletion, evaluation keeps a deleted person's attribute verdicts as the current
    result has them (``apply_people``). Data that arrived just before the deletion, whose
    processing had not run yet (the same batch, whose deletions come last, or a task still
    queued), would otherwise be judged without attributes and its achievements lost.
    """
    message_ids = list(Message.objects.filter(person_key=person_key).values_list("id", flat=True))
    message_reach_refresh(message_ids=message_ids)
    goals = (
        Goal.objects.filter(workspace_id=workspace_id)
        .select_related("workspace")
        .prefetch_related("sources")
    )
    for goal in goals:
        if GoalSpec.for_result(goal).uses_attributes:
            _apply_to_goal(goal.pk, [person_key])


def unseen_since(*, after_catch_up: bool = False) -> datetime:
    """The earliest ``received_at`` of a row that a snapshot taken now may not see: one whose
    transaction commits later. Catch-up after a build and the next reconcile pass start there.

    On PostgreSQL that is the start of the oldest transaction still open in the database
    (``pg_stat_activity``; now, when none is), less ``CLOCK_MARGIN``: rows that arrived
    earlier were committed and seen, and re-reading them was the bulk of the work (after a
    bulk import, every row of the last minutes was evaluated again, for minutes, in Python).
    It looks back ``RECONCILE_OVERLAP`` at most (a session left open in a transaction for
    hours would otherwise make every catch-up re-read hours), and that whole span where it
    can't see every session (other database roles than the app's need ``pg_read_all_stats``)
    and on SQLite.

    ``after_catch_up``: for a catch-up following one that began now and looked back the whole
    overlap (a recompute's, before and after its switch). On SQLite that one looks back
    ``CLOCK_MARGIN`` only: a write transaction holds the database's one write lock, which
    other writers wait for 20 s at most (the busy timeout), so one open now commits within the
    margin; looking back the whole overlap again re-evaluated everyone of the last five
    minutes twice, in the request that changed the goal.
    """
    if connection.vendor != "postgresql":
        return timezone.now() - (CLOCK_MARGIN if after_catch_up else RECONCILE_OVERLAP)
    with connection.cursor() as cursor:
        # A session of another role, without the privilege, shows neither its kind, its state
        # nor its start.
        cursor.execute(
            "SELECT clock_timestamp(), "
            "MIN(xact_start) FILTER (WHERE backend_type = 'client backend'), "
            "COUNT(*) FILTER (WHERE backend_type IS NULL AND state IS NULL) "
            "FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        now, oldest, hidden = cursor.fetchone()
    if hidden:
        return now - RECONCILE_OVERLAP
    since = (now if oldest is None else min(now, oldest)) - CLOCK_MARGIN
    return max(since, now - RECONCILE_OVERLAP)


@dataclass
class Received:
    """What arrived in a workspace since an instant (``received_since``): the people it touched,
    by what touched them; ``refresh_reach`` re-derives the reach of the messages created or
    measured since then (it may never have been derived if their task was lost)."""

    workspace_id: int
    since: datetime
    touched: Touched

    def _recent(self) -> dict[str, Any]:
        return {"workspace_id": self.workspace_id, "received_at__gte": self.since}

    def message_ids(self) -> Iterator[int]:
        """The messages created or measured since then, streamed (a message may come twice)."""
        yield from (
            Message.objects.filter(**self._recent()).values_list("id", flat=True).iterator(CHUNK)
        )
        yield from (
            MessageMetric.objects.filter(**self._recent())
            .values_list("message_id", flat=True)
            .distinct()
            .iterator(CHUNK)
        )

    def refresh_reach(self) -> None:
        for ids in batched(self.message_ids(), CHUNK):
            message_reach_refresh(message_ids=sorted(set(ids)))


def received_since(workspace_id: int, since: datetime) -> Received:
    """The rows of the workspace received since ``since``, read as ``process_ingested`` reads
    one ingestion's: a goal then re-evaluates only the people whose new data can affect it.
    Memory holds the distinct people touched, not the rows."""
    touched = Touched()
    recent = {"workspace_id": workspace_id, "received_at__gte": since}
    touched.read(
        events=Event.objects.filter(**recent).distinct(),
        segment_changes=SegmentMembershipChange.objects.filter(**recent).distinct(),
        attribute_changes=PersonAttributeChange.objects.filter(**recent).distinct(),
    )
    touched.read_message_rows(Message.objects.filter(**recent))
    touched.read_message_rows(
        Message.objects.filter(
            pk__in=MessageMetric.objects.filter(**recent).values("message_id"),
            workspace_id=workspace_id,
        )
    )
    return Received(workspace_id, since, touched)


def catch_up(*, goal_id: int, since: datetime, received: Received | None = None) -> None:
    """Re-evaluate, for one goal, the people whose data arrived since ``since`` and can affect
    it (idempotent: a function of the stored rows). Without ``received`` (read once per
    workspace by a reconcile pass, which refreshes its reach), it is read here and the reach of
    its messages re-derived first."""
    goal = (
        Goal.objects.select_related("workspace").prefetch_related("sources").filter(pk=goal_id)
    ).first()
    if goal is None:
        return
    if received is None:
        received = received_since(goal.workspace_id, since)
        received.refresh_reach()
    keys = received.touched.people_for(GoalSpec.for_result(goal))
    if keys:
        _apply_to_goal(goal_id, keys)


def catch_up_version(spec: GoalSpec, *, version: int, since: datetime) -> None:
    """Bring a recompute's new ``version``, built with ``spec`` and not yet switched in, up to
    date with the people whose data arrived since ``since`` and can affect it.

    Data arriving while a build runs extends the result readers see (``_apply_to_goal``), not
    the one being built; switched in without it, that data vanished from the reports until the
    catch-up after the switch (SPEC §6: readers keep the last complete result until the new
    one is complete). Only the build's worker writes a version before its switch (it holds
    the lease), so this needs no goal row lock; what arrives during it is caught up after the
    switch (``catch_up``). The version's rollup is kept up to date with its achievements.
    """
    received = received_since(spec.goal.workspace_id, since)
    received.refresh_reach()
    keys = received.touched.people_for(spec)
    if not keys:
        return
    goal = copy.copy(spec.goal)
    goal.rollup_version = version  # its rollup is built: apply each person's difference
    spec = dataclasses.replace(spec, goal=goal)
    for chunk in _chunks(sorted(keys), APPLY_CHUNK):
        with transaction.atomic():
            apply_people(spec, version=version, person_keys=chunk)
