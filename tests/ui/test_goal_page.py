"""The goal page (SPEC §5) and its recompute status, over HTTP with the Django test client."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from html import unescape
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns import services as campaign_services
from campaigns.models import Broadcast, Campaign, Segment, Workspace
from goals import reports
from goals.models import Goal, GoalStatus
from goals.views.page import criteria_summary
from tests.goals.test_reports import achieve, add_source, make_goal, person

pytestmark = pytest.mark.django_db


def today(workspace: Workspace) -> date:
    return timezone.localdate(timezone=workspace.tz)


def page_url(goal: Goal, **query: Any) -> str:
    url = reverse("goals_ui:detail", args=[goal.pk])
    if query:
        url += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    return url


def text(response: Any) -> str:
    """The page's text with tags removed and whitespace collapsed."""
    html = response.content.decode()
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def element(response: Any, element_id: str) -> str:
    """The text inside the element with ``id``, whitespace collapsed."""
    html = response.content.decode()
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:p|td|span|div)>', html, flags=re.S)
    assert match, f"no #{element_id} on the page"
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", match.group(1)))).strip()


@pytest.fixture
def campaign(workspace: Workspace) -> Campaign:
    return Campaign.objects.create(workspace=workspace, name="Onboarding", status="running")


@pytest.fixture
def newsletter(workspace: Workspace) -> Broadcast:
    return Broadcast.objects.create(
        workspace=workspace, name="March newsletter", kind="newsletter", channels=["email"]
    )


@pytest.fixture
def goal(workspace: Workspace, campaign: Campaign, newsletter: Broadcast) -> Goal:
    """Upgrade (EUR): 3 people credited to the campaign, 1 to the newsletter, 2 unattributed,
    all within the last 30 days; one more achievement 40 days ago (outside the default range)."""
    goal = make_goal(workspace)
    add_source(goal, campaign)
    add_source(goal, newsletter)
    day = today(workspace)
    for offset in (1, 2, 3):
        achieve(goal, person(), day - timedelta(days=offset), revenue="10.50", source=campaign)
    achieve(goal, person(), day - timedelta(days=4), revenue="20", source=newsletter)
    achieve(goal, person(), day - timedelta(days=5), revenue="5")
    achieve(goal, person(), day - timedelta(days=6), missing=True)
    achieve(goal, person(), day - timedelta(days=40), revenue="100", source=campaign)
    return goal


# --- what the page shows --------------------------------------------------------------------------


class TestThePage:
    def test_the_owner_sees_the_goal_its_cards_sources_and_unattributed(
        self, client: Client, owner: User, goal: Goal
    ) -> None:
        Goal.objects.filter(pk=goal.pk).update(description="Paid plans started")
        goal.tags.set(["revenue", "Conversion"])
        client.force_login(owner)
        response = client.get(page_url(goal))
        assert response.status_code == 200
        page = text(response)
        assert "Upgrade" in page
        assert "Paid plans started" in page
        assert "Conversion" in page and "revenue" in page
        assert element(response, "total-people") == "6"
        assert element(response, "impact-revenue") == "56.50 EUR"
        assert "1 achievement had no usable revenue value" in page
        sources = element(response, "sources-table")
        assert "Onboarding" in page and "March newsletter" in page
        assert sources  # the table is there
        # Onboarding: 3 of 6 achievements, 31.50 EUR; the newsletter 1 of 6.
        assert re.search(r"Onboarding Campaign 3 3 31\.50 EUR 50\.0%", page)
        assert re.search(r"March newsletter Broadcast 1 1 20\.00 EUR 16\.7%", page)
        assert element(response, "unattributed-people") == "2"
        assert element(response, "unattributed-achievements") == "2"
        assert element(response, "unattributed-revenue") == "5.00 EUR"

    def test_its_numbers_are_the_reports(self, client: Client, owner: User, goal: Goal) -> None:
        client.force_login(owner)
        response = client.get(page_url(goal))
        start, end = reports.default_range(workspace=goal.workspace)
        assert response.context["report"] == reports.goal_report(goal=goal, start=start, end=end)

    @pytest.mark.parametrize(
        "query",
        [{}, {"view": "sources", "unattributed": "0", "period": "week"}, {"measure": "cumulative"}],
    )
    def test_it_embeds_the_chart_its_chart_view_answers(
        self, client: Client, owner: User, goal: Goal, query: dict[str, str]
    ) -> None:
        client.force_login(owner)
        response = client.get(page_url(goal, **query))
        state = response.context["page_state"]
        view = "chart_sources" if state["view"] == "sources" else "chart_total"
        chart = client.get(
            reverse(f"goals_ui:{view}", args=[goal.pk]),
            {key: state[key] for key in ("start", "end", "period", "measure", "unattributed")},
        )
        assert state["initialChart"] == chart.json()
        assert 'id="goal-page-state"' in response.content.decode()

    def test_an_owner_gets_the_edit_links(self, client: Client, owner: User, goal: Goal) -> None:
        client.force_login(owner)
        html = client.get(page_url(goal)).content.decode()
        for name in ("edit", "sources", "source_picker", "settings"):
            assert f'href="{reverse(f"goals_ui:{name}", args=[goal.pk])}"' in html
        assert "Edit goal" in html and "Add source" in html
        assert "Edit sources" in html and "Edit settings" in html

    def test_a_viewer_sees_everything_but_no_way_to_change_it(
        self, client: Client, viewer: User, goal: Goal
    ) -> None:
        client.force_login(viewer)
        response = client.get(page_url(goal))
        assert response.status_code == 200
        assert element(response, "total-people") == "6"
        html = response.content.decode()
        assert reverse("goals_ui:edit", args=[goal.pk]) not in html
        assert "Edit goal" not in html and "Add source" not in html
        assert "Edit sources" not in html and "Edit settings" not in html

    def test_a_viewer_gets_read_only_links_to_the_attribution_pages(
        self, client: Client, viewer: User, goal: Goal
    ) -> None:
        client.force_login(viewer)
        html = client.get(page_url(goal)).content.decode()
        links = {
            "view-sources": ("sources", "View sources"),
            "browse-sources": ("source_picker", "Browse campaigns and broadcasts"),
            "view-settings": ("settings", "View settings"),
        }
        for link_id, (name, label) in links.items():
            href = reverse(f"goals_ui:{name}", args=[goal.pk])
            assert re.search(rf'id="{link_id}" href="{href}">{label}</a>', html), link_id
            # Each leads to a page the viewer may read.
            assert client.get(href).status_code == 200

    def test_an_owner_gets_no_viewer_links(self, client: Client, owner: User, goal: Goal) -> None:
        client.force_login(owner)
        html = client.get(page_url(goal)).content.decode()
        assert "View sources" not in html and "View settings" not in html

    def test_a_viewers_write_is_refused(self, client: Client, viewer: User, goal: Goal) -> None:
        client.force_login(viewer)
        assert client.post(page_url(goal)).status_code == 403

    def test_a_deleted_source_stays_listed_marked_deleted(
        self, client: Client, owner: User, goal: Goal, campaign: Campaign
    ) -> None:
        campaign_services.source_soft_delete(source=campaign)
        client.force_login(owner)
        response = client.get(page_url(goal))
        html = response.content.decode()
        row = re.search(r'<tr class="source-row source-deleted">(.*?)</tr>', html, flags=re.S)
        assert row is not None
        assert "Onboarding" in row.group(1) and "deleted" in row.group(1)
        # Its achievements stay credited to it, not moved to the unattributed.
        assert re.search(r"Onboarding deleted Campaign 3 3 31\.50 EUR", text(response))
        assert element(response, "unattributed-people") == "2"

    def test_a_goal_without_impact_has_no_impact_card_nor_revenue(
        self, client: Client, owner: User, workspace: Workspace
    ) -> None:
        goal = make_goal(workspace, currency="")
        achieve(goal, person(), today(workspace))
        client.force_login(owner)
        response = client.get(page_url(goal))
        html = response.content.decode()
        assert 'id="card-total"' in html
        assert 'id="card-impact"' not in html
        assert "Revenue" not in text(response)
        assert "None: the goal counts people only" in text(response)

    def test_the_revenue_missing_note_is_only_shown_when_some_are_missing(
        self, client: Client, owner: User, workspace: Workspace
    ) -> None:
        goal = make_goal(workspace)
        achieve(goal, person(), today(workspace), revenue="3")
        client.force_login(owner)
        response = client.get(page_url(goal))
        assert 'id="card-impact"' in response.content.decode()
        assert 'id="revenue-missing"' not in response.content.decode()

    def test_the_export_links_give_the_same_numbers_as_csv_with_the_session(
        self, client: Client, viewer: User, goal: Goal
    ) -> None:
        client.force_login(viewer)
        day = today(goal.workspace)
        start = day - timedelta(days=9)
        response = client.get(page_url(goal, start=start, end=day, period="week"))
        csv_url = response.context["csv_url"]
        assert f"start={start}" in csv_url and f"end={day}" in csv_url
        assert "period=week" in csv_url and "format=csv" in csv_url
        assert f'href="{csv_url.replace("&", "&amp;")}"' in response.content.decode()
        export = client.get(csv_url)
        assert export.status_code == 200
        assert export["Content-Type"].startswith("text/csv")
        report = reports.goal_report(goal=goal, start=start, end=day, period="week")
        assert export.content.decode() == reports.report_csv(report)
        assert client.get(response.context["json_url"]).json()["total_people"] == 6

    def test_an_unknown_goal_and_another_workspaces_goal_are_not_found(
        self, client: Client, owner: User, outsider: User, goal: Goal
    ) -> None:
        client.force_login(outsider)
        assert client.get(page_url(goal)).status_code == 404
        client.force_login(owner)
        assert client.get(reverse("goals_ui:detail", args=[goal.pk + 1000])).status_code == 404

    def test_it_needs_a_login(self, client: Client, goal: Goal) -> None:
        response = client.get(page_url(goal))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


# --- criteria and settings summaries --------------------------------------------------------------


class TestSummaries:
    def test_an_event_trigger_with_conditions_and_a_segment_filter(
        self, client: Client, owner: User, workspace: Workspace
    ) -> None:
        vip = Segment.objects.create(workspace=workspace, name="VIP")
        goal = make_goal(workspace)
        Goal.objects.filter(pk=goal.pk).update(
            criteria={
                "trigger": {
                    "type": "event",
                    "name": "trial_converted",
                    "conditions": [{"key": "plan", "op": "eq", "value": "pro"}],
                },
                "filters": [{"type": "segment", "segment": vip.pk, "in": True}],
            }
        )
        client.force_login(owner)
        response = client.get(page_url(goal))
        assert (
            str(response.context["criteria"])
            == 'Event "trial_converted" where plan = "pro"; filter: in segment "VIP"'
        )
        page = text(response)
        assert 'Event "trial_converted" where plan = "pro"' in page
        assert 'filter: in segment "VIP"' in page

    @pytest.mark.parametrize(
        ("trigger", "filters", "expected"),
        [
            (
                {"type": "attribute", "key": "plan.tier", "op": "gte", "value": 3},
                [],
                "Attribute plan.tier ≥ 3 starts to hold",
            ),
            (
                {"type": "segment", "segment": "SEGMENT"},
                [{"type": "attribute", "key": "country", "op": "exists"}],
                'Enters segment "Paying"; filter: attribute country is set',
            ),
            (
                {"type": "message", "metric": "clicked", "channel": "email", "campaign": "CAMP"},
                [
                    {"type": "segment", "segment": "SEGMENT", "in": False},
                    {"type": "attribute", "key": "vip", "op": "neq", "value": True},
                ],
                'A message reaches clicked on Email from campaign "Welcome" (deleted); '
                'filters: not in segment "Paying" and attribute vip ≠ true',
            ),
            (
                {"type": "message", "metric": "opened", "broadcast": "NEWS"},
                [],
                'A message reaches opened from broadcast "Weekly"',
            ),
            (
                {
                    "type": "event",
                    "name": "purchase",
                    "conditions": [
                        {"key": "total", "op": "gt", "value": "100"},
                        {"key": "coupon", "op": "not_exists"},
                    ],
                },
                [],
                'Event "purchase" where total > "100" and coupon is not set',
            ),
        ],
    )
    def test_every_trigger_kind_reads_as_a_sentence(
        self,
        workspace: Workspace,
        other_workspace: Workspace,
        trigger: dict[str, Any],
        filters: list[dict[str, Any]],
        expected: str,
    ) -> None:
        from goals.selectors import criteria_reference_names

        segment = Segment.objects.create(workspace=workspace, name="Paying")
        welcome = Campaign.objects.create(workspace=workspace, name="Welcome")
        campaign_services.source_soft_delete(source=welcome)
        weekly = Broadcast.objects.create(workspace=workspace, name="Weekly")
        ids = {"SEGMENT": segment.pk, "CAMP": welcome.pk, "NEWS": weekly.pk}

        def resolve(part: dict[str, Any]) -> dict[str, Any]:
            return {
                key: ids.get(value, value) if isinstance(value, str) else value
                for key, value in part.items()
            }

        goal = make_goal(workspace)
        goal.criteria = {"trigger": resolve(trigger), "filters": [resolve(f) for f in filters]}
        names = criteria_reference_names(goal=goal)
        assert str(criteria_summary(goal, names)) == expected

    def test_names_of_another_workspace_are_never_read(
        self, workspace: Workspace, other_workspace: Workspace
    ) -> None:
        from goals.selectors import criteria_reference_names

        foreign = Segment.objects.create(workspace=other_workspace, name="Secret")
        goal = make_goal(workspace)
        goal.criteria = {"trigger": {"type": "segment", "segment": foreign.pk}, "filters": []}
        summary = str(criteria_summary(goal, criteria_reference_names(goal=goal)))
        assert "Secret" not in summary
        assert summary == f"Enters segment segment #{foreign.pk}"

    def test_the_attribution_settings_and_impact_are_summarised(
        self, client: Client, owner: User, workspace: Workspace
    ) -> None:
        goal = make_goal(workspace)
        Goal.objects.filter(pk=goal.pk).update(
            window_days=30,
            count_machine=False,
            metrics={"email": "opened", "sms": "clicked"},
            impact_static="25",
        )
        client.force_login(owner)
        response = client.get(page_url(goal))
        assert element(response, "settings-window") == "30 days"
        assert element(response, "settings-machine") == "not counted"
        assert response.context["metric_rows"] == [
            ("Email", "Opened"),
            ("Push", "Delivered"),
            ("WhatsApp", "Delivered"),
            ("SMS", "Clicked"),
            ("In-app", "Sent"),
            ("Webhook", "Sent"),
            ("Slack", "Sent"),
        ]
        assert element(response, "impact-summary") == "25.00 EUR per achievement"

    def test_an_impact_read_from_an_event_key_is_named(
        self, client: Client, owner: User, workspace: Workspace
    ) -> None:
        goal = make_goal(workspace, currency="JPY")
        Goal.objects.filter(pk=goal.pk).update(impact_event_key="price")
        client.force_login(owner)
        response = client.get(page_url(goal))
        assert element(response, "impact-summary") == 'The event\'s "price" value, in JPY'


# --- the date range -----------------------------------------------------------------------------


class TestTheRange:
    def test_the_default_is_the_last_30_days_in_the_workspaces_zone(
        self, client: Client, owner: User, goal: Goal
    ) -> None:
        client.force_login(owner)
        response = client.get(page_url(goal))
        day = today(goal.workspace)
        query = response.context["query"]
        assert (query.start, query.end, query.period) == (day - timedelta(days=29), day, "day")
        presets = {p["days"]: p for p in response.context["presets"]}
        assert presets[30]["active"] and not presets[7]["active"]
        assert element(response, "total-people") == "6"  # the one 40 days ago is outside

    def test_a_custom_range_from_the_url(self, client: Client, owner: User, goal: Goal) -> None:
        client.force_login(owner)
        day = today(goal.workspace)
        start, end = day - timedelta(days=45), day - timedelta(days=3)
        response = client.get(page_url(goal, start=start, end=end))
        query = response.context["query"]
        assert (query.start, query.end) == (start, end)
        # Days 3..6 ago and the one 40 days ago; not the three of the last two days.
        assert element(response, "total-people") == "5"
        assert response.context["report"].start == start
        html = response.content.decode()
        assert f'value="{start}"' in html and f'value="{end}"' in html
        assert not any(p["active"] for p in response.context["presets"])

    @pytest.mark.parametrize(("days", "people"), [(7, 6), (30, 6), (90, 7)])
    def test_the_presets_end_today(
        self, client: Client, owner: User, goal: Goal, days: int, people: int
    ) -> None:
        client.force_login(owner)
        first = client.get(page_url(goal, view="sources", chart="line"))
        preset = next(p for p in first.context["presets"] if p["days"] == days)
        day = today(goal.workspace)
        assert f"start={day - timedelta(days=days - 1)}" in preset["url"]
        assert f"end={day}" in preset["url"]
        # The view options travel with the preset, so the chart stays as it was.
        assert "view=sources" in preset["url"] and "chart=line" in preset["url"]
        response = client.get(page_url(goal) + preset["url"])
        assert response.context["query"].start == day - timedelta(days=days - 1)
        assert element(response, "total-people") == str(people)
        active = [p["days"] for p in response.context["presets"] if p["active"]]
        assert active == [days]

    def test_a_start_alone_runs_to_today(self, client: Client, owner: User, goal: Goal) -> None:
        client.force_login(owner)
        day = today(goal.workspace)
        response = client.get(page_url(goal, start=day - timedelta(days=2)))
        assert response.context["query"].end == day

    def test_the_weekly_period_and_view_options_come_from_the_url(
        self, client: Client, owner: User, goal: Goal
    ) -> None:
        client.force_login(owner)
        response = client.get(
            page_url(goal, period="week", view="sources", measure="cumulative", chart="line")
        )
        assert response.context["report"].period == "week"
        state = response.context["page_state"]
        assert state["period"] == "week"
        assert (state["view"], state["measure"], state["chart"]) == (
            "sources",
            "cumulative",
            "line",
        )
        assert state["unattributed"] == "1"
        assert 'data-value="sources" aria-pressed="true"' in response.content.decode()

    def test_unknown_view_options_fall_back_to_the_defaults(
        self, client: Client, owner: User, goal: Goal
    ) -> None:
        client.force_login(owner)
        response = client.get(page_url(goal, view="pie", chart="donut", unattributed="maybe"))
        assert response.status_code == 200
        state = response.context["page_state"]
        assert (state["view"], state["chart"], state["unattributed"]) == ("total", "bar", "1")

    @pytest.mark.parametrize(
        ("query", "field", "message"),
        [
            ({"start": "2026-03-10", "end": "2026-03-01"}, "end", "must be on or after start"),
            ({"start": "2026-02-30"}, "start", "Enter a valid date."),
            ({"end": "yesterday"}, "end", "Enter a valid date."),
            ({"start": "2020-01-01", "end": "2026-01-01"}, "end", "at most"),
            ({"period": "month"}, "period", "Select a valid choice."),
        ],
    )
    def test_a_bad_range_is_a_visible_form_error_not_a_500(
        self,
        client: Client,
        owner: User,
        goal: Goal,
        query: dict[str, str],
        field: str,
        message: str,
    ) -> None:
        client.force_login(owner)
        response = client.get(page_url(goal, **query))
        assert response.status_code == 200
        form = response.context["form"]
        assert message in " ".join(form.errors[field])
        html = response.content.decode()
        assert 'class="errornote"' in html
        assert f'id="id_{field}_error"' in html or "range-period-errors" in html
        assert message in unescape(html)
        # Meanwhile the page shows the default range.
        day = today(goal.workspace)
        assert response.context["query"].start == day - timedelta(days=29)
        assert element(response, "total-people") == "6"

    def test_a_range_before_the_tracking_start_says_nothing_is_counted_there(
        self, client: Client, owner: User, goal: Goal
    ) -> None:
        client.force_login(owner)
        response = client.get(page_url(goal, start="2025-10-01", end="2025-11-30"))
        assert "Goals count nothing before" in text(response)


# --- recomputing ----------------------------------------------------------------------------------


class TestRecomputing:
    def test_a_recomputing_goal_shows_the_banner_and_the_previous_numbers(
        self, client: Client, owner: User, goal: Goal
    ) -> None:
        Goal.objects.filter(pk=goal.pk).update(status=GoalStatus.RECOMPUTING)
        client.force_login(owner)
        response = client.get(page_url(goal))
        page = text(response)
        assert "Recomputing… the numbers shown are the previous complete result" in page
        assert element(response, "total-people") == "6"
        assert response.context["page_state"]["status"] == "recomputing"

    def test_a_first_computation_says_the_numbers_are_not_ready_not_that_they_are_previous(
        self, client: Client, owner: User, workspace: Workspace
    ) -> None:
        """With a worker, a new goal's page opens before its first result exists: its zeros
        are no "previous complete result", and a marketer must not read them as one."""
        goal = Goal.objects.create(
            workspace=workspace, name="New", status=GoalStatus.RECOMPUTING, requested_version=1
        )
        client.force_login(owner)
        response = client.get(page_url(goal))
        page = text(response)
        assert "previous complete result" not in page
        assert "Computing… this goal's first result is not ready yet" in page
        assert "This page updates itself when it is." in page
        assert response.context["page_state"]["status"] == "recomputing"

    def test_a_ready_goal_has_no_banner(self, client: Client, owner: User, goal: Goal) -> None:
        client.force_login(owner)
        assert "Recomputing" not in text(client.get(page_url(goal)))

    def test_the_status_is_json(self, client: Client, viewer: User, goal: Goal) -> None:
        computed = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
        Goal.objects.filter(pk=goal.pk).update(
            status=GoalStatus.RECOMPUTING, computed_at=computed, current_version=4
        )
        client.force_login(viewer)
        response = client.get(reverse("goals_ui:status", args=[goal.pk]))
        assert response.status_code == 200
        assert response["Cache-Control"] == "no-store"
        assert response.json() == {
            "status": "recomputing",
            "computed_at": "2026-03-01T12:30:00+00:00",
            "current_version": 4,
        }

    def test_the_status_of_a_goal_never_computed(
        self, client: Client, owner: User, workspace: Workspace
    ) -> None:
        goal = Goal.objects.create(workspace=workspace, name="New")
        client.force_login(owner)
        body = client.get(reverse("goals_ui:status", args=[goal.pk])).json()
        assert body == {"status": "ready", "computed_at": None, "current_version": 0}

    def test_another_workspaces_status_is_not_found_and_a_login_is_needed(
        self, client: Client, outsider: User, goal: Goal
    ) -> None:
        url = reverse("goals_ui:status", args=[goal.pk])
        assert client.get(url).status_code == 302
        client.force_login(outsider)
        assert client.get(url).status_code == 404


# --- cost -----------------------------------------------------------------------------------------


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


class TestQueryCount:
    def test_the_page_costs_the_same_with_1_or_20_sources_and_any_range(
        self, client: Client, owner: User, workspace: Workspace
    ) -> None:
        day = today(workspace)
        small, big = make_goal(workspace), make_goal(workspace)
        campaigns = [
            Campaign.objects.create(workspace=workspace, name=f"Campaign {n}") for n in range(20)
        ]
        add_source(small, campaigns[0])
        for campaign in campaigns:
            add_source(big, campaign)
        for n, campaign in enumerate(campaigns):
            achieve(small, person(), day - timedelta(days=n), revenue="1", source=campaigns[0])
            achieve(big, person(), day - timedelta(days=n * 4), revenue="1", source=campaign)
        achieve(big, person(), day, revenue="1")
        big.tags.set(["a", "b", "c"])
        client.force_login(owner)
        _queries(client, page_url(small))  # warm caches (content types, the session)

        short = {"start": day - timedelta(days=2), "end": day}
        long = {"start": day - timedelta(days=89), "end": day, "period": "week"}
        counts = {
            (goal.pk, label): _queries(client, page_url(goal, **query))
            for goal in (small, big)
            for label, query in (("short", short), ("long", long))
        }
        assert len(set(counts.values())) == 1, counts
        assert next(iter(counts.values())) <= 15, counts

    def test_the_report_is_read_once_per_page(
        self, client: Client, owner: User, goal: Goal, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        calls: list[Any] = []
        original = reports.goal_report

        def counting(**kwargs: Any) -> reports.GoalReport:
            calls.append(kwargs)
            return original(**kwargs)

        monkeypatch.setattr(reports, "goal_report", counting)
        client.force_login(owner)
        assert client.get(page_url(goal)).status_code == 200
        assert len(calls) == 1

    def test_a_goal_read_from_its_rollup_costs_the_same_with_1_or_20_sources(
        self, client: Client, owner: User, workspace: Workspace
    ) -> None:
        from campaigns.ingestion import ingest
        from tests.goals import helpers

        now = timezone.now()
        ingest(
            workspace=workspace,
            items=[
                {
                    "type": "event",
                    "person": f"p{n}",
                    "name": "plan_activated",
                    "timestamp": (now - timedelta(days=n * 3, hours=1)).isoformat(),
                    "data": {},
                }
                for n in range(20)
            ],
        )
        campaigns: list[Campaign | Broadcast] = [
            Campaign.objects.create(workspace=workspace, name=f"Campaign {n}") for n in range(20)
        ]
        small = helpers.make_goal(workspace, sources=campaigns[:1], impact_currency="EUR")
        big = helpers.make_goal(workspace, sources=campaigns, impact_currency="EUR")
        assert small.rollup_version == small.current_version > 0
        client.force_login(owner)
        _queries(client, page_url(small))  # warm caches
        day = today(workspace)
        counts = {
            (goal.pk, days): _queries(
                client, page_url(goal, start=day - timedelta(days=days - 1), end=day)
            )
            for goal in (small, big)
            for days in (3, 90)
        }
        assert len(set(counts.values())) == 1, counts
        response = client.get(page_url(big, start=day - timedelta(days=89), end=day))
        assert element(response, "total-people") == "20"
