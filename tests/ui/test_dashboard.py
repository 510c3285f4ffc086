"""The goals dashboard (/goals/) and deleting a goal, over HTTP."""

from __future__ import annotations

import html as html_lib
import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, Workspace
from goals.models import Goal, GoalStatus
from goals.reports import goal_report
from goals.selectors import goals_with_period_totals, period_revenue
from tests.goals.test_reports import achieve, add_source, person
from tests.goals.test_rollups import build

DASHBOARD = reverse("goals_ui:dashboard")


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner: User) -> Client:
    return client_for(owner)


def today(workspace: Workspace) -> date:
    return timezone.localdate(timezone=workspace.tz)


def goal(
    workspace: Workspace,
    name: str,
    *,
    tags: tuple[str, ...] = (),
    currency: str = "",
    version: int = 1,
    **fields: Any,
) -> Goal:
    """A goal with a current result version (whose achievements the tests add)."""
    created = Goal.objects.create(
        workspace=workspace,
        name=name,
        criteria={"trigger": {"type": "event", "name": "signed_up"}, "filters": []},
        impact_currency=currency,
        current_version=version,
        requested_version=version,
        **fields,
    )
    if tags:
        created.tags.set(list(tags))
    return created


def names(response: Any) -> list[str]:
    """The goal names listed, in order."""
    html = response.content.decode()
    return re.findall(r'<th class="field-name">\s*<a href="[^"]+">([^<]+)</a>', html)


# --- what is listed ---------------------------------------------------------------------


def test_it_requires_login(client: Client, workspace: Workspace) -> None:
    response = client.get(DASHBOARD)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_lists_only_the_workspaces_goals(
    owner_client: Client, workspace: Workspace, other_workspace: Workspace
) -> None:
    goal(workspace, "Trial to paid")
    goal(other_workspace, "Someone else's goal")

    response = owner_client.get(DASHBOARD)

    assert response.status_code == 200
    assert names(response) == ["Trial to paid"]
    assert "Someone else" not in response.content.decode()


def test_it_shows_tags_linking_to_the_filtered_list_sources_and_status(
    owner_client: Client, workspace: Workspace
) -> None:
    tracked = goal(workspace, "Trial to paid", tags=("revenue",), status=GoalStatus.RECOMPUTING)
    add_source(tracked, Campaign.objects.create(workspace=workspace, name="Onboarding"))
    add_source(tracked, Campaign.objects.create(workspace=workspace, name="Winback"))

    html = owner_client.get(DASHBOARD).content.decode()

    assert f'href="{DASHBOARD}?tag=revenue"' in html
    assert re.search(r'class="field-sources numeric">2<', html)
    assert "goal-state-recomputing" in html
    assert f'href="{reverse("goals_ui:detail", args=[tracked.pk])}"' in html


def test_an_empty_workspace_shows_the_empty_state(owner_client: Client, viewer: User) -> None:
    html = owner_client.get(DASHBOARD).content.decode()
    assert "No goals yet" in html
    assert 'class="button default">Create goal' in html


def test_no_match_offers_to_clear_the_filters(owner_client: Client, workspace: Workspace) -> None:
    goal(workspace, "Trial to paid")
    html = owner_client.get(DASHBOARD, {"q": "nothing like it"}).content.decode()
    assert "No goals match these filters." in html
    assert "No goals yet" not in html


# --- search, tag filter, sort, pages ----------------------------------------------------


def test_it_searches_by_name(owner_client: Client, workspace: Workspace) -> None:
    goal(workspace, "Trial to paid")
    goal(workspace, "Onboarding completed")

    assert names(owner_client.get(DASHBOARD, {"q": "TRIAL"})) == ["Trial to paid"]


def test_it_filters_by_tag_case_insensitively(owner_client: Client, workspace: Workspace) -> None:
    goal(workspace, "Trial to paid", tags=("Revenue", "conversion"))
    goal(workspace, "Win-back", tags=("revenue",))
    goal(workspace, "Onboarding completed", tags=("onboarding",))

    response = owner_client.get(DASHBOARD, {"tag": "revenue"})

    assert names(response) == ["Trial to paid", "Win-back"]
    # The sidebar lists this workspace's tags, once each, the chosen one selected.
    html = response.content.decode()
    assert re.search(r'<li class="selected"><a href="\?tag=[Rr]evenue">[Rr]evenue</a>', html)
    assert html.count(">onboarding</a>") == 1


def test_the_tag_list_holds_only_this_workspaces_tags(
    owner_client: Client, workspace: Workspace, other_workspace: Workspace
) -> None:
    goal(workspace, "Trial to paid", tags=("revenue",))
    goal(other_workspace, "Theirs", tags=("secret-project",))

    assert "secret-project" not in owner_client.get(DASHBOARD).content.decode()


def test_it_filters_by_status(owner_client: Client, workspace: Workspace) -> None:
    goal(workspace, "Ready one")
    goal(workspace, "Busy one", status=GoalStatus.RECOMPUTING)

    assert names(owner_client.get(DASHBOARD, {"status": "recomputing"})) == ["Busy one"]


def test_it_sorts_by_name_case_insensitively_by_default(
    owner_client: Client, workspace: Workspace
) -> None:
    for name in ("banana", "Apple", "cherry"):
        goal(workspace, name)

    assert names(owner_client.get(DASHBOARD)) == ["Apple", "banana", "cherry"]
    assert names(owner_client.get(DASHBOARD, {"o": "-name"})) == ["cherry", "banana", "Apple"]


def test_it_sorts_by_created_and_updated(owner_client: Client, workspace: Workspace) -> None:
    now = timezone.now()
    goal(workspace, "Old", created_at=now - timedelta(days=3), updated_at=now)
    goal(workspace, "New", created_at=now, updated_at=now - timedelta(days=3))

    assert names(owner_client.get(DASHBOARD, {"o": "-created"})) == ["New", "Old"]
    assert names(owner_client.get(DASHBOARD, {"o": "created"})) == ["Old", "New"]
    assert names(owner_client.get(DASHBOARD, {"o": "-updated"})) == ["Old", "New"]


def test_it_sorts_by_total_and_impact_in_the_database(
    owner_client: Client, workspace: Workspace
) -> None:
    day = today(workspace)
    one = goal(workspace, "One person", currency="EUR")
    three = goal(workspace, "Three people", currency="EUR")
    none = goal(workspace, "Nobody", currency="EUR")
    achieve(one, person(), day, revenue="500")
    for _ in range(3):
        achieve(three, person(), day, revenue="10")
    build(three)  # one goal read from its rollup, the others from their achievements

    assert names(owner_client.get(DASHBOARD, {"o": "-total"})) == [
        "Three people",
        "One person",
        "Nobody",
    ]
    assert names(owner_client.get(DASHBOARD, {"o": "-impact"})) == [
        "One person",
        "Three people",
        "Nobody",
    ]
    assert names(owner_client.get(DASHBOARD, {"o": "total"}))[0] == none.name


def test_an_unknown_sort_falls_back_to_names_and_says_so(
    owner_client: Client, workspace: Workspace
) -> None:
    goal(workspace, "b")
    goal(workspace, "a")

    response = owner_client.get(DASHBOARD, {"o": "password"})

    assert response.status_code == 200
    assert names(response) == ["a", "b"]
    assert "unknown sort" in response.content.decode()


def test_it_pages_25_goals_at_a_time(owner_client: Client, workspace: Workspace) -> None:
    for number in range(30):
        goal(workspace, f"Goal {number:02}")

    first = owner_client.get(DASHBOARD)
    second = owner_client.get(DASHBOARD, {"page": "2"})

    assert len(names(first)) == 25
    assert names(second) == [f"Goal {number}" for number in range(25, 30)]
    html = first.content.decode()
    assert '<span class="this-page">1</span>' in html
    assert 'href="?page=2"' in html
    assert "30 goals" in html


def test_page_links_keep_the_filters(owner_client: Client, workspace: Workspace) -> None:
    for number in range(27):
        goal(workspace, f"Goal {number:02}", tags=("t",))

    html = owner_client.get(DASHBOARD, {"tag": "t", "o": "-name"}).content.decode()

    assert 'href="?tag=t&amp;o=-name&amp;page=2"' in html


def test_a_page_past_the_end_shows_the_last_page(
    owner_client: Client, workspace: Workspace
) -> None:
    goal(workspace, "Only")
    assert names(owner_client.get(DASHBOARD, {"page": "9"})) == ["Only"]


# --- the numbers ------------------------------------------------------------------------


def test_total_and_impact_equal_the_goal_report_of_the_last_30_days(
    owner_client: Client, workspace: Workspace
) -> None:
    day = today(workspace)
    campaign = Campaign.objects.create(workspace=workspace, name="Onboarding")
    from_rollup = goal(workspace, "From the rollup", currency="EUR")
    from_achievements = goal(workspace, "From the achievements", currency="KWD")
    no_impact = goal(workspace, "Without impact")
    people = [person() for _ in range(4)]
    for target in (from_rollup, from_achievements, no_impact):
        achieve(target, people[0], day, revenue="19.99", source=campaign)
        achieve(target, people[0], day - timedelta(days=3), revenue="0.001")  # same person
        achieve(target, people[1], day - timedelta(days=29), revenue="5")  # first day in range
        achieve(target, people[2], day - timedelta(days=30), revenue="1000")  # one day too early
        achieve(target, people[2], day - timedelta(days=45), revenue="7")  # before the range
        achieve(target, people[3], day + timedelta(days=1), revenue="3")  # tomorrow
    build(from_rollup)
    from_rollup.refresh_from_db()
    assert from_rollup.rollup_version == from_rollup.current_version
    assert from_achievements.rollup_version != from_achievements.current_version

    start, end = day - timedelta(days=29), day
    listed = {
        g.pk: g
        for g in goals_with_period_totals(
            Goal.objects.filter(workspace=workspace), start=start, end=end
        )
    }
    for target in (from_rollup, from_achievements, no_impact):
        report = goal_report(goal=target, start=start, end=end)
        assert listed[target.pk].period_people == report.total_people == 2  # type: ignore[attr-defined]
        if target.has_impact:
            assert period_revenue(listed[target.pk]) == report.revenue == Decimal("24.991")
        else:
            assert period_revenue(listed[target.pk]) is None

    html = owner_client.get(DASHBOARD).content.decode()
    rows = {
        name: row
        for name, row in re.findall(
            r'<th class="field-name">\s*<a href="[^"]+">([^<]+)</a>(.*?)</tr>', html, re.S
        )
    }
    assert re.search(r'field-total numeric">2<', rows["From the rollup"])
    assert "24.991 EUR" in rows["From the rollup"]
    assert "24.991 KWD" in rows["From the achievements"]
    assert "No impact set" in rows["Without impact"]


def test_amounts_show_thousands_separators_and_the_currencys_decimals(
    owner_client: Client, workspace: Workspace
) -> None:
    rich = goal(workspace, "Rich", currency="EUR")
    achieve(rich, person(), today(workspace), revenue="1234567.5")
    build(rich)

    assert "1,234,567.50 EUR" in owner_client.get(DASHBOARD).content.decode()


@pytest.mark.parametrize("built", [False, True])
def test_fine_amounts_are_written_as_the_summary_and_the_goal_page_write_them(
    owner_client: Client, workspace: Workspace, built: bool
) -> None:
    """A day's amount may need places the range's sum does not: 0.125 + 0.125 is "0.250" in
    the goal's report, the summary API and its CSV, so the dashboard writes it so too."""
    fine = goal(workspace, "Fine", currency="EUR")
    day = today(workspace)
    achieve(fine, person(), day, revenue="0.125")
    achieve(fine, person(), day - timedelta(days=1), revenue="0.125")
    if built:
        build(fine)

    summary = owner_client.get(reverse("goal-summary")).json()["results"][0]
    assert summary["impact"] == {"amount": "0.250", "currency": "EUR"}
    assert str(goal_report(goal=fine).revenue) == "0.250"
    html = owner_client.get(DASHBOARD).content.decode()
    assert 'data-money="0.250" data-currency="EUR">0.250 EUR<' in html


def test_a_goal_never_computed_shows_zero(owner_client: Client, workspace: Workspace) -> None:
    goal(workspace, "Brand new", currency="EUR", version=0)
    html = owner_client.get(DASHBOARD).content.decode()
    assert re.search(r'field-total numeric">0<', html)
    assert "0.00 EUR" in html


def dashboard_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(DASHBOARD)
    assert response.status_code == 200
    return len(queries)


def test_the_query_count_does_not_grow_with_the_goals(
    owner_client: Client, workspace: Workspace
) -> None:
    campaign = Campaign.objects.create(workspace=workspace, name="Onboarding")

    def add_goals(count: int, start: int) -> None:
        for number in range(start, start + count):
            target = goal(
                workspace, f"Goal {number:02}", tags=(f"tag{number}", "all"), currency="EUR"
            )
            add_source(target, campaign)
            achieve(target, person(), today(workspace), revenue="3", source=campaign)
            if number % 2:
                build(target)

    add_goals(3, 0)
    few = dashboard_queries(owner_client)
    add_goals(27, 3)
    many = dashboard_queries(owner_client)

    assert few == many
    # 8, and at most 3 for the places of the amounts (``report_money_places``).
    assert many <= 11


# --- export ------------------------------------------------------------------------------


def export_url(response: Any) -> str:
    match = re.search(
        r'<a class="button" id="export-csv" href="([^"]+)" download', response.content.decode()
    )
    assert match, "no Export CSV link"
    return html_lib.unescape(match.group(1))


def export_params(response: Any) -> dict[str, list[str]]:
    url = urlsplit(export_url(response))
    assert url.path == reverse("goal-summary")
    return parse_qs(url.query)


def test_export_csv_links_to_the_summary_of_the_lists_range(
    owner_client: Client, workspace: Workspace
) -> None:
    params = export_params(owner_client.get(DASHBOARD))

    assert params == {
        "format": ["csv"],
        "start": [(today(workspace) - timedelta(days=29)).isoformat()],
        "end": [today(workspace).isoformat()],
        "workspace": [str(workspace.pk)],
        "ordering": ["name"],
    }


def test_export_csv_keeps_the_filters_and_sort_applied(
    owner_client: Client, workspace: Workspace
) -> None:
    response = owner_client.get(
        DASHBOARD, {"q": "trial & co", "tag": "VIP,q4", "status": "ready", "o": "-updated"}
    )

    params = export_params(response)
    assert (params["name"], params["tag"], params["status"]) == (
        ["trial & co"],
        ["VIP", "q4"],
        ["ready"],
    )
    assert params["ordering"] == ["-updated_at"]


def test_export_csv_leaves_out_what_the_list_ignores_and_sorts_it_cannot(
    owner_client: Client, workspace: Workspace
) -> None:
    assert "status" not in export_params(owner_client.get(DASHBOARD, {"status": "nonsense"}))
    # The summary has no order by Total: the export comes by name.
    assert "ordering" not in export_params(owner_client.get(DASHBOARD, {"o": "-total"}))


def test_the_export_is_the_csv_of_the_goals_listed(
    owner_client: Client, viewer: User, workspace: Workspace
) -> None:
    """Viewers export too (it is a read); the CSV has the listed goals with their numbers."""
    kept = goal(workspace, "Trial to paid", tags=("vip",), currency="EUR")
    goal(workspace, "Trial extended", currency="EUR")
    goal(workspace, "Other", tags=("vip",))
    achieve(kept, person(), today(workspace), revenue="12.5")
    client = client_for(viewer)
    dashboard = client.get(DASHBOARD, {"q": "trial", "tag": "vip"})

    response = client.get(export_url(dashboard))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    lines = response.content.decode().splitlines()
    assert lines[0] == "goal_id,goal_name,tags,status,start,end,total_people,impact_amount,currency"
    start, end = today(workspace) - timedelta(days=29), today(workspace)
    assert lines[1:] == [f"{kept.pk},Trial to paid,vip,ready,{start},{end},1,12.50,EUR"]
    assert names(dashboard) == ["Trial to paid"]


# --- access -----------------------------------------------------------------------------


def test_a_viewer_sees_the_goals_but_no_create_button_nor_menu(
    viewer: User, workspace: Workspace
) -> None:
    target = goal(workspace, "Trial to paid")

    html = client_for(viewer).get(DASHBOARD).content.decode()

    assert "Trial to paid" in html
    assert reverse("goals_ui:create") not in html
    assert reverse("goals_ui:delete", args=[target.pk]) not in html


def test_an_editor_sees_create_and_the_delete_menu(editor: User, workspace: Workspace) -> None:
    target = goal(workspace, "Trial to paid")

    html = client_for(editor).get(DASHBOARD).content.decode()

    assert f'href="{reverse("goals_ui:create")}"' in html
    assert f'href="{reverse("goals_ui:delete", args=[target.pk])}"' in html


# --- delete -----------------------------------------------------------------------------


def test_delete_asks_for_confirmation_first(owner_client: Client, workspace: Workspace) -> None:
    target = goal(workspace, "Trial to paid")

    response = owner_client.get(reverse("goals_ui:delete", args=[target.pk]))

    assert response.status_code == 200
    assert "Are you sure you want to delete the goal" in response.content.decode()
    assert Goal.objects.filter(pk=target.pk).exists()


def test_delete_deletes_and_says_so(owner_client: Client, workspace: Workspace) -> None:
    target = goal(workspace, "Trial to paid")
    achieve(target, person(), today(workspace))
    campaign = Campaign.objects.create(workspace=workspace, name="Onboarding")
    add_source(target, campaign)

    response = owner_client.post(reverse("goals_ui:delete", args=[target.pk]), follow=True)

    assert response.redirect_chain == [(DASHBOARD, 302)]
    assert not Goal.objects.filter(pk=target.pk).exists()
    assert Campaign.objects.filter(pk=campaign.pk).exists()
    assert "The goal “Trial to paid” was deleted." in response.content.decode()


def test_a_viewer_cannot_delete(viewer: User, workspace: Workspace) -> None:
    target = goal(workspace, "Trial to paid")
    client = client_for(viewer)
    url = reverse("goals_ui:delete", args=[target.pk])

    assert client.post(url).status_code == 403
    assert client.get(url).status_code == 403
    assert Goal.objects.filter(pk=target.pk).exists()


def test_another_workspaces_goal_cannot_be_deleted(
    owner_client: Client, other_workspace: Workspace
) -> None:
    theirs = goal(other_workspace, "Theirs")
    url = reverse("goals_ui:delete", args=[theirs.pk])

    assert owner_client.get(url).status_code == 404
    assert owner_client.post(url).status_code == 404
    assert Goal.objects.filter(pk=theirs.pk).exists()


def test_delete_requires_login(client: Client, workspace: Workspace) -> None:
    target = goal(workspace, "Trial to paid")
    response = client.post(reverse("goals_ui:delete", args=[target.pk]))
    assert response.status_code == 302
    assert Goal.objects.filter(pk=target.pk).exists()


def test_headers_link_to_their_sort_and_a_second_click_reverses_it(
    owner_client: Client, workspace: Workspace
) -> None:
    goal(workspace, "Trial to paid", tags=("x",))

    html = owner_client.get(DASHBOARD).content.decode()
    assert 'class="column-name sortable sorted ascending"' in html
    assert '<a href="?o=-name">Name</a>' in html  # sorted by name: the next click reverses
    assert '<a href="?o=-total">Total</a>' in html  # numbers and dates: biggest first
    assert '<a href="?o=-created">Created</a>' in html

    html = owner_client.get(DASHBOARD, {"o": "-total", "tag": "x"}).content.decode()
    assert 'class="column-total numeric sortable sorted descending"' in html
    assert '<a href="?tag=x&amp;o=total">Total</a>' in html
