"""Evaluation: stored rows -> achievement rows (``BUILD_FIELDS``).

The trigger rows since the tracking start (events, attribute changes, segment entries, messages
reaching a metric), kept where every filter holds at that moment, each with its revenue. It
runs for a whole goal (recompute) or for a set of people (incremental), with the same code, so
the two cannot disagree.
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import F, Min, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from campaigns import channels
from campaigns.models import (
    Event,
    Message,
    MessageMetric,
    PersonAttributeChange,
    SegmentAction,
    SegmentMembershipChange,
)
from goals import conditions
from goals.engine.spec import TOUCH_COLUMN, GoalSpec, Trigger
from goals.models import TriggerKind, money_fits

#: People per query when a set of people is loaded or re-evaluated.
CHUNK = 2000


MONEY_QUANT = Decimal("0.000001")


MONEY_MAX = Decimal("1e12")


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
        """The person's attributes at ``at`` for filters: the snapshot of their latest change
        at or before it, and before their first recorded change the first snapshot, what is
        known of them earliest. SPEC §7's ``PUT /people`` carries no time: a client that
        stores a person with their attributes and then sends their past events means those
        attributes to hold for them (attribute *triggers* still start from no attributes)."""
        times, values = self.attributes.get(key, ([], []))
        index = bisect.bisect_right(times, at)
        if index:
            return values[index - 1]
        return values[0] if values else {}

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
