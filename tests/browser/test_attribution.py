"""Attribution in Chromium: add sources picked on two pages of the picker (with a filter used in
between), remove one with "Edit sources", change the settings and watch the goal page leave its
recomputing state."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from campaigns import sources
from campaigns.models import Campaign, Workspace
from goals import services, tasks
from goals.models import Goal, GoalStatus
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def goal_page(goal: Goal) -> re.Pattern[str]:
    """The goal's page, which adds its workspace to the address bar as it loads."""
    return re.compile(rf"/goals/{goal.pk}/(\?workspace=\d+)?$")


@pytest.fixture
def goal(workspace: Workspace, settings: Any) -> Goal:
    settings.GOALS_PICKER_PAGE_SIZE = 10
    for n in range(18):
        sources.campaign_create(
            workspace=workspace,
            name=f"Campaign {n:02d}",
            status="draft" if n % 5 == 0 else "running",
            tags=["onboarding"] if n % 2 else [],
        )
    sources.broadcast_create(
        workspace=workspace,
        name="Weekly digest",
        status="sent",
        channels=["email", "push"],
        tags=["onboarding"],
    )
    sources.broadcast_create(
        workspace=workspace, name="SMS blast", status="draft", channels=["sms"]
    )
    sources.broadcast_create(
        workspace=workspace, name="Receipts", kind="api_triggered", channels=["email"]
    )
    return services.goal_create(
        workspace=workspace,
        name="Trial to paid",
        criteria={"trigger": {"type": "event", "name": "plan_activated"}},
    )


def row(page: Page, name: str) -> Any:
    return page.locator("#result_list tbody tr", has_text=name)


def test_add_sources_from_two_pages_remove_one_and_change_the_settings(
    page: Page,
    login: Callable[[User], Page],
    editor: User,
    goal: Goal,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    login(editor)
    page.goto(f"/goals/{goal.pk}/")
    page.click("#add-source")
    page.wait_for_url(f"**/goals/{goal.pk}/sources/add/")

    # Page 1 of 3: drafts are listed with their status; API-triggered broadcasts never are.
    expect(page.locator("#result_list tbody tr")).to_have_count(10)
    expect(row(page, "Campaign 00")).to_contain_text("Draft")
    expect(page.locator("#result_list")).not_to_contain_text("Receipts")
    row(page, "Campaign 01").locator("input[type=checkbox]").check()
    expect(page.locator("[data-selection-count]")).to_have_text("1 selected")
    expect(page.locator(".picker-actions [data-selection-submit]")).to_have_text("Add 1 source")

    # Page 2: the selection from page 1 is carried along.
    page.get_by_role("button", name="Page 2").click()
    page.wait_for_url("**p=2**")
    expect(row(page, "Campaign 12")).to_be_visible()
    expect(page.locator("#result_list")).not_to_contain_text("Campaign 01")
    expect(page.locator(".picker-selection")).to_contain_text("Campaign 01")
    row(page, "Campaign 12").locator("input[type=checkbox]").check()
    expect(page.locator("[data-selection-count]")).to_have_text("2 selected")

    # "Previous" and "Next" (the product page's < and >) carry the selection too.
    expect(page.get_by_role("button", name="Next page")).to_have_count(0)  # the last page
    page.get_by_role("button", name="Previous page").click()
    page.wait_for_function("!new URLSearchParams(location.search).has('p')")
    expect(row(page, "Campaign 01").locator("input[type=checkbox]")).to_be_checked()
    expect(page.locator("[data-selection-count]")).to_have_text("2 selected")
    expect(page.get_by_role("button", name="Previous page")).to_have_count(0)  # the first
    page.get_by_role("button", name="Next page").click()
    page.wait_for_url("**p=2**")
    expect(row(page, "Campaign 12").locator("input[type=checkbox]")).to_be_checked()
    expect(page.locator("[data-selection-count]")).to_have_text("2 selected")

    # A filter (broadcasts only) and back: both choices survive.
    page.locator("#changelist-filter details[data-filter-title=type]").get_by_role(
        "button", name="Broadcast"
    ).click()
    page.wait_for_url("**type=broadcast**")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    expect(page.locator("[data-selection-count]")).to_have_text("2 selected")
    screenshot(page, "source-picker-filtered")
    page.locator("#changelist-filter details[data-filter-title=type]").get_by_role(
        "button", name="All"
    ).click()
    page.wait_for_function("!location.search.includes('type=')")
    expect(row(page, "Campaign 01").locator("input[type=checkbox]")).to_be_checked()
    expect(page.locator("[data-selection-count]")).to_have_text("2 selected")
    screenshot(page, "source-picker")

    page.locator(".picker-actions").get_by_role("button", name="Add 2 sources").click()
    page.wait_for_url(goal_page(goal))
    sources_table = page.locator("#sources-table")
    expect(sources_table).to_contain_text("Campaign 01")
    expect(sources_table).to_contain_text("Campaign 12")
    assert {s.name for s in _sources(goal)} == {"Campaign 01", "Campaign 12"}

    # Edit sources: remove one.
    page.click("#edit-sources")
    page.wait_for_url(f"**/goals/{goal.pk}/sources/")
    row(page, "Campaign 01").locator("input[type=checkbox]").check()
    screenshot(page, "sources-edit")
    page.locator(".picker-actions").get_by_role("button", name="Remove 1 source").click()
    page.wait_for_url(goal_page(goal))
    expect(sources_table).to_contain_text("Campaign 12")
    expect(sources_table).not_to_contain_text("Campaign 01")
    assert {s.name for s in _sources(goal)} == {"Campaign 12"}

    # Edit settings: the recompute is only recorded, so the page shows it running.
    queued: list[int] = []
    monkeypatch.setattr(tasks.recompute_goal, "delay", lambda goal_id: queued.append(goal_id))
    page.click("#edit-settings")
    page.wait_for_url(f"**/goals/{goal.pk}/settings/")
    sms = [o.get_attribute("value") for o in page.locator("#id_metric_sms option").all()]
    assert sms == ["sent", "delivered", "clicked"]
    page.fill("#id_window_days", "91")
    page.click("input[type=submit][value=Save]")
    expect(page.locator(".field-window_days .errorlist")).to_contain_text(
        "less than or equal to 90"
    )
    page.fill("#id_window_days", "14")
    page.select_option("#id_metric_email", "clicked")
    page.uncheck("#id_count_machine")
    screenshot(page, "attribution-settings")
    page.click("input[type=submit][value=Save]")
    page.wait_for_url(goal_page(goal))
    assert queued == [goal.pk]
    expect(page.locator("#recompute-banner")).to_be_visible()
    expect(page.locator("#settings-window")).to_have_text("14 days")
    expect(page.locator("#settings-metrics")).to_contain_text("Clicked")
    expect(page.locator("#settings-machine")).to_have_text("not counted")

    tasks.recompute_goal.apply(args=(goal.pk,)).get()
    goal.refresh_from_db()
    assert goal.status == GoalStatus.READY
    expect(page.locator("#recompute-banner")).to_have_count(0, timeout=15_000)
    expect(page.locator("#settings-window")).to_have_text("14 days")


def _sources(goal: Goal) -> list[Any]:
    return [row.campaign or row.broadcast for row in goal.sources.select_related("campaign")]


def test_a_viewer_reaches_the_read_only_attribution_pages_from_the_goal_page(
    page: Page, login: Callable[[User], Page], viewer: User, goal: Goal
) -> None:
    campaigns = Campaign.objects.filter(workspace=goal.workspace).order_by("name")[:12]
    services.sources_change(goal=goal, add=[("campaign", c.pk) for c in campaigns])
    login(viewer)
    page.goto(f"/goals/{goal.pk}/")
    expect(page.locator("#edit-sources")).to_have_count(0)
    expect(page.locator("#edit-settings")).to_have_count(0)

    page.get_by_role("link", name="View sources").click()
    page.wait_for_url(f"**/goals/{goal.pk}/sources/")
    expect(page.locator("h1")).to_have_text("Sources")
    expect(page.locator("#result_list tbody tr")).to_have_count(10)
    expect(page.locator("#result_list input[type=checkbox]")).to_have_count(0)
    page.get_by_role("link", name="Next page").click()
    page.wait_for_url("**p=2**")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    page.get_by_role("link", name="Previous page").click()
    page.wait_for_url(f"**/goals/{goal.pk}/sources/")

    page.get_by_role("link", name="View settings").click()
    page.wait_for_url(f"**/goals/{goal.pk}/settings/")
    expect(page.locator("h1")).to_have_text("Attribution settings")
    expect(page.locator("#id_window_days")).to_be_disabled()
    expect(page.locator("input[type=submit][value=Save]")).to_have_count(0)

    page.goto(f"/goals/{goal.pk}/")
    page.get_by_role("link", name="Browse campaigns and broadcasts").click()
    page.wait_for_url(f"**/goals/{goal.pk}/sources/add/")
    expect(page.locator("h1")).to_have_text("Campaigns and broadcasts")
    expect(page.locator(".picker-readonly")).to_be_visible()
