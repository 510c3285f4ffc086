"""Goals, their sources, achievements and attributions (SPEC §4-6).

A goal's **result** is the set of its achievements, each carrying its attribution (the credited
message and source, or none), plus the daily rollups derived from them. Results are
**versioned**: readers see ``Goal.current_version`` only. A recompute builds the whole result
under a new version number, then switches ``current_version`` in one transaction and drops the
old rows, so readers never see half a result. Incremental processing after ingestion edits the
current version in place, under row locks (see ``goals.services``).
"""

from __future__ import annotations

import decimal
from datetime import date
from decimal import Decimal
from typing import ClassVar

from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from taggit.managers import TaggableManager

from campaigns import channels
from campaigns.models import Broadcast, Campaign, Message, Person, Workspace, WorkspaceQuerySet

#: Money: up to 12 integer digits and 6 decimals (every ISO 4217 minor unit fits).
MONEY_DIGITS = 18
MONEY_PLACES = 6
_MONEY_LIMIT = Decimal(10) ** (MONEY_DIGITS - MONEY_PLACES)
#: What SQLite gives back for a stored decimal: a double, which Django rounds to 15 digits.
_SQLITE_READ = decimal.Context(prec=15)


def money_fits(amount: Decimal) -> bool:
    """Whether ``amount`` can be stored in a money column and read back, on both databases.

    Below 10^12, but not so close that SQLite's reading reaches it: it stores a double and
    Django rounds that to 15 digits, so 999999999999.9995 came back as 1000000000000, which
    the column's 18 digits refuse (every later read of the row was a 500).
    """
    stored = _SQLITE_READ.create_decimal_from_float(float(amount))
    return abs(amount) < _MONEY_LIMIT and abs(stored) < _MONEY_LIMIT


class GoalStatus(models.TextChoices):
    READY = "ready", "Ready"
    RECOMPUTING = "recomputing", "Recomputing"


class Goal(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="goals")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    tags = TaggableManager(blank=True)
    #: ``{"trigger": {...}, "filters": [...]}``, validated by ``goals.criteria``.
    criteria = models.JSONField(default=dict)

    # Impact: no currency means no impact. Either a static amount or an event data key.
    impact_currency = models.CharField(max_length=3, blank=True, default="")
    impact_static = models.DecimalField(
        null=True, blank=True, max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES
    )
    impact_event_key = models.CharField(max_length=255, blank=True, default="")

    # Attribution settings (SPEC §4.4).
    window_days = models.PositiveSmallIntegerField(default=7)
    metrics = models.JSONField(default=channels.default_attribution_metrics)
    count_machine = models.BooleanField(default=True)

    status = models.CharField(max_length=12, choices=GoalStatus.choices, default=GoalStatus.READY)
    computed_at = models.DateTimeField(null=True, blank=True)
    #: The version readers see (0: nothing computed yet).
    current_version = models.PositiveIntegerField(default=0)
    #: Bumped by every change to criteria, impact, sources or settings. A recompute builds the
    #: result for the requested version; a build overtaken by a newer request is discarded.
    requested_version = models.PositiveIntegerField(default=0)
    #: Recompute lease: a worker claims the goal with a conditional UPDATE, so two recomputes of
    #: one goal never build at once; an expired lease (crashed worker) can be taken over.
    recompute_lease_until = models.DateTimeField(null=True, blank=True)
    #: The periodic reconcile has re-evaluated everyone whose data arrived before this instant.
    reconciled_through = models.DateTimeField(null=True, blank=True)
    #: The result version whose ``GoalRollup`` rows are complete (0: none). Reports read the
    #: rollup when it is the current version's, and the achievements themselves otherwise (a
    #: result computed before rollups existed, until its next recompute).
    rollup_version = models.PositiveIntegerField(default=0)
    #: What ``current_version`` was built with (``goals.engine.spec.GoalSpec.snapshot``: the
    #: criteria, impact, attribution settings, source ids and the workspace's time zone),
    #: written by the switch to it. While a change recomputes, readers keep that result (SPEC
    #: §6): incremental updates extend it with these settings, and reports label its revenue
    #: with its currency (``report_currency``). None: a result switched in before this was
    #: kept, read as the goal's own fields.
    result_spec = models.JSONField(null=True, blank=True, default=None)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects: ClassVar[WorkspaceQuerySet] = WorkspaceQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        """The goal's page in the UI, naming its workspace (the page acts in the session's
        workspace, and a link from the admin may point into another one)."""
        return f"{reverse('goals_ui:detail', args=[self.pk])}?workspace={self.workspace_id}"

    @property
    def has_impact(self) -> bool:
        return bool(self.impact_currency)

    @property
    def report_currency(self) -> str:
        """The currency of the result readers see ("" for none): reports use this, not
        ``impact_currency``, which may be a change whose recompute is not done."""
        if self.result_spec is None:
            return self.impact_currency
        return str(self.result_spec["impact_currency"])


class GoalSource(models.Model):
    """A campaign or a newsletter broadcast credited by a goal. Survives soft deletion."""

    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="sources")
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.PROTECT, related_name="goal_sources"
    )
    broadcast = models.ForeignKey(
        Broadcast, null=True, blank=True, on_delete=models.PROTECT, related_name="goal_sources"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(campaign__isnull=False) & Q(broadcast__isnull=True))
                | (Q(campaign__isnull=True) & Q(broadcast__isnull=False)),
                name="goalsource_exactly_one",
            ),
            models.UniqueConstraint(
                fields=["goal", "campaign"],
                condition=Q(campaign__isnull=False),
                name="goalsource_unique_campaign",
            ),
            models.UniqueConstraint(
                fields=["goal", "broadcast"],
                condition=Q(broadcast__isnull=False),
                name="goalsource_unique_broadcast",
            ),
        ]

    def __str__(self) -> str:
        return str(self.campaign or self.broadcast)

    @property
    def ref(self) -> tuple[str, int]:
        if self.campaign_id is not None:
            return ("campaign", self.campaign_id)
        assert self.broadcast_id is not None
        return ("broadcast", self.broadcast_id)


class TriggerKind(models.TextChoices):
    EVENT = "event", "Event"
    ATTRIBUTE = "attribute", "Attribute change"
    SEGMENT = "segment", "Segment entered"
    MESSAGE = "message", "Message metric"


class Achievement(models.Model):
    """One achievement of a goal by a person, with its attribution, in one result version.

    The same trigger (an event, an attribute change, a segment entry, a message) never makes
    two achievements: ``(goal, version, person_key, trigger_id, trigger_kind)`` is unique, and a
    trigger belongs to one person (its key never changes).
    """

    # No index of its own on goal or on the credited message and sources: the composite
    # indexes below lead with the goal, messages are never deleted, and campaigns and
    # broadcasts only soft-delete. Every index costs time on each recompute's bulk insert.
    # Nor a database constraint on the goal: PostgreSQL checks one with a locking lookup of
    # the goal row per inserted row, which took half of a large recompute's write. Deleting a
    # goal still deletes its achievements (Django's CASCADE), and a build whose goal is
    # deleted while it runs removes what it wrote (``goals.engine.recompute``).
    goal = models.ForeignKey(
        Goal,
        on_delete=models.CASCADE,
        related_name="achievements",
        db_index=False,
        db_constraint=False,
    )
    version = models.PositiveIntegerField()
    person_key = models.UUIDField()
    # The links below have no database constraint: this is a derived table written only by the
    # engine with ids it has just read, and a referential check per row would double the cost
    # of writing a result. Django still applies on_delete (PROTECT) in Python.
    # ``person`` has no index either (a random-order index slows every recompute's insert
    # several-fold): deleting a person clears it through ``goals.receivers``, which finds the
    # rows by (goal, version, person_key) instead.
    person = models.ForeignKey(
        Person,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    achieved_at = models.DateTimeField()
    #: The achievement's calendar day in the workspace's time zone (reports bucket by it).
    local_date = models.DateField()
    revenue = models.DecimalField(
        default=Decimal(0), max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES
    )
    #: The impact event key was missing or not a number: counted, with revenue 0.
    revenue_missing = models.BooleanField(default=False)
    trigger_kind = models.CharField(max_length=10, choices=TriggerKind.choices)
    trigger_id = models.BigIntegerField()

    #: Start of the attribution window (local midnight W days back), fixed when attributed.
    window_start = models.DateTimeField(null=True, blank=True)
    message = models.ForeignKey(
        Message,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    source_campaign = models.ForeignKey(
        Campaign,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    source_broadcast = models.ForeignKey(
        Broadcast,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    touch_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Led by the person: it is also the index of a version's rows by person, and a
            # recompute writes rows in person order, so its entries arrive in order instead
            # of at random places (a trigger's person is fixed, so including it loses no
            # uniqueness). The id before the kind: integers compare faster than text.
            models.UniqueConstraint(
                fields=["goal", "version", "person_key", "trigger_id", "trigger_kind"],
                name="achievement_unique_trigger",
            ),
        ]
        indexes = [
            # The achievement list's order: a page is read from it, and a date range is
            # bounded by time (``selectors.achievement_list``).
            models.Index(fields=["goal", "version", "achieved_at", "id"], name="ach_goal_time"),
        ]

    def __str__(self) -> str:
        return f"{self.goal_id}:{self.person_key} @ {self.achieved_at}"

    @property
    def attributed(self) -> bool:
        return self.message_id is not None


class RollupScope(models.TextChoices):
    TOTAL = "total", "Every achievement"
    CAMPAIGN = "campaign", "Credited to a campaign"
    BROADCAST = "broadcast", "Credited to a broadcast"
    UNATTRIBUTED = "unattributed", "Credited to no message"


#: ``GoalRollup.prev_date`` when the person had no earlier day in the scope (before any date).
NO_PREVIOUS_DAY = date(1, 1, 1)


class GoalRollup(models.Model):
    """Per goal, version, scope and local day, the achievements summed by the people's
    previous achievement day in the same scope, so that reports read a few hundred rows
    instead of every achievement (``goals.reports``), and still count distinct people.

    Each person contributes, per scope and per distinct day ``d`` they achieved on, one unit
    to the row ``(scope, d, prev_date)``, where ``prev_date`` is their previous day in the same
    scope (``NO_PREVIOUS_DAY`` when none): ``people`` 1 and that day's achievements, revenue
    and missing values. A person therefore counts among the distinct people of any date range
    ``[a, b]`` exactly once: on their first day in it, the only one whose ``prev_date < a``.

    Scopes: ``total`` (every achievement), ``campaign`` / ``broadcast`` (achievements credited
    to that source, ``scope_id`` its id) and ``unattributed`` (no credited message); ``scope_id``
    is 0 for the total and the unattributed. Written by the engine only (``goals.engine``):
    built with each version, kept up to date by incremental processing, dropped with it.
    """

    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="rollups")
    version = models.PositiveIntegerField()
    scope_type = models.CharField(max_length=12, choices=RollupScope.choices)
    scope_id = models.BigIntegerField(default=0)
    local_date = models.DateField()
    prev_date = models.DateField(default=NO_PREVIOUS_DAY)
    #: ``prev_date`` is in the ISO week of ``local_date`` (derived, so reports need no date
    #: arithmetic in SQL).
    prev_same_week = models.BooleanField(default=False)
    people = models.IntegerField(default=0)
    achievements = models.IntegerField(default=0)
    #: Revenue in integer millionths (``Achievement.revenue`` has 6 places): exact on SQLite
    #: too, where decimal columns are floating point.
    revenue_micro = models.BigIntegerField(default=0)
    revenue_missing = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["goal", "version", "scope_type", "scope_id", "local_date", "prev_date"],
                name="goalrollup_unique_cell",
            ),
        ]
        indexes = [
            models.Index(fields=["goal", "version", "local_date"], name="rollup_goal_day"),
        ]

    def __str__(self) -> str:
        return f"{self.goal_id} v{self.version} {self.scope_type}:{self.scope_id} {self.local_date}"
