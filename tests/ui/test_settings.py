"""The "Edit settings" page, /goals/<pk>/settings/: attribution settings (SPEC §3, §4.4)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from campaigns import channels
from campaigns.models import Workspace
from goals import services
from goals.models import Goal, GoalStatus

SIGNUP = {"trigger": {"type": "event", "name": "signup"}}

DEFAULTS: dict[str, Any] = {
    "metric_email": "delivered",
    "metric_push": "delivered",
    "metric_whatsapp": "delivered",
    "metric_sms": "delivered",
    "metric_in_app": "sent",
    "metric_webhook": "sent",
    "metric_slack": "sent",
    "count_machine": "on",
    "window_days": "7",
}


def url(goal: Goal) -> str:
    return reverse("goals_ui:settings", args=[goal.pk])


def options(html: str, name: str) -> list[str]:
    """The option values of the select called ``name``."""
    match = re.search(rf'<select name="{name}".*?</select>', html, re.S)
    assert match, f"no select {name}"
    return re.findall(r'<option value="([^"]*)"', match.group(0))


def form_row(html: str, field: str) -> str:
    """The admin form-row of ``field``: its errors, label, widget and help."""
    match = re.search(
        rf'<div class="form-row[^"]*field-{field}">.*?(?=<div class="form-row|</fieldset>)',
        html,
        re.S,
    )
    assert match, f"no form row for {field}"
    return match.group(0)


@pytest.fixture
def goal(workspace: Workspace) -> Goal:
    return services.goal_create(workspace=workspace, name="Activation", criteria=SIGNUP)


@pytest.fixture
def editor_client(client: Client, editor: User) -> Client:
    client.force_login(editor)
    return client


def test_each_channels_select_lists_only_that_channels_metrics(
    editor_client: Client, goal: Goal
) -> None:
    response = editor_client.get(url(goal))
    assert response.status_code == 200
    html = response.content.decode()
    for channel, chain in channels.CHANNEL_CHAINS.items():
        assert options(html, f"metric_{channel}") == list(chain)
    assert options(html, "metric_sms") == ["sent", "delivered", "clicked"]
    assert options(html, "metric_in_app") == ["sent", "opened", "clicked"]
    assert options(html, "metric_slack") == ["sent", "clicked"]


def test_it_shows_the_goals_current_settings(editor_client: Client, workspace: Workspace) -> None:
    goal = services.goal_create(
        workspace=workspace,
        name="Clicks",
        criteria=SIGNUP,
        attribution={"window_days": 30, "metrics": {"email": "clicked"}, "count_machine": False},
    )
    html = editor_client.get(url(goal)).content.decode()
    assert re.search(r'<option value="clicked" selected>', form_row(html, "metric_email"))
    assert re.search(r'<option value="delivered" selected>', form_row(html, "metric_push"))
    assert 'value="30"' in form_row(html, "window_days")
    assert "checked" not in form_row(html, "count_machine")


@pytest.mark.usefixtures("keep_commit_callbacks")
def test_saving_stores_the_settings_and_recomputes(
    editor_client: Client, goal: Goal, django_capture_on_commit_callbacks: Any
) -> None:
    version = goal.requested_version
    data = {**DEFAULTS, "metric_email": "opened", "metric_sms": "clicked", "window_days": "30"}
    del data["count_machine"]  # unticked
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = editor_client.post(url(goal), data)
    assert response.status_code == 302
    assert response["Location"] == reverse("goals_ui:detail", args=[goal.pk])
    goal.refresh_from_db()
    assert goal.window_days == 30
    assert goal.count_machine is False
    assert goal.metrics == {
        **channels.default_attribution_metrics(),
        "email": "opened",
        "sms": "clicked",
    }
    assert goal.requested_version == version + 1
    assert len(callbacks) == 1
    # Tasks run in-process in tests: the recompute has finished.
    assert goal.current_version == goal.requested_version


@pytest.mark.usefixtures("keep_commit_callbacks")
def test_saving_marks_the_goal_recomputing_until_its_recompute_ran(
    editor_client: Client, goal: Goal, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        editor_client.post(url(goal), {**DEFAULTS, "window_days": "3"})
    goal.refresh_from_db()
    assert goal.status == GoalStatus.RECOMPUTING
    assert goal.window_days == 3
    callbacks[0]()  # the queued task, run in-process
    goal.refresh_from_db()
    assert goal.status == GoalStatus.READY


def test_saving_without_a_change_does_not_recompute(
    editor_client: Client, goal: Goal, django_capture_on_commit_callbacks: Any
) -> None:
    version = goal.requested_version
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = editor_client.post(url(goal), DEFAULTS, follow=False)
    assert response.status_code == 302
    goal.refresh_from_db()
    assert goal.requested_version == version
    assert callbacks == []


@pytest.mark.parametrize("window", ["-1", "91", "2.5", "abc", ""])
def test_a_bad_window_is_an_error_beside_the_field_and_nothing_is_stored(
    editor_client: Client, goal: Goal, window: str
) -> None:
    version = goal.requested_version
    response = editor_client.post(
        url(goal), {**DEFAULTS, "metric_email": "clicked", "window_days": window}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="errornote"' in html
    row = form_row(html, "window_days")
    assert 'class="errorlist' in row
    assert "form-row errors" in row
    assert 'class="errorlist' not in form_row(html, "metric_email")
    goal.refresh_from_db()
    assert goal.window_days == 7
    assert goal.metrics["email"] == "delivered"
    assert goal.requested_version == version


@pytest.mark.parametrize(
    ("field", "value"),
    [("metric_sms", "opened"), ("metric_slack", "delivered"), ("metric_email", "converted")],
)
def test_a_metric_the_channel_does_not_have_is_an_error_beside_it(
    editor_client: Client, goal: Goal, field: str, value: str
) -> None:
    response = editor_client.post(url(goal), {**DEFAULTS, field: value, "window_days": "14"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="errorlist' in form_row(html, field)
    assert 'class="errorlist' not in form_row(html, "window_days")
    goal.refresh_from_db()
    assert goal.window_days == 7


def test_a_viewer_sees_the_settings_read_only_and_cannot_save(
    client: Client, viewer: User, goal: Goal
) -> None:
    client.force_login(viewer)
    response = client.get(url(goal))
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'<select name="metric_email"[^>]*disabled', html)
    assert 'type="submit"' not in html.split('id="settings-form"')[1]
    response = client.post(url(goal), {**DEFAULTS, "window_days": "30"})
    assert response.status_code == 403
    goal.refresh_from_db()
    assert goal.window_days == 7


def test_a_viewer_is_offered_viewing_not_editing(client: Client, viewer: User, goal: Goal) -> None:
    client.force_login(viewer)
    html = client.get(url(goal)).content.decode()
    assert "<h1>Attribution settings</h1>" in html
    assert "Edit settings" not in html and "Edit sources" not in html
    sources_url = reverse("goals_ui:sources", args=[goal.pk])
    assert f'<a href="{sources_url}">View sources</a>' in html


def test_an_editor_is_offered_editing(client: Client, editor: User, goal: Goal) -> None:
    client.force_login(editor)
    html = client.get(url(goal)).content.decode()
    assert "<h1>Edit settings</h1>" in html
    assert f'<a href="{reverse("goals_ui:sources", args=[goal.pk])}">Edit sources</a>' in html


def test_another_workspaces_goal_is_not_found(client: Client, outsider: User, goal: Goal) -> None:
    client.force_login(outsider)
    assert client.get(url(goal)).status_code == 404
    assert client.post(url(goal), {**DEFAULTS, "window_days": "30"}).status_code == 404
    goal.refresh_from_db()
    assert goal.window_days == 7
