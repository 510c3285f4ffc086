"""The goal report selector (SPEC §5): totals, progress, impact, by source, unattributed."""

from __future__ import annotations

import csv
import io
import itertools
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns import services
from campaigns.errors import DomainError
from campaigns.models import Broadcast, Campaign, Message, Workspace
from goals.models import Achievement, Goal, GoalSource, TriggerKind
from goals.reports import MAX_RANGE_DAYS, goal_report, period_starts, report_csv

# --- builders (also used by test_api_report) ----------------------------------------------------

_trigger_ids = itertools.count(1)
_message_ids = itertools.count(1)


def make_goal(workspace: Workspace, *, currency: str = "EUR", version: int = 1) -> Goal:
    goal = Goal.objects.create(workspace=workspace, name="Upgrade", impact_currency=currency)
    Goal.objects.filter(pk=goal.pk).update(current_version=version, requested_version=version)
    goal.refresh_from_db()
    return goal


def add_source(goal: Goal, source: Campaign | Broadcast) -> GoalSource:
    if isinstance(source, Campaign):
        return GoalSource.objects.create(goal=goal, campaign=source)
    return GoalSource.objects.create(goal=goal, broadcast=source)


def achieve(
    goal: Goal,
    person: uuid.UUID,
    when: date | datetime,
    *,
    revenue: str = "0",
    source: Campaign | Broadcast | None = None,
    missing: bool = False,
    version: int | None = None,
) -> Achievement:
    """One achievement of ``person`` at ``when`` (a date means local noon), credited to a new
    message of ``source`` (or unattributed). ``local_date`` is the local day of ``when`` in the
    workspace's zone, as the engine records it."""
    workspace = goal.workspace
    if isinstance(when, datetime):
        achieved_at = when
    else:
        achieved_at = datetime.combine(when, time(12), tzinfo=workspace.tz)
    message = None
    if source is not None:
        message = Message.objects.create(
            workspace=workspace,
            client_id=f"m{next(_message_ids)}",
            person_key=person,
            channel="email",
            campaign=source if isinstance(source, Campaign) else None,
            broadcast=source if isinstance(source, Broadcast) else None,
            sent_at=achieved_at,
        )
    return Achievement.objects.create(
        goal=goal,
        version=goal.current_version if version is None else version,
        person_key=person,
        achieved_at=achieved_at,
        local_date=achieved_at.astimezone(workspace.tz).date(),
        revenue=Decimal(revenue),
        revenue_missing=missing,
        trigger_kind=TriggerKind.EVENT,
        trigger_id=next(_trigger_ids),
        message=message,
        source_campaign=source if isinstance(source, Campaign) else None,
        source_broadcast=source if isinstance(source, Broadcast) else None,
        touch_at=achieved_at if message else None,
    )


def person() -> uuid.UUID:
    return uuid.uuid4()


def d(text: str) -> date:
    return date.fromisoformat(text)


@pytest.fixture
def goal(workspace: Workspace) -> Goal:
    return make_goal(workspace)


@pytest.fixture
def campaign(workspace: Workspace) -> Campaign:
    return Campaign.objects.create(workspace=workspace, name="Onboarding")


@pytest.fixture
def newsletter(workspace: Workspace) -> Broadcast:
    return Broadcast.objects.create(workspace=workspace, name="March newsletter")


def by_day(report: Any) -> dict[str, Any]:
    return {p.period_start.isoformat(): p for p in report.progress}


# --- totals and progress ------------------------------------------------------------------------


class TestTotalsAndProgress:
    def test_a_person_counts_once_in_total_and_on_their_first_day_in_the_range(
        self, goal: Goal
    ) -> None:
        ana, ben, cem = person(), person(), person()
        for day in ("2026-03-03", "2026-03-05", "2026-03-07"):
            achieve(goal, ana, d(day))
        achieve(goal, ben, d("2026-03-05"))
        achieve(goal, cem, d("2026-03-07"))
        achieve(goal, cem, d("2026-03-07"))

        report = goal_report(goal=goal, start=d("2026-03-01"), end=d("2026-03-08"))

        assert report.total_people == 3
        assert report.achievements == 6
        days = by_day(report)
        assert [p.people for p in report.progress] == [0, 0, 1, 0, 1, 0, 1, 0]
        assert [p.achievements for p in report.progress] == [0, 0, 1, 0, 2, 0, 3, 0]
        assert sum(p.people for p in report.progress) == report.total_people
        assert [p.cumulative_people for p in report.progress] == [0, 0, 1, 1, 2, 2, 3, 3]
        assert days["2026-03-05"].people == 1  # ben only: ana's first day was the 3rd

    def test_a_person_first_seen_before_the_range_counts_on_their_first_day_inside_it(
        self, goal: Goal
    ) -> None:
        ana = person()
        achieve(goal, ana, d("2026-02-20"))
        achieve(goal, ana, d("2026-03-04"))

        report = goal_report(goal=goal, start=d("2026-03-01"), end=d("2026-03-05"))

        assert report.total_people == 1
        assert by_day(report)["2026-03-04"].people == 1

    def test_it_has_a_bucket_for_every_day_including_empty_ones(self, goal: Goal) -> None:
        report = goal_report(goal=goal, start=d("2026-02-26"), end=d("2026-03-02"))

        assert [p.period_start for p in report.progress] == [
            d("2026-02-26"),
            d("2026-02-27"),
            d("2026-02-28"),
            d("2026-03-01"),
            d("2026-03-02"),
        ]
        assert all(p.people == p.achievements == 0 for p in report.progress)
        assert report.total_people == report.achievements == 0
        assert str(report.revenue) == "0.00"

    def test_range_edges_are_inclusive(self, goal: Goal) -> None:
        for day in ("2026-03-09", "2026-03-10", "2026-03-15", "2026-03-16"):
            achieve(goal, person(), d(day), revenue="1")

        report = goal_report(goal=goal, start=d("2026-03-10"), end=d("2026-03-15"))

        assert report.total_people == 2
        assert report.achievements == 2
        assert str(report.revenue) == "2.00"
        assert by_day(report)["2026-03-10"].people == 1
        assert by_day(report)["2026-03-15"].people == 1

    def test_the_day_is_the_workspace_local_day(self, goal: Goal) -> None:
        # 23:30 UTC on March 9 is already March 10 in Berlin.
        achieve(goal, person(), datetime(2026, 3, 9, 23, 30, tzinfo=UTC))

        report = goal_report(goal=goal, start=d("2026-03-09"), end=d("2026-03-10"))

        assert [p.people for p in report.progress] == [0, 1]

    def test_the_default_range_is_the_last_30_local_days_ending_today(
        self, goal: Goal, workspace: Workspace
    ) -> None:
        today = timezone.localdate(timezone=workspace.tz)
        achieve(goal, person(), today - timedelta(days=30))
        achieve(goal, person(), today - timedelta(days=29))
        achieve(goal, person(), today)

        report = goal_report(goal=goal)

        assert (report.start, report.end) == (today - timedelta(days=29), today)
        assert len(report.progress) == 30
        assert report.total_people == 2

    def test_achievements_of_another_version_are_ignored(self, goal: Goal) -> None:
        achieve(goal, person(), d("2026-03-03"), revenue="5")
        achieve(goal, person(), d("2026-03-03"), revenue="7", version=goal.current_version + 1)
        achieve(goal, person(), d("2026-03-03"), revenue="9", version=goal.current_version - 1)

        report = goal_report(goal=goal, start=d("2026-03-01"), end=d("2026-03-05"))

        assert (report.total_people, report.achievements, str(report.revenue)) == (1, 1, "5.00")

    def test_it_reads_the_version_that_is_current_when_it_runs(self, goal: Goal) -> None:
        # The caller's goal object is stale: a recompute switched to version 2 meanwhile.
        achieve(goal, person(), d("2026-03-03"), revenue="5")
        achieve(goal, person(), d("2026-03-03"), revenue="7", version=2)
        achieve(goal, person(), d("2026-03-04"), revenue="1", version=2)
        Goal.objects.filter(pk=goal.pk).update(current_version=2)

        report = goal_report(goal=goal, start=d("2026-03-01"), end=d("2026-03-05"))

        assert (report.total_people, report.achievements, str(report.revenue)) == (2, 2, "8.00")

    def test_achievements_of_other_goals_are_not_counted(
        self, goal: Goal, workspace: Workspace, other_workspace: Workspace
    ) -> None:
        achieve(goal, person(), d("2026-03-03"))
        achieve(make_goal(workspace), person(), d("2026-03-03"))
        achieve(make_goal(other_workspace), person(), d("2026-03-03"))

        report = goal_report(goal=goal, start=d("2026-03-01"), end=d("2026-03-05"))

        assert report.total_people == 1


class TestWeeks:
    def test_weeks_are_iso_weeks_labelled_with_their_monday(self) -> None:
        # Wednesday to Wednesday, across the DST change of Sunday 2026-03-29 in Berlin.
        assert period_starts(d("2026-03-18"), d("2026-04-08"), "week") == [
            d("2026-03-16"),
            d("2026-03-23"),
            d("2026-03-30"),
            d("2026-04-06"),
        ]

    def test_sunday_late_evening_local_is_in_the_week_of_the_previous_monday(
        self, goal: Goal, workspace: Workspace
    ) -> None:
        berlin = workspace.tz
        sunday_night = datetime(2026, 3, 29, 23, 30, tzinfo=berlin)  # CEST: 21:30 UTC
        monday_early = datetime(2026, 3, 30, 0, 30, tzinfo=berlin)  # 22:30 UTC on Sunday
        saturday_before_dst = datetime(2026, 3, 28, 23, 30, tzinfo=berlin)  # CET: 22:30 UTC
        achieve(goal, person(), sunday_night.astimezone(UTC), revenue="1")
        achieve(goal, person(), monday_early.astimezone(UTC), revenue="10")
        achieve(goal, person(), saturday_before_dst.astimezone(UTC), revenue="100")

        report = goal_report(goal=goal, start=d("2026-03-18"), end=d("2026-04-08"), period="week")

        weeks = {p.period_start.isoformat(): p for p in report.progress}
        assert list(weeks) == ["2026-03-16", "2026-03-23", "2026-03-30", "2026-04-06"]
        assert (weeks["2026-03-23"].people, str(weeks["2026-03-23"].revenue)) == (2, "101.00")
        assert (weeks["2026-03-30"].people, str(weeks["2026-03-30"].revenue)) == (1, "10.00")
        assert weeks["2026-03-16"].people == weeks["2026-04-06"].people == 0

    def test_weekly_people_count_on_the_week_of_the_first_achievement(
        self, goal: Goal, campaign: Campaign
    ) -> None:
        add_source(goal, campaign)
        ana = person()
        achieve(goal, ana, d("2026-03-02"), source=campaign)  # Monday
        achieve(goal, ana, d("2026-03-08"), source=campaign)  # Sunday, same week
        achieve(goal, ana, d("2026-03-10"), source=campaign)  # next week

        report = goal_report(goal=goal, start=d("2026-03-01"), end=d("2026-03-14"), period="week")

        assert [p.period_start for p in report.progress] == [
            d("2026-02-23"),
            d("2026-03-02"),
            d("2026-03-09"),
        ]
        assert [p.people for p in report.progress] == [0, 1, 0]
        assert [p.cumulative_people for p in report.progress] == [0, 1, 1]
        assert [p.achievements for p in report.progress] == [0, 2, 1]
        # Per source, people are distinct per period: ana counts in both weeks.
        (onboarding,) = report.by_source
        assert onboarding.people == 1
        assert [p.people for p in onboarding.progress] == [0, 1, 1]
        assert [p.achievements for p in onboarding.progress] == [0, 2, 1]

    def test_a_partial_first_week_only_counts_days_in_the_range(self, goal: Goal) -> None:
        achieve(goal, person(), d("2026-03-02"))  # Monday, before the range
        achieve(goal, person(), d("2026-03-04"))  # Wednesday, the range's first day

        report = goal_report(goal=goal, start=d("2026-03-04"), end=d("2026-03-08"), period="week")

        assert [(p.period_start, p.people) for p in report.progress] == [(d("2026-03-02"), 1)]


class TestRevenue:
    def test_sums_are_exact_decimals(self, goal: Goal) -> None:
        achieve(goal, person(), d("2026-03-03"), revenue="0.10")
        achieve(goal, person(), d("2026-03-03"), revenue="0.20")

        report = goal_report(goal=goal, start=d("2026-03-03"), end=d("2026-03-03"))

        assert report.revenue == Decimal("0.30")
        assert str(report.revenue) == "0.30"
        assert str(report.progress[0].revenue) == "0.30"
        assert report.impact is not None
        assert (str(report.impact.amount), report.impact.currency) == ("0.30", "EUR")

    def test_a_thousand_times_19_99_is_19990_00(self, goal: Goal) -> None:
        key = person()
        Achievement.objects.bulk_create(
            Achievement(
                goal=goal,
                version=goal.current_version,
                person_key=key,
                achieved_at=datetime(2026, 3, 3, 12, tzinfo=UTC),
                local_date=d("2026-03-03"),
                revenue=Decimal("19.99"),
                trigger_kind=TriggerKind.EVENT,
                trigger_id=100_000 + n,
            )
            for n in range(1000)
        )

        report = goal_report(goal=goal, start=d("2026-03-01"), end=d("2026-03-07"), period="week")

        assert str(report.revenue) == "19990.00"
        assert str(report.unattributed.revenue) == "19990.00"
        assert (report.total_people, report.achievements) == (1, 1000)

    def test_amounts_keep_every_significant_decimal(self, goal: Goal) -> None:
        achieve(goal, person(), d("2026-03-03"), revenue="0.125")
        achieve(goal, person(), d("2026-03-04"), revenue="2")

        report = goal_report(goal=goal, start=d("2026-03-03"), end=d("2026-03-04"))

        # One scale for the whole report, wide enough for the most precise amount.
        assert [str(p.revenue) for p in report.progress] == ["0.125", "2.000"]
        assert str(report.revenue) == "2.125"

    def test_credits_to_a_source_no_longer_the_goals_are_listed_at_the_reports_scale(
        self, goal: Goal, campaign: Campaign, newsletter: Broadcast
    ) -> None:
        """Credits to sources that are no longer the goal's (a removal whose recompute is not
        done: readers keep the last complete result, SPEC §6) keep their series, and every
        amount shown is written with one scale, wide enough for theirs."""
        achieve(goal, person(), d("2026-03-03"), revenue="0.001", source=campaign)
        achieve(goal, person(), d("2026-03-03"), revenue="-0.001", source=newsletter)

        report = goal_report(goal=goal, start=d("2026-03-03"), end=d("2026-03-03"))

        assert [(s.source.name, s.people, str(s.revenue)) for s in report.by_source] == [
            ("March newsletter", 1, "-0.001"),
            ("Onboarding", 1, "0.001"),
        ]
        assert str(report.revenue) == "0.000"
        assert [str(p.revenue) for p in report.progress] == ["0.000"]
        assert str(report.unattributed.revenue) == "0.000"

    def test_amounts_use_the_currency_minor_unit(self, workspace: Workspace) -> None:
        goal = make_goal(workspace, currency="JPY")
        achieve(goal, person(), d("2026-03-03"), revenue="1500")

        report = goal_report(goal=goal, start=d("2026-03-03"), end=d("2026-03-03"))

        assert str(report.revenue) == "1500"

    def test_a_goal_without_impact_has_no_impact_and_zero_revenue(
        self, workspace: Workspace
    ) -> None:
        goal = make_goal(workspace, currency="")
        achieve(goal, person(), d("2026-03-03"))

        report = goal_report(goal=goal, start=d("2026-03-03"), end=d("2026-03-03"))

        assert report.impact is None
        assert str(report.progress[0].revenue) == "0.00"

    def test_achievements_with_a_missing_value_count_with_zero_revenue(self, goal: Goal) -> None:
        achieve(goal, person(), d("2026-03-03"), revenue="12.50")
        achieve(goal, person(), d("2026-03-04"), revenue="0", missing=True)
        achieve(goal, person(), d("2026-02-01"), revenue="0", missing=True)  # outside the range

        report = goal_report(goal=goal, start=d("2026-03-01"), end=d("2026-03-05"))

        assert (report.total_people, report.achievements) == (2, 2)
        assert str(report.revenue) == "12.50"
        assert report.revenue_missing_achievements == 1


class TestBySource:
    def test_each_source_and_the_unattributed_get_their_own_series(
        self, goal: Goal, workspace: Workspace, campaign: Campaign, newsletter: Broadcast
    ) -> None:
        idle = Campaign.objects.create(workspace=workspace, name="Idle campaign")
        for source in (campaign, newsletter, idle):
            add_source(goal, source)
        ana, ben, cem = person(), person(), person()
        achieve(goal, ana, d("2026-03-02"), revenue="10", source=campaign)
        achieve(goal, ana, d("2026-03-03"), revenue="10", source=campaign)
        achieve(goal, ben, d("2026-03-03"), revenue="20", source=campaign)
        achieve(goal, cem, d("2026-03-03"), revenue="5", source=newsletter)
        achieve(goal, cem, d("2026-03-04"), revenue="1")
        achieve(goal, ana, d("2026-03-04"), revenue="2")

        report = goal_report(goal=goal, start=d("2026-03-02"), end=d("2026-03-04"))

        names = [s.source.name for s in report.by_source]
        assert names == ["Onboarding", "March newsletter", "Idle campaign"]  # people desc, name
        onboarding, march, idle_series = report.by_source
        assert (onboarding.source.type, onboarding.source.id) == ("campaign", campaign.pk)
        assert (march.source.type, march.source.id) == ("broadcast", newsletter.pk)
        assert (onboarding.people, onboarding.achievements, str(onboarding.revenue)) == (
            2,
            3,
            "40.00",
        )
        assert [(p.people, str(p.revenue)) for p in onboarding.progress] == [
            (1, "10.00"),
            (2, "30.00"),
            (0, "0.00"),
        ]
        assert (march.people, march.achievements, str(march.revenue)) == (1, 1, "5.00")
        assert (idle_series.people, idle_series.achievements, str(idle_series.revenue)) == (
            0,
            0,
            "0.00",
        )
        assert [p.people for p in idle_series.progress] == [0, 0, 0]
        un = report.unattributed
        assert (un.people, un.achievements, str(un.revenue)) == (2, 2, "3.00")
        assert [p.people for p in un.progress] == [0, 0, 2]
        # Every achievement is in exactly one series.
        assert report.achievements == sum(s.achievements for s in report.by_source) + 2
        assert report.revenue == sum(s.revenue for s in report.by_source) + un.revenue

    def test_a_deleted_source_is_listed_marked_deleted_and_still_counted(
        self, goal: Goal, campaign: Campaign
    ) -> None:
        add_source(goal, campaign)
        achieve(goal, person(), d("2026-03-03"), revenue="10", source=campaign)
        services.source_soft_delete(source=campaign)

        report = goal_report(goal=goal, start=d("2026-03-01"), end=d("2026-03-05"))

        (series,) = report.by_source
        assert series.source.deleted is True
        assert series.source.name == "Onboarding"
        assert (series.people, series.achievements, str(series.revenue)) == (1, 1, "10.00")
        assert report.unattributed.achievements == 0

    def test_sources_with_equal_people_are_ordered_by_name(
        self, goal: Goal, workspace: Workspace
    ) -> None:
        for name in ("beta", "Alpha", "gamma"):
            add_source(goal, Campaign.objects.create(workspace=workspace, name=name))

        report = goal_report(goal=goal, start=d("2026-03-01"), end=d("2026-03-01"))

        assert [s.source.name for s in report.by_source] == ["Alpha", "beta", "gamma"]


class TestQueries:
    def _populate(self, goal: Goal, workspace: Workspace) -> None:
        sources: list[Campaign | Broadcast] = [
            Campaign.objects.create(workspace=workspace, name="A"),
            Campaign.objects.create(workspace=workspace, name="B"),
            Broadcast.objects.create(workspace=workspace, name="C"),
        ]
        for source in sources:
            add_source(goal, source)
        start = d("2026-01-01")
        for n in range(90):
            achieve(
                goal,
                person(),
                start + timedelta(days=n),
                source=sources[n % 4 - 1] if n % 4 else None,
            )

    def count(self, goal: Goal, days: int, period: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            goal_report(
                goal=goal,
                start=d("2026-01-01"),
                end=d("2026-01-01") + timedelta(days=days - 1),
                period=period,  # type: ignore[arg-type]
            )
        return len(ctx.captured_queries)

    def test_a_90_day_report_with_3_sources_takes_a_few_queries(
        self, goal: Goal, workspace: Workspace, django_assert_max_num_queries: Any
    ) -> None:
        self._populate(goal, workspace)

        with django_assert_max_num_queries(8):
            report = goal_report(goal=goal, start=d("2026-01-01"), end=d("2026-03-31"))

        assert report.total_people == 90
        assert len(report.by_source) == 3

    @pytest.mark.parametrize("period", ["day", "week"])
    def test_the_number_of_queries_does_not_depend_on_the_range(
        self, goal: Goal, workspace: Workspace, period: str
    ) -> None:
        self._populate(goal, workspace)

        assert self.count(goal, 7, period) == self.count(goal, 90, period)


class TestRangeChecks:
    def test_it_rejects_an_end_before_the_start(self, goal: Goal) -> None:
        with pytest.raises(DomainError) as caught:
            goal_report(goal=goal, start=d("2026-03-05"), end=d("2026-03-04"))

        assert list(caught.value.errors) == ["end"]

    def test_it_accepts_the_longest_range_and_rejects_a_longer_one(self, goal: Goal) -> None:
        start = d("2024-01-01")
        longest = goal_report(
            goal=goal, start=start, end=start + timedelta(days=MAX_RANGE_DAYS - 1), period="week"
        )
        assert longest.total_people == 0

        with pytest.raises(DomainError) as caught:
            goal_report(goal=goal, start=start, end=start + timedelta(days=MAX_RANGE_DAYS))

        assert list(caught.value.errors) == ["end"]

    def test_it_rejects_an_unknown_period(self, goal: Goal) -> None:
        with pytest.raises(DomainError) as caught:
            goal_report(goal=goal, start=d("2026-03-01"), end=d("2026-03-02"), period="month")  # type: ignore[arg-type]

        assert list(caught.value.errors) == ["period"]


class TestCsv:
    def test_it_has_one_row_per_period_and_series_with_the_reports_numbers(
        self, goal: Goal, campaign: Campaign, newsletter: Broadcast
    ) -> None:
        add_source(goal, campaign)
        add_source(goal, newsletter)
        services.source_soft_delete(source=newsletter)
        ana = person()
        achieve(goal, ana, d("2026-03-02"), revenue="0.10", source=campaign)
        achieve(goal, ana, d("2026-03-03"), revenue="0.20", source=newsletter)
        achieve(goal, person(), d("2026-03-03"), revenue="1")
        report = goal_report(goal=goal, start=d("2026-03-02"), end=d("2026-03-03"))

        rows = list(csv.DictReader(io.StringIO(report_csv(report))))

        assert len(rows) == 2 * (1 + 2 + 1) + (1 + 2 + 1)
        assert [(r["period_start"], r["series"], r["source_name"]) for r in rows[:4]] == [
            ("2026-03-02", "total", ""),
            ("2026-03-02", "source", "March newsletter"),  # 1 person each: by name
            ("2026-03-02", "source", "Onboarding"),
            ("2026-03-02", "unattributed", ""),
        ]
        assert rows[4] == {
            "period_start": "2026-03-03",
            "series": "total",
            "source_type": "",
            "source_id": "",
            "source_name": "",
            "deleted": "",
            "people": "1",
            "cumulative_people": "2",
            "achievements": "2",
            "revenue": "1.20",
            "currency": "EUR",
            "revenue_missing_achievements": "",
        }
        assert rows[5] == {
            "period_start": "2026-03-03",
            "series": "source",
            "source_type": "broadcast",
            "source_id": str(newsletter.pk),
            "source_name": "March newsletter",
            "deleted": "true",
            "people": "1",
            "cumulative_people": "",
            "achievements": "1",
            "revenue": "0.20",
            "currency": "EUR",
            "revenue_missing_achievements": "",
        }
        assert (rows[6]["source_name"], rows[6]["deleted"]) == ("Onboarding", "false")
        assert rows[7]["series"] == "unattributed"
        assert (rows[7]["people"], rows[7]["revenue"]) == ("1", "1.00")
        # The range's summary: unique people over both days (ana counts once overall, and
        # once per source), with period_start empty.
        columns = ["period_start", "series", "source_name", "deleted", "people"]
        columns += ["cumulative_people", "achievements", "revenue", "revenue_missing_achievements"]
        assert [tuple(r[c] for c in columns) for r in rows[8:]] == [
            ("", "total", "", "", "2", "2", "3", "1.30", "0"),
            ("", "source", "March newsletter", "true", "1", "", "1", "0.20", ""),
            ("", "source", "Onboarding", "false", "1", "", "1", "0.10", ""),
            ("", "unattributed", "", "", "1", "", "1", "1.00", ""),
        ]

    def test_a_source_name_a_spreadsheet_would_run_is_defused(
        self, goal: Goal, workspace: Workspace
    ) -> None:
        add_source(goal, Campaign.objects.create(workspace=workspace, name="=HYPERLINK(1)"))
        report = goal_report(goal=goal, start=d("2026-03-02"), end=d("2026-03-02"))

        rows = list(csv.DictReader(io.StringIO(report_csv(report))))

        assert rows[1]["source_name"] == "'=HYPERLINK(1)"
