"""The "Edit sources" page, /goals/<pk>/sources/: the goal's sources, removing them (§4.3)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from campaigns import services as campaign_services
from campaigns import sources
from campaigns.models import Broadcast, Campaign, Workspace
from goals import services
from goals.models import Goal, GoalSource

SIGNUP = {"trigger": {"type": "event", "name": "signup"}}


def url(goal: Goal, query: str = "") -> str:
    path = reverse("goals_ui:sources", args=[goal.pk])
    return f"{path}?{query}" if query else path


def ref(source: Campaign | Broadcast) -> str:
    kind = "campaign" if isinstance(source, Campaign) else "broadcast"
    return f"{kind}:{source.pk}"


def stored(goal: Goal) -> set[str]:
    refs = (row.ref for row in GoalSource.objects.filter(goal=goal))
    return {f"{kind}:{pk}" for kind, pk in refs}


@pytest.fixture
def welcome(workspace: Workspace) -> Campaign:
    return sources.campaign_create(workspace=workspace, name="Welcome series", status="running")


@pytest.fixture
def weekly(workspace: Workspace) -> Broadcast:
    return sources.broadcast_create(
        workspace=workspace, name="Weekly digest", status="sent", channels=["email", "push"]
    )


@pytest.fixture
def old(workspace: Workspace) -> Campaign:
    return sources.campaign_create(workspace=workspace, name="Old promo", status="archived")


@pytest.fixture
def goal(workspace: Workspace, welcome: Campaign, weekly: Broadcast, old: Campaign) -> Goal:
    goal = services.goal_create(
        workspace=workspace,
        name="Activation",
        criteria=SIGNUP,
        sources=[
            {"type": "campaign", "id": welcome.pk},
            {"type": "broadcast", "id": weekly.pk},
            {"type": "campaign", "id": old.pk},
        ],
    )
    # Deleted after it was chosen: still a source, marked deleted.
    campaign_services.source_soft_delete(source=old)
    return goal


@pytest.fixture
def editor_client(client: Client, editor: User) -> Client:
    client.force_login(editor)
    return client


def test_it_lists_the_sources_with_type_status_channels_and_deleted_marked(
    editor_client: Client, goal: Goal
) -> None:
    response = editor_client.get(url(goal))
    assert response.status_code == 200
    rows = {row["name"]: row for row in response.context["rows"]}
    assert list(rows) == ["Old promo", "Weekly digest", "Welcome series"]
    assert rows["Old promo"]["deleted"]
    assert not rows["Welcome series"]["deleted"]
    assert rows["Weekly digest"]["type_label"] == "Broadcast"
    assert rows["Weekly digest"]["channels"] == ["Email", "Push"]
    assert rows["Welcome series"]["status_label"] == "Running"
    html = response.content.decode()
    assert '<span class="deleted-badge">deleted</span>' in html
    assert reverse("goals_ui:source_picker", args=[goal.pk]) in html


@pytest.mark.usefixtures("keep_commit_callbacks")
def test_removing_sources_stores_the_rest_and_recomputes_once(
    editor_client: Client,
    goal: Goal,
    welcome: Campaign,
    weekly: Broadcast,
    old: Campaign,
    django_capture_on_commit_callbacks: Any,
) -> None:
    version = goal.requested_version
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = editor_client.post(url(goal), {"remove": [ref(weekly), ref(old)], "go": "save"})
    assert response.status_code == 302
    assert response["Location"] == reverse("goals_ui:detail", args=[goal.pk])
    assert stored(goal) == {ref(welcome)}
    assert len(callbacks) == 1
    goal.refresh_from_db()
    assert goal.requested_version == version + 1


def test_ticks_survive_paging(
    editor_client: Client, goal: Goal, workspace: Workspace, settings: Any
) -> None:
    settings.GOALS_PICKER_PAGE_SIZE = 2
    response = editor_client.post(url(goal), {"remove": ["campaign:999"], "go": "page:2"})
    assert response.status_code == 303
    assert parse_qs(urlsplit(response["Location"]).query) == {
        "p": ["2"],
        "remove": ["campaign:999"],
    }
    page_two = editor_client.get(response["Location"])
    assert [row["name"] for row in page_two.context["rows"]] == ["Welcome series"]
    assert '<input type="hidden" name="remove" value="campaign:999">' in (page_two.content.decode())


def test_previous_and_next_page_with_the_ticks(
    editor_client: Client, goal: Goal, weekly: Broadcast, settings: Any
) -> None:
    settings.GOALS_PICKER_PAGE_SIZE = 2
    first = editor_client.get(url(goal)).content.decode()
    assert 'aria-label="Previous page"' not in first
    assert re.search(
        r'value="page:2" class="paginator-link paginator-step" aria-label="Next page"', first
    )

    response = editor_client.post(url(goal), {"remove": [ref(weekly)], "p": "1", "go": "page:2"})
    second = editor_client.get(response["Location"]).content.decode()
    assert 'aria-label="Next page"' not in second
    assert re.search(
        r'value="page:1" class="paginator-link paginator-step" aria-label="Previous page"', second
    )
    assert f'<input type="hidden" name="remove" value="{ref(weekly)}">' in second

    response = editor_client.post(url(goal), {"remove": [ref(weekly)], "p": "2", "go": "page:1"})
    assert parse_qs(urlsplit(response["Location"]).query) == {"remove": [ref(weekly)]}
    back = editor_client.get(response["Location"]).content.decode()
    assert re.search(rf'value="{ref(weekly)}"[^>]*checked', back)


def test_a_viewer_pages_with_links(client: Client, viewer: User, goal: Goal, settings: Any) -> None:
    settings.GOALS_PICKER_PAGE_SIZE = 2
    client.force_login(viewer)
    html = client.get(url(goal)).content.decode()
    assert re.search(
        rf'<a href="{re.escape(url(goal, "p=2"))}" class="paginator-step" rel="next" '
        r'aria-label="Next page">',
        html,
    )


def test_saving_with_nothing_ticked_is_an_error(editor_client: Client, goal: Goal) -> None:
    before = stored(goal)
    response = editor_client.post(url(goal), {"go": "save"})
    assert response.status_code == 200
    assert "Tick the sources to remove." in response.content.decode()
    assert stored(goal) == before


def test_another_workspaces_source_posted_changes_nothing(
    editor_client: Client, goal: Goal, other_workspace: Workspace
) -> None:
    theirs = sources.campaign_create(workspace=other_workspace, name="Their campaign")
    before = stored(goal)
    version = goal.requested_version
    response = editor_client.post(url(goal), {"remove": [ref(theirs)], "go": "save"})
    assert response.status_code == 302
    assert stored(goal) == before
    goal.refresh_from_db()
    assert goal.requested_version == version


def test_a_malformed_reference_is_a_form_error(editor_client: Client, goal: Goal) -> None:
    before = stored(goal)
    response = editor_client.post(url(goal), {"remove": ["segment:1"], "go": "save"})
    assert response.status_code == 200
    assert "expected campaign:&lt;id&gt; or broadcast:&lt;id&gt;" in response.content.decode()
    assert stored(goal) == before


def test_a_goal_without_sources_says_so(editor_client: Client, workspace: Workspace) -> None:
    goal = services.goal_create(workspace=workspace, name="Bare", criteria=SIGNUP)
    response = editor_client.get(url(goal))
    assert "This goal has no sources yet" in response.content.decode()


def test_a_viewer_sees_the_sources_and_cannot_remove_them(
    client: Client, viewer: User, goal: Goal, weekly: Broadcast
) -> None:
    client.force_login(viewer)
    response = client.get(url(goal))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Weekly digest" in html
    assert 'name="remove"' not in html
    before = stored(goal)
    assert client.post(url(goal), {"remove": [ref(weekly)], "go": "save"}).status_code == 403
    assert stored(goal) == before


def test_a_viewer_is_offered_the_read_only_pages_only(
    client: Client, viewer: User, goal: Goal
) -> None:
    client.force_login(viewer)
    html = client.get(url(goal)).content.decode()
    assert "<h1>Sources</h1>" in html
    assert "Edit settings" not in html and "Add sources" not in html
    settings_url = reverse("goals_ui:settings", args=[goal.pk])
    picker_url = reverse("goals_ui:source_picker", args=[goal.pk])
    assert f'<a href="{settings_url}">View settings</a>' in html
    assert f'<a href="{picker_url}">Browse campaigns and broadcasts</a>' in html


def test_an_editor_keeps_the_edit_links(editor_client: Client, goal: Goal) -> None:
    html = editor_client.get(url(goal)).content.decode()
    assert "<h1>Edit sources</h1>" in html
    assert "Edit settings</a>" in html and "Add sources</a>" in html
    assert "View settings" not in html


def test_another_workspaces_goal_is_not_found(
    client: Client, outsider: User, goal: Goal, weekly: Broadcast
) -> None:
    client.force_login(outsider)
    assert client.get(url(goal)).status_code == 404
    before = stored(goal)
    assert client.post(url(goal), {"remove": [ref(weekly)], "go": "save"}).status_code == 404
    assert stored(goal) == before


def test_the_page_costs_a_fixed_number_of_queries(
    editor_client: Client,
    goal: Goal,
    workspace: Workspace,
    django_assert_max_num_queries: Any,
) -> None:
    editor_client.get(url(goal))
    with django_assert_max_num_queries(8):
        editor_client.get(url(goal))
    services.sources_change(
        goal=goal,
        add=[
            ("campaign", sources.campaign_create(workspace=workspace, name=f"C{n}").pk)
            for n in range(30)
        ],
    )
    with django_assert_max_num_queries(8):
        response = editor_client.get(url(goal))
    assert len(response.context["rows"]) == 20
