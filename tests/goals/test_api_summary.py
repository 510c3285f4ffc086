"""``GET /api/v1/goals/summary`` (SPEC §5: every report the UI shows is also in the API and as
CSV): each goal's total people and impact for a range, as its own report has them."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from campaigns.models import Broadcast, Campaign, Role, Workspace
from goals import reports, services
from goals.models import Goal, GoalStatus
from goals.reports import MAX_RANGE_DAYS
from tests.campaigns.test_api_schema_responses import assert_documented
from tests.goals.test_reports import achieve, add_source, d, make_goal, person
from tests.goals.test_rollups import build

URL = "/api/v1/goals/summary"
RANGE = {"start": "2026-03-02", "end": "2026-03-04"}
CSV_HEADER = [
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


def goal(
    workspace: Workspace,
    name: str,
    *,
    currency: str = "EUR",
    tags: tuple[str, ...] = (),
    status: str = GoalStatus.READY,
) -> Goal:
    created = make_goal(workspace, currency=currency)
    Goal.objects.filter(pk=created.pk).update(name=name, status=status)
    created.refresh_from_db()
    if tags:
        created.tags.set(list(tags))
    return created


def report(api: APIClient, target: Goal, params: dict[str, str]) -> dict[str, Any]:
    response = api.get(f"/api/v1/goals/{target.pk}/report", params)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def rows(response: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


def listed(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [entry["goal"]["name"] for entry in response.json()["results"]]


@pytest.fixture
def goals(workspace: Workspace, other_workspace: Workspace) -> dict[str, Goal]:
    """Goals with achievements inside and outside ``RANGE``: one read from its rollup, one from
    its achievements, one without impact, one in yen, one whose daily amounts need more places
    than their sum; a deleted goal and another workspace's goal."""
    onboarding = Campaign.objects.create(workspace=workspace, name="Onboarding")
    newsletter = Broadcast.objects.create(workspace=workspace, name="March newsletter")
    made = {
        "rollup": goal(workspace, "Rollup", tags=("paid", "Q4")),
        "achievements": goal(workspace, "Achievements", currency="KWD", tags=("paid",)),
        "no impact": goal(workspace, "No impact", currency="", status=GoalStatus.RECOMPUTING),
        "yen": goal(workspace, "Yen", currency="JPY"),
        "fine": goal(workspace, "Fine amounts"),
    }
    for target in made.values():
        for source in (onboarding, newsletter):
            add_source(target, source)
        ana, ben, cem = person(), person(), person()
        achieve(target, ana, d("2026-03-02"), revenue="0.10", source=onboarding)
        achieve(target, ana, d("2026-03-03"), revenue="19.99", source=onboarding)  # same person
        achieve(target, ben, d("2026-03-04"), revenue="5", source=newsletter)
        achieve(target, cem, d("2026-03-04"), missing=True)  # counted, no revenue
        achieve(target, cem, d("2026-03-01"), revenue="1000")  # the day before the range
        achieve(target, person(), d("2026-03-05"), revenue="100")  # the day after
    fine = made["fine"]
    achieve(fine, person(), d("2026-03-02"), revenue="0.125")
    achieve(fine, person(), d("2026-03-03"), revenue="0.125")  # the range's sum: 0.25
    for target in made.values():
        if target.name != "Achievements":
            build(target)
    deleted = goal(workspace, "Deleted")
    achieve(deleted, person(), d("2026-03-02"), revenue="1")
    services.goal_delete(goal=deleted)
    theirs = goal(other_workspace, "Theirs")
    achieve(theirs, person(), d("2026-03-02"), revenue="1")
    return made


# --- the numbers ------------------------------------------------------------------------------


def test_each_goals_numbers_equal_its_report_for_the_same_range(
    api: APIClient, goals: dict[str, Goal]
) -> None:
    response = api.get(URL, RANGE)

    assert response.status_code == 200
    body = response.json()
    assert (body["start"], body["end"], body["count"]) == ("2026-03-02", "2026-03-04", 5)
    assert (body["next"], body["previous"]) == (None, None)
    by_id = {entry["goal"]["id"]: entry for entry in body["results"]}
    assert set(by_id) == {target.pk for target in goals.values()}  # not deleted, not theirs
    for target in goals.values():
        expected = report(api, target, RANGE)
        entry = by_id[target.pk]
        assert entry["total_people"] == expected["total_people"], target.name
        assert entry["impact"] == expected["impact"], target.name
    assert by_id[goals["rollup"].pk] == {
        "goal": {
            "id": goals["rollup"].pk,
            "name": "Rollup",
            "tags": ["paid", "Q4"],
            "status": "ready",
        },
        "total_people": 3,
        "impact": {"amount": "25.09", "currency": "EUR"},
    }
    assert by_id[goals["achievements"].pk]["impact"] == {"amount": "25.090", "currency": "KWD"}
    assert by_id[goals["yen"].pk]["impact"] == {"amount": "25.09", "currency": "JPY"}
    assert by_id[goals["no impact"].pk]["impact"] is None
    assert by_id[goals["no impact"].pk]["goal"]["status"] == "recomputing"
    # Written with the places of the report's widest daily amount, as the report does.
    assert by_id[goals["fine"].pk]["impact"] == {"amount": "25.340", "currency": "EUR"}


@pytest.mark.parametrize("built", [True, False])
def test_fine_amounts_are_written_as_the_report_writes_them(
    api: APIClient, workspace: Workspace, built: bool
) -> None:
    """A day's amount, a source's or the unattributed one may need places their sum does not."""
    campaign = Campaign.objects.create(workspace=workspace, name="Onboarding")
    target = goal(workspace, "Fine")
    add_source(target, campaign)
    achieve(target, person(), d("2026-03-02"), revenue="0.005", source=campaign)
    achieve(target, person(), d("2026-03-02"), revenue="0.005")
    if built:
        build(target)

    entry = api.get(URL, RANGE).json()["results"][0]

    assert entry["impact"] == report(api, target, RANGE)["impact"]
    assert entry["impact"] == {"amount": "0.010", "currency": "EUR"}


@pytest.mark.parametrize("built", [True, False])
def test_a_removed_sources_fine_amounts_are_written_as_the_report_writes_them(
    api: APIClient, workspace: Workspace, built: bool
) -> None:
    """Until the recompute a source's removal asked for is done, the report still lists the
    source with its credits (SPEC §6), and their places widen the report's amounts."""
    removed = Campaign.objects.create(workspace=workspace, name="Removed")
    also_removed = Broadcast.objects.create(workspace=workspace, name="Also removed")
    target = goal(workspace, "Fine")
    achieve(target, person(), d("2026-03-02"), revenue="0.005", source=removed)
    achieve(target, person(), d("2026-03-02"), revenue="-0.005", source=also_removed)
    if built:
        build(target)

    entry = api.get(URL, RANGE).json()["results"][0]

    assert entry["impact"] == report(api, target, RANGE)["impact"]
    assert entry["impact"] == {"amount": "0.000", "currency": "EUR"}


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_random_goals_equal_their_reports(api: APIClient, workspace: Workspace, seed: int) -> None:
    rng = random.Random(seed)
    sources: list[Campaign | Broadcast] = [
        Campaign.objects.create(workspace=workspace, name="Onboarding"),
        Broadcast.objects.create(workspace=workspace, name="Newsletter"),
        Campaign.objects.create(workspace=workspace, name="Not a source"),
    ]
    targets = []
    for number in range(4):
        target = goal(workspace, f"Goal {number}", currency=rng.choice(["EUR", "JPY", "KWD", ""]))
        for source in sources[:2]:
            add_source(target, source)
        people = [person() for _ in range(5)]
        for _ in range(rng.randint(0, 12)):
            places = rng.choice([0, 0, 2, 2, 3, 4])
            revenue = Decimal(rng.randint(-50, 5000)).scaleb(-places)
            day = d("2026-03-02") + timedelta(days=rng.randint(-2, 5))
            credited = rng.choice([None, *sources])
            achieve(target, rng.choice(people), day, revenue=str(revenue), source=credited)
        if rng.random() < 0.5:
            build(target)
        targets.append(target)
    params = {"start": "2026-03-02", "end": rng.choice(["2026-03-02", "2026-03-04"])}

    by_id = {e["goal"]["id"]: e for e in api.get(URL, params).json()["results"]}

    for target in targets:
        expected = report(api, target, params)
        assert by_id[target.pk]["total_people"] == expected["total_people"]
        assert by_id[target.pk]["impact"] == expected["impact"]


def test_the_default_range_is_the_reports(api: APIClient, goals: dict[str, Goal]) -> None:
    target = goals["rollup"]
    start, end = reports.default_range(workspace=target.workspace)

    body = api.get(URL).json()

    assert (body["start"], body["end"]) == (start.isoformat(), end.isoformat())
    entry = next(e for e in body["results"] if e["goal"]["id"] == target.pk)
    expected = report(api, target, {})
    assert (entry["total_people"], entry["impact"]) == (
        expected["total_people"],
        expected["impact"],
    )


def test_only_start_ends_today_and_only_end_covers_30_days(
    api: APIClient, workspace: Workspace
) -> None:
    _, today = reports.default_range(workspace=workspace, start=d("2026-01-01"))
    assert api.get(URL, {"start": "2026-01-01"}).json()["end"] == today.isoformat()
    only_end = api.get(URL, {"end": "2026-03-30"}).json()
    assert (only_end["start"], only_end["end"]) == ("2026-03-01", "2026-03-30")


def test_a_goal_never_computed_has_zeros(api: APIClient, workspace: Workspace) -> None:
    target = goal(workspace, "Brand new")
    Goal.objects.filter(pk=target.pk).update(current_version=0)

    entry = api.get(URL, RANGE).json()["results"][0]

    assert (entry["total_people"], entry["impact"]) == (0, {"amount": "0.00", "currency": "EUR"})


# --- filters, order, pages ----------------------------------------------------------------------


def test_it_filters_like_the_goals_list(api: APIClient, goals: dict[str, Goal]) -> None:
    Goal.objects.filter(pk=goals["yen"].pk).update(description="revenue in yen")
    for params in (
        {"tag": "q4"},
        {"tag": "paid"},
        {"name": "a"},
        {"search": "yen"},
        {"status": "recomputing"},
        {"status": "ready", "tag": "paid"},
    ):
        summary = listed(api.get(URL, {**RANGE, **params}))
        goals_list = [g["name"] for g in api.get("/api/v1/goals", params).json()["results"]]
        assert summary == goals_list, params
    assert listed(api.get(URL, {"tag": "paid"})) == ["Achievements", "Rollup"]


def test_it_is_ordered_by_name_then_id_unless_ordering_says_otherwise(
    api: APIClient, goals: dict[str, Goal], workspace: Workspace
) -> None:
    twin = goal(workspace, "Rollup")
    default = api.get(URL, RANGE).json()["results"]
    assert [e["goal"]["name"] for e in default] == [
        "Achievements",
        "Fine amounts",
        "No impact",
        "Rollup",
        "Rollup",
        "Yen",
    ]
    assert [e["goal"]["id"] for e in default][3:5] == [goals["rollup"].pk, twin.pk]
    assert listed(api.get(URL, {"ordering": "-name"}))[0] == "Yen"


def test_an_unknown_ordering_is_a_400(api: APIClient, goals: dict[str, Goal]) -> None:
    response = api.get(URL, {"ordering": "total_people"})

    assert response.status_code == 400
    assert "ordering" in response.json()["errors"]


def test_it_is_paginated_like_the_goals_list(api: APIClient, goals: dict[str, Goal]) -> None:
    first = api.get(URL, {**RANGE, "page_size": "2"}).json()
    second = api.get(URL, {**RANGE, "page_size": "2", "page": "2"}).json()

    assert first["count"] == 5
    assert [e["goal"]["name"] for e in first["results"]] == ["Achievements", "Fine amounts"]
    assert [e["goal"]["name"] for e in second["results"]] == ["No impact", "Rollup"]
    assert "start=2026-03-02" in first["next"] and "page=2" in first["next"]
    assert second["start"] == "2026-03-02"
    past = api.get(URL, {"page": "9"})
    assert past.status_code == 400
    assert "page" in past.json()["errors"]


# --- CSV ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ask",
    [{"HTTP_ACCEPT": "text/csv"}, {"QUERY": {"format": "csv"}}],
    ids=["accept", "format"],
)
def test_the_csv_has_every_matching_goal_with_the_same_numbers(
    api: APIClient, goals: dict[str, Goal], ask: dict[str, Any]
) -> None:
    params = {**RANGE, "page_size": "1", **ask.pop("QUERY", {})}  # every page, not one

    response = api.get(URL, params, **ask)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="goals-summary-2026-03-02-2026-03-04.csv"'
    )
    header, *body = rows(response)
    assert header == CSV_HEADER
    assert body == [
        [str(target.pk), name, tags, status, "2026-03-02", "2026-03-04", people, amount, cur]
        for target, name, tags, status, people, amount, cur in [
            (goals["achievements"], "Achievements", "paid", "ready", "3", "25.090", "KWD"),
            (goals["fine"], "Fine amounts", "", "ready", "5", "25.340", "EUR"),
            (goals["no impact"], "No impact", "", "recomputing", "3", "", ""),
            (goals["rollup"], "Rollup", "paid, Q4", "ready", "3", "25.09", "EUR"),
            (goals["yen"], "Yen", "", "ready", "3", "25.09", "JPY"),
        ]
    ]
    json_entries = api.get(URL, RANGE).json()["results"]
    assert [int(row[0]) for row in body] == [e["goal"]["id"] for e in json_entries]


def test_the_csv_is_filtered_and_ordered_like_the_json(
    api: APIClient, goals: dict[str, Goal]
) -> None:
    params = {"tag": "paid", "ordering": "-name", "format": "csv"}
    assert [row[1] for row in rows(api.get(URL, params))[1:]] == ["Rollup", "Achievements"]


def test_csv_cells_a_spreadsheet_would_run_are_escaped(
    api: APIClient, workspace: Workspace
) -> None:
    goal(workspace, '=HYPERLINK("http://x")', tags=("-1+1", "vip"))
    goal(workspace, "@SUM(A1)", tags=("plain",))

    body = rows(api.get(URL, {"format": "csv"}))[1:]

    assert [(row[1], row[2]) for row in body] == [
        ('\'=HYPERLINK("http://x")', "'-1+1, vip"),
        ("'@SUM(A1)", "plain"),
    ]


def test_the_csv_of_no_goals_is_its_header(api: APIClient, workspace: Workspace) -> None:
    response = api.get(URL, {"format": "csv"})
    assert rows(response) == [CSV_HEADER]


# --- bad input, access ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "someday"}, "start"),
        ({"end": "2026-02-30"}, "end"),
        ({"start": "2026-03-04", "end": "2026-03-02"}, "end"),
        ({"start": "2020-01-01", "end": "2026-01-01"}, "end"),
        ({"tag": "a\x00b"}, "tag"),
        ({"status": "done"}, "status"),
        ({"format": "xml"}, "format"),
    ],
)
@pytest.mark.parametrize("as_csv", [False, True])
def test_bad_input_is_a_json_400_naming_the_parameter(
    api: APIClient, goals: dict[str, Goal], params: dict[str, str], field: str, as_csv: bool
) -> None:
    headers: dict[str, Any] = {"HTTP_ACCEPT": "text/csv"} if as_csv else {}

    response = api.get(URL, params, **headers)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert list(response.json()["errors"]) == [field]
    assert_documented("/api/v1/goals/summary", "GET", response)


def test_the_csv_ignores_the_page_parameters_the_json_checks(
    api: APIClient, goals: dict[str, Goal]
) -> None:
    assert list(api.get(URL, {"page_size": "0"}).json()["errors"]) == ["page_size"]
    assert len(rows(api.get(URL, {"page_size": "0", "page": "x", "format": "csv"}))) == 6


def test_the_longest_range_is_allowed(api: APIClient, workspace: Workspace) -> None:
    start = d("2020-01-01")
    end = start + timedelta(days=MAX_RANGE_DAYS - 1)
    response = api.get(URL, {"start": start.isoformat(), "end": end.isoformat()})
    assert response.status_code == 200


def test_a_viewer_may_read_it_in_both_formats(
    viewer_api: APIClient, goals: dict[str, Goal]
) -> None:
    assert viewer_api.get(URL, RANGE).status_code == 200
    assert viewer_api.get(URL, {**RANGE, "format": "csv"}).status_code == 200


def test_it_needs_credentials(goals: dict[str, Goal]) -> None:
    response = APIClient().get(URL)
    assert response.status_code == 401
    assert_documented("/api/v1/goals/summary", "GET", response)


def test_the_body_matches_the_schema(api: APIClient, goals: dict[str, Goal]) -> None:
    assert_documented("/api/v1/goals/summary", "GET", api.get(URL, RANGE))


def test_it_is_routed_before_a_goal_id(api: APIClient, goals: dict[str, Goal]) -> None:
    assert api.get(f"{URL}/").status_code == 200
    assert api.get(f"/api/v1/goals/{goals['rollup'].pk}").json()["name"] == "Rollup"


# --- cost ---------------------------------------------------------------------------------------


def queries(request: Callable[[], Any]) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = request()
    assert response.status_code == 200
    return len(captured)


def add_goals(workspace: Workspace, count: int, start: int) -> None:
    """Goals with tags and sources, half of them read from a rollup, with amounts finer than
    their currency (so the places are read for every one of them)."""
    campaign = Campaign.objects.create(workspace=workspace, name=f"Campaign {start}")
    for number in range(start, start + count):
        target = goal(workspace, f"Goal {number:03}", tags=(f"tag{number}", "all"))
        add_source(target, campaign)
        achieve(target, person(), d("2026-03-02"), revenue="3.001", source=campaign)
        achieve(target, person(), d("2026-03-03"), revenue="0.5")
        if number % 2:
            build(target)


@pytest.mark.parametrize("params", [RANGE, {**RANGE, "format": "csv"}], ids=["json", "csv"])
def test_the_query_count_does_not_grow_with_the_goals(
    make_token_client: Callable[..., APIClient], workspace: Workspace, params: dict[str, str]
) -> None:
    viewer = make_token_client(workspace, Role.VIEWER)
    add_goals(workspace, 3, 0)
    viewer.get(URL)  # a token's first use writes its last use (then once a minute at most)
    few = queries(lambda: viewer.get(URL, {**params, "page_size": "500"}))
    add_goals(workspace, 40, 100)
    many = queries(lambda: viewer.get(URL, {**params, "page_size": "500"}))

    assert many == few
    assert many <= 12


def test_the_csv_reads_its_goals_in_chunks(
    api: APIClient, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("goals.api.SUMMARY_CSV_CHUNK", 2)
    add_goals(workspace, 5, 0)

    body = rows(api.get(URL, {**RANGE, "format": "csv"}))[1:]

    assert [row[1] for row in body] == [f"Goal {n:03}" for n in range(5)]
    assert {row[7] for row in body} == {"3.501"}
