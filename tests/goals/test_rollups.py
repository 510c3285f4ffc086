"""Goal rollups (``GoalRollup``): reports read them, the engine builds and maintains them, and
a report from the rollup is the report computed from the achievements themselves."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from campaigns import services
from campaigns.models import Broadcast, Campaign, Workspace
from goals import engine, reports
from goals.engine import recomputes, rollup
from goals.models import Goal, GoalRollup
from goals.reports import Period, goal_report, report_csv
from tests.goals import helpers
from tests.goals.test_engine import event, message, metric
from tests.goals.test_reports import achieve, add_source, d, make_goal, person

# Monday 2026-03-16 to Sunday 2026-04-12: four ISO weeks, the DST change of Sunday 2026-03-29.
FIRST_DAY = d("2026-03-16")
DAYS = 28
RANGES = [
    (d("2026-03-16"), d("2026-04-12")),  # whole weeks
    (d("2026-03-18"), d("2026-04-08")),  # Wednesday to Wednesday
    (d("2026-03-22"), d("2026-03-22")),  # one Sunday
    (d("2026-03-28"), d("2026-03-30")),  # across the DST change and a week boundary
    (d("2026-03-24"), d("2026-04-05")),  # Tuesday to Sunday
    (d("2026-02-01"), d("2026-05-31")),  # wider than the data
]


def reference(goal: Goal, start: date, end: date, period: Period) -> reports.GoalReport:
    """The report computed the old way, from the achievements (``_sums_from_achievements``)."""
    goal.refresh_from_db()
    return reports._build(
        goal=goal,
        version=goal.current_version,
        start=start,
        end=end,
        period=period,
        from_rollup=False,
    )


def exact(report: reports.GoalReport) -> str:
    """Everything in the report, Decimal exponents included ("1.0" is not "1.00")."""
    return repr(dataclasses.asdict(report))


def assert_same_reports(goal: Goal) -> None:
    goal.refresh_from_db()
    assert goal.rollup_version == goal.current_version  # the report reads the rollup
    for start, end in RANGES:
        for period in ("day", "week"):
            expected = reference(goal, start, end, period)  # type: ignore[arg-type]
            got = goal_report(goal=goal, start=start, end=end, period=period)  # type: ignore[arg-type]
            assert exact(got) == exact(expected), (start, end, period)
            assert report_csv(got) == report_csv(expected)


def stored_cells(goal: Goal) -> dict[rollup.RollupKey, list[int]]:
    goal.refresh_from_db()
    cells = {}
    for row in GoalRollup.objects.filter(goal=goal, version=goal.current_version, people__gt=0):
        same_week = row.local_date.isocalendar()[:2] == row.prev_date.isocalendar()[:2]
        assert row.prev_same_week == same_week
        assert row.prev_date < row.local_date
        key = (row.scope_type, row.scope_id, row.local_date, row.prev_date)
        cells[key] = [row.people, row.achievements, row.revenue_micro, row.revenue_missing]
    return cells


def assert_rollup_is_a_full_rebuild(goal: Goal) -> None:
    goal.refresh_from_db()
    assert stored_cells(goal) == engine.rollup_units(goal.pk, goal.current_version)


def build(goal: Goal) -> None:
    """What a recompute does for a version whose achievements are written."""
    engine.build_rollup(goal.pk, goal.current_version)
    Goal.objects.filter(pk=goal.pk).update(rollup_version=goal.current_version)
    goal.refresh_from_db()


# --- the report from the rollup equals the report from the achievements -------------------------


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_a_report_from_the_rollup_equals_the_report_from_the_achievements(
    workspace: Workspace, seed: int
) -> None:
    rng = random.Random(seed)
    goal = make_goal(workspace, currency=rng.choice(["EUR", "JPY", "KWD"]))
    sources: list[Campaign | Broadcast | None] = [
        Campaign.objects.create(workspace=workspace, name="Onboarding"),
        Campaign.objects.create(workspace=workspace, name="Winback"),
        Broadcast.objects.create(workspace=workspace, name="March newsletter"),
        None,  # unattributed
    ]
    for source in sources[:3]:
        add_source(goal, source)  # type: ignore[arg-type]
    services.source_soft_delete(source=sources[2])  # type: ignore[arg-type]
    not_a_source = Campaign.objects.create(workspace=workspace, name="Removed from the goal")
    people = [person() for _ in range(12)]
    for _ in range(120):
        day = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
        # Late evening, just after midnight or noon, local: the local day is what counts.
        at = datetime.combine(day, rng.choice([time(0, 10), time(12), time(23, 50)]), workspace.tz)
        missing = rng.random() < 0.1
        achieve(
            goal,
            rng.choice(people),
            at.astimezone(UTC),
            revenue="0" if missing else rng.choice(["0", "19.99", "0.001", "5", "1234.567891"]),
            missing=missing,
            source=rng.choice([*sources, not_a_source]),
        )
    achieve(goal, people[0], d("2026-03-20"), revenue="77", version=goal.current_version + 1)
    build(goal)

    assert GoalRollup.objects.filter(goal=goal).exclude(version=goal.current_version).count() == 0
    assert_same_reports(goal)


def test_the_rollups_planner_settings_end_with_it(workspace: Workspace) -> None:
    """``build_rollup`` steers PostgreSQL's planner (``ROLLUP_SESSION_SETTINGS``) for its own
    statement only: the connection's next queries plan as usual."""
    goal = make_goal(workspace)
    achieve(goal, person(), d("2026-03-02"), revenue="5")
    achieve(goal, person(), d("2026-03-03"), revenue="7")

    def settings() -> dict[str, str]:
        if connection.vendor != "postgresql":
            return {}
        with connection.cursor() as cursor:
            names = list(rollup.ROLLUP_SESSION_SETTINGS)
            cursor.execute("SELECT name, setting FROM pg_settings WHERE name = ANY(%s)", [names])
            return dict(cursor.fetchall())

    before = settings()
    build(goal)
    assert settings() == before
    if connection.vendor == "postgresql":
        assert before["enable_sort"] == "on"
    assert_same_reports(goal)


def test_a_report_from_the_rollup_takes_three_queries_whatever_the_range(
    workspace: Workspace,
) -> None:
    goal = make_goal(workspace)
    campaign = Campaign.objects.create(workspace=workspace, name="Onboarding")
    add_source(goal, campaign)
    for n in range(90):
        achieve(goal, person(), d("2026-01-01") + timedelta(days=n), source=campaign)
    build(goal)

    counts = []
    for days in (7, 90):
        with CaptureQueriesContext(connection) as ctx:
            report = goal_report(
                goal=goal, start=d("2026-01-01"), end=d("2026-01-01") + timedelta(days=days - 1)
            )
        counts.append(len(ctx.captured_queries))
    assert counts == [3, 3]
    assert report.total_people == report.by_source[0].people == 90


def test_a_result_without_a_rollup_is_reported_from_its_achievements(
    workspace: Workspace,
) -> None:
    goal = make_goal(workspace)
    achieve(goal, person(), d("2026-03-03"), revenue="5")
    assert goal.rollup_version != goal.current_version
    assert not GoalRollup.objects.exists()

    report = goal_report(goal=goal, start=d("2026-03-01"), end=d("2026-03-05"))

    assert (report.total_people, report.achievements, str(report.revenue)) == (1, 1, "5.00")


def test_reconcile_builds_the_rollup_of_a_result_computed_before_rollups_existed(
    workspace: Workspace, campaign_and_newsletter: list[Campaign | Broadcast]
) -> None:
    goal = make_goal(workspace)
    onboarding, newsletter = campaign_and_newsletter
    add_source(goal, onboarding)
    add_source(goal, newsletter)
    ana = person()
    achieve(goal, ana, d("2026-03-20"), revenue="1.50", source=onboarding)
    achieve(goal, ana, d("2026-03-24"), revenue="2", source=newsletter)
    achieve(goal, person(), d("2026-03-24"), missing=True)

    assert engine.reconcile()["rollups"] == 1
    assert engine.reconcile()["rollups"] == 0  # done once

    goal.refresh_from_db()
    assert goal.rollup_version == goal.current_version
    assert_rollup_is_a_full_rebuild(goal)
    assert_same_reports(goal)


@pytest.fixture
def campaign_and_newsletter(workspace: Workspace) -> list[Campaign | Broadcast]:
    return [
        Campaign.objects.create(workspace=workspace, name="Onboarding"),
        Broadcast.objects.create(workspace=workspace, name="March newsletter"),
    ]


def test_a_stale_goal_object_is_reported_from_the_rollup_once_it_exists(
    workspace: Workspace,
) -> None:
    goal = make_goal(workspace)
    achieve(goal, person(), d("2026-03-03"), revenue="5")
    stale = Goal.objects.get(pk=goal.pk)
    build(goal)
    # The rollup now disagrees with the achievements on purpose: the report must read it.
    GoalRollup.objects.filter(goal=goal).update(revenue_micro=6_000_000)

    report = goal_report(goal=stale, start=d("2026-03-01"), end=d("2026-03-05"))

    assert str(report.revenue) == "6.00"


# --- the engine builds and maintains the rollup -------------------------------------------------

engine_db = pytest.mark.django_db(transaction=True)


@pytest.fixture
def onboarding(workspace: Workspace) -> Campaign:
    return Campaign.objects.create(workspace=workspace, name="Onboarding", status="running")


@engine_db
def test_a_late_message_that_re_attributes_updates_the_rollup_like_a_rebuild(
    workspace: Workspace, api: APIClient, onboarding: Campaign
) -> None:
    goal = helpers.make_goal(
        workspace, sources=[onboarding], impact_currency="EUR", impact_event_key="price"
    )
    helpers.ingest(
        api,
        event("ada", "plan_activated", "2026-03-20T10:00:00Z", price="10"),
        event("ada", "plan_activated", "2026-03-24T10:00:00Z", price="20"),
        event("ada", "plan_activated", "2026-03-30T10:00:00Z"),  # value missing
        event("bob", "plan_activated", "2026-03-24T10:00:00Z", price="0.5"),
    )
    assert_rollup_is_a_full_rebuild(goal)
    assert_same_reports(goal)

    helpers.ingest(
        api,
        message("m1", "ada", "2026-03-23T09:00:00Z", onboarding),
        metric("m1", "delivered", "2026-03-23T09:05:00Z"),
    )

    credited = {cell[:2] for cell in stored_cells(goal) if cell[0] == "campaign"}
    assert credited == {("campaign", onboarding.pk)}
    assert_rollup_is_a_full_rebuild(goal)
    assert_same_reports(goal)


@engine_db
def test_new_achievements_in_any_order_keep_the_rollup_equal_to_a_rebuild(
    workspace: Workspace, api: APIClient, onboarding: Campaign
) -> None:
    goal = helpers.make_goal(
        workspace, sources=[onboarding], impact_currency="EUR", impact_event_key="price"
    )
    rng = random.Random(7)
    items = []
    for n in range(40):
        who = rng.choice(["ada", "bob", "cem", "dan"])
        day = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
        at = datetime.combine(day, time(rng.randrange(24), 30), UTC).isoformat()
        if rng.random() < 0.3:
            items.append([message(f"m{n}", who, at, onboarding), metric(f"m{n}", "delivered", at)])
        else:
            items.append([event(who, "plan_activated", at, price=str(rng.randrange(100)))])
    rng.shuffle(items)  # a day between two known days changes the next day's previous day
    for batch in items:
        helpers.ingest(api, *batch)
        assert_rollup_is_a_full_rebuild(goal)
    assert_same_reports(goal)


@engine_db
def test_a_recompute_leaves_only_the_current_versions_rollup(
    workspace: Workspace, api: APIClient, onboarding: Campaign
) -> None:
    goal = helpers.make_goal(workspace, sources=[onboarding])
    helpers.ingest(
        api,
        message("m1", "ada", "2026-03-23T09:00:00Z", onboarding),
        metric("m1", "delivered", "2026-03-23T09:05:00Z"),
        event("ada", "plan_activated", "2026-03-24T10:00:00Z"),
        event("bob", "plan_activated", "2026-03-25T10:00:00Z"),
    )
    first = goal.current_version

    helpers.recompute_now(goal)
    helpers.recompute_now(goal)

    assert goal.current_version == goal.rollup_version == first + 2
    versions = set(GoalRollup.objects.filter(goal=goal).values_list("version", flat=True))
    assert versions == {goal.current_version}
    assert_rollup_is_a_full_rebuild(goal)
    assert_same_reports(goal)


@engine_db
def test_a_discarded_build_leaves_no_rollup_behind(
    workspace: Workspace, api: APIClient, onboarding: Campaign, monkeypatch: Any
) -> None:
    goal = helpers.make_goal(workspace, sources=[onboarding])
    helpers.ingest(api, event("ada", "plan_activated", "2026-03-24T10:00:00Z"))
    real_build = engine.build_rollup

    def change_goal_mid_build(goal_id: int, version: int, **kwargs: Any) -> int:
        cells = real_build(goal_id, version, **kwargs)
        Goal.objects.filter(pk=goal_id).update(requested_version=version + 1)
        return cells

    monkeypatch.setattr(recomputes, "build_rollup", change_goal_mid_build)
    Goal.objects.filter(pk=goal.pk).update(requested_version=goal.current_version + 1)

    assert engine.recompute(goal_id=goal.pk) is False

    goal.refresh_from_db()
    versions = set(GoalRollup.objects.filter(goal=goal).values_list("version", flat=True))
    assert versions == {goal.current_version} == {goal.rollup_version}


@pytest.mark.parametrize(
    "amounts",
    [
        ["576460752305", "1"],  # whole: 576460752305000000 millionths, beyond 2^53
        ["9876543210.98765", "0.000001"],
        ["123456789012.345", "-99999999999.9999"],  # 15 significant digits
        ["-576460752305", "0.5"],
    ],
)
def test_large_revenues_are_summed_exactly_from_the_rollup_and_from_the_achievements(
    workspace: Workspace, amounts: list[str]
) -> None:
    """SPEC §4.2 "Money is Decimal, never float": on SQLite, ``ROUND(revenue * 1000000)`` is
    a float, and 576460752305 summed to 576460752304.999936 (``reports.micro_sql``)."""
    goal = make_goal(workspace, currency="EUR")
    for amount in amounts:
        achieve(goal, person(), d("2026-03-03"), revenue=amount)
    expected = sum(Decimal(a) for a in amounts)
    day = (d("2026-03-01"), d("2026-03-05"))

    assert reference(goal, *day, "day").revenue == expected
    build(goal)
    report = goal_report(goal=goal, start=day[0], end=day[1])
    assert report.revenue == report.progress[2].revenue == expected
    assert report.unattributed.revenue == expected
    assert_rollup_is_a_full_rebuild(goal)
