"""Goal reports (SPEC §5): totals, impact, progress per day or ISO week, by source, unattributed.

One selector, ``goal_report``, feeds the UI, the charts, the JSON API and the CSV export, so
they can never disagree. Its meaning, stated once:

* **Range**: inclusive local dates ``[start, end]`` in the workspace's time zone.
  ``Achievement.local_date`` already is the achievement's local calendar day, so the range and
  the buckets are plain date comparisons (a DST change never moves an achievement to another
  day). Default: the last 30 days ending today, local (``start = today - 29 days``).
* **Periods**: ``day`` (every date of the range) or ``week`` (ISO weeks, Monday first). A week's
  ``period_start`` is its Monday, also for the first week when ``start`` is not a Monday: the
  first and last weeks may then be partial (they count only days inside the range), but every
  bucket is labelled the same way, so weekly reports of different ranges line up. Every period
  of the range has a bucket, empty ones included (zeros).
* **Unique people**: people are told apart by ``person_key``, which survives a person's
  deletion, so deleted people keep counting (SPEC §3).
* **total_people**: unique people with at least one achievement in the range.
  ``achievements``: achievements in the range (a person can achieve many times).
* **progress** (the totals' series): ``people`` of a period are the people whose *first*
  achievement within the range falls in that period, so the column adds up to
  ``total_people`` and ``cumulative_people`` is its running sum. ``achievements`` and
  ``revenue`` are everything achieved in the period.
* **Impact / revenue**: the sum of the achievements' revenue, in the goal's currency; an
  achievement whose impact event value was missing or not numeric counts with revenue 0 and is
  counted in ``revenue_missing_achievements``. ``impact`` is ``None`` when the goal has no
  impact (revenue columns are then all zero). Sums are exact: SQL adds integer millionths (the
  column's 6 decimal places), never floats, because SQLite stores decimals as floating point.
* **by_source**: one series per goal source (``GoalSource``), deleted campaigns and broadcasts
  included and marked ``deleted`` (their history keeps counting, SPEC §3), sources without any
  achievement included with zeros; and, while the recompute a source's removal asked for has
  not replaced the result, the removed source with the credits that result still gives it.
  A series' ``people`` are the unique people with at least one achievement credited to that
  source in the range; a period's ``people`` are the unique people credited in that period.
  Per-source people are distinct *per period*: a person credited in two weeks counts in both,
  so the periods need not add up to the source's total (and a person credited to two sources
  counts in both). Ordered by people (most first), then name.
* **unattributed**: the same series for achievements with no credited message.

Every report reads one result version (``Goal.current_version``) and costs a fixed number of
queries whatever the range or the number of sources: three (the sources, one GROUP BY over the
version's ``GoalRollup`` rows of the range, the version check; one more per source kind while a
removed source still has credits), whose cost depends on the
number of days and sources, not on the number of achievements; Python adds the days into
periods. A result computed before rollups existed is read from its achievements instead (six
queries, SQL counting distinct people) until its next recompute; both give the same report.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from django.db import connection
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Count,
    ExpressionWrapper,
    F,
    Func,
    Min,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import TruncWeek
from django.utils import timezone

from campaigns.errors import DomainError
from campaigns.models import Broadcast, Campaign, Workspace
from goals import currencies
from goals.models import Achievement, Goal, GoalRollup, GoalSource, RollupScope

Period = Literal["day", "week"]
PERIODS: tuple[Period, ...] = ("day", "week")

#: The default range: the last 30 local days, today included.
DEFAULT_RANGE_DAYS = 30
#: The longest range a report covers (three years with a leap day to spare).
MAX_RANGE_DAYS = 3 * 366

#: ``Achievement.revenue`` has 6 decimal places; sums are done in integer millionths.
MICRO = 10**6
#: How many times a report is rebuilt when a recompute switches versions while it is read.
_VERSION_ATTEMPTS = 3


# --- the report ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TotalPeriod:
    """One period of the totals' series (people: first achievement in range in this period)."""

    period_start: date
    people: int
    cumulative_people: int
    achievements: int
    revenue: Decimal


@dataclass(frozen=True)
class SeriesPeriod:
    """One period of a source's (or the unattributed) series; people are distinct per period."""

    period_start: date
    people: int
    achievements: int
    revenue: Decimal


@dataclass(frozen=True)
class SourceRef:
    type: Literal["campaign", "broadcast"]
    id: int
    name: str
    deleted: bool


@dataclass(frozen=True)
class Series:
    """Achievements credited to one source (or to none), over the range and per period."""

    people: int
    achievements: int
    revenue: Decimal
    progress: list[SeriesPeriod]


@dataclass(frozen=True)
class SourceSeries:
    """A source's series: ``Series`` plus the source it belongs to."""

    source: SourceRef
    people: int
    achievements: int
    revenue: Decimal
    progress: list[SeriesPeriod]


@dataclass(frozen=True)
class Impact:
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class GoalReport:
    """A goal's report for ``[start, end]`` (see the module docstring for every term).

    Money values are exact ``Decimal``s quantized to one scale for the whole report: the
    currency's minor unit, or more places when an amount needs them (nothing is ever rounded).
    """

    goal_id: int
    start: date
    end: date
    period: Period
    currency: str  # "" when the goal has no impact
    total_people: int
    achievements: int
    revenue: Decimal
    revenue_missing_achievements: int
    progress: list[TotalPeriod]
    by_source: list[SourceSeries]
    unattributed: Series

    @property
    def impact(self) -> Impact | None:
        return Impact(self.revenue, self.currency) if self.currency else None


@dataclass(frozen=True)
class GoalSummary:
    """One goal's headline numbers for ``[start, end]``: what the dashboard lists and
    ``GET /goals/summary`` answers. ``total_people`` and ``impact`` equal the goal's
    ``goal_report`` for the same range (``goals.selectors.goal_summary`` builds it)."""

    goal_id: int
    name: str
    tags: list[str]
    status: str
    start: date
    end: date
    total_people: int
    impact: Impact | None


# --- range and periods --------------------------------------------------------------------------


def default_range(
    *, workspace: Workspace, start: date | None = None, end: date | None = None
) -> tuple[date, date]:
    """Fill in a missing end or start: no dates, the last 30 local days ending today; only a
    start, from it to today; only an end, the 30 days ending there. Then check the range."""
    if end is None:
        end = (
            timezone.localdate(timezone=workspace.tz)
            if start is None
            else max(start, timezone.localdate(timezone=workspace.tz))
        )
    if start is None:
        # The calendar's first days have fewer than 30 days before them.
        start = end - timedelta(days=min(DEFAULT_RANGE_DAYS - 1, end.toordinal() - 1))
    check_range(start=start, end=end)
    return start, end


def check_range(*, start: date, end: date, period: str = "day") -> None:
    """Refuse a reversed or too long range and an unknown period (400 with the field named)."""
    if end < start:
        raise DomainError({"end": [f"must be on or after start ({start.isoformat()})"]})
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise DomainError({"end": [f"a report covers at most {MAX_RANGE_DAYS} days"]})
    if period not in PERIODS:
        raise DomainError({"period": [f"must be one of {', '.join(PERIODS)}"]})


def period_start(day: date, period: Period) -> date:
    """The first day of ``day``'s period: the day itself, or the Monday of its ISO week."""
    return day if period == "day" else day - timedelta(days=day.weekday())


def period_starts(start: date, end: date, period: Period) -> list[date]:
    """Every period of the range, in order (the first week starts on or before ``start``)."""
    step = timedelta(days=1 if period == "day" else 7)
    first, last = period_start(start, period), period_start(end, period)
    count = (last - first) // step + 1
    return [first + n * step for n in range(count)]


# --- the selector -------------------------------------------------------------------------------


def goal_report(
    *, goal: Goal, start: date | None = None, end: date | None = None, period: Period = "day"
) -> GoalReport:
    """The report of ``goal`` for the local dates ``[start, end]`` by ``period`` (see the module
    docstring). Missing dates default as ``default_range`` says. Raises ``DomainError`` for a
    reversed or over-long range or an unknown period.

    Reads ``goal.current_version``: from its rollup when the rollup is complete
    (``Goal.rollup_version``), from its achievements otherwise. A recompute may switch versions
    (and drop the old rows) while the report is being read; the versions are read again
    afterwards, and the report is rebuilt if they changed, so a report never mixes two versions.
    """
    if start is None or end is None:
        start, end = default_range(workspace=goal.workspace, start=start, end=end)
    check_range(start=start, end=end, period=period)
    versions = (goal.current_version, goal.rollup_version)
    for _ in range(_VERSION_ATTEMPTS):
        version, rollup_version = versions
        report = _build(
            goal=goal,
            version=version,
            start=start,
            end=end,
            period=period,
            from_rollup=rollup_version == version,
        )
        now = (
            Goal.objects.filter(pk=goal.pk)
            .order_by()
            .values_list("current_version", "rollup_version", "result_spec")
            .first()
        )
        if now is None or now[:2] == versions:
            break
        versions = now[:2]
        if now[2] is not None:
            goal.result_spec = now[2]  # the new version's settings (its currency)
    return report


def micro_sql(column: str, vendor: str) -> str:
    """SQL for a 6-place money column's value in integer millionths, exact on every database.

    SQLite keeps a decimal as an INTEGER when it is whole, else as a REAL holding its first 15
    significant digits, and its ``ROUND`` answers a REAL: ``ROUND(revenue * 1000000)`` is
    inexact from 2^53 millionths on (576460752305 came back as 576460752304.999936). So there
    the whole part is multiplied as an integer, and only the fraction goes through a float,
    rounded first to the decimals the 15 digits leave it.
    """
    if vendor != "sqlite":
        return f"CAST(ROUND({column} * {MICRO}) AS BIGINT)"
    whole = f"CAST({column} AS INTEGER)"
    places = f"MAX(0, 15 - LENGTH(CAST(ABS({whole}) AS TEXT)))"
    fraction = f"CAST(ROUND(ROUND({column} - {whole}, {places}) * {MICRO}) AS INTEGER)"
    return f"({whole} * {MICRO} + {fraction})"


class Micro(Func):
    """A 6-place money column in integer millionths (``micro_sql``)."""

    output_field = BigIntegerField()

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:  # type: ignore[override]
        sql, params = compiler.compile(self.source_expressions[0])
        template = micro_sql("@column@", connection.vendor)
        return template.replace("@column@", f"({sql})"), [*params] * template.count("@column@")


def micro_sum(field: str = "revenue") -> Sum:
    """SUM of a 6-place money column in integer millionths (exact on every database)."""
    # SQLite keeps decimals as floats, so SUM(revenue) drifts (1,000 x 19.99 is not 19990.00);
    # every revenue has at most 6 decimals, so its millionths are an exact integer to add.
    return Sum(Micro(F(field)), default=0)


def _money(micro: Any) -> Decimal:
    return Decimal(micro or 0).scaleb(-6)


def _dicts(rows: Iterable[Any]) -> list[dict[str, Any]]:
    return [dict(row) for row in rows]


def _as_date(value: date | str) -> date:
    # A raw query's dates come back as strings on SQLite.
    return date.fromisoformat(value) if isinstance(value, str) else value


#: A series: (attributed, credited campaign id, credited broadcast id).
Key = tuple[bool, int | None, int | None]
UNATTRIBUTED: Key = (False, None, None)


@dataclass
class _Sums:
    """What a report is assembled from, per period (``period_start``) of the range."""

    #: Every achievement: {period: {"n", "micro", "missing"}} (periods with achievements).
    totals: dict[date, dict[str, Any]]
    #: People whose first achievement in the range is in the period.
    first_people: dict[date, int]
    #: Per series and period: {"people" (distinct in the period), "n", "micro"}.
    series_periods: dict[Key, dict[date, dict[str, Any]]]
    #: Per series, distinct people over the range.
    series_people: dict[Key, int]


def _first_days(rows: QuerySet[Achievement]) -> list[tuple[date, int]]:
    """(day, people whose first achievement in the range is that day): one GROUP BY over a
    GROUP BY person_key subquery, since the ORM cannot group by an aggregate."""
    inner = rows.values("person_key").annotate(first_day=Min("local_date")).order_by()
    sql, params = inner.query.sql_with_params()
    q = connection.ops.quote_name
    outer = (
        f"SELECT firsts.{q('first_day')}, COUNT(*) FROM ({sql}) firsts "
        f"GROUP BY firsts.{q('first_day')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(outer, params)
        return [(_as_date(day), people) for day, people in cursor.fetchall()]


def _sums_from_achievements(
    *, goal: Goal, version: int, start: date, end: date, period: Period
) -> _Sums:
    """The sums straight from the achievements (four queries, each reading every achievement
    of the range): for results whose rollup is not built, and the reference the rollup is
    tested against."""
    rows = Achievement.objects.filter(
        goal_id=goal.pk, version=version, local_date__gte=start, local_date__lte=end
    )
    bucket: F | TruncWeek = F("local_date") if period == "day" else TruncWeek("local_date")
    attributed = ExpressionWrapper(Q(message_id__isnull=False), output_field=BooleanField())

    # Totals per period.
    totals = {
        _as_date(row["p"]): row
        for row in _dicts(
            rows.values(p=bucket)
            .annotate(
                n=Count("id"),
                micro=micro_sum(),
                missing=Count("id", filter=Q(revenue_missing=True)),
            )
            .order_by()
        )
    }

    # People per period of their first achievement in the range.
    first_people: dict[date, int] = defaultdict(int)
    for day, people in _first_days(rows):
        first_people[period_start(day, period)] += people

    # Per source (or unattributed) and period: distinct people, achievements, revenue.
    series_periods: dict[Key, dict[date, dict[str, Any]]] = defaultdict(dict)
    for row in _dicts(
        rows.values("source_campaign_id", "source_broadcast_id", a=attributed, p=bucket)
        .annotate(people=Count("person_key", distinct=True), n=Count("id"), micro=micro_sum())
        .order_by()
    ):
        key = (bool(row["a"]), row["source_campaign_id"], row["source_broadcast_id"])
        series_periods[key][_as_date(row["p"])] = row

    # Per source (or unattributed) over the range: distinct people.
    series_people: dict[Key, int] = {
        (bool(row["a"]), row["source_campaign_id"], row["source_broadcast_id"]): row["people"]
        for row in _dicts(
            rows.values("source_campaign_id", "source_broadcast_id", a=attributed)
            .annotate(people=Count("person_key", distinct=True))
            .order_by()
        )
    }
    return _Sums(totals, first_people, series_periods, series_people)


def _sums_from_rollup(*, goal: Goal, version: int, start: date, end: date, period: Period) -> _Sums:
    """The same sums from the version's ``GoalRollup`` rows, in one query whose size depends on
    the number of days and sources, not on the number of achievements.

    Distinct people come from the rows' previous days (``GoalRollup``): a person counts in a
    date range ``[a, b]`` once, on their first day in it, the only one whose previous day in
    the scope is before ``a``. Per day that is every unit of the day; over the range,
    ``prev_date < start``; in a week (clipped to the range) ``prev_date`` before its Monday,
    i.e. not in the same ISO week, except in the first week when the range starts after its
    Monday, where it is ``prev_date < start`` again.
    """
    rows = (
        GoalRollup.objects.filter(
            goal_id=goal.pk, version=version, local_date__gte=start, local_date__lte=end
        )
        .values("scope_type", "scope_id", "local_date")
        .annotate(
            day_people=Sum("people"),
            first_in_range=Sum("people", filter=Q(prev_date__lt=start), default=0),
            first_in_week=Sum("people", filter=Q(prev_same_week=False), default=0),
            n=Sum("achievements"),
            micro=Sum("revenue_micro"),
            missing=Sum("revenue_missing"),
        )
        .order_by()
    )
    first_week = period_start(start, "week")
    totals: dict[date, dict[str, Any]] = {}
    first_people: dict[date, int] = defaultdict(int)
    series_periods: dict[Key, dict[date, dict[str, Any]]] = defaultdict(dict)
    series_people: dict[Key, int] = defaultdict(int)
    for row in rows:
        day = _as_date(row["local_date"])
        p = period_start(day, period)
        n, micro, first = int(row["n"]), int(row["micro"]), int(row["first_in_range"])
        if row["scope_type"] == RollupScope.TOTAL:
            total = totals.setdefault(p, {"n": 0, "micro": 0, "missing": 0})
            total["n"] += n
            total["micro"] += micro
            total["missing"] += int(row["missing"])
            first_people[p] += first
            continue
        if row["scope_type"] == RollupScope.CAMPAIGN:
            key: Key = (True, row["scope_id"], None)
        elif row["scope_type"] == RollupScope.BROADCAST:
            key = (True, None, row["scope_id"])
        else:
            key = UNATTRIBUTED
        if period == "day":
            people = int(row["day_people"])
        elif p == first_week:
            people = first
        else:
            people = int(row["first_in_week"])
        point = series_periods[key].setdefault(p, {"people": 0, "n": 0, "micro": 0})
        point["people"] += people
        point["n"] += n
        point["micro"] += micro
        series_people[key] += first
    return _Sums(totals, first_people, series_periods, series_people)


def _build(
    *,
    goal: Goal,
    version: int,
    start: date,
    end: date,
    period: Period,
    from_rollup: bool = True,
) -> GoalReport:
    periods = period_starts(start, end, period)

    # The goal's sources, deleted ones included.
    goal_sources = list(
        GoalSource.objects.filter(goal_id=goal.pk).select_related("campaign", "broadcast")
    )
    sums = (_sums_from_rollup if from_rollup else _sums_from_achievements)(
        goal=goal, version=version, start=start, end=end, period=period
    )
    totals, first_people = sums.totals, sums.first_people
    series_periods, series_people = sums.series_periods, sums.series_people
    shown_sources = [*goal_sources, *_removed_sources(goal, goal_sources, series_periods)]

    # Money: one scale for the whole report, wide enough that nothing it shows is rounded.
    shown = {UNATTRIBUTED} | {(True, s.campaign_id, s.broadcast_id) for s in shown_sources}
    amounts = [_money(r["micro"]) for r in totals.values()] + [
        _money(r["micro"])
        for key, by_period in series_periods.items()
        if key in shown
        for r in by_period.values()
    ]
    places = max(
        [currencies.money_places(goal.report_currency), *(_places_needed(a) for a in amounts)]
    )
    exponent = Decimal(1).scaleb(-places)

    def money(micro: Any) -> Decimal:
        return _money(micro).quantize(exponent)

    progress: list[TotalPeriod] = []
    cumulative = 0
    for p in periods:
        row = totals.get(p, {})
        cumulative += first_people.get(p, 0)
        progress.append(
            TotalPeriod(
                period_start=p,
                people=first_people.get(p, 0),
                cumulative_people=cumulative,
                achievements=row.get("n", 0),
                revenue=money(row.get("micro")),
            )
        )

    def series(key: Key) -> Series:
        by_period = series_periods.get(key, {})
        points = [
            SeriesPeriod(
                period_start=p,
                people=by_period[p]["people"] if p in by_period else 0,
                achievements=by_period[p]["n"] if p in by_period else 0,
                revenue=money(by_period[p]["micro"] if p in by_period else 0),
            )
            for p in periods
        ]
        return Series(
            people=series_people.get(key, 0),
            achievements=sum(r["n"] for r in by_period.values()),
            revenue=money(sum(r["micro"] or 0 for r in by_period.values())),
            progress=points,
        )

    by_source = []
    for goal_source in shown_sources:
        kind, source_id = goal_source.ref
        obj = goal_source.campaign or goal_source.broadcast
        assert obj is not None
        s = series((True, goal_source.campaign_id, goal_source.broadcast_id))
        by_source.append(
            SourceSeries(
                people=s.people,
                achievements=s.achievements,
                revenue=s.revenue,
                progress=s.progress,
                source=SourceRef(
                    type=kind,  # type: ignore[arg-type]
                    id=source_id,
                    name=obj.name,
                    deleted=obj.deleted_at is not None,
                ),
            )
        )
    by_source.sort(key=_source_order)

    return GoalReport(
        goal_id=goal.pk,
        start=start,
        end=end,
        period=period,
        currency=goal.report_currency,
        total_people=sum(first_people.values()),
        achievements=sum(r["n"] for r in totals.values()),
        revenue=money(sum(r["micro"] or 0 for r in totals.values())),
        revenue_missing_achievements=sum(r["missing"] for r in totals.values()),
        progress=progress,
        by_source=by_source,
        unattributed=series(UNATTRIBUTED),
    )


def _removed_sources(
    goal: Goal, goal_sources: list[GoalSource], series_periods: dict[Key, Any]
) -> list[GoalSource]:
    """Sources the result credits in the range that are no longer among the goal's, as unsaved
    ``GoalSource`` rows: removing a source asks for a recompute, and until it replaces the
    result readers keep that complete result (SPEC §6), credits to the source included, else
    its people would be in neither ``by_source`` nor ``unattributed``. Once recomputed, no
    achievement credits it, and this reads nothing (a query per kind while there are such
    credits).
    """
    listed = {(s.campaign_id, s.broadcast_id) for s in goal_sources}
    gone = [
        (campaign_id, broadcast_id)
        for attributed, campaign_id, broadcast_id in series_periods
        if attributed and (campaign_id, broadcast_id) not in listed
    ]
    if not gone:
        return []
    campaigns = {c for c, _ in gone if c is not None}
    broadcasts = {b for _, b in gone if b is not None}
    rows: list[GoalSource] = []
    if campaigns:
        found = Campaign.objects.filter(workspace_id=goal.workspace_id, pk__in=campaigns)
        rows += [GoalSource(goal=goal, campaign=c) for c in found]
    if broadcasts:
        found_b = Broadcast.objects.filter(workspace_id=goal.workspace_id, pk__in=broadcasts)
        rows += [GoalSource(goal=goal, broadcast=b) for b in found_b]
    return rows


def _places_needed(amount: Decimal) -> int:
    exponent = amount.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _source_order(s: SourceSeries) -> tuple[int, str, str, int]:
    return (-s.people, s.source.name.casefold(), s.source.type, s.source.id)


# --- CSV ----------------------------------------------------------------------------------------

CSV_COLUMNS = [
    "period_start",
    "series",
    "source_type",
    "source_id",
    "source_name",
    "deleted",
    "people",
    "cumulative_people",
    "achievements",
    "revenue",
    "currency",
    "revenue_missing_achievements",
]
#: Spreadsheets run a cell starting with one of these as a formula; names are user input.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def money_text(amount: Decimal) -> str:
    """A report amount as the API writes money: a plain decimal string (never exponent form)."""
    return format(amount, "f")


def report_csv(report: GoalReport) -> str:
    """The report as CSV: one row per period x series, periods in order, and within a period
    the ``total`` row, then one ``source`` row per source (in ``by_source`` order), then the
    ``unattributed`` row. After the last period come the range's summary rows, in the same
    series order, with ``period_start`` empty: what the JSON has besides its periods.

    Columns: ``period_start,series,source_type,source_id,source_name,deleted,people,
    cumulative_people,achievements,revenue,currency,revenue_missing_achievements``. ``series``
    is ``total``, ``source`` or ``unattributed``; the source columns are empty except on
    ``source`` rows (``deleted`` is ``true``/``false`` there). ``people`` means what it means in
    the JSON: on period rows, first achievement in the range for ``total`` rows and distinct
    people of the period otherwise; on summary rows, the unique people of the whole range
    (``total_people``, and each series' ``people``), which per-period rows of a source or the
    unattributed cannot add up to. ``cumulative_people`` is filled on ``total`` rows only
    (per-period distinct counts have no meaningful running sum). ``currency`` is empty when the
    goal has no impact. ``revenue_missing_achievements`` is filled on the ``total`` summary row
    only. A source name that a spreadsheet would run as a formula is prefixed with ``'``.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    currency = report.currency

    def row(
        day: str,
        series: str,
        source: SourceRef | None,
        people: int,
        achievements: int,
        revenue: Decimal,
        *,
        cumulative: int | str = "",
        missing: int | str = "",
    ) -> None:
        source_cells = (
            [source.type, source.id, _cell(source.name), "true" if source.deleted else "false"]
            if source
            else ["", "", "", ""]
        )
        writer.writerow(
            [
                day,
                series,
                *source_cells,
                people,
                cumulative,
                achievements,
                money_text(revenue),
                currency,
                missing,
            ]
        )

    for index, total in enumerate(report.progress):
        day = total.period_start.isoformat()
        row(
            day,
            "total",
            None,
            total.people,
            total.achievements,
            total.revenue,
            cumulative=total.cumulative_people,
        )
        for s in report.by_source:
            point = s.progress[index]
            row(day, "source", s.source, point.people, point.achievements, point.revenue)
        point = report.unattributed.progress[index]
        row(day, "unattributed", None, point.people, point.achievements, point.revenue)

    # The range's summary: the same series over the whole range, unique people included.
    row(
        "",
        "total",
        None,
        report.total_people,
        report.achievements,
        report.revenue,
        cumulative=report.total_people,
        missing=report.revenue_missing_achievements,
    )
    for s in report.by_source:
        row("", "source", s.source, s.people, s.achievements, s.revenue)
    unattributed = report.unattributed
    row(
        "",
        "unattributed",
        None,
        unattributed.people,
        unattributed.achievements,
        unattributed.revenue,
    )
    return out.getvalue()


def _cell(text: str) -> str:
    return f"'{text}" if text.startswith(_FORMULA_START) else text


SUMMARY_CSV_COLUMNS = [
    "goal_id",
    "goal_name",
    "tags",
    "status",
    "start",
    "end",
    "total_people",
    "impact_amount",
    "currency",
]


def summary_csv_header() -> str:
    return _csv_line(SUMMARY_CSV_COLUMNS)


def summary_csv_rows(rows: Iterable[GoalSummary]) -> str:
    """Goals' summaries as CSV lines (``SUMMARY_CSV_COLUMNS``): tags sorted and joined with
    ", " (a tag never holds a comma), ``impact_amount`` and ``currency`` empty for a goal
    without impact. A name or tag list a spreadsheet would run as a formula gets a ``'``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        impact = row.impact
        writer.writerow(
            [
                row.goal_id,
                _cell(row.name),
                _cell(", ".join(row.tags)),
                row.status,
                row.start.isoformat(),
                row.end.isoformat(),
                row.total_people,
                money_text(impact.amount) if impact else "",
                impact.currency if impact else "",
            ]
        )
    return out.getvalue()


def _csv_line(cells: list[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    return out.getvalue()
