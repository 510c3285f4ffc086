"""The goals models in the Django admin, scoped to the user's workspaces."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from campaigns.models import Workspace
from goals.models import Achievement, Goal


def make_goal(workspace: Workspace, name: str) -> Goal:
    goal = Goal.objects.create(
        workspace=workspace,
        name=name,
        criteria={"trigger": {"type": "event", "name": "x"}},
        current_version=1,
    )
    at = datetime(2026, 1, 5, 10, tzinfo=UTC)
    Achievement.objects.create(
        goal=goal,
        version=1,
        person_key="00000000-0000-0000-0000-000000000001",
        achieved_at=at,
        local_date=at.date(),
        trigger_kind="event",
        trigger_id=1,
    )
    return goal


@pytest.fixture
def staff_client(owner: User) -> Client:
    owner.is_staff = True
    owner.save()
    client = Client()
    client.force_login(owner)
    return client


def test_the_goal_and_achievement_lists_show_only_the_users_workspaces(
    staff_client: Client, workspace: Workspace, other_workspace: Workspace
) -> None:
    make_goal(workspace, "Ours")
    make_goal(other_workspace, "Theirs")
    goals = staff_client.get("/admin/goals/goal/")
    assert goals.status_code == 200
    assert b"Ours" in goals.content and b"Theirs" not in goals.content
    # Each column under its own heading.
    for column, heading in (("goal_page", "Page"), ("tag_list", "Tags")):
        header = re.search(rf'<th scope="col" class="column-{column}">(.*?)</th>', goals.text, re.S)
        assert header is not None and heading in header[1], column
    achievements = staff_client.get("/admin/goals/achievement/")
    assert achievements.status_code == 200
    assert b"Ours" in achievements.content and b"Theirs" not in achievements.content


def test_another_workspaces_goal_is_not_found(
    staff_client: Client, other_workspace: Workspace
) -> None:
    theirs = make_goal(other_workspace, "Theirs")
    response = staff_client.get(f"/admin/goals/goal/{theirs.pk}/change/")
    assert response.status_code == 404  # as an unknown id (SPEC §2)
    assert Goal.objects.filter(pk=theirs.pk).exists()


def test_deleting_a_goal_in_the_admin_removes_it_and_its_results(
    staff_client: Client, workspace: Workspace
) -> None:
    goal = make_goal(workspace, "Ours")
    response = staff_client.post(f"/admin/goals/goal/{goal.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Goal.objects.filter(pk=goal.pk).exists()
    assert not Achievement.objects.filter(goal_id=goal.pk).exists()


def test_a_viewer_sees_goals_but_cannot_change_them(viewer: User, workspace: Workspace) -> None:
    viewer.is_staff = True
    viewer.save()
    client = Client()
    client.force_login(viewer)
    goal = make_goal(workspace, "Ours")
    assert client.get(f"/admin/goals/goal/{goal.pk}/change/").status_code == 200
    assert client.post(f"/admin/goals/goal/{goal.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Goal.objects.filter(pk=goal.pk).exists()


def test_renaming_a_goal_in_the_admin_keeps_a_recompute_that_finished_meanwhile(
    staff_client: Client, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The admin read the goal, then saved every column back: a recompute switching in its
    result between the two (another worker) was undone, readers sent back to the replaced
    version (whose rows a recompute drops) and the goal shown recomputing again. Only what
    the form changed is written, as the API's update does, and ``updated_at`` moves."""
    from goals.admin import GoalAdmin

    goal = make_goal(workspace, "Ours")
    Goal.objects.filter(pk=goal.pk).update(requested_version=2, status="recomputing")
    read = GoalAdmin.get_object

    def read_then_switch(self: GoalAdmin, *args: Any, **kwargs: Any) -> object:
        obj = read(self, *args, **kwargs)
        Goal.objects.filter(pk=goal.pk).update(current_version=2, status="ready")
        return obj

    monkeypatch.setattr(GoalAdmin, "get_object", read_then_switch)

    response = staff_client.post(
        f"/admin/goals/goal/{goal.pk}/change/",
        {"name": "Renamed", "description": "", "tags": "", **_inline_management()},
    )

    assert response.status_code == 302
    goal.refresh_from_db()
    assert (goal.name, goal.current_version, goal.status) == ("Renamed", 2, "ready")
    assert goal.updated_at > goal.created_at


def _inline_management() -> dict[str, str]:
    prefix = "sources"
    return {
        f"{prefix}-TOTAL_FORMS": "0",
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "0",
    }


def test_a_page_of_achievements_is_ordered_without_joining_every_row(
    staff_client: Client, workspace: Workspace
) -> None:
    """The ids of a page come first (ordered, from the achievements alone), then those rows
    with their goal, person, message and source: joining every row before sorting them for a
    page took seconds on large goals (``IdsFirstPaginator``)."""
    goal = make_goal(workspace, "Ours")
    for n in range(2, 60):
        at = datetime(2026, 1, 5, 10, n % 60, tzinfo=UTC)
        Achievement.objects.create(
            goal=goal,
            version=1,
            person_key=f"00000000-0000-0000-0000-{n:012d}",
            achieved_at=at,
            local_date=at.date(),
            trigger_kind="event",
            trigger_id=n,
        )
    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get("/admin/goals/achievement/?p=2")
    assert response.status_code == 200
    ordered = [q["sql"] for q in queries.captured_queries if "ORDER BY" in q["sql"]]
    paging = [sql for sql in ordered if "LIMIT" in sql and "goals_achievement" in sql]
    assert paging and all("campaigns_person" not in sql for sql in paging)
    # Page 2 of 59 newest first (50 a page): the 9 oldest, newest first, with their goal,
    # in the workspace's time (Europe/Berlin: 10:00 UTC is 11 a.m.).
    shown = re.findall(
        r'class="field-achieved_at[^"]*">Jan\. 5, 2026, 11:(\d\d) a\.m\.<', response.text
    )
    assert shown == [f"{minute:02d}" for minute in range(9, 1, -1)]
    assert "Jan. 5, 2026, 11 a.m.<" in response.text  # the oldest, at 10:00 UTC, is last
    assert response.text.count(">Ours</a>") == 9
