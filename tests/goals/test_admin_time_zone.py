"""The admin writes times in the workspace's time zone (SPEC §2), as the goal pages do: a goal
page said "Last computed 6 Jan 2026, 00:30 (Europe/Berlin)" while the admin said "Jan. 5, 2026,
11:30 p.m." (UTC, unlabelled), and its achievements fell on other days than the reports'."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from django.test import Client

from campaigns.auth import SESSION_WORKSPACE_KEY
from campaigns.models import Membership, Workspace
from goals.models import Achievement, Goal
from tests.goals.test_admin import make_goal

pytestmark = pytest.mark.django_db

LATE = datetime(2026, 1, 5, 23, 30, tzinfo=UTC)  # 00:30 on 6 January in Berlin


def test_admin_times_are_the_workspaces_local_times(owner: User, workspace: Workspace) -> None:
    assert workspace.time_zone == "Europe/Berlin"
    goal = make_goal(workspace, "Ours")
    Goal.objects.filter(pk=goal.pk).update(computed_at=LATE)
    Achievement.objects.filter(goal=goal).update(achieved_at=LATE)
    client = Client()
    client.force_login(owner)

    change = client.get(f"/admin/goals/goal/{goal.pk}/change/").text
    assert "Jan. 6, 2026, 12:30 a.m." in change
    assert "11:30 p.m." not in change
    achievements = client.get("/admin/goals/achievement/").text
    assert "Jan. 6, 2026, 12:30 a.m." in achievements


def test_a_member_of_several_workspaces_sees_the_chosen_ones_zone(
    owner: User, workspace: Workspace, other_workspace: Workspace
) -> None:
    """The zone of the workspace the user works in (the UI's switcher), else their first."""
    Membership.objects.create(workspace=other_workspace, user=owner, role="admin")
    goal = make_goal(other_workspace, "Theirs")
    Goal.objects.filter(pk=goal.pk).update(computed_at=LATE)
    client = Client()
    client.force_login(owner)
    session = client.session
    session[SESSION_WORKSPACE_KEY] = other_workspace.pk  # UTC
    session.save()
    assert "Jan. 5, 2026, 11:30 p.m." in client.get(f"/admin/goals/goal/{goal.pk}/change/").text
