"""The goal page in Chromium: the Progress chart's views, the date range, and a recompute
seen from the page (SPEC §5, §6). The chart is read back from the page (Chart.getChart), not
just found on it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Page, expect

from campaigns.ingestion import ingest
from campaigns.models import Broadcast, Campaign, Membership, Role, Workspace
from goals import services, tasks
from goals.models import Goal, GoalStatus
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.django_db(transaction=True)

READ_CHART = """() => {
  const chart = Chart.getChart(document.getElementById('progress-chart'));
  if (!chart) return null;
  return {
    type: chart.config.type,
    labels: chart.data.labels,
    datasets: chart.data.datasets.map(d => ({label: d.label, kind: d.kind, data: d.data})),
  };
}"""


def ago(days: int, hours: int = 1) -> str:
    """``days`` local days ago, ``hours`` before today's noon in the workspace's zone (Berlin):
    counted from the current time instead, the day before's 23-hour gaps below would fall on
    one local day when the tests run in the first hour of a day."""
    noon = (
        timezone.now()
        .astimezone(ZoneInfo("Europe/Berlin"))
        .replace(hour=12, minute=0, second=0, microsecond=0)
    )
    return (noon - timedelta(days=days, hours=hours)).isoformat()


@pytest.fixture
def goal(workspace: Workspace) -> Goal:
    """Trial to paid (EUR, from the event's price), sources: a campaign and a newsletter.

    Days ago: p0 at 2 (campaign, sent at 3) and 15 (no message before it); p1 at 5 (campaign,
    sent at 6); p2 at 9 (newsletter, sent at 10); p3 at 12 and p4 at 20 (no price) with no
    message; p6 at 25 (campaign, sent at 26). Last 7 days: 2 people; last 30: 6 people.
    """
    onboarding = Campaign.objects.create(workspace=workspace, name="Onboarding", status="running")
    news = Broadcast.objects.create(
        workspace=workspace,
        name="Product news",
        kind="newsletter",
        status="sent",
        channels=["email"],
    )

    def message(
        mid: str, who: str, days: int, source: Campaign | Broadcast
    ) -> list[dict[str, Any]]:
        key = "campaign" if isinstance(source, Campaign) else "broadcast"
        return [
            {
                "type": "message",
                "id": mid,
                "person": who,
                "channel": "email",
                "sent_at": ago(days),
                key: source.pk,
            },
            {"type": "metric", "message": mid, "metric": "delivered", "timestamp": ago(days, 0)},
        ]

    def event(who: str, days: int, price: Any = None) -> dict[str, Any]:
        data = {} if price is None else {"price": price}
        return {
            "type": "event",
            "person": who,
            "name": "plan_activated",
            "timestamp": ago(days),
            "data": data,
        }

    outcome = ingest(
        workspace=workspace,
        items=[
            *message("m0", "p0", 3, onboarding),
            *message("m1", "p1", 6, onboarding),
            *message("m2", "p2", 10, news),
            *message("m6", "p6", 26, onboarding),
            event("p0", 2, 49),
            event("p0", 15, 49),
            event("p1", 5, "19.00"),
            event("p2", 9, 99),
            event("p3", 12, 19),
            event("p4", 20),
            event("p6", 25, 29),
        ],
    )
    assert all(result.status < 300 for result in outcome.results)
    goal = services.goal_create(
        workspace=workspace,
        name="Trial to paid",
        description="People who start paying.",
        tags=["revenue"],
        criteria={"trigger": {"type": "event", "name": "plan_activated"}, "filters": []},
        impact={"currency": "EUR", "event_key": "price"},
        attribution={"window_days": 7},
        sources=[{"type": "campaign", "id": onboarding.pk}, {"type": "broadcast", "id": news.pk}],
    )
    goal.refresh_from_db()
    assert goal.status == GoalStatus.READY and goal.current_version > 0
    return goal


def wait_chart(page: Page, **expected: Any) -> dict[str, Any]:
    """Wait until the chart drawn last is the one for ``expected`` view options, then read it."""
    page.wait_for_function(
        """(expected) => window.goalChart && document.getElementById('chart-loading').hidden
            && Object.entries(expected).every(([k, v]) => window.goalChart[k] === v)""",
        arg=expected,
    )
    chart = page.evaluate(READ_CHART)
    assert chart is not None, "no chart is drawn"
    page.wait_for_timeout(300)  # let the animation finish before a screenshot
    return chart


def query_of(page: Page) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlparse(page.url).query).items()}


def series(chart: dict[str, Any], kind: str) -> list[Any]:
    (found,) = [d["data"] for d in chart["datasets"] if d["kind"] == kind]
    return found


def test_the_chart_switches_views_and_keeps_them_in_the_url(
    page: Page, login: Callable[[User], Page], owner: User, goal: Goal
) -> None:
    login(owner)
    page.goto(f"/goals/{goal.pk}/")
    assert page.inner_text("#total-people") == "6"
    assert page.inner_text("#impact-revenue") == "€264.00"  # 49+49+19+99+19+29, p4 has none
    chart = wait_chart(page, view="total", measure="count", chart="bar", period="day")
    assert chart["type"] == "bar"
    assert len(chart["labels"]) == 30
    count = series(chart, "people")
    assert sum(count) == 6
    assert [d["label"] for d in chart["datasets"]] == ["People", "Revenue (EUR)"]
    assert sum(series(chart, "revenue")) == 264
    screenshot(page, "goal-page-total-count-bar")

    page.click("button[data-value=cumulative]")
    chart = wait_chart(page, measure="cumulative")
    cumulative = series(chart, "people")
    assert cumulative != count
    assert cumulative == [sum(count[: n + 1]) for n in range(len(count))]
    assert cumulative[-1] == 6
    assert query_of(page)["measure"] == "cumulative"
    screenshot(page, "goal-page-total-cumulative-bar")

    page.click("button[data-value=line]")
    chart = wait_chart(page, chart="line")
    assert chart["type"] == "line"
    assert query_of(page)["chart"] == "line"

    page.click("button[data-value=week]")
    chart = wait_chart(page, period="week")
    assert 5 <= len(chart["labels"]) <= 6
    assert all(date.fromisoformat(label).weekday() == 0 for label in chart["labels"])
    assert series(chart, "people")[-1] == 6  # still cumulative
    assert query_of(page)["period"] == "week"
    assert "period=week" in (page.get_attribute("#export-csv", "href") or "")
    screenshot(page, "goal-page-total-cumulative-line-weekly")

    page.click("button[data-value=sources]")
    chart = wait_chart(page, view="sources", unattributed="1")
    labels = [d["label"] for d in chart["datasets"]]
    assert labels == ["Onboarding", "Product news", "Unattributed"]
    assert sum(series(chart, "unattributed")) == 3  # p0 (15 days ago), p3, p4
    assert page.is_visible("#show-unattributed")
    assert not page.is_visible("button[data-value=cumulative]")
    assert query_of(page)["view"] == "sources"
    screenshot(page, "goal-page-by-source-weekly")

    page.uncheck("#show-unattributed")
    chart = wait_chart(page, view="sources", unattributed="0")
    assert [d["label"] for d in chart["datasets"]] == ["Onboarding", "Product news"]
    assert query_of(page)["unattributed"] == "0"

    page.click("button[data-value=day]")
    page.click("button[data-value=bar]")
    chart = wait_chart(page, view="sources", period="day", chart="bar")
    assert chart["type"] == "bar" and len(chart["labels"]) == 30
    screenshot(page, "goal-page-by-source-daily-bar")

    # The URL is the view: opening it again draws the same chart.
    shared = page.url
    page.goto("about:blank")
    page.goto(shared)
    again = wait_chart(page, view="sources", period="day", chart="bar", unattributed="0")
    assert again == chart
    assert page.get_attribute("button[data-value=sources]", "aria-pressed") == "true"
    assert not page.is_checked("#show-unattributed")


def test_the_date_range_changes_with_presets_and_custom_dates(
    page: Page, login: Callable[[User], Page], owner: User, goal: Goal
) -> None:
    login(owner)
    page.goto(f"/goals/{goal.pk}/")
    wait_chart(page, view="total")
    page.click("button[data-value=week]")
    wait_chart(page, period="week")
    today = timezone.localdate(timezone=goal.workspace.tz)

    page.click("a[data-preset='7']")
    page.wait_for_url("**start=*")
    query = query_of(page)
    assert query["start"] == (today - timedelta(days=6)).isoformat()
    assert query["end"] == today.isoformat()
    assert query["period"] == "week"  # the view options came along
    assert page.inner_text("#total-people") == "2"
    assert page.get_attribute("a[data-preset='7']", "aria-current") == "true"
    chart = wait_chart(page, period="week")
    assert sum(series(chart, "people")) == 2
    screenshot(page, "goal-page-last-7-days")

    page.click("button[data-value=day]")
    wait_chart(page, period="day")
    start, end = today - timedelta(days=13), today - timedelta(days=4)
    page.fill("#id_start", start.isoformat())
    page.fill("#id_end", end.isoformat())
    page.click("#range-apply")
    page.wait_for_url(f"**start={start.isoformat()}**")
    query = query_of(page)
    assert (query["start"], query["end"], query["period"]) == (
        start.isoformat(),
        end.isoformat(),
        "day",
    )
    assert page.inner_text("#total-people") == "3"  # p1, p2, p3
    chart = wait_chart(page, period="day")
    assert chart["labels"][0] == start.isoformat() and chart["labels"][-1] == end.isoformat()
    assert sum(series(chart, "people")) == 3
    screenshot(page, "goal-page-custom-range")

    # A reversed range is a form error on the page, not a server error.
    page.fill("#id_start", end.isoformat())
    page.fill("#id_end", start.isoformat())
    page.click("#range-apply")
    page.wait_for_selector(".errornote")
    assert "must be on or after start" in page.inner_text("#range-form")
    screenshot(page, "goal-page-range-error")


def test_a_recompute_shows_a_banner_and_the_page_updates_itself_when_it_ends(
    page: Page,
    login: Callable[[User], Page],
    owner: User,
    goal: Goal,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queued: list[int] = []
    monkeypatch.setattr(tasks.recompute_goal, "delay", lambda goal_id: queued.append(goal_id))
    # A window of 0 days: every message here was sent the day before its achievement or
    # earlier, so every achievement becomes unattributed.
    services.goal_update(goal=goal, attribution={"window_days": 0})
    goal.refresh_from_db()
    assert goal.status == GoalStatus.RECOMPUTING and queued == [goal.pk]

    login(owner)
    page.goto(f"/goals/{goal.pk}/")
    wait_chart(page, view="total")
    banner = page.inner_text("#recompute-banner")
    assert "Recomputing… the numbers shown are the previous complete result" in banner
    assert page.inner_text("#unattributed-people") == "3"  # the previous result
    assert page.inner_text("#settings-window").startswith("0 days")  # the new settings
    screenshot(page, "goal-page-recomputing")

    tasks.recompute_goal.apply(args=(goal.pk,)).get()
    goal.refresh_from_db()
    assert goal.status == GoalStatus.READY

    page.wait_for_selector("#goal-page[data-status=ready]", timeout=15_000)
    assert page.locator("#recompute-banner").count() == 0
    assert page.inner_text("#unattributed-people") == "6"
    assert page.inner_text("#total-people") == "6"
    wait_chart(page, view="total")
    screenshot(page, "goal-page-recomputed")


def test_the_by_source_legend_names_every_source_of_a_goal_with_many(
    page: Page, login: Callable[[User], Page], owner: User, goal: Goal
) -> None:
    many = [
        Campaign.objects.create(
            workspace=goal.workspace,
            name=f"Spring campaign {n:02d} (winback, EU)",
            status="running",
        )
        for n in range(66)
    ]
    services.sources_change(goal=goal, add=[("campaign", c.pk) for c in many])
    names = ["Onboarding", "Product news", *(c.name for c in many)]
    login(owner)
    page.set_viewport_size({"width": 800, "height": 900})
    page.goto(f"/goals/{goal.pk}/?view=sources")
    chart = wait_chart(page, view="sources")
    assert len(chart["datasets"]) == 69

    legend = page.locator("#chart-legend")
    expect(legend).to_be_visible()
    shown = legend.get_by_role("button").all_inner_texts()
    assert sorted(shown) == sorted([*names, "Unattributed"])
    assert shown == [d["label"] for d in chart["datasets"]]  # in the chart's order
    # A long legend scrolls inside its box; the last name can be scrolled to and read.
    last = legend.get_by_role("button", name="Unattributed")
    last.scroll_into_view_if_needed()
    assert last.is_visible()
    box, window = last.bounding_box(), page.viewport_size
    assert box is not None and window is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= window["width"]
    screenshot(page, "goal-page-many-sources-800")

    # Pressing a series hides it, as the canvas's legend did.
    news = legend.get_by_role("button", name="Product news", exact=True)
    expect(news).to_have_attribute("aria-pressed", "true")
    news.click()
    expect(news).to_have_attribute("aria-pressed", "false")
    hidden = page.evaluate(
        """() => {
          const chart = Chart.getChart(document.getElementById('progress-chart'));
          return chart.data.datasets.filter((d, i) => !chart.isDatasetVisible(i)).map(d => d.label);
        }"""
    )
    assert hidden == ["Product news"]


READ_COLORS = """() => {
  const style = getComputedStyle(document.documentElement);
  const chart = Chart.getChart(document.getElementById('progress-chart'));
  return {
    text: style.getPropertyValue('--body-quiet-color').trim(),
    grid: style.getPropertyValue('--hairline-color').trim(),
    ticks: chart.scales.people.options.ticks.color,
    title: chart.scales.x.options.title.color,
    gridLines: chart.scales.x.options.grid.color,
  };
}"""


def test_the_chart_follows_the_theme_toggle_without_a_reload(
    page: Page, login: Callable[[User], Page], owner: User, goal: Goal
) -> None:
    login(owner)
    page.goto(f"/goals/{goal.pk}/")
    wait_chart(page, view="total")
    light = page.evaluate(READ_COLORS)
    assert light["ticks"] == light["title"] == light["text"]
    assert light["gridLines"] == light["grid"]
    page.evaluate("window.notReloaded = true")

    page.locator(".theme-toggle").click()  # auto (light) -> dark
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.wait_for_function(
        """(before) => {
          const style = getComputedStyle(document.documentElement);
          const chart = Chart.getChart(document.getElementById('progress-chart'));
          return chart.scales.people.options.ticks.color !== before
            && chart.scales.people.options.ticks.color
               === style.getPropertyValue('--body-quiet-color').trim();
        }""",
        arg=light["ticks"],
    )
    dark = page.evaluate(READ_COLORS)
    assert dark["text"] != light["text"] and dark["grid"] != light["grid"]
    assert dark["ticks"] == dark["title"] == dark["text"]
    assert dark["gridLines"] == dark["grid"]
    assert page.evaluate("window.notReloaded === true")
    screenshot(page, "goal-page-dark")

    page.locator(".theme-toggle").click()  # dark -> light
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    page.wait_for_function(
        "(color) => Chart.getChart(document.getElementById('progress-chart'))"
        ".scales.people.options.ticks.color === color",
        arg=light["ticks"],
    )


def test_a_negative_impact_keeps_its_sign_beside_the_amount(
    page: Page, login: Callable[[User], Page], workspace: Workspace, owner: User
) -> None:
    """Refunds (negative event values, kept by design) can make the Impact negative. Where the
    card is too narrow for the amount on one line, the line must not break after the minus
    sign: a lone "-" above "KWD 1,000,009.745" reads as a positive amount."""
    outcome = ingest(
        workspace=workspace,
        items=[
            {
                "type": "event",
                "person": f"r{index}",
                "name": "refund",
                "timestamp": ago(2),
                "data": {"amount": amount},
            }
            for index, amount in enumerate(["-1000000.5", -9.245])
        ],
    )
    assert all(result.status < 300 for result in outcome.results)
    goal = services.goal_create(
        workspace=workspace,
        name="Refunds",
        criteria={"trigger": {"type": "event", "name": "refund"}, "filters": []},
        impact={"currency": "KWD", "event_key": "amount"},
    )
    login(owner)

    for width in (1280, 900, 420):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"/goals/{goal.pk}/")
        impact = page.locator("#impact-revenue")
        expect(impact).to_have_attribute("title", "-1,000,009.745 KWD")
        # The first and the second visible character of the formatted amount are on one line.
        tops = impact.evaluate(
            """(node) => {
              const text = node.firstChild;
              const visible = [...text.data].findIndex(
                (c, i) => i > 0 && c.trim() && c !== '\\u2060'
              );
              const top = (i) => {
                const range = document.createRange();
                range.setStart(text, i);
                range.setEnd(text, i + 1);
                return range.getBoundingClientRect().top;
              };
              return [text.data, top(0), top(visible)];
            }"""
        )
        assert tops[0].startswith("-"), tops
        assert tops[1] == tops[2], f"the sign is alone on its line at {width}px: {tops}"
    screenshot(page, "goal-page-negative-impact")


def test_amounts_are_shown_exactly_as_the_report_has_them(
    page: Page, login: Callable[[User], Page], workspace: Workspace, owner: User
) -> None:
    """Money is Decimal, never float (SPEC §4.2): the browser's currency format gets the
    report's decimal text, not a JavaScript number, whose 53 bits turned 99999999999.990001
    into 99,999,999,999.99 on the goal page and the dashboard while the API said otherwise."""
    outcome = ingest(
        workspace=workspace,
        items=[
            {
                "type": "event",
                "person": f"b{index}",
                "name": "purchase",
                "timestamp": ago(2),
                "data": {"amount": amount},
            }
            for index, amount in enumerate(["99999999999.99", "0.000001"])
        ],
    )
    assert all(result.status < 300 for result in outcome.results)
    goal = services.goal_create(
        workspace=workspace,
        name="Big",
        criteria={"trigger": {"type": "event", "name": "purchase"}, "filters": []},
        impact={"currency": "EUR", "event_key": "amount"},
    )
    login(owner)

    page.goto(f"/goals/{goal.pk}/")
    impact = page.locator("#impact-revenue")
    expect(impact).to_have_attribute("data-money", "99999999999.990001")
    expect(impact).to_have_text("€99,999,999,999.990001")
    page.goto("/goals/")
    expect(page.locator(".field-impact [data-money]")).to_have_text("€99,999,999,999.990001")


def test_a_copied_goal_page_link_opens_in_its_workspace(
    page: Page,
    login: Callable[[User], Page],
    owner: User,
    goal: Goal,
    other_workspace: Workspace,
) -> None:
    """The page keeps its view in the URL so that a copied link reproduces it (decisions): the
    link must also name the goal's workspace, or a member whose session is in another of
    their workspaces (or who switches later) gets "not found"."""
    Membership.objects.create(workspace=other_workspace, user=owner, role=Role.ADMIN)
    login(owner)
    page.click(f"a[href='/goals/{goal.pk}/']")
    page.wait_for_url(f"**/goals/{goal.pk}/**")
    wait_chart(page, view="total")
    copied = page.url

    page.select_option("#workspace-select", label=other_workspace.name)
    page.click("#workspace-switch")
    page.wait_for_url("**/goals/")
    response = page.goto(copied)

    assert response is not None and response.status == 200
    expect(page.locator("h1")).to_have_text(goal.name)


def test_the_page_keeps_working_after_a_switch_to_another_workspace_in_another_tab(
    page: Page,
    login: Callable[[User], Page],
    owner: User,
    goal: Goal,
    other_workspace: Workspace,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A member of two workspaces keeps a goal page open and switches workspace in another
    tab. The page's own requests (chart views, recompute status) acted in the session's
    workspace: a toggle answered "The chart could not be loaded" and a recompute was polled
    for ever. They name the page's workspace, and leave the other tab's choice alone (the
    reload that shows the new result is a visit of the page's own URL, which names its
    workspace, as a copied link does)."""
    Membership.objects.create(workspace=other_workspace, user=owner, role=Role.ADMIN)
    queued: list[int] = []
    monkeypatch.setattr(tasks.recompute_goal, "delay", lambda goal_id: queued.append(goal_id))
    services.goal_update(goal=goal, attribution={"window_days": 0})
    login(owner)
    page.goto(f"/goals/{goal.pk}/")
    wait_chart(page, view="total")

    other_tab = page.context.new_page()
    other_tab.goto("/goals/")
    other_tab.select_option("#workspace-select", label=other_workspace.name)
    other_tab.click("#workspace-switch")
    other_tab.wait_for_url("**/goals/")

    page.get_by_role("button", name="Weekly").click()
    chart = wait_chart(page, view="total", period="week")
    assert sum(series(chart, "people")) == 6
    page.wait_for_timeout(2_000)  # a status poll or two
    # The other tab still acts in the workspace it chose.
    other_tab.reload()
    expect(other_tab.locator("#workspace-select")).to_have_value(str(other_workspace.pk))
    other_tab.close()

    tasks.recompute_goal.apply(args=(goal.pk,)).get()
    page.wait_for_selector("#goal-page[data-status=ready]", timeout=15_000)
    assert page.inner_text("#unattributed-people") == "6"


def test_a_goal_deleted_while_its_page_waits_for_a_recompute_says_so(
    page: Page,
    login: Callable[[User], Page],
    owner: User,
    goal: Goal,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Deleted (by a colleague) while its page waited for a recompute, the page polled a
    status that answers 404 for ever, still saying that a new result was coming."""
    monkeypatch.setattr(tasks.recompute_goal, "delay", lambda goal_id: None)
    services.goal_update(goal=goal, attribution={"window_days": 0})
    login(owner)
    page.goto(f"/goals/{goal.pk}/")
    wait_chart(page, view="total")
    expect(page.locator("#recompute-banner")).to_contain_text("Recomputing…")

    services.goal_delete(goal=goal)

    expect(page.locator("#recompute-banner")).to_contain_text(
        "This goal can no longer be found: it was deleted, or you left its workspace.",
        timeout=10_000,
    )
