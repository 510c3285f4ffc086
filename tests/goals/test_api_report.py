"""``GET /api/v1/goals/{id}/report`` (SPEC §7): JSON, CSV, workspace scoping, bad input."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from campaigns import services
from campaigns.models import Broadcast, Campaign, Role, Workspace
from goals import engine, reports
from goals import services as goal_services
from goals.engine import recomputes
from goals.models import Goal, GoalStatus
from goals.report_api import GoalReportSerializer, report_body
from goals.reports import MAX_RANGE_DAYS
from tests.goals import helpers
from tests.goals.test_engine import event
from tests.goals.test_reports import achieve, add_source, d, make_goal, person

RANGE = {"start": "2026-03-02", "end": "2026-03-04"}


def url(goal: Goal) -> str:
    return f"/api/v1/goals/{goal.pk}/report"


@pytest.fixture
def goal(workspace: Workspace) -> Goal:
    """Onboarding (campaign, 2 people), March newsletter (deleted broadcast, 1 person),
    an idle campaign, and 1 unattributed person; one value was missing."""
    goal = make_goal(workspace)
    onboarding = Campaign.objects.create(workspace=workspace, name="Onboarding")
    newsletter = Broadcast.objects.create(workspace=workspace, name="March newsletter")
    idle = Campaign.objects.create(workspace=workspace, name="Idle")
    for source in (onboarding, newsletter, idle):
        add_source(goal, source)
    ana, ben, cem = person(), person(), person()
    achieve(goal, ana, d("2026-03-02"), revenue="0.10", source=onboarding)
    achieve(goal, ana, d("2026-03-03"), revenue="0.20", source=onboarding)
    achieve(goal, ben, d("2026-03-03"), revenue="19.99", source=onboarding)
    achieve(goal, cem, d("2026-03-04"), revenue="5", source=newsletter)
    achieve(goal, person(), d("2026-03-04"), revenue="0", missing=True)
    achieve(goal, person(), d("2026-03-05"), revenue="100")  # after the range
    services.source_soft_delete(source=newsletter)
    return goal


class TestJson:
    def test_it_returns_the_report_in_the_documented_shape(
        self, api: APIClient, goal: Goal
    ) -> None:
        response = api.get(url(goal), RANGE)

        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        body = response.json()
        onboarding, newsletter, idle = (
            goal.sources.get(campaign__name="Onboarding"),
            goal.sources.get(broadcast__name="March newsletter"),
            goal.sources.get(campaign__name="Idle"),
        )
        assert body == {
            "start": "2026-03-02",
            "end": "2026-03-04",
            "period": "day",
            "total_people": 4,
            "achievements": 5,
            "impact": {"amount": "25.29", "currency": "EUR"},
            "revenue_missing_achievements": 1,
            "progress": [
                {
                    "period_start": "2026-03-02",
                    "people": 1,
                    "cumulative_people": 1,
                    "achievements": 1,
                    "revenue": "0.10",
                },
                {
                    "period_start": "2026-03-03",
                    "people": 1,
                    "cumulative_people": 2,
                    "achievements": 2,
                    "revenue": "20.19",
                },
                {
                    "period_start": "2026-03-04",
                    "people": 2,
                    "cumulative_people": 4,
                    "achievements": 2,
                    "revenue": "5.00",
                },
            ],
            "by_source": [
                {
                    "source": {
                        "type": "campaign",
                        "id": onboarding.campaign_id,
                        "name": "Onboarding",
                        "deleted": False,
                    },
                    "people": 2,
                    "achievements": 3,
                    "revenue": "20.29",
                    "progress": [
                        {"period_start": "2026-03-02", "people": 1, "revenue": "0.10"},
                        {"period_start": "2026-03-03", "people": 2, "revenue": "20.19"},
                        {"period_start": "2026-03-04", "people": 0, "revenue": "0.00"},
                    ],
                },
                {
                    "source": {
                        "type": "broadcast",
                        "id": newsletter.broadcast_id,
                        "name": "March newsletter",
                        "deleted": True,
                    },
                    "people": 1,
                    "achievements": 1,
                    "revenue": "5.00",
                    "progress": [
                        {"period_start": "2026-03-02", "people": 0, "revenue": "0.00"},
                        {"period_start": "2026-03-03", "people": 0, "revenue": "0.00"},
                        {"period_start": "2026-03-04", "people": 1, "revenue": "5.00"},
                    ],
                },
                {
                    "source": {
                        "type": "campaign",
                        "id": idle.campaign_id,
                        "name": "Idle",
                        "deleted": False,
                    },
                    "people": 0,
                    "achievements": 0,
                    "revenue": "0.00",
                    "progress": [
                        {"period_start": "2026-03-02", "people": 0, "revenue": "0.00"},
                        {"period_start": "2026-03-03", "people": 0, "revenue": "0.00"},
                        {"period_start": "2026-03-04", "people": 0, "revenue": "0.00"},
                    ],
                },
            ],
            "unattributed": {
                "people": 1,
                "achievements": 1,
                "revenue": "0.00",
                "progress": [
                    {"period_start": "2026-03-02", "people": 0, "revenue": "0.00"},
                    {"period_start": "2026-03-03", "people": 0, "revenue": "0.00"},
                    {"period_start": "2026-03-04", "people": 1, "revenue": "0.00"},
                ],
            },
        }

    def test_impact_is_null_for_a_goal_without_impact(
        self, api: APIClient, workspace: Workspace
    ) -> None:
        goal = make_goal(workspace, currency="")
        achieve(goal, person(), d("2026-03-02"))

        body = api.get(url(goal), RANGE).json()

        assert body["impact"] is None
        assert body["total_people"] == 1

    def test_it_reports_weeks(self, api: APIClient, goal: Goal) -> None:
        response = api.get(
            url(goal), {"start": "2026-03-01", "end": "2026-03-08", "period": "week"}
        )

        assert response.status_code == 200
        body = response.json()
        assert [p["period_start"] for p in body["progress"]] == ["2026-02-23", "2026-03-02"]
        assert [p["people"] for p in body["progress"]] == [0, 5]
        assert body["by_source"][0]["progress"][1] == {
            "period_start": "2026-03-02",
            "people": 2,
            "revenue": "20.29",
        }

    @pytest.mark.parametrize("from_rollup", [False, True])
    def test_a_removed_source_keeps_its_credits_until_the_recompute_replaces_the_result(
        self, api: APIClient, goal: Goal, from_rollup: bool
    ) -> None:
        """SPEC §6: readers keep seeing the last complete result until the new one is
        complete. Removing Onboarding asks for a recompute; until it is done the result still
        credits Onboarding, so the report lists it: its 2 people were in neither `by_source`
        nor `unattributed`, and the sources and the unattributed no longer added up."""
        if from_rollup:
            engine.build_rollup(goal.pk, goal.current_version)
            Goal.objects.filter(pk=goal.pk).update(rollup_version=goal.current_version)
        onboarding = Campaign.objects.get(name="Onboarding")
        goal_services.source_remove(goal=goal, source=onboarding)
        goal.refresh_from_db()
        assert goal.status == GoalStatus.RECOMPUTING  # its task runs after the commit

        body = api.get(url(goal), RANGE).json()

        assert body["total_people"] == 4
        assert [
            (s["source"]["name"], s["people"], s["achievements"], s["revenue"])
            for s in body["by_source"]
        ] == [
            ("Onboarding", 2, 3, "20.29"),
            ("March newsletter", 1, 1, "5.00"),
            ("Idle", 0, 0, "0.00"),
        ]
        assert body["by_source"][0]["progress"][1] == {
            "period_start": "2026-03-03",
            "people": 2,
            "revenue": "20.19",
        }
        csv_text = api.get(url(goal), {**RANGE, "format": "csv"}).content.decode()
        assert f",source,campaign,{onboarding.pk},Onboarding,false,2,,3,20.29,EUR," in csv_text

    @pytest.mark.django_db(transaction=True)
    def test_a_new_currency_waits_for_the_result_it_applies_to(
        self, api: APIClient, workspace: Workspace
    ) -> None:
        """SPEC §6: readers keep the last complete result until the new one is complete, and
        that result's revenue is in the currency it was computed in. A change to yen (or no
        impact) relabelled the euros of the previous result as yen (or hid its revenue) for
        as long as the recompute ran."""
        goal = helpers.make_goal(workspace, impact_currency="EUR", impact_static=Decimal("10"))
        helpers.ingest(api, event("ada", "plan_activated", "2026-03-02T10:00:00Z"))
        summary_url = "/api/v1/goals/summary"
        euros = {"amount": "10.00", "currency": "EUR"}
        assert api.get(url(goal), RANGE).json()["impact"] == euros
        assert recomputes._claim(goal.pk)  # a worker is building this goal's result...

        for impact in ({"currency": "JPY", "static": "5"}, None):
            patched = api.patch(f"/api/v1/goals/{goal.pk}", {"impact": impact}, format="json")
            assert patched.status_code == 200, patched.content
            assert patched.json()["status"] == "recomputing"

            body = api.get(url(goal), RANGE).json()
            assert body["impact"] == euros
            assert [p["revenue"] for p in body["progress"]] == ["10.00", "0.00", "0.00"]
            csv_text = api.get(url(goal), {**RANGE, "format": "csv"}).content.decode()
            assert "\r\n,total,,,,,1,1,1,10.00,EUR,0\r\n" in csv_text
            assert api.get(summary_url, RANGE).json()["results"][0]["impact"] == euros
            listed = api.get(f"/api/v1/goals/{goal.pk}/achievements").json()["results"]
            assert [a["revenue"] for a in listed] == ["10.00"]  # written as euros are

        recomputes._release(goal.pk)  # ...and the new result replaces the previous one
        assert engine.recompute(goal_id=goal.pk)
        assert api.get(url(goal), RANGE).json()["impact"] is None
        assert api.get(summary_url, RANGE).json()["results"][0]["impact"] is None

    def test_the_default_range_is_the_last_30_days_in_the_workspace_zone(
        self, api: APIClient, workspace: Workspace
    ) -> None:
        goal = make_goal(workspace)
        today = timezone.localdate(timezone=workspace.tz)
        achieve(goal, person(), today - timedelta(days=29))
        achieve(goal, person(), today - timedelta(days=30))

        body = api.get(url(goal)).json()

        assert (body["start"], body["end"]) == (
            (today - timedelta(days=29)).isoformat(),
            today.isoformat(),
        )
        assert len(body["progress"]) == 30
        assert body["total_people"] == 1

    def test_a_start_alone_runs_to_today(self, api: APIClient, workspace: Workspace) -> None:
        goal = make_goal(workspace)
        today = timezone.localdate(timezone=workspace.tz)

        body = api.get(url(goal), {"start": (today - timedelta(days=2)).isoformat()}).json()

        assert body["end"] == today.isoformat()
        assert len(body["progress"]) == 3

    def test_it_answers_with_and_without_a_trailing_slash(self, api: APIClient, goal: Goal) -> None:
        assert api.get(url(goal) + "/", RANGE).json()["total_people"] == 4

    def test_a_viewer_may_read_it(self, viewer_api: APIClient, goal: Goal) -> None:
        response = viewer_api.get(url(goal), RANGE)

        assert response.status_code == 200
        assert response.json()["total_people"] == 4

    def test_a_member_may_read_it_with_a_session(
        self, client: Client, viewer: Any, goal: Goal
    ) -> None:
        client.force_login(viewer)

        response = client.get(url(goal), RANGE, HTTP_ACCEPT="application/json")

        assert response.status_code == 200
        assert response.json()["total_people"] == 4


class TestCsv:
    def _rows(self, content: bytes) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(content.decode("utf-8"))))

    @pytest.mark.parametrize("how", ["accept", "format"])
    def test_it_exports_the_same_numbers_as_csv(self, api: APIClient, goal: Goal, how: str) -> None:
        body = api.get(url(goal), RANGE).json()

        if how == "accept":
            response = api.get(url(goal), RANGE, HTTP_ACCEPT="text/csv")
        else:
            response = api.get(url(goal), {**RANGE, "format": "csv"})

        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"] == (
            f'attachment; filename="goal-{goal.pk}-report-2026-03-02-2026-03-04-day.csv"'
        )
        rows = self._rows(response.content)
        assert list(rows[0]) == [
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
        # 3 days x (total, 3 sources, unattributed), then the range's summary of each series.
        assert len(rows) == 3 * (1 + 3 + 1) + (1 + 3 + 1)
        assert [r["period_start"] for r in rows[-5:]] == [""] * 5
        rows = rows[:-5]
        totals = [r for r in rows if r["series"] == "total"]
        assert [
            {
                "period_start": r["period_start"],
                "people": int(r["people"]),
                "cumulative_people": int(r["cumulative_people"]),
                "achievements": int(r["achievements"]),
                "revenue": r["revenue"],
            }
            for r in totals
        ] == body["progress"]
        for series in body["by_source"]:
            source = series["source"]
            mine = [
                r
                for r in rows
                if r["series"] == "source"
                and (r["source_type"], r["source_id"]) == (source["type"], str(source["id"]))
            ]
            assert {r["source_name"] for r in mine} == {source["name"]}
            assert {r["deleted"] for r in mine} == {"true" if source["deleted"] else "false"}
            assert [
                {
                    "period_start": r["period_start"],
                    "people": int(r["people"]),
                    "revenue": r["revenue"],
                }
                for r in mine
            ] == series["progress"]
            assert sum(int(r["achievements"]) for r in mine) == series["achievements"]
        unattributed = [r for r in rows if r["series"] == "unattributed"]
        assert [
            {"period_start": r["period_start"], "people": int(r["people"]), "revenue": r["revenue"]}
            for r in unattributed
        ] == body["unattributed"]["progress"]
        assert {r["currency"] for r in rows} == {"EUR"}
        assert {r["revenue_missing_achievements"] for r in rows} == {""}

    def test_its_summary_rows_hold_the_ranges_totals_the_periods_cannot_add_up_to(
        self, api: APIClient, goal: Goal
    ) -> None:
        body = api.get(url(goal), RANGE).json()

        rows = self._rows(api.get(url(goal), {**RANGE, "format": "csv"}).content)

        summary = [r for r in rows if r["period_start"] == ""]
        numbers = ["people", "cumulative_people", "achievements", "revenue"]
        assert [
            (r["series"], r["source_name"], *(r[n] for n in numbers), r["currency"])
            for r in summary
        ] == [
            ("total", "", "4", "4", "5", "25.29", "EUR"),
            ("source", "Onboarding", "2", "", "3", "20.29", "EUR"),
            ("source", "March newsletter", "1", "", "1", "5.00", "EUR"),
            ("source", "Idle", "0", "", "0", "0.00", "EUR"),
            ("unattributed", "", "1", "", "1", "0.00", "EUR"),
        ]
        assert [r["revenue_missing_achievements"] for r in summary] == ["1", "", "", "", ""]
        # Everything the JSON has besides its periods.
        total = summary[0]
        assert (int(total["people"]), int(total["achievements"])) == (
            body["total_people"],
            body["achievements"],
        )
        assert (total["revenue"], total["currency"]) == (
            body["impact"]["amount"],
            body["impact"]["currency"],
        )
        assert int(total["revenue_missing_achievements"]) == body["revenue_missing_achievements"]
        for row, series in zip(
            summary[1:], [*body["by_source"], body["unattributed"]], strict=True
        ):
            source = series.get("source")
            if source:
                assert (row["source_type"], row["source_id"], row["deleted"]) == (
                    source["type"],
                    str(source["id"]),
                    "true" if source["deleted"] else "false",
                )
            assert (int(row["people"]), int(row["achievements"]), row["revenue"]) == (
                series["people"],
                series["achievements"],
                series["revenue"],
            )
        # Onboarding's people per day (1, 2, 0) add up to 3; the range has 2 unique people.
        onboarding = [r for r in rows if r["source_name"] == "Onboarding" and r["period_start"]]
        assert sum(int(r["people"]) for r in onboarding) == 3

    @pytest.mark.parametrize("accept", ["application/json", "text/html", "application/xml"])
    def test_format_csv_wins_over_the_accept_header(
        self, api: APIClient, goal: Goal, accept: str
    ) -> None:
        # Clients that always send Accept: application/json still get the CSV they name.
        response = api.get(url(goal), {**RANGE, "format": "csv"}, HTTP_ACCEPT=accept)

        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response.content.startswith(b"period_start,series,")

    def test_format_json_wins_over_accept_text_csv(self, api: APIClient, goal: Goal) -> None:
        response = api.get(url(goal), {**RANGE, "format": "json"}, HTTP_ACCEPT="text/csv")

        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        assert response.json() == api.get(url(goal), RANGE).json()

    @pytest.mark.parametrize(
        ("accept", "content_type"),
        [
            # The client's preference (q, then its own order) decides, not the server's list
            # of renderers: DRF alone answered JSON to each of the first three.
            ("text/csv;q=0.9, application/json;q=0.1", "text/csv; charset=utf-8"),
            ("text/csv, application/json", "text/csv; charset=utf-8"),
            ("application/json;q=0, text/csv;q=0.2", "text/csv; charset=utf-8"),
            ("application/json, text/csv", "application/json"),
            ("text/csv;q=0.5, application/json", "application/json"),
            ("text/csv;q=0.5, */*", "application/json"),
            ("text/csv, */*;q=0.8", "text/csv; charset=utf-8"),
        ],
    )
    def test_the_accept_headers_preferences_choose_between_json_and_csv(
        self, api: APIClient, goal: Goal, accept: str, content_type: str
    ) -> None:
        response = api.get(url(goal), RANGE, HTTP_ACCEPT=accept)

        assert response.status_code == 200
        assert response["Content-Type"] == content_type

    def test_an_accept_header_refusing_both_formats_is_a_406(
        self, api: APIClient, goal: Goal
    ) -> None:
        response = api.get(url(goal), RANGE, HTTP_ACCEPT="text/csv;q=0, application/json;q=0")

        assert response.status_code == 406

    def test_errors_of_a_csv_request_with_accept_json_are_json_400s(
        self, api: APIClient, goal: Goal
    ) -> None:
        response = api.get(
            url(goal), {"start": "someday", "format": "csv"}, HTTP_ACCEPT="application/json"
        )

        assert response.status_code == 400
        assert response["Content-Type"] == "application/json"
        assert list(response.json()["errors"]) == ["start"]

    def test_errors_are_json_even_when_csv_was_asked_for(self, api: APIClient, goal: Goal) -> None:
        response = api.get(url(goal), {"start": "someday", "format": "csv"})

        assert response.status_code == 400
        assert response["Content-Type"] == "application/json"
        assert list(response.json()["errors"]) == ["start"]

    def test_another_workspaces_goal_is_a_json_404_as_csv_too(
        self, other_api: APIClient, goal: Goal
    ) -> None:
        response = other_api.get(url(goal), RANGE, HTTP_ACCEPT="text/csv")

        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert b"Onboarding" not in response.content


class TestAccess:
    def test_another_workspaces_goal_is_not_found(self, other_api: APIClient, goal: Goal) -> None:
        response = other_api.get(url(goal), RANGE)

        assert response.status_code == 404
        assert "total_people" not in response.json()

    def test_it_reads_goals_of_its_own_workspace_only(
        self, api: APIClient, other_workspace: Workspace
    ) -> None:
        theirs = make_goal(other_workspace)
        achieve(theirs, person(), d("2026-03-02"))

        assert api.get(url(theirs), RANGE).status_code == 404

    def test_an_outsider_with_a_session_gets_404(
        self, client: Client, outsider: Any, goal: Goal
    ) -> None:
        client.force_login(outsider)

        assert client.get(url(goal), RANGE).status_code == 404

    def test_it_requires_credentials(self, goal: Goal) -> None:
        assert APIClient().get(url(goal), RANGE).status_code == 401

    def test_an_unknown_goal_is_not_found(self, api: APIClient, workspace: Workspace) -> None:
        assert api.get("/api/v1/goals/999999/report", RANGE).status_code == 404

    def test_a_revoked_token_is_refused(
        self, make_token_client: Callable[..., APIClient], workspace: Workspace, goal: Goal
    ) -> None:
        client = make_token_client(workspace, Role.VIEWER)
        token = workspace.api_tokens.get()  # type: ignore[attr-defined]
        services.api_token_revoke(token=token)

        assert client.get(url(goal), RANGE).status_code == 401


class TestBadInput:
    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"start": "2026-13-01"}, "start"),
            ({"start": "yesterday"}, "start"),
            ({"end": "2026-02-30"}, "end"),
            ({"start": "2026-03-05", "end": "2026-03-04"}, "end"),
            ({**RANGE, "period": "month"}, "period"),
        ],
    )
    def test_it_rejects_bad_parameters(
        self, api: APIClient, goal: Goal, params: dict[str, str], field: str
    ) -> None:
        response = api.get(url(goal), params)

        assert response.status_code == 400
        errors = response.json()["errors"]
        assert list(errors) == [field]
        assert errors[field] and all(isinstance(reason, str) for reason in errors[field])

    @pytest.mark.parametrize(
        ("params", "field", "reason"),
        [
            # A date in the right format that the calendar lacks is not a "wrong format".
            ({"end": "2026-02-30"}, "end", "must be a date like 2025-11-30"),
            ({"start": "01/03/2026"}, "start", "must be a date like 2025-11-30"),
            (
                {**RANGE, "period": "month"},
                "period",
                'unknown period "month"; expected day or week',
            ),
        ],
    )
    def test_its_reasons_say_what_a_parameter_takes_as_the_achievement_lists_do(
        self, api: APIClient, goal: Goal, params: dict[str, str], field: str, reason: str
    ) -> None:
        response = api.get(url(goal), params)

        assert response.status_code == 400
        assert response.json() == {"errors": {field: [reason]}}

    def test_it_rejects_an_unknown_format(self, api: APIClient, goal: Goal) -> None:
        response = api.get(url(goal), {**RANGE, "format": "xml"})

        assert response.status_code == 400
        assert response["Content-Type"] == "application/json"
        assert response.json() == {
            "errors": {"format": ['unknown format "xml"; expected one of json, api, csv']}
        }

    def test_empty_dates_mean_the_default_range(
        self, api: APIClient, goal: Goal, workspace: Workspace
    ) -> None:
        today = timezone.localdate(timezone=workspace.tz)

        body = api.get(url(goal), {"start": "", "end": ""}).json()

        assert body["end"] == today.isoformat()
        assert len(body["progress"]) == 30

    @pytest.mark.parametrize(
        ("params", "start", "end"),
        [
            ({"end": "0001-01-05"}, "0001-01-01", "0001-01-05"),  # not 30 days before it
            ({"start": "9999-12-25", "end": "9999-12-31", "period": "week"}, None, "9999-12-31"),
        ],
    )
    def test_the_calendars_first_and_last_days_are_a_range_like_any(
        self, api: APIClient, goal: Goal, params: dict[str, str], start: str | None, end: str
    ) -> None:
        for how in ({}, {"format": "csv"}):
            response = api.get(url(goal), {**params, **how})
            assert response.status_code == 200, response.content
        body = api.get(url(goal), params).json()
        assert (body["start"], body["end"]) == (start or params["start"], end)
        assert body["total_people"] == 0

    def test_it_rejects_a_range_longer_than_three_years(self, api: APIClient, goal: Goal) -> None:
        start = d("2023-01-01")
        longest = {
            "start": start.isoformat(),
            "end": (start + timedelta(MAX_RANGE_DAYS - 1)).isoformat(),
        }
        too_long = {
            "start": start.isoformat(),
            "end": (start + timedelta(MAX_RANGE_DAYS)).isoformat(),
        }

        assert api.get(url(goal), {**longest, "period": "week"}).status_code == 200
        response = api.get(url(goal), too_long)

        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["end"]


class TestSchema:
    def test_the_schema_documents_json_and_csv(self, client: Client, db: Any) -> None:
        response = client.get("/api/schema/", {"format": "json"})
        schema = response.json()
        validate_schema(schema)

        operation = schema["paths"]["/api/v1/goals/{id}/report"]["get"]
        assert {p["name"] for p in operation["parameters"]} >= {"id", "start", "end", "period"}
        assert set(operation["responses"]["200"]["content"]) == {"application/json", "text/csv"}
        assert {"400", "404"} <= set(operation["responses"])


@pytest.mark.parametrize("period", ["day", "week"])
def test_the_body_is_what_the_documented_serializer_describes(
    goal: Goal, period: reports.Period
) -> None:
    """The view builds the body directly (for speed); the schema comes from the serializer."""
    report = reports.goal_report(
        goal=goal, start=d("2026-03-01"), end=d("2026-03-20"), period=period
    )

    assert report_body(report) == GoalReportSerializer(report).data


def test_the_body_of_a_goal_without_impact_has_null_impact(workspace: Workspace) -> None:
    goal = make_goal(workspace, currency="")
    achieve(goal, person(), d("2026-03-02"))
    report = reports.goal_report(goal=goal, start=d("2026-03-01"), end=d("2026-03-03"))

    assert report_body(report)["impact"] is None
    assert report_body(report) == GoalReportSerializer(report).data
