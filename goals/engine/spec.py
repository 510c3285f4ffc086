"""A goal's definition as the engine reads it, once per run (``GoalSpec``), and a trigger
row (``Trigger``): the moment a person may have achieved it.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings as django_settings

from campaigns import channels
from goals import attribution
from goals.models import Goal

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


#: The goal's fields a result depends on, besides its sources and the workspace's time zone:
#: each change of one recomputes the goal (``goals.services``, ``goals.receivers``).
RESULT_FIELDS = (
    "criteria",
    "impact_currency",
    "impact_static",
    "impact_event_key",
    "window_days",
    "metrics",
    "count_machine",
)


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
        """The goal as it is now: what the next build computes (``recomputes``)."""
        campaign_ids: list[int] = []
        broadcast_ids: list[int] = []
        for source in goal.sources.all():  # uses a prefetch when the caller made one
            if source.campaign_id is not None:
                campaign_ids.append(source.campaign_id)
            elif source.broadcast_id is not None:
                broadcast_ids.append(source.broadcast_id)
        return cls._of(goal, goal.workspace.tz, sorted(campaign_ids), sorted(broadcast_ids))

    @classmethod
    def for_result(cls, goal: Goal) -> GoalSpec:
        """The goal as its current result was built (``Goal.result_spec``): what incremental
        updates of that result must apply. SPEC §6: while a change recomputes, readers keep the
        last complete result, so data arriving meanwhile extends it with the settings it was
        built with, not the changed ones (a report mixed the two: 10 EUR + 5 JPY read as
        15.00 EUR). Without a record (a result switched in before it existed, still
        recomputing at the migration) the goal's own fields are used, as before.

        ``spec.goal`` is a copy of ``goal`` carrying the result's settings (evaluation reads
        the impact from it); it is never saved.
        """
        built = goal.result_spec
        if built is None:
            return cls.load(goal)
        as_built = copy.copy(goal)
        for name in RESULT_FIELDS:
            setattr(as_built, name, built[name])
        if built["impact_static"] is not None:
            as_built.impact_static = Decimal(built["impact_static"])
        return cls._of(
            as_built,
            ZoneInfo(built["time_zone"]),
            list(built["campaign_ids"]),
            list(built["broadcast_ids"]),
        )

    @classmethod
    def _of(
        cls, goal: Goal, tz: ZoneInfo, campaign_ids: list[int], broadcast_ids: list[int]
    ) -> GoalSpec:
        criteria = goal.criteria or {}
        return cls(
            goal=goal,
            tz=tz,
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

    def snapshot(self) -> dict[str, Any]:
        """What the result built from this spec depends on, as JSON (``Goal.result_spec``,
        written by the switch to it; read back by ``for_result``)."""
        goal = self.goal
        built: dict[str, Any] = {name: getattr(goal, name) for name in RESULT_FIELDS}
        built["impact_static"] = None if goal.impact_static is None else str(goal.impact_static)
        built["time_zone"] = self.tz.key
        built["campaign_ids"] = list(self.campaign_ids)
        built["broadcast_ids"] = list(self.broadcast_ids)
        return built

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


@dataclass(frozen=True)
class Trigger:
    kind: str
    trigger_id: int
    person_key: uuid.UUID
    person_id: int | None
    at: datetime
    data: Any = None
