"""The UI's frame: login for every member, the workspace switcher, links that name their
workspace, and the admin's links into the goal pages."""

from __future__ import annotations

import re

from django.contrib.auth.models import User
from django.test import Client

from campaigns import channels
from campaigns.auth import SESSION_WORKSPACE_KEY
from campaigns.models import Membership, Role, Workspace
from goals.models import Goal
from tests.goals.helpers import make_goal


def test_a_member_who_is_not_staff_logs_in_and_lands_on_the_dashboard(
    client: Client, editor: User
) -> None:
    assert not editor.is_staff
    response = client.post(
        "/accounts/login/?next=/goals/", {"username": "bob", "password": "password"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/goals/"
    assert client.get("/goals/").status_code == 200


def test_pages_need_a_login(client: Client, workspace: Workspace) -> None:
    goal = make_goal(workspace, compute=False)
    for url in ("/goals/", f"/goals/{goal.pk}/", "/goals/new/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


def test_a_user_without_a_workspace_is_told_so(client: Client, db: None) -> None:
    client.force_login(User.objects.create_user("nobody", password="x"))
    response = client.get("/goals/")
    assert response.status_code == 403
    assert b"not a member of any workspace" in response.content


def test_the_switcher_changes_the_workspace_of_every_page(
    client: Client, owner: User, workspace: Workspace, other_workspace: Workspace
) -> None:
    Membership.objects.create(workspace=other_workspace, user=owner, role=Role.VIEWER)
    theirs = make_goal(other_workspace, name="Globex goal", compute=False)
    client.force_login(owner)
    assert client.get(f"/goals/{theirs.pk}/").status_code == 404  # acting in Acme

    response = client.post("/goals/workspace/", {"workspace": other_workspace.pk})

    assert response.status_code == 302
    assert client.session[SESSION_WORKSPACE_KEY] == other_workspace.pk
    page = client.get(f"/goals/{theirs.pk}/")
    assert page.status_code == 200
    assert page.context["workspace_role"] == Role.VIEWER
    assert b"Globex goal" in client.get("/goals/").content


def test_the_switcher_waits_for_its_button(
    client: Client, owner: User, workspace: Workspace, other_workspace: Workspace
) -> None:
    """Switching on "change" switched on a keyboard user's first arrow key: the select only
    chooses, and a visible button (not one for browsers without JavaScript only) switches."""
    Membership.objects.create(workspace=other_workspace, user=owner, role=Role.VIEWER)
    client.force_login(owner)
    html = client.get("/goals/").content.decode()
    switcher = re.search(r'<form id="workspace-switcher".*?</form>', html, re.S)
    assert switcher is not None
    form = switcher.group(0)
    assert "onchange" not in form and "<noscript>" not in form
    assert '<label for="workspace-select">Workspace</label>' in form
    assert '<button type="submit" id="workspace-switch">Switch</button>' in form
    assert re.findall(r'<option value="(\d+)"', form) == [
        str(workspace.pk),
        str(other_workspace.pk),
    ]


def test_switching_to_a_workspace_one_is_not_a_member_of_is_not_found(
    client: Client, owner: User, other_workspace: Workspace
) -> None:
    client.force_login(owner)
    assert client.post("/goals/workspace/", {"workspace": other_workspace.pk}).status_code == 404
    assert client.post("/goals/workspace/", {"workspace": "abc"}).status_code == 404
    too_big = "9" * 20  # beyond the ids the database can hold
    assert client.post("/goals/workspace/", {"workspace": too_big}).status_code == 404
    assert client.get("/goals/", {"workspace": too_big}).status_code == 404
    # The API names the bad parameter, as for any malformed id.
    assert client.get("/api/v1/goals", {"workspace": too_big}).status_code == 400
    assert SESSION_WORKSPACE_KEY not in client.session


def test_a_link_naming_its_workspace_opens_it(
    client: Client, owner: User, workspace: Workspace, other_workspace: Workspace
) -> None:
    Membership.objects.create(workspace=other_workspace, user=owner, role=Role.EDITOR)
    theirs = make_goal(other_workspace, compute=False)
    client.force_login(owner)

    assert client.get(theirs.get_absolute_url()).status_code == 200
    assert client.session[SESSION_WORKSPACE_KEY] == other_workspace.pk


def test_a_link_into_another_teams_workspace_is_not_found(
    client: Client, outsider: User, workspace: Workspace
) -> None:
    goal = make_goal(workspace, compute=False)
    client.force_login(outsider)
    assert client.get(goal.get_absolute_url()).status_code == 404


def test_the_admin_links_goals_and_achievements_to_the_goal_page(
    client: Client, workspace: Workspace, db: None
) -> None:
    goal = make_goal(workspace, compute=False)
    admin = User.objects.create_superuser("root", "root@example.org", "password")
    client.force_login(admin)

    goals = client.get("/admin/goals/goal/").content.decode()
    change = client.get(f"/admin/goals/goal/{goal.pk}/change/").content.decode()

    assert f'href="/goals/{goal.pk}/?workspace={workspace.pk}"' in goals
    assert "View on site" in change


def test_the_site_answers_the_browsers_favicon_request(client: Client) -> None:
    # Browsers ask every site for /favicon.ico; a 404 there is an error in their console.
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert b"<svg" in response.content


def _event_goal_form(name: str, event: str) -> dict[str, str]:
    """The builder's fields for an event goal without conditions, filters or impact."""
    return {
        "name": name,
        "trigger_type": "event",
        "event_name": event,
        "attribute_op": "eq",
        "impact_mode": "none",
        "conditions-TOTAL_FORMS": "0",
        "conditions-INITIAL_FORMS": "0",
        "filters-TOTAL_FORMS": "0",
        "filters-INITIAL_FORMS": "0",
    }


def _form_target(page_url: str, html: str, form_id: str) -> str:
    """Where the browser posts form ``form_id`` of the page at ``page_url``: its ``action``
    (a query alone keeps the page's path), or the page's own URL without one."""
    tag = re.search(rf'<form[^>]*id="{form_id}"[^>]*>', html)
    assert tag, f"no form #{form_id}"
    action = re.search(r'action="([^"]*)"', tag.group(0))
    if action is None or action.group(1) == "":
        return page_url
    target = action.group(1).replace("&amp;", "&")
    return page_url.split("?")[0] + target if target.startswith("?") else target


def test_a_form_acts_in_the_workspace_it_was_shown_in_after_a_switch_in_another_tab(
    client: Client, owner: User, workspace: Workspace, other_workspace: Workspace
) -> None:
    """A member of two workspaces opens a form in Acme, then switches to Globex in another
    tab. Saving the form acted in the session's workspace: the new goal was created in
    Globex, and a form of an Acme goal answered 404, the input lost."""
    Membership.objects.create(workspace=other_workspace, user=owner, role=Role.ADMIN)
    goal = make_goal(workspace, compute=False)
    client.force_login(owner)
    builder = client.get("/goals/new/").content.decode()
    settings_url = f"/goals/{goal.pk}/settings/"
    settings_page = client.get(settings_url).content.decode()
    edit_url = f"/goals/{goal.pk}/edit/"
    edit_page = client.get(edit_url).content.decode()

    client.post("/goals/workspace/", {"workspace": other_workspace.pk})  # the other tab

    created = client.post(
        _form_target("/goals/new/", builder, "goal-form"),
        _event_goal_form("Made in Acme", "signed_up"),
    )
    assert created.status_code == 302
    made = Goal.objects.get(name="Made in Acme")
    assert made.workspace_id == workspace.pk

    client.post("/goals/workspace/", {"workspace": other_workspace.pk})
    saved = client.post(
        _form_target(settings_url, settings_page, "settings-form"),
        {
            **{f"metric_{c}": m for c, m in channels.default_attribution_metrics().items()},
            "window_days": "3",
        },
    )
    assert saved.status_code == 302
    goal.refresh_from_db()
    assert goal.window_days == 3

    client.post("/goals/workspace/", {"workspace": other_workspace.pk})
    edited = client.post(
        _form_target(edit_url, edit_page, "goal-form"),
        _event_goal_form("Renamed in Acme", goal.criteria["trigger"]["name"]),
    )
    assert edited.status_code == 302
    goal.refresh_from_db()
    assert goal.name == "Renamed in Acme"


def test_what_a_page_fetches_for_itself_names_its_workspace_without_switching_the_session(
    client: Client, owner: User, workspace: Workspace, other_workspace: Workspace
) -> None:
    Membership.objects.create(workspace=other_workspace, user=owner, role=Role.ADMIN)
    goal = make_goal(workspace, compute=False)
    client.force_login(owner)
    client.post("/goals/workspace/", {"workspace": other_workspace.pk})
    for url in (
        f"/goals/{goal.pk}/status/",
        f"/goals/{goal.pk}/charts/total/",
        f"/goals/{goal.pk}/charts/sources/",
    ):
        assert client.get(url).status_code == 404  # acting in Globex
        assert client.get(f"{url}?workspace={workspace.pk}").status_code == 200
        assert client.session[SESSION_WORKSPACE_KEY] == other_workspace.pk

    # Outside one's workspaces it is still not found.
    stranger = User.objects.create_user("stranger", password="x")
    Membership.objects.create(workspace=other_workspace, user=stranger, role=Role.ADMIN)
    client.force_login(stranger)
    assert client.get(f"/goals/{goal.pk}/status/?workspace={workspace.pk}").status_code == 404
