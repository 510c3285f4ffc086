"""The Progress chart's JSON (django-chartjs views): Chart.js data from one goal report."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns import services as campaign_services
from campaigns.models import Broadcast, Campaign, Workspace
from goals import reports
from goals.models import Goal
from tests.goals.test_reports import achieve, add_source, make_goal, person

pytestmark = pytest.mark.django_db


def today(workspace: Workspace) -> date:
    return timezone.localdate(timezone=workspace.tz)


def chart(client: Client, name: str, goal: Goal, **query: Any) -> Any:
    response = client.get(reverse(f"goals_ui:chart_{name}", args=[goal.pk]), query)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    return response.json()


def dataset(body: dict[str, Any], kind: str) -> dict[str, Any]:
    (found,) = [d for d in body["datasets"] if d["kind"] == kind]
    return found


@pytest.fixture
def campaign(workspace: Workspace) -> Campaign:
    return Campaign.objects.create(workspace=workspace, name="Onboarding", status="running")


@pytest.fixture
def newsletter(workspace: Workspace) -> Broadcast:
    return Broadcast.objects.create(
        workspace=workspace, name="March newsletter", kind="newsletter", channels=["email"]
    )


# Wednesday 2026-03-04 .. Tuesday 2026-03-17 (Europe/Berlin): parts of three ISO weeks.
START, END = date(2026, 3, 4), date(2026, 3, 17)
RANGE = {"start": START.isoformat(), "end": END.isoformat()}


@pytest.fixture
def goal(workspace: Workspace, campaign: Campaign, newsletter: Broadcast) -> Goal:
    goal = make_goal(workspace)
    add_source(goal, campaign)
    add_source(goal, newsletter)
    ada, bob, cy = person(), person(), person()
    achieve(goal, ada, date(2026, 3, 4), revenue="10.25", source=campaign)
    achieve(goal, ada, date(2026, 3, 10), revenue="10", source=campaign)  # again, next week
    achieve(goal, bob, date(2026, 3, 4), revenue="5", source=newsletter)
    achieve(goal, cy, date(2026, 3, 16), revenue="7.50")  # unattributed
    return goal


@pytest.fixture
def logged_in(client: Client, viewer: User) -> Client:
    client.force_login(viewer)
    return client


class TestTotalChart:
    def test_it_answers_chartjs_data_with_numbers_as_numbers(
        self, logged_in: Client, goal: Goal
    ) -> None:
        body = chart(logged_in, "total", goal, **RANGE)
        assert set(body) == {"labels", "datasets", "meta"}
        assert body["labels"] == [
            (START + timedelta(days=n)).isoformat() for n in range((END - START).days + 1)
        ]
        people = dataset(body, "people")
        assert people["label"] == "People"
        assert people["yAxisID"] == "people"
        assert all(type(v) is int for v in people["data"])
        assert len(people["data"]) == len(body["labels"])
        assert people["data"][0] == 2 and people["data"][12] == 1  # ada+bob, then cy
        assert sum(people["data"]) == 3  # each person once: the total
        revenue = dataset(body, "revenue")
        assert revenue["label"] == "Revenue (EUR)"
        assert revenue["yAxisID"] == "revenue"
        assert all(type(v) in (int, float) for v in revenue["data"])
        assert revenue["data"][0] == 15.25
        assert revenue["data"][6] == 10 and revenue["data"][12] == 7.5
        for d in body["datasets"]:
            assert d["backgroundColor"].startswith("rgba(") and d["borderColor"]
        assert body["meta"] == {
            "start": "2026-03-04",
            "end": "2026-03-17",
            "period": "day",
            "currency": "EUR",
            "x_title": "Date",
            "y_title": "People",
            "revenue_title": "Revenue (EUR)",
            "total_people": 3,
            "achievements": 4,
            "empty": False,
            "empty_message": "No achievements in this range",
            "view": "total",
            "measure": "count",
        }

    def test_its_numbers_are_the_reports(self, logged_in: Client, goal: Goal) -> None:
        body = chart(logged_in, "total", goal, period="week", **RANGE)
        report = reports.goal_report(goal=goal, start=START, end=END, period="week")
        assert body["labels"] == [p.period_start.isoformat() for p in report.progress]
        assert dataset(body, "people")["data"] == [p.people for p in report.progress]
        assert [Decimal(str(v)) for v in dataset(body, "revenue")["data"]] == [
            p.revenue for p in report.progress
        ]

    def test_weeks_are_labelled_with_their_monday_in_the_workspaces_zone(
        self, logged_in: Client, workspace: Workspace
    ) -> None:
        goal = make_goal(workspace)
        # Sunday 2026-03-08 23:30 UTC is Monday 00:30 in Berlin: the week of 9 March.
        achieve(goal, person(), datetime(2026, 3, 8, 23, 30, tzinfo=UTC), revenue="1")
        # Sunday 2026-03-08 22:30 UTC is still Sunday in Berlin: the week of 2 March.
        achieve(goal, person(), datetime(2026, 3, 8, 22, 30, tzinfo=UTC), revenue="1")
        body = chart(logged_in, "total", goal, period="week", **RANGE)
        assert body["labels"] == ["2026-03-02", "2026-03-09", "2026-03-16"]
        assert all(date.fromisoformat(label).weekday() == 0 for label in body["labels"])
        assert dataset(body, "people")["data"] == [1, 1, 0]
        assert body["meta"]["x_title"] == "Week of"
        daily = chart(logged_in, "total", goal, period="day", **RANGE)
        people = dict(zip(daily["labels"], dataset(daily, "people")["data"], strict=True))
        assert people["2026-03-08"] == 1 and people["2026-03-09"] == 1

    def test_cumulative_is_the_running_sum_of_people_and_revenue(
        self, logged_in: Client, goal: Goal
    ) -> None:
        count = chart(logged_in, "total", goal, measure="count", **RANGE)
        cumulative = chart(logged_in, "total", goal, measure="cumulative", **RANGE)
        running, sums = 0, []
        for value in dataset(count, "people")["data"]:
            running += value
            sums.append(running)
        assert dataset(cumulative, "people")["data"] == sums
        assert dataset(cumulative, "people")["data"][-1] == 3
        assert dataset(cumulative, "people")["label"] == "People (cumulative)"
        revenue = dataset(cumulative, "revenue")
        assert revenue["label"] == "Revenue, cumulative (EUR)"
        assert revenue["data"][0] == 15.25 and revenue["data"][-1] == 32.75
        assert cumulative["meta"]["measure"] == "cumulative"

    def test_a_goal_without_impact_has_no_revenue_series(
        self, logged_in: Client, workspace: Workspace
    ) -> None:
        goal = make_goal(workspace, currency="")
        achieve(goal, person(), START)
        body = chart(logged_in, "total", goal, **RANGE)
        assert [d["kind"] for d in body["datasets"]] == ["people"]
        assert body["meta"]["currency"] == "" and body["meta"]["revenue_title"] == ""

    def test_an_empty_range_says_so(self, logged_in: Client, goal: Goal) -> None:
        body = chart(logged_in, "total", goal, start="2026-01-01", end="2026-01-31")
        assert body["meta"]["empty"] is True
        assert body["meta"]["empty_message"] == "No achievements in this range"
        assert set(dataset(body, "people")["data"]) == {0}

    def test_the_default_range_is_the_pages(self, logged_in: Client, goal: Goal) -> None:
        body = chart(logged_in, "total", goal)
        day = today(goal.workspace)
        assert body["labels"][0] == (day - timedelta(days=29)).isoformat()
        assert body["labels"][-1] == day.isoformat()


class TestSourcesChart:
    def test_one_series_per_source_and_the_unattributed(
        self, logged_in: Client, goal: Goal
    ) -> None:
        body = chart(logged_in, "sources", goal, period="week", **RANGE)
        labels = [d["label"] for d in body["datasets"]]
        # The report's order: most people first, then by name.
        assert labels == ["March newsletter", "Onboarding", "Unattributed"]
        news, onboarding, unattributed = body["datasets"]
        assert onboarding["kind"] == "source" and unattributed["kind"] == "unattributed"
        assert onboarding["source"] == {
            "type": "campaign",
            "id": goal.sources.get(campaign__isnull=False).campaign_id,
            "deleted": False,
        }
        # Per-period people are distinct per period: ada counts in both weeks.
        assert onboarding["data"] == [1, 1, 0]
        assert news["data"] == [1, 0, 0]
        assert unattributed["data"] == [0, 0, 1]
        assert onboarding["revenue"] == [10.25, 10, 0]
        assert unattributed["revenue"] == [0, 0, 7.5]
        for d in body["datasets"]:
            assert all(type(v) is int for v in d["data"])
        assert body["meta"]["view"] == "sources" and body["meta"]["unattributed"] is True

    def test_the_unattributed_can_be_left_out(self, logged_in: Client, goal: Goal) -> None:
        body = chart(logged_in, "sources", goal, unattributed="0", **RANGE)
        assert [d["kind"] for d in body["datasets"]] == ["source", "source"]
        assert body["meta"]["unattributed"] is False
        shown = chart(logged_in, "sources", goal, unattributed="1", **RANGE)
        assert [d["kind"] for d in shown["datasets"]] == ["source", "source", "unattributed"]

    def test_a_deleted_source_is_drawn_and_marked(
        self, logged_in: Client, goal: Goal, campaign: Campaign
    ) -> None:
        campaign_services.source_soft_delete(source=campaign)
        body = chart(logged_in, "sources", goal, **RANGE)
        (deleted,) = [d for d in body["datasets"] if d.get("source", {}).get("deleted")]
        assert deleted["label"] == "Onboarding (deleted)"
        assert deleted["source"]["deleted"] is True
        assert sum(deleted["data"]) == 2

    def test_a_goal_without_impact_has_no_revenue_per_source(
        self, logged_in: Client, workspace: Workspace, campaign: Campaign
    ) -> None:
        goal = make_goal(workspace, currency="")
        add_source(goal, campaign)
        achieve(goal, person(), START, source=campaign)
        body = chart(logged_in, "sources", goal, **RANGE)
        assert all("revenue" not in d for d in body["datasets"])

    def test_no_sources_and_no_unattributed_is_an_empty_chart(
        self, logged_in: Client, workspace: Workspace
    ) -> None:
        goal = make_goal(workspace)
        achieve(goal, person(), START)
        body = chart(logged_in, "sources", goal, unattributed="0", **RANGE)
        assert body["datasets"] == []
        assert body["meta"]["empty"] is True
        assert body["meta"]["empty_message"] == "This goal has no sources yet"


class TestAccess:
    @pytest.mark.parametrize("name", ["total", "sources"])
    def test_another_workspaces_goal_is_not_found(
        self, client: Client, outsider: User, goal: Goal, name: str
    ) -> None:
        client.force_login(outsider)
        url = reverse(f"goals_ui:chart_{name}", args=[goal.pk])
        assert client.get(url, RANGE).status_code == 404

    @pytest.mark.parametrize("name", ["total", "sources"])
    def test_it_needs_a_login(self, client: Client, goal: Goal, name: str) -> None:
        response = client.get(reverse(f"goals_ui:chart_{name}", args=[goal.pk]))
        assert response.status_code == 302

    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ({"start": "2026-03-10", "end": "2026-03-01"}, "end"),
            ({"start": "soon"}, "start"),
            ({"period": "month"}, "period"),
        ],
    )
    def test_a_bad_query_is_a_400_naming_the_parameter(
        self, logged_in: Client, goal: Goal, query: dict[str, str], field: str
    ) -> None:
        response = logged_in.get(reverse("goals_ui:chart_total", args=[goal.pk]), query)
        assert response.status_code == 400
        assert list(response.json()["errors"]) == [field]

    def test_each_chart_costs_the_same_with_1_or_20_sources(
        self, logged_in: Client, workspace: Workspace
    ) -> None:
        campaigns = [
            Campaign.objects.create(workspace=workspace, name=f"Campaign {n}") for n in range(20)
        ]
        small, big = make_goal(workspace), make_goal(workspace)
        add_source(small, campaigns[0])
        for n, campaign in enumerate(campaigns):
            add_source(big, campaign)
            achieve(big, person(), START + timedelta(days=n % 14), source=campaign)
        achieve(small, person(), START, source=campaigns[0])
        chart(logged_in, "sources", small, **RANGE)  # warm the session's caches
        counts = set()
        for goal in (small, big):
            for name in ("total", "sources"):
                with CaptureQueriesContext(connection) as captured:
                    chart(logged_in, name, goal, start="2026-01-01", end="2026-03-31")
                counts.add(len(captured.captured_queries))
        assert len(counts) == 1, counts


def test_every_source_of_a_large_goal_gets_its_own_colour(
    logged_in: Client, workspace: Workspace
) -> None:
    goal = make_goal(workspace)
    for n in range(40):
        campaign = Campaign.objects.create(workspace=workspace, name=f"Campaign {n:02}")
        add_source(goal, campaign)
        achieve(goal, person(), date(2026, 3, 4), source=campaign)

    body = chart(logged_in, "sources", goal, unattributed="0", **RANGE)

    colours = {d["borderColor"] for d in body["datasets"]}
    assert len(body["datasets"]) == 40
    assert len(colours) == 40
