"""Rollups, what reports read: per goal version, scope (the total, a campaign, a broadcast,
unattributed) and local day, the people, achievements and revenue, each person's day linked to
their previous day in the scope so any range's unique people can be summed
(``goals.reports``). Built whole for a new version (``build_rollup``, in SQL) and kept current
by incremental updates (``rollup_units``, ``_rollup_apply``).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

from django.db import connection, transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, Q, QuerySet

from campaigns.bulk import RowInserter
from goals.engine.evaluation import Row, _scoped
from goals.engine.shards import (
    BUILD_SESSION_SETTINGS,
    Shard,
    _build_session,
    _on_shards,
    _shard_sql,
)
from goals.engine.spec import GoalSpec
from goals.models import NO_PREVIOUS_DAY, Achievement, Goal, GoalRollup, RollupScope
from goals.reports import micro_sql, micro_sum

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
