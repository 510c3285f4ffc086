"""Audit G: the marketing UI as a marketer and a workspace administrator use it (SPEC §1, §4,
§5, §6), checked in the browser."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page

from campaigns.models import Workspace
from goals import services
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
