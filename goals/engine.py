"""The goals engine: evaluation, set-based attribution, recomputes and incremental updates.

Data flows one way (STYLE.md): ingestion stores raw rows and queues
``campaigns.tasks.process_ingested``, which calls ``process_ingested`` here; goal changes call
``recompute_request``, which queues ``goals.tasks.recompute_goal``.

**Evaluation** turns stored rows into achievements: the trigger rows since the tracking start
(events, attribute changes, segment entries, messages reaching a metric), kept where every
filter holds at that moment. It runs for a whole goal (recompute) or for a set of people
(incremental), with the same code, so the two cannot disagree.

**Attribution** of a whole version is computed while the achievements are copied in
(``build_attributed``): on PostgreSQL, for goals with the default touch time, by a LATERAL join
walking each person's messages through the (person, touch time) index; otherwise by an as-of
join written with window functions. For a set of people it is one UPDATE per chunk whose
correlated subquery picks, for each achievement, the best qualifying message. All are
set-based twins of ``goals.attribution.attribute``, tested against it.

**Order independence.** Incremental processing never applies a delta: for every person the new
rows concern, it re-derives that person's achievements for the goal from everything stored,
diffs them against the current result, and re-attributes all of that person's achievements. A
late message, metric, segment change or attribute change therefore lands exactly where it would
have had it arrived first.

**Recomputes** build a new result version beside the current one (readers keep the old one),
switch ``current_version`` in one short transaction, then catch up on the people whose data
arrived while building. A large build on PostgreSQL splits its people over several
connections working at once (``_shards``). Two recomputes of one goal never build at once: a
worker claims the goal with a conditional UPDATE on ``recompute_lease_until`` (a lease, not a
database lock, so it works on SQLite and PostgreSQL alike, needs no connection held open for
minutes, and expires if a worker dies). A build overtaken by a newer change is discarded at
the switch (version check). Incremental updates and the switch serialise on the goal row
(``select_for_update``).
"""

from __future__ import annotations

import bisect
import dataclasses
import json
import logging
import re
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from django.conf import settings as django_settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from campaigns import channels
from campaigns.bulk import RowInserter, batched
from campaigns.models import (
    Event,
    Message,
    MessageMetric,
    PendingMetric,
    Person,
    PersonAttributeChange,
    SegmentAction,
    SegmentMembershipChange,
)
from campaigns.services import message_reach_refresh, pending_metrics_apply
from goals import attribution, conditions, partitions
from goals.models import (
    NO_PREVIOUS_DAY,
    Achievement,
    Goal,
    GoalRollup,
    GoalStatus,
    RollupScope,
    TriggerKind,
    money_fits,
)
from goals.reports import micro_sql, micro_sum

logger = logging.getLogger("goals.engine")
T = TypeVar("T")

#: People per query when a set of people is loaded or re-evaluated.
CHUNK = 2000
#: How long a recompute's lease lasts without renewal: a worker that dies (SIGKILL, OOM, a lost
#: host) gives its goal back this long after its last heartbeat, so reconcile can restart it.
LEASE = timedelta(seconds=60)
#: How often a running build renews its lease, from a thread of its own (a build's phases may
#: each take longer than ``LEASE``).
LEASE_HEARTBEAT = timedelta(seconds=15)
#: The furthest back catch-up and the reconcile pass look before the moment they start from
#: (``unseen_since``): the whole of it on SQLite, where in-flight transactions can't be seen.
RECONCILE_OVERLAP = timedelta(minutes=5)
#: How far a row's ``received_at`` (the ingesting process's clock, read before its transaction
#: begins; retries keep it) may lie before its transaction's start on the database's clock.
CLOCK_MARGIN = timedelta(seconds=30)
#: People re-evaluated per transaction by catch-up (``_apply_to_goal``): what it holds in
#: memory, and how long it holds the goal row, stay bounded after a bulk import.
APPLY_CHUNK = 5000
MONEY_QUANT = Decimal("0.000001")
MONEY_MAX = Decimal("1e12")

#: Which ``Message.reached_*`` column holds the touch time for (metric, count machine).
TOUCH_COLUMN: dict[tuple[str, bool], str] = {
    (channels.SENT, True): "reached_sent_at",
    (channels.SENT, False): "reached_sent_at",
    (channels.DELIVERED, True): "reached_delivered_at",
    (channels.DELIVERED, False): "reached_delivered_at",
    (channels.OPENED, True): "reached_opened_at",
    (channels.OPENED, False): "reached_opened_human_at",
    (channels.CLICKED, True): "reached_clicked_at",
    (channels.CLICKED, False): "reached_clicked_human_at",
}


# --- the goal, read once -------------------------------------------------------------------


@dataclass
class GoalSpec:
    """Everything evaluation and attribution need from a goal, read once."""

    goal: Goal
    tz: ZoneInfo
    tracking_start: datetime
    trigger: dict[str, Any]
    filters: list[dict[str, Any]]
    settings: attribution.AttributionSettings
    campaign_ids: list[int] = field(default_factory=list)
    broadcast_ids: list[int] = field(default_factory=list)
    #: For deleted people (no attribute history left): the triggers that were achievements in
    #: the previous result. Their attribute filters are taken as they were decided then.
    deleted_verdicts: set[tuple[str, int]] | None = None

    @classmethod
    def load(cls, goal: Goal) -> GoalSpec:
        criteria = goal.criteria or {}
        campaign_ids: list[int] = []
        broadcast_ids: list[int] = []
        for source in goal.sources.all():  # uses a prefetch when the caller made one
            if source.campaign_id is not None:
                campaign_ids.append(source.campaign_id)
            elif source.broadcast_id is not None:
                broadcast_ids.append(source.broadcast_id)
        return cls(
            goal=goal,
            tz=goal.workspace.tz,
            tracking_start=django_settings.GOALS_TRACKING_START,
            trigger=criteria.get("trigger") or {},
            filters=list(criteria.get("filters") or []),
            settings=attribution.AttributionSettings(
                window_days=goal.window_days,
                metrics=dict(goal.metrics or {}),
                count_machine=goal.count_machine,
            ),
            campaign_ids=campaign_ids,
            broadcast_ids=broadcast_ids,
        )

    @property
    def trigger_type(self) -> str:
        return str(self.trigger.get("type", ""))

    @property
    def uses_attributes(self) -> bool:
        return self.trigger_type == "attribute" or any(
            f.get("type") == "attribute" for f in self.filters
        )

    @property
    def segment_ids(self) -> set[int]:
        ids = {int(f["segment"]) for f in self.filters if f.get("type") == "segment"}
        if self.trigger_type == "segment":
            ids.add(int(self.trigger["segment"]))
        return ids

    def window_start(self, achieved_at: datetime) -> datetime:
        start = attribution.window_start(
            achieved_at, window_days=self.settings.window_days, tz=self.tz
        )
        return max(start, self.tracking_start)


# --- evaluation: stored rows -> achievements ---------------------------------------------


@dataclass(frozen=True)
class Trigger:
    kind: str
    trigger_id: int
    person_key: uuid.UUID
    person_id: int | None
    at: datetime
    data: Any = None


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _scoped(qs: QuerySet[Any], person_keys: Sequence[uuid.UUID] | None) -> Iterator[QuerySet[Any]]:
    """The queryset once (everyone), or once per chunk of ``person_keys``."""
    if person_keys is None:
        yield qs
        return
    for chunk in _chunks(person_keys):
        yield qs.filter(person_key__in=list(chunk))


def _triggers(spec: GoalSpec, person_keys: Sequence[uuid.UUID] | None) -> Iterator[Trigger]:
    goal, trigger, start = spec.goal, spec.trigger, spec.tracking_start
    kind = spec.trigger_type
    if kind == "event":
        events = Event.objects.filter(
            workspace_id=goal.workspace_id, name=trigger.get("name", ""), timestamp__gte=start
        )
        wanted = list(trigger.get("conditions") or [])
        # Decoding every event's JSON costs more than the rest: read it only when needed.
        needs_data = bool(wanted) or bool(goal.impact_currency and goal.impact_event_key)
        columns = ("id", "person_key", "person_id", "timestamp", *(("data",) if needs_data else ()))
        for qs in _scoped(events, person_keys):
            rows = qs.values_list(*columns)
            for event_id, key, person_id, at, *data in rows.iterator(chunk_size=5000):
                payload = data[0] if data else None
                if conditions.all_match(wanted, payload):
                    yield Trigger(TriggerKind.EVENT, event_id, key, person_id, at, payload)
    elif kind == "segment":
        yield from _segment_triggers(spec, person_keys)
    elif kind == "attribute":
        yield from _attribute_triggers(spec, person_keys)
    elif kind == "message":
        yield from _message_triggers(spec, person_keys)


#: Segment changes at one instant: an enter before a leave ("enter" < "leave"), whatever
#: their arrival (SPEC §4.5: results never depend on arrival order). The person entered, and
#: is outside afterwards. Identical changes may stay in arrival order: they agree.
SEGMENT_TIES = ("action",)


def _segment_triggers(spec: GoalSpec, person_keys: Sequence[uuid.UUID] | None) -> Iterator[Trigger]:
    """Entering the segment: an "enter" while the person was not in it (the state before
    their first recorded change being "not in"). A repeated "enter" is not a new entry."""
    changes = SegmentMembershipChange.objects.filter(
        workspace_id=spec.goal.workspace_id, segment_id=int(spec.trigger.get("segment") or 0)
    )
    yield from _becoming_true(
        spec, changes, person_keys, TriggerKind.SEGMENT, "action",
        lambda action: action == SegmentAction.ENTER, before=False,
        ties=SEGMENT_TIES,
    )  # fmt: skip


def _attribute_triggers(
    spec: GoalSpec, person_keys: Sequence[uuid.UUID] | None
) -> Iterator[Trigger]:
    """A change from not matching to matching (the state before a person's first recorded
    change is "no attributes", which ``neq`` and ``not_exists`` conditions already match).
    Setting the same value again is not a new achievement."""
    condition = spec.trigger
    changes = PersonAttributeChange.objects.filter(workspace_id=spec.goal.workspace_id)
    yield from _becoming_true(
        spec, changes, person_keys, TriggerKind.ATTRIBUTE, "attributes",
        lambda attributes: conditions.matches(condition, attributes),
        before=conditions.matches(condition, {}),
    )  # fmt: skip


def _becoming_true(
    spec: GoalSpec,
    changes: QuerySet[Any],
    person_keys: Sequence[uuid.UUID] | None,
    kind: str,
    column: str,
    holds: Callable[[Any], bool],
    *,
    before: bool,
    ties: tuple[str, ...] = (),
) -> Iterator[Trigger]:
    """The changes (by person, in time order, then ``ties``, then arrival) after which
    ``holds(column)`` is true while it was false just before (``before``: whether it holds
    before a person's first change), from the tracking start."""
    for qs in _scoped(changes, person_keys):
        rows = qs.order_by("person_key", "timestamp", *ties, "id").values_list(
            "id", "person_key", "person_id", "timestamp", column
        )
        previous_key: uuid.UUID | None = None
        held = False
        for change_id, key, person_id, at, value in rows.iterator(chunk_size=5000):
            if key != previous_key:
                previous_key, held = key, before
            now = holds(value)
            if now and not held and at >= spec.tracking_start:
                yield Trigger(kind, change_id, key, person_id, at)
            held = now


def _message_triggers(spec: GoalSpec, person_keys: Sequence[uuid.UUID] | None) -> Iterator[Trigger]:
    """A message reaching a metric; a chain metric is reached by any later step too."""
    trigger = spec.trigger
    metric = trigger.get("metric", "")
    messages = Message.objects.filter(
        workspace_id=spec.goal.workspace_id, anonymous=False, person_key__isnull=False
    )
    if trigger.get("channel"):
        messages = messages.filter(channel=trigger["channel"])
    if trigger.get("campaign"):
        messages = messages.filter(campaign_id=trigger["campaign"])
    if trigger.get("broadcast"):
        messages = messages.filter(broadcast_id=trigger["broadcast"])
    if metric in channels.LEVEL:
        column = TOUCH_COLUMN[(metric, spec.settings.count_machine)]
        if metric == channels.SENT:
            reached: Any = Coalesce(F("reached_sent_at"), F("sent_at"))
        else:
            reached = F(column)
            # A channel without this step never reaches it (an SMS is never "opened").
            messages = messages.filter(
                channel__in=[c for c, chain in channels.CHANNEL_CHAINS.items() if metric in chain]
            )
    else:
        reached = Subquery(
            MessageMetric.objects.filter(message_id=OuterRef("pk"), metric=metric)
            .order_by()
            .values("message_id")
            .annotate(first=Min("timestamp"))
            .values("first")[:1]
        )
    messages = messages.annotate(reached_at=reached).filter(reached_at__gte=spec.tracking_start)
    for qs in _scoped(messages, person_keys):
        rows = qs.values_list("id", "person_key", "person_id", "reached_at")
        for message_id, key, person_id, at in rows.iterator(chunk_size=5000):
            yield Trigger(TriggerKind.MESSAGE, message_id, key, person_id, at)


class _History:
    """Attribute snapshots and segment memberships of a set of people, for "at that moment"."""

    def __init__(self, spec: GoalSpec, person_keys: Iterable[uuid.UUID]):
        keys = list(set(person_keys))
        self.attributes: dict[uuid.UUID, tuple[list[datetime], list[Any]]] = {}
        self.segments: dict[tuple[int, uuid.UUID], tuple[list[datetime], list[bool]]] = {}
        needs_attributes = any(f.get("type") == "attribute" for f in spec.filters)
        segment_ids = [int(f["segment"]) for f in spec.filters if f.get("type") == "segment"]
        for chunk in _chunks(keys):
            if needs_attributes:
                rows = (
                    PersonAttributeChange.objects.filter(person_key__in=list(chunk))
                    .order_by("person_key", "timestamp", "id")
                    .values_list("person_key", "timestamp", "attributes")
                )
                for key, at, attributes in rows:
                    times, values = self.attributes.setdefault(key, ([], []))
                    times.append(at)
                    values.append(attributes)
            if segment_ids:
                seg_rows = (
                    SegmentMembershipChange.objects.filter(
                        segment_id__in=segment_ids, person_key__in=list(chunk)
                    )
                    .order_by("segment_id", "person_key", "timestamp", *SEGMENT_TIES, "id")
                    .values_list("segment_id", "person_key", "timestamp", "action")
                )
                for segment_id, key, at, action in seg_rows:
                    times, states = self.segments.setdefault((segment_id, key), ([], []))
                    times.append(at)
                    states.append(action == SegmentAction.ENTER)

    def attributes_at(self, key: uuid.UUID, at: datetime) -> Any:
        times, values = self.attributes.get(key, ([], []))
        index = bisect.bisect_right(times, at)
        return values[index - 1] if index else {}

    def in_segment_at(self, segment_id: int, key: uuid.UUID, at: datetime) -> bool:
        times, states = self.segments.get((segment_id, key), ([], []))
        index = bisect.bisect_right(times, at)
        return states[index - 1] if index else False


def _filters_hold(spec: GoalSpec, history: _History, trig: Trigger) -> bool:
    for flt in spec.filters:
        if flt.get("type") == "attribute":
            if trig.person_id is None and spec.deleted_verdicts is not None:
                # A deleted person's attributes are gone: keep the verdict they had.
                if (trig.kind, trig.trigger_id) not in spec.deleted_verdicts:
                    return False
            elif not conditions.matches(flt, history.attributes_at(trig.person_key, trig.at)):
                return False
        elif flt.get("type") == "segment":
            inside = history.in_segment_at(int(flt["segment"]), trig.person_key, trig.at)
            if inside != bool(flt.get("in", True)):
                return False
    return True


def _revenue(spec: GoalSpec, trig: Trigger) -> tuple[Decimal, bool]:
    """(revenue, value missing). Static amounts apply to every trigger; an event key reads
    the event's data and counts a missing or non-numeric value as 0, flagged."""
    goal = spec.goal
    if not goal.impact_currency:
        return Decimal(0), False
    if goal.impact_static is not None:
        return Decimal(goal.impact_static), False
    if goal.impact_event_key:
        return _amount(conditions.get_path(trig.data, goal.impact_event_key))
    return Decimal(0), False


def _amount(value: Any) -> tuple[Decimal, bool]:
    """An impact value read from event data: (amount, missing)."""
    number = conditions.as_decimal(value)
    if number is None or abs(number) >= MONEY_MAX:
        return Decimal(0), True
    try:
        amount = number.quantize(MONEY_QUANT)
    except InvalidOperation:
        return Decimal(0), True
    # Rounding to six decimals can reach the limit (999999999999.9999999), and so can
    # SQLite's reading of the stored amount (999999999999.9999): out of range too.
    return (amount, False) if money_fits(amount) else (Decimal(0), True)


#: The columns evaluation produces per achievement, in order (attribution comes after).
BUILD_FIELDS = (
    "goal", "version", "person_key", "person", "achieved_at", "local_date", "revenue",
    "revenue_missing", "trigger_kind", "trigger_id", "window_start",
)  # fmt: skip
#: Where ``trigger_kind`` and ``trigger_id`` sit in a row: together they identify it.
KIND, TRIGGER_ID = BUILD_FIELDS.index("trigger_kind"), BUILD_FIELDS.index("trigger_id")

Row = tuple[Any, ...]


def evaluate(
    spec: GoalSpec, *, version: int, person_keys: Sequence[uuid.UUID] | None = None
) -> Iterator[list[Row]]:
    """The goal's achievements (for ``person_keys``, or everyone) as rows in ``BUILD_FIELDS``
    order, in chunks. Plain tuples, not model instances: a recompute makes hundreds of
    thousands, and building a model instance costs more than the rest of the work."""
    pending: list[Trigger] = []
    goal_id, tz = spec.goal.pk, spec.tz
    window_starts: dict[date, datetime] = {}  # the window start depends on the local date only

    def flush() -> list[Row]:
        history = _History(spec, (t.person_key for t in pending)) if spec.filters else None
        out = []
        for trig in pending:
            if history is not None and not _filters_hold(spec, history, trig):
                continue
            revenue, missing = _revenue(spec, trig)
            local_date = trig.at.astimezone(tz).date()
            start = window_starts.get(local_date)
            if start is None:
                start = window_starts[local_date] = spec.window_start(trig.at)
            out.append(
                (
                    goal_id,
                    version,
                    trig.person_key,
                    trig.person_id,
                    trig.at,
                    local_date,
                    revenue,
                    missing,
                    trig.kind,
                    trig.trigger_id,
                    start,
                )
            )
        pending.clear()
        return out

    for trig in _triggers(spec, person_keys):
        pending.append(trig)
        if len(pending) >= 5000:
            yield flush()
    if pending:
        yield flush()


# --- attribution: one UPDATE per goal or chunk of people ---------------------------------


def _touch_sql(spec: GoalSpec, alias: str) -> str:
    """Per channel, the ``reached_*`` column of message ``alias`` that holds the goal's touch
    time. Channel and column names come from ``campaigns.channels`` and this module, never
    from input, so they are inlined."""
    return _touch_sql_of(spec.settings, alias)


def _touch_sql_of(settings: attribution.AttributionSettings, alias: str) -> str:
    whens = []
    for channel in channels.CHANNELS:
        metric = settings.qualifying_metric(channel)
        column = f"{alias}.{TOUCH_COLUMN[(metric, settings.count_machine)]}"
        if metric == channels.SENT:
            column = f"COALESCE({column}, {alias}.sent_at)"
        whens.append(f"WHEN {alias}.channel = '{channel}' THEN {column}")
    # Written as Django writes ``Message.default_touch_time`` for its index (a searched CASE).
    return f"(CASE {' '.join(whens)} ELSE NULL END)"


#: Messages are indexed by person key and their touch time under the default attribution
#: settings (``Message.default_touch_time``: ``delivered`` where the channel has it, else
#: ``sent``; machine opens and clicks play no part in those). On PostgreSQL, goals whose
#: settings give the same touch time (most goals) are attributed through it
#: (``_lateral_credit_sql``).
TOUCH_INDEX = "message_person_touch_rank"


def _touch_indexed(spec: GoalSpec) -> bool:
    """Whether ``TOUCH_INDEX`` orders messages by this goal's touch time, on PostgreSQL (SQLite
    has the index too, which finds a person's messages, but no LATERAL join to walk it)."""
    default = attribution.AttributionSettings()
    return connection.vendor == "postgresql" and _touch_sql(spec, "c") == _touch_sql_of(
        default, "c"
    )


def _by_code_point() -> str:
    """The collation clause that orders text by code point: PostgreSQL's "C" collation
    compares UTF-8 bytes, which order as code points; SQLite's default BINARY collation does
    the same with none."""
    return ' COLLATE "C"' if connection.vendor == "postgresql" else ""


def _delivery_rank_sql(alias: str, direction: str = "") -> str:
    """SQL order terms of ``attribution.delivery_rank`` for message ``alias``: the length of
    its delivery id, then the id by code point."""
    return f"LENGTH({alias}.client_id){direction}, {alias}.client_id{_by_code_point()}{direction}"


def _best_message_sql(spec: GoalSpec, outer: str) -> tuple[str, list[Any]]:
    """A correlated subquery: the id of the message credited with achievement row ``outer``
    (``_best_candidate_sql``)."""
    if not spec.campaign_ids and not spec.broadcast_ids:
        return "CAST(NULL AS BIGINT)", []
    sql, params = _best_candidate_sql(spec, outer, "c.id")
    return f"({sql})", params


def _best_candidate_sql(spec: GoalSpec, outer: str, select: str) -> tuple[str, list[Any]]:
    """``SELECT select`` of the message credited with achievement row ``outer``, if any.

    The SQL twin of ``goals.attribution.attribute``: the candidates are the person's
    non-anonymous messages from the goal's sources (deleted ones included) whose touch time is
    within [window_start, achieved_at]; the best is the latest touch, then the latest sent
    time, then the highest delivery id (``_delivery_rank_sql``). It finds the person's
    messages through ``TOUCH_INDEX``, and walks them backwards from the achievement to the
    window start when the goal's touch time is the indexed one. Channel and column names are
    inlined (they come from code); source ids are parameters.
    """
    touch = _touch_sql(spec, "c")
    in_sources, params = _sources_sql(spec, "c")
    sql = (
        f"SELECT {select} FROM {Message._meta.db_table} c"
        f" WHERE c.person_key = {outer}.person_key AND NOT c.anonymous AND {in_sources}"
        f" AND {touch} >= {outer}.window_start AND {touch} <= {outer}.achieved_at"
        f" ORDER BY {touch} DESC, c.sent_at DESC, {_delivery_rank_sql('c', ' DESC')}, c.id DESC"
        f" LIMIT 1"
    )
    return sql, params


def _credit_columns_sql(spec: GoalSpec, message: str) -> str:
    """The four attribution columns from the credited message row ``message`` (or NULLs)."""
    return (
        f"{message}.id, {_touch_sql(spec, message)}, {message}.campaign_id, {message}.broadcast_id"
    )


ATTRIBUTION_COLUMNS = ("message_id", "touch_at", "source_campaign_id", "source_broadcast_id")


def attribute_achievements(
    spec: GoalSpec, *, version: int, person_keys: Sequence[uuid.UUID] | None = None
) -> None:
    """Credit each achievement of the version (or of these people) to its last qualifying
    touch (``_best_message_sql``), in one UPDATE per goal or chunk of people."""
    achievements = Achievement._meta.db_table
    messages = Message._meta.db_table
    key_field = Achievement._meta.get_field("person_key")
    best, best_params = _best_message_sql(spec, achievements)
    for chunk in [None] if person_keys is None else _chunks(list(person_keys)):
        where = f"{achievements}.goal_id = %s AND {achievements}.version = %s"
        params: list[Any] = [spec.goal.pk, version]
        if chunk is not None:
            where += f" AND {achievements}.person_key IN ({', '.join(['%s'] * len(chunk))})"
            params += [key_field.get_db_prep_value(key, connection) for key in chunk]
        # A row-value assignment (PostgreSQL, SQLite >= 3.15): no matching message sets NULLs.
        sql = (
            f"UPDATE {achievements} SET ({', '.join(ATTRIBUTION_COLUMNS)}) = ("
            f"SELECT {_credit_columns_sql(spec, 'm')} FROM {messages} m WHERE m.id = {best}"
            f") WHERE {where}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, best_params + params)


def _sources_sql(spec: GoalSpec, alias: str) -> tuple[str, list[Any]]:
    """``alias`` is a message from one of the goal's sources (SQL and its parameters)."""
    clauses, params = [], []
    if spec.campaign_ids:
        clauses.append(f"{alias}.campaign_id IN ({', '.join(['%s'] * len(spec.campaign_ids))})")
        params += spec.campaign_ids
    if spec.broadcast_ids:
        clauses.append(f"{alias}.broadcast_id IN ({', '.join(['%s'] * len(spec.broadcast_ids))})")
        params += spec.broadcast_ids
    return f"({' OR '.join(clauses) or '1 = 0'})", params


#: ``_asof_credit_sql`` packs a touch's group number and a message, campaign or broadcast id
#: into one integer as ``group * _PACK + id``: ids stay below 2**40, group numbers (a person's
#: touches) below 2**23.
_PACK = 2**40


def _asof_credit_sql(
    spec: GoalSpec, staging: str, columns: list[str], *, shard: Shard = None
) -> tuple[str, list[Any]]:
    """The staged achievements with their credit (``ATTRIBUTION_COLUMNS``: the credited
    message, its touch time and its campaign or broadcast, or NULLs), found by an as-of join
    written with window functions (PostgreSQL and SQLite >= 3.25 alike).

    The person's candidate touches and achievements are merged into one timeline ordered by
    time, touches before achievements at the same instant (a touch at A qualifies) and touches
    at one instant by sent time, then delivery id (the rule's tie-break: ``dl``, ``di``). A
    running count of touches numbers the groups, so each achievement shares its group with the
    latest touch at or before it, which is the best candidate; it is credited when that touch
    is inside the window. Each candidate message is read once, instead of once per
    achievement, and the touch carries the columns the credit needs, so no message is looked
    up again. Touches outside the span of their person's windows (the earliest window start to
    the latest achievement) can never be credited and are left out of the timeline: this often
    halves it.
    With ``shard``, only the staged people of that share (``_shard_sql``).
    """
    messages = Message._meta.db_table
    touch = _touch_sql(spec, "c")
    in_sources, params = _sources_sql(spec, "c")
    staged = ", ".join(f"s.{c}" for c in columns)
    empty = ", ".join(f"NULL AS {c}" for c in columns)
    timeline = (
        f"SELECT s.person_key AS p, s.achieved_at AS t, 1 AS k, NULL AS sent, NULL AS dl, "
        f"NULL AS di, NULL AS mid, NULL AS mc, NULL AS mb, {staged} FROM {staging} s "
        f"WHERE {_shard_sql('s', shard)} "
        f"UNION ALL "
        f"SELECT c.person_key, {touch}, 0, c.sent_at, LENGTH(c.client_id), c.client_id, c.id, "
        f"c.campaign_id, c.broadcast_id, {empty} FROM {messages} c "
        f"JOIN (SELECT person_key, MIN(window_start) AS lo, MAX(achieved_at) AS hi "
        f"FROM {staging} z WHERE {_shard_sql('z', shard)} GROUP BY person_key) r "
        f"ON r.person_key = c.person_key AND {touch} >= r.lo AND {touch} <= r.hi "
        f"WHERE NOT c.anonymous AND {in_sources} AND {_shard_sql('c', shard)}"
    )
    collate = _by_code_point()

    def order(a: str) -> str:
        return (
            f"PARTITION BY {a}.p ORDER BY {a}.t, {a}.k, {a}.sent, {a}.dl, {a}.di{collate}, {a}.mid "
            f"ROWS UNBOUNDED PRECEDING"
        )

    grouped = (
        f"SELECT u.*, COUNT(u.mid) OVER w AS grp, MAX(CASE WHEN u.k = 0 THEN u.t END) OVER w "
        f"AS best_t FROM ({timeline}) u WINDOW w AS ({order('u')})"
    )
    # The latest touch's columns, by a running MAX of (group number, value) packed in one
    # integer: group numbers only grow along the timeline. The second window orders rows as
    # the first one did, so the database reuses that order instead of sorting again.
    packed = ", ".join(
        f"MAX(CASE WHEN g.k = 0 THEN g.grp * {_PACK} + COALESCE(g.{value}, 0) END) OVER w AS {name}"
        for value, name in (("mid", "best"), ("mc", "best_c"), ("mb", "best_b"))
    )
    best = f"SELECT g.*, {packed} FROM ({grouped}) g WINDOW w AS ({order('g')})"
    inside = "h.best_t >= h.window_start"
    credit = ", ".join(
        f"CASE WHEN {inside} THEN {value} END AS {name}"
        for value, name in zip(
            (f"h.best %% {_PACK}", "h.best_t", f"NULLIF(h.best_c %% {_PACK}, 0)",
             f"NULLIF(h.best_b %% {_PACK}, 0)"),
            ATTRIBUTION_COLUMNS,
            strict=True,
        )
    )  # fmt: skip
    sql = f"SELECT {', '.join('h.' + c for c in columns)}, {credit} FROM ({best}) h WHERE h.k = 1"
    return sql, params


def _lateral_credit_sql(
    spec: GoalSpec, staging: str, columns: list[str], *, shard: Shard = None
) -> tuple[str, list[Any]]:
    """The staged achievements with their credit, as ``_asof_credit_sql`` gives them, found
    for each achievement by walking its person's messages backwards through ``TOUCH_INDEX``
    from the achievement to the window start (``_best_candidate_sql`` in a LATERAL join).
    PostgreSQL only, for goals whose touch time is the indexed one (``_touch_indexed``): each
    achievement reads only the few index entries inside its window, where the as-of join
    sorts every candidate touch with the achievements (on 292,000 achievements against 1.6
    million messages, on one connection: 2.4 s against 4.5 s)."""
    best, params = _best_candidate_sql(
        spec,
        "s",
        f"c.id, {_touch_sql(spec, 'c')} AS touch_at, c.campaign_id, c.broadcast_id",
    )
    staged = ", ".join(f"s.{c}" for c in columns)
    # Achievements in person order, whatever the staging's (a sort in the build session's
    # memory): the walk visits each person's part of the index once, in order, and writes the
    # result in person order, which its indexes and rollup (sorting by person) find sorted.
    # On the bench goal (292,000 achievements, two connections) sorting costs 0.05 s and
    # saves 0.3-0.5 s in those steps (A/B, four runs each).
    sql = (
        f"SELECT {staged}, b.id, b.touch_at, b.campaign_id, b.broadcast_id FROM "
        f"(SELECT * FROM {staging} s WHERE {_shard_sql('s', shard)} "
        f"ORDER BY s.person_key, s.achieved_at) s LEFT JOIN LATERAL ({best}) b ON TRUE"
    )
    return sql, params


def _credit_sql(
    spec: GoalSpec, staging: str, columns: list[str], *, shard: Shard = None
) -> tuple[str, list[Any], dict[str, str]]:
    """The staged achievements with their credit (``ATTRIBUTION_COLUMNS``), by the fastest
    way this goal allows, and the session settings it runs best under."""
    if _touch_indexed(spec):
        sql, params = _lateral_credit_sql(spec, staging, columns, shard=shard)
        return sql, params, LATERAL_SESSION_SETTINGS
    sql, params = _asof_credit_sql(spec, staging, columns, shard=shard)
    return sql, params, BUILD_SESSION_SETTINGS


#: PostgreSQL session settings for a build's big statements. The as-of sort of a large goal
#: (achievements merged with their people's messages) spills to disk under the default 4MB of
#: work_mem and runs about twice as long; JIT compiling the statement costs more (~0.7 s) than
#: it saves. Bounded per sort by the setting, whatever the number of messages.
BUILD_SESSION_SETTINGS = {"work_mem": "256MB", "jit": "off"}
#: And for the rollup's grouping (``_rollup_cells_sql``), whose best plan is one sort (by
#: person, scope and day, which the grouping and ``LAG`` share) and a hashed final grouping
#: into the few cells. Without statistics (a result's table is fresh) the planner guesses a
#: handful of rows and sorts the half million linked rows again for the final grouping; with
#: them it hashes the first grouping (half a million groups) and sorts again for ``LAG``:
#: either costs about 0.8 s more on 291,000 achievements. Refusing a sort it can avoid (and a
#: parallel plan) gives the one-sort plan whatever the statistics.
ROLLUP_SESSION_SETTINGS = {
    **BUILD_SESSION_SETTINGS,
    "enable_sort": "off",
    "max_parallel_workers_per_gather": "0",
}


#: And for the LATERAL join of ``_lateral_credit_sql``, whose sort of the staged rows needs the
#: memory too: every achievement probes the index with its own person and time, so memoizing
#: probes (the planner's default) only costs.
LATERAL_SESSION_SETTINGS = {**BUILD_SESSION_SETTINGS, "enable_memoize": "off"}


@contextmanager
def _build_session(settings: dict[str, str] = BUILD_SESSION_SETTINGS) -> Iterator[None]:
    """Apply ``settings`` on PostgreSQL for the duration of a build step."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        for name, value in settings.items():
            cursor.execute("SELECT set_config(%s, %s, false)", [name, value])
    try:
        yield
    except BaseException:
        # In a failed transaction RESET would fail too (masking the error), and the rollback
        # undoes the settings anyway; in autocommit they must still be reset.
        if connection.in_atomic_block:
            raise
        _reset_build_session(settings)
        raise
    _reset_build_session(settings)


def _reset_build_session(settings: dict[str, str]) -> None:
    with connection.cursor() as cursor:
        for name in settings:
            cursor.execute(f"RESET {name}")


#: A numeric JSON value PostgreSQL may read itself with the same result as
#: ``conditions.as_decimal`` + quantizing: at most 15 digits (so a JSON number survives
#: Python's float unchanged) and 6 places (no rounding). Any other number or string is
#: decided by Python (``_revenue``), so the two paths can never disagree.
_PLAIN_AMOUNT = r"^-?[0-9]{1,9}([.][0-9]{1,6})?$"


def _events_in_sql(spec: GoalSpec) -> bool:
    """Whether a full build may select this goal's achievements in SQL: an event trigger with
    no data conditions and no filters, on PostgreSQL, and an impact key without array steps
    (``#>`` indexes arrays; ``conditions.get_path`` does not: ``_ARRAY_STEP``)."""
    if connection.vendor != "postgresql" or spec.trigger_type != "event":
        return False
    if spec.filters or spec.trigger.get("conditions"):
        return False
    key = spec.goal.impact_event_key if spec.goal.impact_currency else ""
    return not any(_ARRAY_STEP.fullmatch(part) for part in key.split(".")) if key else True


#: A key step PostgreSQL's ``#>`` may read as an array index: it takes a sign and blanks
#: around the digits too ("+1", " 1"), so a step that is digits once stripped stays in Python.
_ARRAY_STEP = re.compile(r"\s*[+-]?[0-9]+\s*")


@dataclass(frozen=True)
class _EventSpan:
    """A simple event goal's trigger events: how many (counted up to ``SHARD_MIN_ROWS``: all a
    build needs to know), and for each local day from the first one's to the last one's: the
    day, its first instant and its achievements' window start."""

    count: int
    days: list[date]
    day_starts: list[datetime]
    window_starts: list[datetime]
    #: The first instant after the last day.
    until: datetime | None = None


def _event_filter(spec: GoalSpec) -> tuple[str, list[Any]]:
    """SQL condition (and parameters) on events ``e``: the goal's trigger events."""
    where = "e.workspace_id = %s AND e.name = %s AND e.timestamp >= %s"
    return where, [spec.goal.workspace_id, spec.trigger.get("name", ""), spec.tracking_start]


def _event_span(spec: GoalSpec) -> _EventSpan:
    where, params = _event_filter(spec)
    events = Event._meta.db_table
    with connection.cursor() as cursor:
        # Each part is a few index probes (the first and last event by time, and at most
        # SHARD_MIN_ROWS index entries), however many events the goal has.
        cursor.execute(
            f"SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM {events} e WHERE {where} LIMIT %s) n), "
            f"(SELECT MIN(e.timestamp) FROM {events} e WHERE {where}), "
            f"(SELECT MAX(e.timestamp) FROM {events} e WHERE {where})",
            [*params, SHARD_MIN_ROWS, *params, *params],
        )
        count, first, last = cursor.fetchone()
    if not count:
        return _EventSpan(0, [], [], [])
    day, last_day = first.astimezone(spec.tz).date(), last.astimezone(spec.tz).date()
    days, day_starts, window_starts = [], [], []
    while day <= last_day:
        days.append(day)
        day_starts.append(attribution.day_start(day, spec.tz))
        # Noon of the day has the day's local date in every zone.
        noon = datetime.combine(day, datetime.min.time().replace(hour=12), tzinfo=spec.tz)
        window_starts.append(spec.window_start(noon))
        day += timedelta(days=1)
    return _EventSpan(count, days, day_starts, window_starts, attribution.day_start(day, spec.tz))


def _events_staged_sql(
    spec: GoalSpec, *, version: int, span: _EventSpan, shard: Shard = None
) -> tuple[str, list[Any]]:
    """A simple event goal's achievements (of the people of ``shard``, see ``_events_in_sql``)
    as one SELECT of the staged columns (``BUILD_FIELDS`` less the credit) plus ``recheck``
    and ``v``: the same rows ``evaluate`` makes, without a round trip per event.

    An event's local day is found among the first instants of the span's days
    (``_event_span``, Python's time zone data, as ``evaluate`` reads them) by ``width_bucket``,
    a binary search, which also indexes the day's window start: converting every event's time
    to the zone and joining the days on the date cost twice as much (0.23 s against 0.13 s of
    CPU for 145,000 events), and the day starts are right across DST changes at midnight. Revenue
    read from an event key is parsed in SQL only when it is a plain amount; a row whose value
    is a number or string of any other form has ``recheck`` set and its raw value in ``v``,
    for ``_recheck_revenue`` to decide in Python.
    """
    goal, events = spec.goal, Event._meta.db_table
    where, where_params = _event_filter(spec)
    # Only the span's events: one committed since the span was read may lie outside it, where
    # ``width_bucket`` would give it the last day (or none). Such an event was received after
    # the build began, so its catch-up adds it (found by a stress run with a worker).
    where += f" AND e.timestamp >= %s AND e.timestamp < %s AND {_shard_sql('e', shard)}"
    where_params += [span.day_starts[0], span.until]
    key = goal.impact_event_key if goal.impact_currency and goal.impact_static is None else ""
    revenue, missing, recheck = "0", "FALSE", "FALSE"
    value, value_params = "NULL::jsonb", []
    if goal.impact_currency and goal.impact_static is not None:
        revenue = f"CAST('{Decimal(goal.impact_static)}' AS NUMERIC)"  # a Decimal: no quotes inside
    elif key:
        value, value_params = "e.data #> %s", [key.split(".")]
        text = "(e.v #>> '{}')"
        kinds = "jsonb_typeof(e.v) IN ('number', 'string')"
        plain = f"({kinds} AND {text} ~ '{_PLAIN_AMOUNT}')"
        revenue = f"CASE WHEN {plain} THEN CAST({text} AS NUMERIC) ELSE 0 END"
        missing = f"NOT COALESCE({plain}, FALSE)"
        recheck = f"COALESCE({kinds} AND NOT {plain}, FALSE)"
    sql = (
        f"SELECT %s AS goal_id, %s AS version, e.person_key, e.person_id, "
        f"e.timestamp AS achieved_at, (%s::date[])[e.day] AS local_date, {revenue} AS revenue, "
        f"{missing} AS revenue_missing, '{TriggerKind.EVENT.value}' AS trigger_kind, "
        f"e.id AS trigger_id, (%s::timestamptz[])[e.day] AS window_start, {recheck} AS recheck, "
        f"e.v FROM (SELECT e.id, e.person_key, e.person_id, e.timestamp, {value} AS v, "
        f"width_bucket(e.timestamp, %s::timestamptz[]) AS day FROM {events} e WHERE {where}) e"
    )
    params = [
        goal.pk, version, span.days, span.window_starts, *value_params, span.day_starts,
        *where_params,
    ]  # fmt: skip
    return sql, params


def _recheck_revenue(table: str, found: str | list[Any] | None) -> None:
    """Decide in Python (``_amount``) the revenue of the rows of ``table`` whose event value
    is not a plain amount ("1e3", " 5", 0.1234567, "n/a"): ``found`` is the JSON array of
    ``[event id, value]`` pairs the build collected (``_events_staged_sql``'s ``recheck``)."""
    pairs = json.loads(found) if isinstance(found, str) else found or []
    if not pairs:
        return
    ids, amounts, missings = [], [], []
    for event_id, raw in pairs:
        amount, absent = _amount(raw)
        ids.append(event_id)
        amounts.append(amount)
        missings.append(absent)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} s SET revenue = f.amount, revenue_missing = f.missing "
            f"FROM unnest(%s::bigint[], %s::numeric[], %s::boolean[]) AS f(id, amount, missing) "
            f"WHERE s.trigger_id = f.id",
            [ids, amounts, missings],
        )


def build_attributed(
    spec: GoalSpec, *, version: int, rows: Iterable[list[Row]] | None = None
) -> int:
    """Write a new version's achievements already attributed, each written once with its
    credit computed on the way (``_credit_sql``); returns how many.

    Without ``rows`` the goal is evaluated here: by one statement per share of people when
    ``_events_in_sql`` allows (``_build_from_events``), else by ``evaluate``. ``rows`` (from
    ``evaluate``) are staged in a scratch table first (``_build_from_rows``). A large build on
    PostgreSQL handles its people in shares, each on its own connection at the same time
    (``_shards``)."""
    # PostgreSQL: the rows go to a new table of their own, indexed and attached as the
    # result's partition once written (``goals.partitions``).
    partitioned = connection.vendor == "postgresql"
    target = (
        partitions.create_leaf(spec.goal.pk, version) if partitioned else Achievement._meta.db_table
    )
    try:
        clock = time.perf_counter()
        if rows is None and _events_in_sql(spec):
            count, shards = _build_from_events(spec, version=version, target=target)
        else:
            chunks = evaluate(spec, version=version) if rows is None else rows
            count, shards = _build_from_rows(spec, version=version, target=target, rows=chunks)
        stored_in = time.perf_counter() - clock
        clock = time.perf_counter()
        if partitioned:
            creates = partitions.leaf_indexes(spec.goal.pk, version)

            def build_indexes(shard: Shard) -> None:
                index, count = shard or (0, 1)
                with connection.cursor() as cursor:
                    for create in creates[index::count]:
                        cursor.execute(create)

            _on_shards(min(shards, len(creates)), build_indexes)
            partitions.attach_leaf(spec.goal.pk, version)
        logger.info(
            "goal %s version %s: evaluated, attributed and stored %s rows in %.2fs on %s "
            "connection(s), indexed and attached them in %.2fs",
            spec.goal.pk, version, count, stored_in, shards, time.perf_counter() - clock,
        )  # fmt: skip
    except BaseException:
        if partitioned:
            partitions.drop_result(spec.goal.pk, version)
        raise
    return count


def _credited_columns() -> tuple[list[str], str]:
    """The columns a build writes (``BUILD_FIELDS``, then ``ATTRIBUTION_COLUMNS``): the staged
    ones, and the INSERT's column list."""
    columns = [Achievement._meta.get_field(f).column or f for f in BUILD_FIELDS]  # type: ignore[union-attr]
    return columns, ", ".join([*columns, *ATTRIBUTION_COLUMNS])


def _build_from_events(spec: GoalSpec, *, version: int, target: str) -> tuple[int, int]:
    """Write a simple event goal's achievements (``_events_in_sql``) into ``target`` with one
    statement per share of people: the events are selected (``_events_staged_sql``) into a
    CTE the credit is computed from, so nothing is staged in a table, analyzed and read back
    (on the bench goal, 292,000 achievements on two connections: 1.2 s against 1.7 s).
    Returns the number of rows and of shares."""
    span = _event_span(spec)
    if not span.count:
        return 0, 1
    columns, insert_columns = _credited_columns()

    def share(shard: Shard) -> int:
        staged, staged_params = _events_staged_sql(spec, version=version, span=span, shard=shard)
        credited, params, session = _credit_sql(spec, "staged", columns, shard=shard)
        with _build_session(session), connection.cursor() as cursor:
            # A data-modifying WITH runs to completion whether or not it is read; "staged"
            # is computed once for both of its readers.
            cursor.execute(
                f"WITH staged AS MATERIALIZED ({staged}), "
                f"written AS (INSERT INTO {target} ({insert_columns}) {credited}) "
                f"SELECT COUNT(*), jsonb_agg(jsonb_build_array(s.trigger_id, s.v)) "
                f"FILTER (WHERE s.recheck) FROM staged s",
                [*staged_params, *params],
            )
            count, recheck = cursor.fetchone()
        _recheck_revenue(target, recheck)
        return int(count)

    shards = _shards(span.count)
    return sum(_on_shards(shards, share)), shards


def _build_from_rows(
    spec: GoalSpec, *, version: int, target: str, rows: Iterable[list[Row]]
) -> tuple[int, int]:
    """Write evaluated ``rows`` into ``target`` with their credit: staged in a scratch table
    (COPY on PostgreSQL), then copied across by share of people. Returns the number of rows
    and of shares."""
    staging = f"goals_stage_{spec.goal.pk}_{version}"
    columns, insert_columns = _credited_columns()
    # PostgreSQL: an unlogged table, which the shards' connections can read (a temporary
    # one is private to its connection); neither writes the write-ahead log.
    scratch = "UNLOGGED" if connection.vendor == "postgresql" else "TEMPORARY"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {staging}")
        cursor.execute(
            f"CREATE {scratch} TABLE {staging} AS SELECT {', '.join(columns)} "
            f"FROM {Achievement._meta.db_table} WHERE 1 = 0"
        )
    try:
        inserter = RowInserter(Achievement, BUILD_FIELDS, table=staging)
        count = sum(inserter.insert(chunk) for chunk in rows)
        if connection.vendor == "postgresql":
            # Fresh tables have no statistics yet; without them the planner assumes a few
            # hundred rows and probes messages person by person.
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {staging}")

        def share(shard: Shard) -> None:
            credited, params, session = _credit_sql(spec, staging, columns, shard=shard)
            with _build_session(session), connection.cursor() as cursor:
                cursor.execute(f"INSERT INTO {target} ({insert_columns}) {credited}", params)

        shards = _shards(count)
        _on_shards(shards, share)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {staging}")
    return count, shards


#: ``(index, count)``: the share of a build's people one connection handles (None: everyone).
Shard = tuple[int, int] | None
#: Below this many achievements a build runs on one connection: splitting it would save less
#: than the connections cost.
SHARD_MIN_ROWS = 20_000


def _shards(rows: int) -> int:
    """How many connections a build of ``rows`` achievements is spread over: up to
    ``GOALS_BUILD_CONNECTIONS`` on PostgreSQL when it is large, else one. Never inside a
    transaction, whose uncommitted rows other connections could not see."""
    if connection.vendor != "postgresql" or connection.in_atomic_block or rows < SHARD_MIN_ROWS:
        return 1
    return max(1, int(django_settings.GOALS_BUILD_CONNECTIONS))


def _shard_sql(alias: str, shard: Shard) -> str:
    """A condition keeping the rows of ``alias`` whose person falls in ``shard`` (PostgreSQL
    only): a range of person keys by their first byte (random in version 4 keys), so each
    person's rows land in one share, and each share writes its own part of the indexes that
    lead with the person (no two connections contending for the same index pages)."""
    if shard is None:
        return "1 = 1"
    index, count = shard

    def bound(share: int) -> str:
        return str(uuid.UUID(bytes=bytes([256 * share // count]) + bytes(15)))

    # Plain comparisons (no function per row), so that they may also filter messages early.
    lower = f"{alias}.person_key >= '{bound(index)}'"
    return lower if index == count - 1 else f"{lower} AND {alias}.person_key < '{bound(index + 1)}'"


def _on_shards(count: int, work: Callable[[Shard], T]) -> list[T]:
    """``work`` for each share of ``count``, at the same time, each on its own database
    connection (a thread's own); or once, for everyone, on this one."""
    if count == 1:
        return [work(None)]

    def run(index: int) -> T:
        try:
            return work((index, count))
        finally:
            connection.close()  # this thread's connection

    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="goals-build") as pool:
        return list(pool.map(run, range(count)))


# --- applying results -------------------------------------------------------------------------


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


# --- rollups: what reports read ----------------------------------------------------------------

#: A rollup cell: (scope type, scope id, local date, the person's previous day in the scope).
RollupKey = tuple[str, int, date, date]
#: A cell's sums: [people, achievements, revenue in millionths, missing values].
Cell = list[int]


def _has_rollup(spec: GoalSpec, version: int) -> bool:
    """The version's rollup is complete and must be kept up to date (``Goal.rollup_version``;
    read under the goal row lock by ``_apply_to_goal``)."""
    return spec.goal.rollup_version == version


_TOTAL = (RollupScope.TOTAL.value, 0)
_UNATTRIBUTED = (RollupScope.UNATTRIBUTED.value, 0)
_CAMPAIGN, _BROADCAST = RollupScope.CAMPAIGN.value, RollupScope.BROADCAST.value
#: ``build_rollup``'s numbering of the scopes.
_SCOPE_CODES = (_TOTAL[0], _CAMPAIGN, _BROADCAST, _UNATTRIBUTED[0])


def _scopes(
    unattributed: bool, campaign_id: int | None, broadcast_id: int | None
) -> tuple[tuple[str, int], ...]:
    """The rollup scopes an achievement counts in, as ``goals.reports`` keys its series."""
    if unattributed:
        if campaign_id is None and broadcast_id is None:
            return (_TOTAL, _UNATTRIBUTED)
    elif campaign_id is not None and broadcast_id is None:
        return (_TOTAL, (_CAMPAIGN, campaign_id))
    elif broadcast_id is not None and campaign_id is None:
        return (_TOTAL, (_BROADCAST, broadcast_id))
    return (_TOTAL,)


def _add_person(
    units: dict[RollupKey, Cell], days: dict[tuple[str, int], dict[date, Cell]]
) -> None:
    """Add one person's units: per scope, one per distinct day, linked to the previous day."""
    for (scope_type, scope_id), by_day in days.items():
        prev = NO_PREVIOUS_DAY
        for day in sorted(by_day):
            achievements, micro, missing = by_day[day]
            cell = units.get((scope_type, scope_id, day, prev))
            if cell is None:
                cell = units[(scope_type, scope_id, day, prev)] = [0, 0, 0, 0]
            cell[0] += 1
            cell[1] += achievements
            cell[2] += micro
            cell[3] += missing
            prev = day


def rollup_units(
    goal_id: int, version: int, person_keys: Sequence[uuid.UUID] | None = None
) -> dict[RollupKey, Cell]:
    """The rollup cells of a version's achievements (of ``person_keys``, or everyone).

    One GROUP BY per person and day (and credit) streamed in person order, so memory holds one
    person's days plus the cells, whose number depends on days and sources, not on people.
    Incremental updates use it for the people they touch; ``build_rollup`` is its SQL twin for
    a whole version (a test holds the two equal).
    """
    rows = (
        Achievement.objects.filter(goal_id=goal_id, version=version)
        .values(
            "person_key",
            "local_date",
            "source_campaign_id",
            "source_broadcast_id",
            unattributed=ExpressionWrapper(Q(message_id__isnull=True), output_field=BooleanField()),
        )
        .annotate(
            n=Count("id"),
            micro=micro_sum(),
            missing=Count("id", filter=Q(revenue_missing=True)),
        )
        .order_by("person_key", "local_date")
        .values_list(
            "person_key",
            "local_date",
            "unattributed",
            "source_campaign_id",
            "source_broadcast_id",
            "n",
            "micro",
            "missing",
        )
    )
    units: dict[RollupKey, Cell] = {}
    for qs in _scoped(rows, person_keys):
        current: Any = None
        days: dict[tuple[str, int], dict[date, Cell]] = defaultdict(dict)
        for key, day, unattributed, campaign_id, broadcast_id, n, micro, missing in _raw_rows(qs):
            if key != current:
                _add_person(units, days)
                current, days = key, defaultdict(dict)
            day = _as_date(day)
            for scope in _scopes(bool(unattributed), campaign_id, broadcast_id):
                cell = days[scope].get(day)
                if cell is None:
                    cell = days[scope][day] = [0, 0, 0]
                cell[0] += n
                cell[1] += int(micro)
                cell[2] += missing
        _add_person(units, days)
    return units


def _raw_rows(qs: QuerySet[Any], size: int = 5000) -> Iterator[tuple[Any, ...]]:
    """``qs``'s rows as the database driver returns them, streamed (a server-side cursor on
    PostgreSQL). Django's per-value converters cost more than the rollup's own work; the
    caller only compares keys, adds numbers and reads dates."""
    sql, params = qs.query.sql_with_params()
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(size):
            yield from batch


ROLLUP_FIELDS = (
    "goal", "version", "scope_type", "scope_id", "local_date", "prev_date", "prev_same_week",
    "people", "achievements", "revenue_micro", "revenue_missing",
)  # fmt: skip


def _rollup_values(goal_id: int, version: int, key: RollupKey, cell: Cell) -> Row:
    """A rollup cell's row, in ``ROLLUP_FIELDS`` order."""
    scope_type, scope_id, day, prev = key
    same_week = day.isocalendar()[:2] == prev.isocalendar()[:2]
    return (goal_id, version, scope_type, scope_id, day, prev, same_week, *cell)


def _rollup_row(goal_id: int, version: int, key: RollupKey, cell: Cell) -> GoalRollup:
    values = _rollup_values(goal_id, version, key, cell)
    names = [GoalRollup._meta.get_field(name).attname for name in ROLLUP_FIELDS]  # type: ignore[union-attr]
    return GoalRollup(**dict(zip(names, values, strict=True)))


def build_rollup(goal_id: int, version: int, *, shards: int = 1) -> int:
    """(Re)build a version's rollup from its achievements (``_rollup_cells_sql``, over
    ``shards`` connections at once); returns the number of cells."""
    GoalRollup.objects.filter(goal_id=goal_id, version=version).delete()

    def cells_of_share(shard: Shard) -> list[tuple[Any, ...]]:
        with _build_session(ROLLUP_SESSION_SETTINGS), connection.cursor() as cursor:
            cursor.execute(_rollup_cells_sql(shard), [goal_id, version])
            return cursor.fetchall()

    units: dict[RollupKey, Cell] = {}
    for rows in _on_shards(shards, cells_of_share):
        for code, scope_id, day, prev, *sums in rows:
            key = (_SCOPE_CODES[code], int(scope_id), _as_date(day), _as_date(prev))

            cell = units.setdefault(key, [0, 0, 0, 0])
            for index, value in enumerate(sums):
                cell[index] += int(value)
    # Plain tuples through COPY on PostgreSQL: model instances and a multi-row INSERT took
    # 0.3 s for 6,000 cells, a third of the rollup step of a large build.
    RowInserter(GoalRollup, ROLLUP_FIELDS).insert(
        [_rollup_values(goal_id, version, key, cell) for key, cell in units.items()]
    )
    return len(units)


def _as_date(value: date | str | None) -> date:
    """A day read by raw SQL (SQLite may hand it back as text); None is ``NO_PREVIOUS_DAY``."""
    if value is None:
        return NO_PREVIOUS_DAY
    return date.fromisoformat(value) if isinstance(value, str) else value


def _rollup_cells_sql(shard: Shard) -> str:
    """The rollup cells of a version's achievements (of the people of ``shard``): scope code
    (``_SCOPE_CODES``), scope id, day, previous day or NULL, and the sums of ``Cell``.
    Parameters: the goal id and the version.

    The SQL twin of ``rollup_units`` (a test holds them equal): each person's achievements
    per day and credit are expanded into their scopes (``_scopes``: the total, plus the
    credited campaign or broadcast, or unattributed), ``LAG`` links each of the person's days
    in a scope to their previous one, and the units are summed per cell by the database,
    instead of streaming every person's days to Python. Each person counts in one share, so
    the shares' cells add up.
    """
    # Scopes are numbered while rows are sorted and grouped (integers compare faster than
    # text), in the order of ``_SCOPE_CODES``.
    scope = (
        "CASE WHEN a.message_id IS NULL THEN (CASE WHEN a.source_campaign_id IS NULL AND "
        "a.source_broadcast_id IS NULL THEN 3 END) "
        "WHEN a.source_broadcast_id IS NULL THEN (CASE WHEN a.source_campaign_id IS NOT NULL "
        "THEN 1 END) WHEN a.source_campaign_id IS NULL THEN 2 END"
    )
    # Each achievement counts in the total (x.n = 0) and in its credit's scope (x.n = 1).
    expanded = (
        f"SELECT a.person_key AS p, CASE WHEN x.n = 0 THEN 0 ELSE {scope} END AS st, "
        f"CASE WHEN x.n = 0 THEN 0 ELSE COALESCE(a.source_campaign_id, a.source_broadcast_id, 0) "
        f"END AS sid, a.local_date AS d, {micro_sql('a.revenue', connection.vendor)} AS micro, "
        f"CASE WHEN a.revenue_missing THEN 1 ELSE 0 END AS missing "
        f"FROM {Achievement._meta.db_table} a JOIN (SELECT 0 AS n UNION ALL SELECT 1) x "
        f"ON x.n = 0 OR ({scope}) IS NOT NULL "
        f"WHERE a.goal_id = %s AND a.version = %s AND {_shard_sql('a', shard)}"
    )
    per_scope = (
        "SELECT p, st, sid, d, COUNT(*) AS n, SUM(micro) AS micro, SUM(missing) AS missing "
        "FROM expanded GROUP BY p, st, sid, d"
    )
    linked = (
        "SELECT st, sid, d, LAG(d) OVER (PARTITION BY p, st, sid ORDER BY d) AS prev, n, micro, "
        "missing FROM per_scope"
    )
    return (
        f"WITH expanded AS ({expanded}), per_scope AS ({per_scope}), linked AS ({linked}) "
        f"SELECT st, sid, d, prev, COUNT(*), SUM(n), SUM(micro), SUM(missing) FROM linked "
        f"GROUP BY st, sid, d, prev"
    )


def _rollup_apply(
    goal_id: int, version: int, before: dict[RollupKey, Cell], after: dict[RollupKey, Cell]
) -> None:
    """Add ``after - before`` to the version's rollup (under the goal row lock). Cells left
    without people are deleted (they have nothing else either)."""
    zero = [0, 0, 0, 0]
    delta: dict[RollupKey, Cell] = {}
    for key in before.keys() | after.keys():
        change = [a - b for a, b in zip(after.get(key, zero), before.get(key, zero), strict=True)]
        if any(change):
            delta[key] = change
    if not delta:
        return
    stored = {
        (row.scope_type, row.scope_id, row.local_date, row.prev_date): row
        for row in GoalRollup.objects.filter(
            goal_id=goal_id, version=version, local_date__in={key[2] for key in delta}
        )
    }
    updated: list[GoalRollup] = []
    created: list[GoalRollup] = []
    emptied: list[GoalRollup] = []
    for key, change in delta.items():
        row = stored.get(key)
        if row is None:
            created.append(_rollup_row(goal_id, version, key, change))
            continue
        row.people += change[0]
        row.achievements += change[1]
        row.revenue_micro += change[2]
        row.revenue_missing += change[3]
        (emptied if row.people == 0 else updated).append(row)
    if emptied:
        GoalRollup.objects.filter(pk__in=[row.pk for row in emptied]).delete()
    GoalRollup.objects.bulk_update(
        updated, ["people", "achievements", "revenue_micro", "revenue_missing"], batch_size=2000
    )
    GoalRollup.objects.bulk_create(created, batch_size=2000)


def rollup_backfill(*, goal_id: int) -> bool:
    """Build the rollup of a result computed before rollups existed (reports read its
    achievements until then). Under the goal row lock, so no incremental update of the result
    interleaves; a recompute's switch replaces it anyway. Returns whether it built one."""
    with transaction.atomic():
        goal = Goal.objects.select_for_update().filter(pk=goal_id).first()
        if goal is None or goal.current_version in (0, goal.rollup_version):
            return False
        build_rollup(goal_id, goal.current_version)
        Goal.objects.filter(pk=goal_id).update(rollup_version=goal.current_version)
    GoalRollup.objects.filter(goal_id=goal_id).exclude(version=goal.current_version).delete()
    return True


# --- recomputes -------------------------------------------------------------------------------


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
    transaction.on_commit(lambda: tasks.recompute_goal.delay(goal_id))


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
                clock = time.perf_counter()
                _drop_other_versions(goal_id, keep=target, shards=_shards(built))
                logger.info(
                    "goal %s: older versions dropped in %.2fs", goal_id, time.perf_counter() - clock
                )
                # Data committed while building went to the old version: bring it into this
                # one (``unseen_since``: from the oldest transaction open when it began).
                catch_up(goal_id=goal_id, since=unseen)
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


def _build_and_switch(goal: Goal, target: int, *, unseen: datetime, lease: _Lease) -> int | None:
    """Build version ``target`` beside the current one and switch readers to it; returns its
    number of achievements.

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
            status=GoalStatus.READY,
            computed_at=timezone.now(),
            reconciled_through=unseen,
        )
    return count


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


# --- incremental updates after ingestion ------------------------------------------------------


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
        apply_people(GoalSpec.load(goal), version=goal.current_version, person_keys=keys)


def process_ingested(
    *,
    workspace_id: int,
    message_ids: Sequence[int] = (),
    event_ids: Sequence[int] = (),
    segment_change_ids: Sequence[int] = (),
    attribute_change_ids: Sequence[int] = (),
) -> int:
    """Bring every goal of the workspace up to date with the rows one ingestion stored.

    Returns how many goals were re-evaluated.
    """
    touched = _touched(
        message_ids=message_ids,
        event_ids=event_ids,
        segment_change_ids=segment_change_ids,
        attribute_change_ids=attribute_change_ids,
    )
    count = 0
    goals = (
        Goal.objects.filter(workspace_id=workspace_id)
        .select_related("workspace")
        .prefetch_related("sources")
    )
    for goal in goals:
        keys = touched.people_for(GoalSpec.load(goal))
        if keys:
            _apply_to_goal(goal.pk, keys)
            count += 1
    return count


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
        if GoalSpec.load(goal).uses_attributes:
            _apply_to_goal(goal.pk, [person_key])


def unseen_since() -> datetime:
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
    """
    if connection.vendor != "postgresql":
        return timezone.now() - RECONCILE_OVERLAP
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
    keys = received.touched.people_for(GoalSpec.load(goal))
    if keys:
        _apply_to_goal(goal_id, keys)


def reconcile() -> dict[str, int]:
    """Periodic safety net (beat): restart recomputes whose task was lost, re-evaluate people
    whose data arrived since the last pass (a task lost between commit and queue), build the
    rollup of results computed before rollups existed, and clear what builds that died left
    (their staging tables; rows written for a goal deleted meanwhile)."""
    now = timezone.now()
    restarted = 0
    stuck = Goal.objects.filter(requested_version__gt=F("current_version")).filter(
        Q(recompute_lease_until__isnull=True) | Q(recompute_lease_until__lt=now)
    )
    from goals import tasks

    for goal_id in stuck.values_list("id", flat=True):
        tasks.recompute_goal.delay(goal_id)
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
    reconciled = 0
    # What arrived is read once per workspace (since the earliest of its goals' last passes),
    # not once per goal: after a bulk import each goal re-read the same rows for minutes.
    by_workspace: dict[int, list[tuple[int, datetime]]] = defaultdict(list)
    for goal_id, workspace_id, through in Goal.objects.filter(current_version__gt=0).values_list(
        "id", "workspace_id", "reconciled_through"
    ):
        by_workspace[workspace_id].append((goal_id, through or now - timedelta(days=1)))
    for workspace_id, goals in by_workspace.items():
        since = min(since for _, since in goals)
        received = received_since(workspace_id, since)
        received.refresh_reach()
        for goal_id, _ in goals:
            catch_up(goal_id=goal_id, since=since, received=received)
            Goal.objects.filter(pk=goal_id).update(reconciled_through=unseen)
            reconciled += 1
    rollups = 0
    for goal_id in (
        Goal.objects.filter(current_version__gt=0)
        .exclude(rollup_version=F("current_version"))
        .values_list("id", flat=True)
    ):
        rollups += rollup_backfill(goal_id=goal_id)
    return {
        "waiting_metrics": waiting_metrics,
        "reconciled": reconciled,
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
