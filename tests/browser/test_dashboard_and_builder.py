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

from campaigns import services as campaign_services
from campaigns.models import Membership, Role, Workspace
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
    # The goal page names its workspace in the address bar (a copied link opens in it).
    page.wait_for_url(re.compile(r"/goals/\d+/(\?workspace=\d+)?$"))
    goal = Goal.objects.get(name="Big orders")
    assert page.url.split("?")[0].endswith(f"/goals/{goal.pk}/")
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


def test_the_message_trigger_offers_only_the_chosen_channels_metrics(
    page: Page, login: Callable[[User], Page], owner: User, workspace: Workspace
) -> None:
    """SPEC §3: an SMS is never opened, a webhook never delivered. Offered every metric
    whatever the channel, the builder let a marketer pick "SMS, opened" and only refused it
    on Save."""
    login(owner)
    page.goto("/goals/new/")
    page.check("#id_trigger_type_3")  # message
    metric = page.locator("#id_message_metric")

    def offered() -> list[str]:
        return list(
            metric.evaluate(
                "select => [...select.options].filter(o => !o.hidden && !o.disabled)"
                ".map(o => o.value)"
            )
        )

    every = [
        "",
        "sent",
        "delivered",
        "opened",
        "clicked",
        "converted",
        "bounced",
        "dropped",
        "failed",
        "spammed",
        "unsubscribed",
    ]
    assert offered() == every
    page.select_option("#id_message_metric", "opened")
    page.select_option("#id_message_channel", "sms")
    assert "opened" not in offered()
    assert offered()[:4] == ["", "sent", "delivered", "clicked"]
    # The metric the new channel lacks is no longer chosen: Save would only refuse it.
    expect(metric).to_have_value("")
    page.select_option("#id_message_metric", "clicked")
    page.select_option("#id_message_channel", "webhook")
    assert offered()[:3] == ["", "sent", "clicked"]
    expect(metric).to_have_value("clicked")  # webhooks have it: kept
    page.select_option("#id_message_channel", "")
    assert offered() == every

    page.fill("#id_name", "Clicked a webhook")
    page.click("input[name=_save]")
    page.wait_for_url(re.compile(r"/goals/\d+/"))
    goal = Goal.objects.get(name="Clicked a webhook")
    assert goal.criteria["trigger"] == {"type": "message", "metric": "clicked"}


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


def inside_the_window(page: Page, locator: Any) -> bool:
    """Shown, and wholly inside the window's width (nothing clipped, no sideways scrolling)."""
    box = locator.bounding_box()
    width = page.viewport_size["width"] if page.viewport_size else 0
    return (
        locator.is_visible()
        and box is not None
        and box["width"] > 0
        and box["x"] >= 0
        and box["x"] + box["width"] <= width
    )


def test_the_builders_rows_fit_an_800px_window(
    page: Page, login: Callable[[User], Page], owner: User, workspace: Workspace
) -> None:
    login(owner)
    page.set_viewport_size({"width": 800, "height": 900})
    page.goto("/goals/new/")
    page.fill("#id_name", "Narrow")
    page.fill("#id_event_name", "order_completed")
    page.get_by_role("button", name="Add condition").click()
    page.get_by_role("button", name="Add filter").click()
    page.get_by_role("button", name="Add filter").click()

    # Every control of a filter row is on screen and usable, found by its accessible name.
    for name in ("Filter 1 type", "Filter 1 attribute", "Filter 1 operator", "Filter 1 value"):
        assert inside_the_window(page, page.get_by_label(name, exact=True)), name
    remove = page.get_by_role("button", name="Remove filter 1", exact=True)
    assert inside_the_window(page, remove)
    assert inside_the_window(page, page.get_by_label("Condition 1 value", exact=True))
    assert inside_the_window(page, page.get_by_role("button", name="Remove condition 1"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 800
    screenshot(page, "builder-800")

    page.get_by_label("Filter 1 attribute", exact=True).fill("country")
    page.get_by_label("Filter 1 value", exact=True).fill("DE")
    page.get_by_label("Filter 2 attribute", exact=True).fill("plan")
    page.get_by_label("Filter 2 value", exact=True).fill("pro")
    remove.click()
    # The second row is now the first, and named so.
    expect(page.get_by_label("Filter 1 attribute", exact=True)).to_have_value("plan")
    expect(page.get_by_label("Filter 2 attribute", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Remove filter 2")).to_have_count(0)
    page.get_by_role("button", name="Remove condition 1").click()

    page.click("input[name=_save]")
    page.wait_for_url(re.compile(r"/goals/\d+/$"))
    assert Goal.objects.get(name="Narrow").criteria["filters"] == [
        {"type": "attribute", "key": "plan", "op": "eq", "value": "pro"}
    ]


def test_the_builders_rows_stay_a_table_at_1280px(
    page: Page, login: Callable[[User], Page], owner: User, workspace: Workspace
) -> None:
    login(owner)
    page.goto("/goals/new/")
    page.get_by_role("button", name="Add filter").click()
    headings = page.locator("[data-rows=filters] .builder-table thead")
    expect(headings).to_be_visible()
    value = page.get_by_label("Filter 1 value", exact=True)
    remove = page.get_by_role("button", name="Remove filter 1")
    assert inside_the_window(page, value) and inside_the_window(page, remove)
    # One line: the value and the Remove button beside the type, as before.
    kind = page.get_by_label("Filter 1 type", exact=True).bounding_box()
    assert kind is not None
    for control in (value, remove):
        box = control.bounding_box()
        assert box is not None and abs(box["y"] - kind["y"]) < 10


def test_rows_and_radio_groups_have_accessible_names(
    page: Page, login: Callable[[User], Page], owner: User, workspace: Workspace
) -> None:
    login(owner)
    page.goto("/goals/new/")
    trigger = page.get_by_role("radiogroup", name="A person achieves the goal when")
    expect(trigger.get_by_role("radio")).to_have_count(4)
    trigger.get_by_role("radio", name="Attribute change").check()
    expect(page.locator("#id_attribute_key")).to_be_visible()
    impact = page.get_by_role("radiogroup", name="Impact")
    expect(impact.get_by_role("radio")).to_have_count(3)

    trigger.get_by_role("radio", name="Event").check()
    page.get_by_role("button", name="Add condition").click()
    page.get_by_role("button", name="Add condition").click()
    for n in (1, 2):
        for part in ("key", "operator", "value"):
            expect(page.get_by_label(f"Condition {n} {part}", exact=True)).to_be_visible()
        expect(page.get_by_role("button", name=f"Remove condition {n}")).to_be_visible()
    page.get_by_role("button", name="Add filter").click()
    page.get_by_label("Filter 1 type", exact=True).select_option("in_segment")
    expect(page.get_by_label("Filter 1 segment", exact=True)).to_be_visible()
    expect(page.get_by_label("Filter 1 attribute", exact=True)).to_be_hidden()


def test_the_workspace_switcher_waits_for_its_button(
    page: Page,
    login: Callable[[User], Page],
    owner: User,
    workspace: Workspace,
    other_workspace: Workspace,
) -> None:
    third = campaign_services.workspace_create(name="Initech", time_zone="UTC")
    for other in (other_workspace, third):
        Membership.objects.create(workspace=other, user=owner, role=Role.VIEWER)
    services.goal_create(
        workspace=third, name="Initech goal", criteria={"trigger": {"type": "event", "name": "x"}}
    )
    login(owner)
    switcher = page.get_by_label("Workspace")
    expect(switcher).to_have_value(str(workspace.pk))
    page.evaluate("window.notReloaded = true")

    # A keyboard user walks down the list: nothing switches on the way.
    switcher.focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(switcher).to_have_value(str(third.pk))
    page.wait_for_timeout(300)
    assert page.evaluate("window.notReloaded === true")
    expect(page.locator(".workspace-role")).to_have_text("Admin")

    # The button next to it switches.
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Switch")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#result_list")).to_contain_text("Initech goal")
    expect(page.get_by_label("Workspace")).to_have_value(str(third.pk))
    expect(page.locator(".workspace-role")).to_have_text("Viewer")
