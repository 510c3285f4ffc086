"""Admin tenancy beyond the list and change pages (SPEC §1, §2)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.test import Client

from campaigns import sources
from campaigns.models import Workspace
from goals.models import Goal
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


def test_view_on_site_of_an_unknown_content_type_or_a_bad_id_is_not_found(owner: User) -> None:
    client = login(owner)
    assert client.get("/admin/r/999999/1/").status_code == 404
    assert (
        client.get(f"/admin/r/{ContentType.objects.get_for_model(Goal).pk}/abc/").status_code == 404
    )
