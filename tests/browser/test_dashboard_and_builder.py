"""The goals dashboard and the goal builder in Chromium: create a goal through the builder
(rows added and removed by builder.js), land on its page, find it on the dashboard by its tag,
and delete it through the per-goal menu and the confirmation page."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Page, expect

from campaigns.models import Workspace
from goals import services, tasks
from goals.models import Goal
from tests.browser.conftest import screenshot
from tests.goals.helpers import ingest

pytestmark = pytest.mark.django_db(transaction=True)


def test_create_find_and_delete_a_goal(
    page: Page, login: Callable[[User], Page], owner: User, workspace: Workspace
) -> None:
    services.goal_create(
        workspace=workspace,
        name="Onboarding completed",
        tags=["onboarding"],
        criteria={"trigger": {"type": "event", "name": "onboarding_completed"}},
    )
    login(owner)

    # The dashboard lists the existing goal; "Create goal" opens the builder.
    expect(page.locator("#result_list")).to_contain_text("Onboarding completed")
    page.click("#create-goal")
    page.wait_for_url("**/goals/new/")

    page.fill("#id_name", "Big orders")
    page.fill("#id_description", "Orders of 100 or more.")
    page.fill("#id_tags", "revenue, e2e")

    # Only the chosen trigger's fields show.
    expect(page.locator("#id_event_name")).to_be_visible()
    expect(page.locator("#id_attribute_key")).to_be_hidden()
    page.check("#id_trigger_type_1")  # attribute
    expect(page.locator("#id_attribute_key")).to_be_visible()
    expect(page.locator("#id_event_name")).to_be_hidden()
    page.check("#id_trigger_type_0")  # event
    page.fill("#id_event_name", "order_completed")

    # Two data conditions, then remove the first: the second is renumbered to row 0.
    add_condition = page.get_by_role("button", name="Add condition")
    add_condition.click()
    page.fill("#id_conditions-0-key", "channel")
    page.fill("#id_conditions-0-value", "web")
    add_condition.click()
    page.fill("#id_conditions-1-key", "total")
    page.select_option("#id_conditions-1-op", "gte")
    page.fill("#id_conditions-1-value", "100")
    page.locator("[data-rows=conditions] [data-remove-row]").first.click()
    expect(page.locator("#id_conditions-0-key")).to_have_value("total")
    expect(page.locator("#id_conditions-1-key")).to_have_count(0)
    expect(page.locator("#id_conditions-TOTAL_FORMS")).to_have_value("1")

    # A valueless operator hides the value box.
    add_condition.click()
    page.fill("#id_conditions-1-key", "coupon")
    page.select_option("#id_conditions-1-op", "exists")
    expect(page.locator("#id_conditions-1-value")).to_be_hidden()

    # A filter row.
    page.get_by_role("button", name="Add filter").click()
    page.fill("#id_filters-0-key", "country")
    page.fill("#id_filters-0-value", "DE")

    # Impact: a fixed amount; the amount field shows only in that mode.
    expect(page.locator("#id_impact_static")).to_be_hidden()
    page.check("#id_impact_mode_1")
    expect(page.locator("#id_impact_static")).to_be_visible()
    expect(page.locator("#id_impact_event_key")).to_be_hidden()
    page.select_option("#id_impact_currency", "EUR")
    page.fill("#id_impact_static", "12.5")
    screenshot(page, "builder")

    page.click("input[name=_save]")
    page.wait_for_url(re.compile(r"/goals/\d+/$"))
    goal = Goal.objects.get(name="Big orders")
    assert page.url.endswith(f"/goals/{goal.pk}/")
    assert goal.criteria == {
        "trigger": {
            "type": "event",
            "name": "order_completed",
            "conditions": [
                {"key": "total", "op": "gte", "value": "100"},
                {"key": "coupon", "op": "exists"},
            ],
        },
        "filters": [{"type": "attribute", "key": "country", "op": "eq", "value": "DE"}],
    }
    assert (goal.impact_currency, goal.impact_static) == ("EUR", Decimal("12.50"))
    assert sorted(goal.tags.names()) == ["e2e", "revenue"]

    # Back to the dashboard: listed with its tags; a tag link filters the list.
    page.goto("/goals/")
    row = page.locator("#result_list tbody tr", has_text="Big orders")
    # The browser's currency format (locale en-GB), the server's text kept as the tooltip.
    expect(row.locator("[data-money]")).to_have_text("€0.00")
    expect(row.locator("[data-money]")).to_have_attribute("title", "0.00 EUR")
    screenshot(page, "dashboard")
    row.get_by_role("link", name="e2e").click()
    page.wait_for_url("**/goals/?tag=e2e")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator("#result_list")).not_to_contain_text("Onboarding completed")
    expect(page.locator("#changelist-filter li.selected")).to_contain_text(["e2e"])

    # Delete it through the menu and the confirmation page.
    row = page.locator("#result_list tbody tr", has_text="Big orders")
    row.get_by_label("Actions for Big orders").click()
    row.get_by_role("link", name="Delete goal").click()
    page.wait_for_url(f"**/goals/{goal.pk}/delete/")
    expect(page.locator("#content-main")).to_contain_text("Are you sure")
    screenshot(page, "goal_delete")
    page.click("#confirm-delete")
    page.wait_for_url("**/goals/")
    expect(page.locator(".messagelist")).to_contain_text("The goal “Big orders” was deleted.")
    expect(page.locator("#result_list")).not_to_contain_text("Big orders")
    assert not Goal.objects.filter(pk=goal.pk).exists()


def test_builder_errors_keep_the_rows_and_the_chosen_panels(
    page: Page, login: Callable[[User], Page], owner: User, workspace: Workspace
) -> None:
    login(owner)
    page.goto("/goals/new/")
    page.fill("#id_name", "Upgrades")
    page.check("#id_trigger_type_1")  # attribute, left without a key
    page.get_by_role("button", name="Add filter").click()
    page.fill("#id_filters-0-key", "plan")
    page.select_option("#id_filters-0-op", "gt")  # no value
    page.check("#id_impact_mode_1")
    page.select_option("#id_impact_currency", "EUR")
    page.fill("#id_impact_static", "1.234")

    page.click("input[name=_save]")

    expect(page.locator(".errornote")).to_contain_text("Please correct the errors below.")
    expect(page.locator(".field-attribute_key .errorlist")).to_contain_text(
        "This field is required."
    )
    expect(page.locator("#id_attribute_key")).to_be_visible()
    expect(page.locator("#id_event_name")).to_be_hidden()
    expect(page.locator("[data-rows=filters] .errorlist")).to_contain_text(
        "required for the gt operator"
    )
    expect(page.locator("#id_filters-0-key")).to_have_value("plan")
    expect(page.locator(".field-impact_static .errorlist")).to_contain_text(
        "EUR amounts have at most 2 decimals"
    )
    screenshot(page, "builder_errors")
    assert not Goal.objects.exists()


def test_the_dashboard_follows_a_recompute_until_it_ends(
    page: Page,
    login: Callable[[User], Page],
    owner: User,
    workspace: Workspace,
    make_token_client: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    yesterday = (timezone.now() - timedelta(days=1)).isoformat()
    ingest(
        make_token_client(workspace),
        *(
            {"type": "event", "person": f"p{n}", "name": "plan_activated", "timestamp": yesterday}
            for n in range(3)
        ),
    )
    trigger = {"type": "event", "name": "plan_activated"}
    goal = services.goal_create(workspace=workspace, name="Paid", criteria={"trigger": trigger})
    queued: list[int] = []
    monkeypatch.setattr(tasks.recompute_goal, "delay", lambda goal_id: queued.append(goal_id))
    services.goal_update(goal=goal, criteria={"trigger": {**trigger, "name": "plan_cancelled"}})
    assert queued == [goal.pk]

    login(owner)
    row = page.locator("#result_list tbody tr", has_text="Paid")
    expect(row.locator(".field-status")).to_have_text("Recomputing")
    expect(row.locator(".field-total")).to_have_text("3")  # the previous complete result

    tasks.recompute_goal.apply(args=(goal.pk,)).get()

    # The page polls the goal's status and reloads itself with the new result.
    expect(row.locator(".field-status")).to_have_text("Ready", timeout=15_000)
    expect(row.locator(".field-total")).to_have_text("0")
