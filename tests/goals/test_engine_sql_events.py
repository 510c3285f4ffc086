"""A simple event goal is staged by one INSERT ... SELECT on PostgreSQL (``_events_in_sql``);
it must make exactly the rows ``evaluate`` makes: the same local dates and window starts
(across a DST change and the tracking start), the same revenue for every kind of impact value
(plain amounts are parsed by the database, anything else by Python), the same missing flags.

On SQLite the build always evaluates in Python; the comparison still runs there, and CI's
PostgreSQL pass is where the two paths meet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings

from campaigns import services
from campaigns.models import Event, Person, Workspace
from goals import attribution, engine, partitions
from goals.engine import build
from goals.models import Achievement, Goal

BASE = datetime(2026, 3, 27, 20, 30, tzinfo=UTC)  # Berlin's DST change (03-29) is two days on

PRICES: list[Any] = [
    49.99, "49.99", 12, "12", -3.5, 0, "0.000001", 123456789.123456,  # plain: the database
    "1e3", " 7 ", "+5", "١٢", 1.5e-7, 0.1234567, "NaN", "Infinity", "1_000", "abc", "",  # Python
    1e15, "99999999999999", None, True, [1], {"a": 1},  # missing or too large
]  # fmt: skip


def rows(goal: Goal, version: int) -> list[tuple[Any, ...]]:
    fields = [f for f in engine.BUILD_FIELDS if f not in ("version",)]
    return sorted(
        Achievement.objects.filter(goal=goal, version=version).values_list(
            *(Achievement._meta.get_field(f).attname for f in fields)  # type: ignore[union-attr]
        )
    )


def paid_goal(workspace: Workspace, **fields: Any) -> tuple[Goal, engine.GoalSpec]:
    """A simple event goal on "paid" (``_events_in_sql`` on PostgreSQL), and its spec."""
    goal = Goal.objects.create(
        workspace=workspace,
        name="g",
        criteria={"trigger": {"type": "event", "name": "paid"}, "filters": []},
        **fields,
    )
    return goal, engine.GoalSpec.load(Goal.objects.select_related("workspace").get(pk=goal.pk))


@pytest.mark.parametrize(
    "impact",
    [
        {"impact_currency": "EUR", "impact_event_key": "price"},
        {"impact_currency": "EUR", "impact_event_key": "order.total"},
        {"impact_currency": "EUR", "impact_static": "19.90"},
        {},
    ],
    ids=["event-key", "nested-key", "static", "no-impact"],
)
@pytest.mark.parametrize("window_days", [0, 3])
@override_settings(GOALS_TRACKING_START=BASE + timedelta(hours=5))
def test_sql_staging_makes_the_rows_evaluate_makes(
    db: None, impact: dict[str, Any], window_days: int
) -> None:
    workspace = services.workspace_create(name="w", time_zone="Europe/Berlin")
    ana = Person.objects.create(workspace=workspace, identifier="ana")
    Event.objects.bulk_create(
        Event(
            workspace=workspace,
            person=ana,
            person_key=ana.key,
            name="paid" if n % 7 else "other",
            timestamp=BASE + timedelta(hours=3 * n),  # before and after the tracking start
            data={"price": price, "order": {"total": price}},
        )
        for n, price in enumerate(PRICES * 2)
    )
    goal, spec = paid_goal(workspace, window_days=window_days, **impact)
    assert build._events_in_sql(spec) is (connection.vendor == "postgresql")

    staged = engine.build_attributed(spec, version=1)
    evaluated = engine.build_attributed(spec, version=2, rows=engine.evaluate(spec, version=2))

    assert staged == evaluated > 0
    assert rows(goal, 1) == rows(goal, 2)
    if impact.get("impact_event_key"):
        flags = set(Achievement.objects.filter(goal=goal).values_list("revenue_missing"))
        assert flags == {(True,), (False,)}


def test_goals_with_conditions_filters_or_array_steps_are_evaluated_in_python(
    db: None,
) -> None:
    workspace = services.workspace_create(name="w", time_zone="UTC")
    cases: list[tuple[dict[str, Any], list[dict[str, Any]], str]] = [
        ({"type": "event", "name": "x", "conditions": [{"key": "a", "op": "exists"}]}, [], ""),
        ({"type": "event", "name": "x"}, [{"type": "attribute", "key": "a", "op": "exists"}], ""),
        ({"type": "event", "name": "x"}, [], "items.0.price"),
        # PostgreSQL's ``#>`` reads a signed or blank-padded step as an array index too.
        ({"type": "event", "name": "x"}, [], "items.+1"),
        ({"type": "event", "name": "x"}, [], "items. 1"),
        ({"type": "segment", "segment": 1}, [], ""),
    ]
    for trigger, filters, key in cases:
        goal = Goal(
            workspace=workspace,
            criteria={"trigger": trigger, "filters": filters},
            impact_currency="EUR" if key else "",
            impact_event_key=key,
        )
        spec = engine.GoalSpec(
            goal=goal,
            tz=workspace.tz,
            tracking_start=BASE,
            trigger=trigger,
            filters=filters,
            settings=attribution.AttributionSettings(0, {}, False),
        )
        assert build._events_in_sql(spec) is False


@pytest.mark.postgresql
def test_a_result_is_written_in_person_order(db: None) -> None:
    """A result is written in person order, whatever the staging's: attribution walks each
    person's messages once, and the result's indexes and rollup find their input sorted."""
    workspace = services.workspace_create(name="w", time_zone="UTC")
    people = [Person.objects.create(workspace=workspace, identifier=f"p{n}") for n in range(6)]
    Event.objects.bulk_create(
        Event(
            workspace=workspace,
            person=person,
            person_key=person.key,
            name="paid",
            timestamp=BASE + timedelta(hours=hour),
        )
        for hour in range(8)  # every hour each person, so time order interleaves them
        for person in people
    )
    goal = Goal.objects.create(
        workspace=workspace,
        name="g",
        criteria={"trigger": {"type": "event", "name": "paid"}, "filters": []},
    )
    spec = engine.GoalSpec.load(Goal.objects.select_related("workspace").get(pk=goal.pk))
    assert engine.build_attributed(spec, version=1) == 48
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT person_key, achieved_at FROM {partitions.leaf_name(goal.pk, 1)} ORDER BY ctid"
        )
        written = cursor.fetchall()
    assert written == sorted(written)


@pytest.mark.parametrize(
    ("zone", "around"),
    [
        ("America/Santiago", datetime(2026, 9, 6, 4, tzinfo=UTC)),  # 00:00 is skipped
        ("America/Santiago", datetime(2026, 4, 5, 3, tzinfo=UTC)),  # 23:00-24:00 twice
        ("America/Havana", datetime(2026, 3, 8, 5, tzinfo=UTC)),  # 00:00 is skipped
        ("Europe/Berlin", datetime(2026, 10, 25, 1, tzinfo=UTC)),  # 02:00-03:00 twice
    ],
)
@pytest.mark.parametrize("window_days", [0, 1])
def test_sql_staging_finds_local_days_across_dst_changes_at_midnight(
    db: None, zone: str, around: datetime, window_days: int
) -> None:
    """The SQL build finds each event's local day (and its window start) among the days'
    first instants; where a DST change falls at midnight, the day begins at the change. Every
    half hour for three days around the change: the same rows as ``evaluate``, and the local
    day is the event's own."""
    workspace = services.workspace_create(name="w", time_zone=zone)
    ana = Person.objects.create(workspace=workspace, identifier="ana")
    times = [around + timedelta(minutes=30 * n) for n in range(-72, 73)]
    offsets = {t.astimezone(workspace.tz).utcoffset() for t in times}
    assert len(offsets) == 2  # the change is inside
    Event.objects.bulk_create(
        Event(workspace=workspace, person=ana, person_key=ana.key, name="paid", timestamp=t)
        for t in times
    )
    goal, spec = paid_goal(workspace, window_days=window_days)

    assert engine.build_attributed(spec, version=1) == len(times)
    engine.build_attributed(spec, version=2, rows=engine.evaluate(spec, version=2))

    assert rows(goal, 1) == rows(goal, 2)
    for achieved_at, local_date in Achievement.objects.filter(goal=goal, version=1).values_list(
        "achieved_at", "local_date"
    ):
        assert local_date == achieved_at.astimezone(workspace.tz).date()
