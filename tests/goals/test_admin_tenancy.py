"""Admin tenancy beyond the list and change pages (SPEC §1, §2): the "view on site" redirect,
and the goals app's models all present and scoped."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.test import Client

from campaigns import sources
from campaigns.models import Campaign, Workspace
from goals.models import Goal, GoalRollup, GoalSource
from tests.goals.test_admin import make_goal

pytestmark = pytest.mark.django_db


def login(user: User) -> Client:
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(user)
    return client


def view_on_site(obj: Any) -> str:
    return f"/admin/r/{ContentType.objects.get_for_model(obj).pk}/{obj.pk}/"


def test_view_on_site_redirects_only_to_the_users_own_goals(
    owner: User, workspace: Workspace, other_workspace: Workspace
) -> None:
    ours = make_goal(workspace, "Ours")
    theirs = make_goal(other_workspace, "Theirs")
    client = login(owner)

    response = client.get(view_on_site(ours))
    assert response.status_code == 302
    assert response["Location"].endswith(ours.get_absolute_url())

    # Another workspace's goal answers as one that does not exist, never with a redirect
    # naming it and its workspace.
    response = client.get(view_on_site(theirs))
    assert response.status_code == 404
    assert "Location" not in response
    missing = client.get(f"/admin/r/{ContentType.objects.get_for_model(Goal).pk}/999999/")
    assert missing.status_code == 404
    # Nor any other model's row: the message would tell "has no page" from "does not exist".
    campaign = sources.campaign_create(workspace=other_workspace, name="Globex campaign")
    assert client.get(view_on_site(campaign)).status_code == 404
    assert client.get(view_on_site(other_workspace)).status_code == 404


def test_view_on_site_tells_a_member_without_staff_nothing_of_accounts(
    editor: User, outsider: User, workspace: Workspace, settings: Any
) -> None:
    """Members sign in without the staff flag; Django's user admin lists every account to
    whoever may view it at all, so the redirect asks for the view permission as well."""
    assert not editor.is_staff
    client = Client()
    client.force_login(editor)
    ours = make_goal(workspace, "Ours")

    assert client.get(view_on_site(ours)).status_code == 302
    settings.DEBUG = True  # make run: the 404's text is shown, and must not tell accounts apart
    for account in (outsider, editor):
        response = client.get(view_on_site(account))
        assert response.status_code == 404
        assert "No such object." in response.content.decode()


def test_view_on_site_still_works_for_a_superuser(other_workspace: Workspace) -> None:
    theirs = make_goal(other_workspace, "Theirs")
    root = User.objects.create_superuser("root", "root@example.org", "pw")
    response = login(root).get(view_on_site(theirs))
    assert response.status_code == 302
    assert response["Location"].endswith(theirs.get_absolute_url())


def test_view_on_site_needs_a_staff_login(other_workspace: Workspace) -> None:
    theirs = make_goal(other_workspace, "Theirs")
    response = Client().get(view_on_site(theirs))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_every_goals_model_is_registered() -> None:
    for model in apps.get_app_config("goals").get_models():
        assert admin.site.is_registered(model), model


def test_goal_sources_and_rollups_are_listed_for_the_users_workspaces_only(
    owner: User, viewer: User, workspace: Workspace, other_workspace: Workspace
) -> None:
    ours, theirs = make_goal(workspace, "Ours"), make_goal(other_workspace, "Theirs")
    for goal, label in ((ours, "Acme"), (theirs, "Globex")):
        campaign = sources.campaign_create(workspace=goal.workspace, name=f"{label} campaign")
        GoalSource.objects.create(goal=goal, campaign=campaign)
        GoalRollup.objects.create(
            goal=goal, version=goal.current_version, scope_type="total", local_date="2026-01-05"
        )
        Goal.objects.filter(pk=goal.pk).update(rollup_version=goal.current_version)
    # A rollup being rebuilt (a version readers do not see yet) is not listed.
    GoalRollup.objects.create(
        goal=ours, version=ours.current_version + 1, scope_type="total", local_date="2026-01-06"
    )
    theirs_source = GoalSource.objects.get(goal=theirs)
    theirs_rollup = GoalRollup.objects.get(goal=theirs)

    for user in (owner, viewer):
        client = login(user)
        for model in ("goalsource", "goalrollup"):
            page = client.get(f"/admin/goals/{model}/")
            assert page.status_code == 200, model
            assert "Ours" in page.text and "Theirs" not in page.text, model
            assert "Globex" not in page.text, model
        assert "Jan. 6, 2026" not in client.get("/admin/goals/goalrollup/").text
        assert client.get(f"/admin/goals/goalsource/{theirs_source.pk}/change/").status_code == 404
        assert client.get(f"/admin/goals/goalrollup/{theirs_rollup.pk}/change/").status_code == 404

    # Read-only for everyone: sources are changed through the API and the goals UI, which
    # validate them and recompute the goal; rollups are derived by the engine.
    client = login(owner)
    ours_source = GoalSource.objects.get(goal=ours)
    page = client.get(f"/admin/goals/goalsource/{ours_source.pk}/change/")
    assert page.status_code == 200 and "Acme campaign" in page.text
    assert 'name="_save"' not in page.text
    ours_rollup = GoalRollup.objects.get(goal=ours, version=ours.current_version)
    assert client.get(f"/admin/goals/goalrollup/{ours_rollup.pk}/change/").status_code == 200
    assert client.get("/admin/goals/goalsource/add/").status_code == 403
    assert client.post(f"/admin/goals/goalsource/{ours_source.pk}/delete/").status_code == 403
    assert GoalSource.objects.filter(pk=ours_source.pk).exists()
    assert Campaign.objects.filter(name="Acme campaign").exists()


def test_view_on_site_of_an_unknown_content_type_or_a_bad_id_is_not_found(owner: User) -> None:
    client = login(owner)
    assert client.get("/admin/r/999999/1/").status_code == 404
    assert (
        client.get(f"/admin/r/{ContentType.objects.get_for_model(Goal).pk}/abc/").status_code == 404
    )


def test_another_workspaces_object_is_a_404_on_every_admin_page(
    owner: User, workspace: Workspace, other_workspace: Workspace
) -> None:
    """SPEC §2: another workspace's object is answered with 404. The admin's change, delete
    and history pages redirected to the index instead ("doesn't exist"), so a test or a
    script asking for another workspace's row got a 302; they now answer 404, as an unknown
    id does, and as "View on site" already did."""
    theirs_goal = make_goal(other_workspace, "Theirs")
    theirs_campaign = sources.campaign_create(workspace=other_workspace, name="Globex campaign")
    ours = make_goal(workspace, "Ours")
    client = login(owner)
    for base in (
        f"/admin/goals/goal/{theirs_goal.pk}/",
        f"/admin/campaigns/campaign/{theirs_campaign.pk}/",
        f"/admin/campaigns/workspace/{other_workspace.pk}/",
        "/admin/goals/goal/999999/",
    ):
        # Workspaces are never deleted in the admin: that page is a 403 for every id.
        deletable = "/workspace/" not in base
        for page in ("change/", "history/", *(["delete/"] if deletable else [])):
            response = client.get(base + page)
            assert response.status_code == 404, base + page
            assert "Globex" not in response.text and "Theirs" not in response.text
        if deletable:
            assert client.post(base + "delete/", {"post": "yes"}).status_code == 404, base
        assert client.post(base + "change/", {"name": "Mine now"}).status_code == 404, base
    assert Goal.objects.get(pk=theirs_goal.pk).name == "Theirs"
    assert Campaign.objects.filter(pk=theirs_campaign.pk, deleted_at__isnull=True).exists()
    # The user's own rows open as before.
    assert client.get(f"/admin/goals/goal/{ours.pk}/change/").status_code == 200
    assert client.get(f"/admin/goals/goal/{ours.pk}/history/").status_code == 200
