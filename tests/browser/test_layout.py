"""Layout across the pages a marketer opens at common window widths: nothing runs off the page or
under another part of it, the header stays readable, and no page logs a console error."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Page

from campaigns import sources
from campaigns.models import Workspace
from goals import services
from goals.models import Goal
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def make_goals(workspace: Workspace) -> list[int]:
    goals = [
        services.goal_create(
            workspace=workspace,
            name=name,
            description=description,
            tags=tags,
            criteria={"trigger": {"type": "event", "name": "plan_activated"}},
            impact={"currency": "EUR", "static": "29.00"},
        )
        for name, description, tags in (
            ("Trial to paid", "People who activate a paid plan.", ["revenue", "conversion"]),
            ("Win-back: back to paying", "Customers back in the paying segment.", ["win-back"]),
        )
    ]
    return [goal.pk for goal in goals]


@pytest.mark.parametrize("width", [800, 1024])
def test_the_dashboard_fits_narrower_windows(
    page: Page, login: Callable[[User], Page], owner: User, workspace: Workspace, width: int
) -> None:
    make_goals(workspace)
    login(owner)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/goals/")
    # No sideways scrolling, and the list does not run under the filter column.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    table = page.locator("#result_list").bounding_box()
    filters = page.locator("#changelist-filter").bounding_box()
    assert table is not None and filters is not None
    assert table["x"] + table["width"] <= width
    overlaps = not (
        table["x"] + table["width"] <= filters["x"]
        or filters["x"] + filters["width"] <= table["x"]
        or table["y"] + table["height"] <= filters["y"]
        or filters["y"] + filters["height"] <= table["y"]
    )
    assert not overlaps, (table, filters)
    # Every row's menu is reachable.
    for menu in page.locator(".goal-menu summary").all():
        box = menu.bounding_box()
        assert box is not None and box["x"] + box["width"] <= width
    screenshot(page, f"dashboard-{width}")


def test_the_header_reads_the_same_on_every_page(
    page: Page, login: Callable[[User], Page], owner: User, workspace: Workspace
) -> None:
    goal_id = make_goals(workspace)[0]
    login(owner)

    def label_style() -> list[str]:
        return page.locator("#workspace-switcher label").evaluate(
            "e => { const s = getComputedStyle(e); return [s.color, s.fontSize, s.fontWeight]; }"
        )

    expected = label_style()  # the dashboard's
    for path in (
        "/goals/new/",
        f"/goals/{goal_id}/",
        f"/goals/{goal_id}/edit/",
        f"/goals/{goal_id}/settings/",
        f"/goals/{goal_id}/sources/",
        f"/goals/{goal_id}/sources/add/",
        f"/goals/{goal_id}/delete/",
    ):
        page.goto(path)
        assert label_style() == expected, path


def test_a_first_visit_logs_no_console_errors(
    browser: Browser, live_server: object, owner: User, workspace: Workspace
) -> None:
    goal_id = make_goals(workspace)[0]
    # A new browser context: nothing cached, as on a marketer's first visit (the browser asks
    # for /favicon.ico once per profile).
    context = browser.new_context(base_url=str(live_server.url))  # type: ignore[attr-defined]
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto("/accounts/login/")
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(500)  # the browser asks for the icon after the page loaded
        page.fill("#id_username", "alice")
        page.fill("#id_password", "password")
        page.click("input[type=submit]")
        page.wait_for_url("**/goals/")
        for path in (f"/goals/{goal_id}/", "/admin/"):
            page.goto(path)
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(300)
    finally:
        context.close()
    assert errors == []


def test_pages_fit_a_phone_and_wide_tables_scroll_inside_their_box(
    page: Page, login: Callable[[User], Page], owner: User, workspace: Workspace
) -> None:
    campaign = sources.campaign_create(
        workspace=workspace,
        name="Onboarding - welcome emails for new trial accounts",
        status="running",
        tags=["onboarding", "lifecycle"],
    )
    broadcast = sources.broadcast_create(
        workspace=workspace,
        name="Product newsletter",
        status="sent",
        channels=["email", "push"],
        tags=["newsletter", "product"],
    )
    goal_id = make_goals(workspace)[0]
    services.goal_update(
        goal=Goal.objects.get(pk=goal_id),
        sources=[
            {"type": "campaign", "id": campaign.pk},
            {"type": "broadcast", "id": broadcast.pk},
        ],
    )
    login(owner)
    page.set_viewport_size({"width": 375, "height": 800})
    for path in (
        "/goals/",
        f"/goals/{goal_id}/",
        f"/goals/{goal_id}/sources/",
        f"/goals/{goal_id}/sources/add/",
    ):
        page.goto(path)
        # The page never scrolls sideways (the header stops at the window's edge, so a wide
        # table made the rest of the page run off under it); a table wider than a phone
        # scrolls inside its own box.
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
    screenshot(page, "picker-375")


@pytest.mark.parametrize("width", [375, 1280])
def test_long_words_in_a_goal_wrap_instead_of_running_off_the_page(
    page: Page, login: Callable[[User], Page], owner: User, workspace: Workspace, width: int
) -> None:
    # Names, descriptions, tags and criteria are free text: a snake_case name, a URL in the
    # description, a long event key. Each runs off the page unless it may wrap inside a word.
    goal = services.goal_create(
        workspace=workspace,
        name="trial_to_paid_conversion_" + "emea_enterprise_" * 8,
        description="Landing page: https://example.com/campaigns/2026/black-friday/landing"
        "?utm_source=newsletter&utm_medium=email&utm_campaign=black_friday_2026_early_access",
        tags=["black_friday_2026_" + "early_access_" * 6],
        criteria={
            "trigger": {
                "type": "event",
                "name": "checkout_completed_" * 8,
                "conditions": [
                    {"key": "order.items.first.sku_" + "x" * 60, "op": "eq", "value": "y" * 80}
                ],
            }
        },
    )
    login(owner)
    page.set_viewport_size({"width": width, "height": 900})
    for path in (
        "/goals/",
        f"/goals/{goal.pk}/",
        f"/goals/{goal.pk}/edit/",
        f"/goals/{goal.pk}/settings/",
        f"/goals/{goal.pk}/sources/",
        f"/goals/{goal.pk}/sources/add/",
        f"/goals/{goal.pk}/delete/",
    ):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, path
        # The title and the breadcrumbs wrap inside their boxes.
        for box in ("#content h1", ".breadcrumbs"):
            assert page.locator(box).evaluate("e => e.scrollWidth <= e.clientWidth"), (path, box)
    screenshot(page, f"long-words-{width}")
