"""The last-touch attribution rule (SPEC §4.5), as pure functions: no ORM, no I/O.

This module is the reference. The set-based SQL used for whole-goal recomputes must give the
same answers, and is tested against it on the same cases.

For an achievement at instant A by person P, among P's messages from the goal's sources:

* A message's **touch time** is the first time it reached its channel's qualifying metric or a
  later step of the channel's chain (``sent → delivered → opened → clicked``). When machine
  opens/clicks are excluded, a machine ``opened``/``clicked`` does not reach ``opened`` or
  ``clicked``, but it still proves the steps before them (a prefetch proves delivery). The
  message's own ``sent_at`` proves ``sent``.
* The message **qualifies** when its touch time is at or before A and at or after the **window
  start**: local midnight, in the workspace's time zone, W days before A's local date (W = 0:
  the same local day).
* The achievement is credited to the qualifying message with the latest touch time; ties go to
  the later ``sent_at``, then the higher message id: the client's delivery id (the message's
  ``id`` in the API), compared by length, then character by character (``delivery_rank``), so
  that numbered ids compare as numbers ("m10" above "m9") and the credit never depends on the
  order the messages arrived in. No qualifying message: unattributed.
* Anonymous messages and messages from no source (transactional) or from sources outside the
  goal never qualify. Deleted sources still do: deletion hides, it does not rewrite history.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

from campaigns import channels

#: A source is ("campaign" | "broadcast", id).
SourceRef = tuple[str, int]


@dataclass(frozen=True)
class MetricEvent:
    metric: str
    timestamp: datetime
    machine: bool = False


@dataclass(frozen=True)
class Candidate:
    """One of the person's messages, with the raw metrics it recorded."""

    message_id: int
    channel: str
    sent_at: datetime
    source: SourceRef | None
    anonymous: bool = False
    metrics: tuple[MetricEvent, ...] = ()
    #: The client's delivery id (``Message.client_id``).
    delivery_id: str = ""


def delivery_rank(delivery_id: str) -> tuple[int, str]:
    """How delivery ids order in a tie: the longer is higher, then by code point."""
    return (len(delivery_id), delivery_id)


@dataclass(frozen=True)
class AttributionSettings:
    window_days: int = 7
    metrics: Mapping[str, str] = field(default_factory=channels.default_attribution_metrics)
    count_machine: bool = True

    def qualifying_metric(self, channel: str) -> str:
        metric = self.metrics.get(channel)
        if metric is None or metric not in channels.CHANNEL_CHAINS[channel]:
            return channels.default_qualifying_metric(channel)
        return metric


@dataclass(frozen=True)
class Credit:
    message_id: int
    source: SourceRef
    touch_time: datetime


def touch_time(
    candidate: Candidate, *, qualifying_metric: str, count_machine: bool
) -> datetime | None:
    """When the message first reached ``qualifying_metric`` or a later step of its chain."""
    wanted = channels.LEVEL[qualifying_metric]
    opened = channels.LEVEL[channels.OPENED]
    times: list[datetime] = []
    if wanted == channels.LEVEL[channels.SENT]:
        times.append(candidate.sent_at)
    for event in candidate.metrics:
        level = channels.LEVEL.get(event.metric)
        if level is None or level < wanted:
            continue  # not a chain step (converted, bounced, ...) or an earlier one
        if event.machine and not count_machine and wanted >= opened:
            continue  # a machine open/click proves only the steps before `opened`
        times.append(event.timestamp)
    return min(times) if times else None


def window_start(achieved_at: datetime, *, window_days: int, tz: tzinfo) -> datetime:
    """Local midnight ``window_days`` days before the achievement's local date.

    Computed on the calendar, not by subtracting 24-hour days, so a daylight-saving change
    inside the window does not shift it. Where local midnight does not exist (a zone that
    springs forward at 00:00) the day starts at the first instant that does.
    """
    return day_start(achieved_at.astimezone(tz).date() - timedelta(days=window_days), tz)


def day_start(local_date: date, tz: tzinfo) -> datetime:
    """The first instant of ``local_date`` in ``tz``: its local midnight, or where that does
    not exist (a zone that springs forward at 00:00) the transition itself, which the first
    fold of a missing time stands for (PEP 495)."""
    return datetime.combine(local_date, time(0)).replace(tzinfo=tz)


def attribute(
    *,
    achieved_at: datetime,
    candidates: Iterable[Candidate],
    sources: frozenset[SourceRef] | set[SourceRef],
    settings: AttributionSettings,
    tz: tzinfo,
    not_before: datetime | None = None,
) -> Credit | None:
    """The message credited with an achievement at ``achieved_at``, or None (unattributed).

    ``candidates`` are the achieving person's messages (any; the rule filters them).
    ``not_before`` is the tracking start: touches before it never count, whatever the window.
    """
    start = window_start(achieved_at, window_days=settings.window_days, tz=tz)
    if not_before is not None:
        start = max(start, not_before)
    best: tuple[datetime, datetime, tuple[int, str], int] | None = None
    credit: Credit | None = None
    for candidate in candidates:
        if candidate.anonymous or candidate.source is None or candidate.source not in sources:
            continue
        touched = touch_time(
            candidate,
            qualifying_metric=settings.qualifying_metric(candidate.channel),
            count_machine=settings.count_machine,
        )
        if touched is None or touched > achieved_at or touched < start:
            continue
        rank = (
            touched, candidate.sent_at, delivery_rank(candidate.delivery_id), candidate.message_id
        )  # fmt: skip
        if best is None or rank > best:
            best = rank
            credit = Credit(candidate.message_id, candidate.source, touched)
    return credit
