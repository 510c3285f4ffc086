"""Audit G: the marketing UI as a marketer and a workspace administrator use it (SPEC §1, §4,
§5, §6), checked in the browser."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from campaigns.models import Membership, Role, Workspace
from goals import services
from goals.models import Goal, GoalStatus
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("width", [390, 1280])
def test_dashboard_tags_keep_their_words_whole(
    page: Page, login: Callable[[User], Page], owner: User, workspace: Workspace, width: int
) -> None:
    """A tag such as "onboarding" was cut inside the word ("onboardin/g" at 1280px, one letter
    per line at a phone's width): the rule letting long free text wrap anywhere also let the
    table shrink the tags column to one character. An ordinary tag stays on one line."""
    services.goal_create(
        workspace=workspace,
        name="Onboarding completed",
        description="Finishing every onboarding step, credited to opened messages.",
        tags=["onboarding", "x"],
        criteria={"trigger": {"type": "event", "name": "onboarding_completed"}},
    )
    login(owner)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/goals/")
    long_tag = page.locator("#result_list .goal-tag", has_text="onboarding")
    short_tag = page.locator("#result_list .goal-tag", has_text="x").first
    long_box, short_box = long_tag.bounding_box(), short_tag.bounding_box()
    assert long_box is not None and short_box is not None
    screenshot(page, f"audit-dashboard-tags-{width}")
    # One line, as high as a one-letter tag.
    assert long_box["height"] <= short_box["height"] + 1, (long_box, short_box)
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def _recomputing_goal(workspace: Workspace, name: str) -> Goal:
    goal = services.goal_create(
        workspace=workspace,
        name=name,
        criteria={"trigger": {"type": "event", "name": "plan_activated"}},
    )
    Goal.objects.filter(pk=goal.pk).update(status=GoalStatus.RECOMPUTING)
    return goal


def test_dashboard_stops_waiting_for_a_goal_deleted_while_it_recomputes(
    page: Page, login: Callable[[User], Page], owner: User, workspace: Workspace
) -> None:
    """The dashboard polls a recomputing goal's status and reloads once it is ready. A goal
    deleted meanwhile (another tab, a colleague, the API) answered 404 and the dashboard polled
    it every two seconds for ever, still showing it as recomputing."""
    goal = _recomputing_goal(workspace, "Soon deleted")
    services.goal_create(
        workspace=workspace, name="Stays", criteria={"trigger": {"type": "event", "name": "x"}}
    )
    login(owner)
    page.goto("/goals/")
    expect(page.locator("#result_list")).to_contain_text("Recomputing")
    Goal.objects.filter(pk=goal.pk).delete()
    expect(page.locator("#result_list")).not_to_contain_text("Soon deleted", timeout=8_000)


def test_dashboard_polls_its_own_workspace_after_a_switch_in_another_tab(
    page: Page,
    login: Callable[[User], Page],
    owner: User,
    workspace: Workspace,
    other_workspace: Workspace,
) -> None:
    """The status polls name the dashboard's workspace, as the goal page's do: after the
    header's switcher chose another workspace in another tab, the polls were 404s for ever and
    the list never reloaded."""
    Membership.objects.create(workspace=other_workspace, user=owner, role=Role.ADMIN)
    goal = _recomputing_goal(workspace, "Acme goal")
    login(owner)
    page.goto(f"/goals/?workspace={workspace.pk}")
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/status/" in r.url else None)
    other_tab = page.context.new_page()
    other_tab.goto("/goals/")
    other_tab.select_option("#workspace-switcher select", str(other_workspace.pk))
    other_tab.click("#workspace-switcher button")
    other_tab.wait_for_load_state()
    other_tab.close()
    Goal.objects.filter(pk=goal.pk).update(status=GoalStatus.READY)
    page.wait_for_event("load", timeout=8_000)  # the list reloads once the goal is ready
    assert polls and all(f"workspace={workspace.pk}" in url for url in polls), polls
