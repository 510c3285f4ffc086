"""The "Add source" picker, /goals/<pk>/sources/add/ (SPEC §4.3; issue 4, Attribution)."""

from __future__ import annotations

import html as html_lib
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
    path = reverse("goals_ui:source_picker", args=[goal.pk])
    return f"{path}?{query}" if query else path


def names(response: Any) -> list[str]:
    """The names in the results table, in order."""
    assert response.status_code == 200, response.content[:500]
    rows = response.context["rows"]
    return [row["name"] for row in rows]


def ref(source: Campaign | Broadcast) -> str:
    kind = "campaign" if isinstance(source, Campaign) else "broadcast"
    return f"{kind}:{source.pk}"


def stored(goal: Goal) -> set[str]:
    refs = (row.ref for row in GoalSource.objects.filter(goal=goal))
    return {f"{kind}:{pk}" for kind, pk in refs}


@pytest.fixture
def catalogue(workspace: Workspace, other_workspace: Workspace) -> dict[str, Campaign | Broadcast]:
    made: dict[str, Campaign | Broadcast] = {
        "welcome": sources.campaign_create(
            workspace=workspace, name="Welcome series", status="running", tags=["Onboarding"]
        ),
        "launch": sources.campaign_create(
            workspace=workspace, name="Launch prep", status="draft", tags=["q4"]
        ),
        "winback": sources.campaign_create(workspace=workspace, name="Winback", status="stopped"),
        "weekly": sources.broadcast_create(
            workspace=workspace,
            name="Weekly digest",
            status="sent",
            channels=["email", "push"],
            tags=["onboarding"],
        ),
        "sms_blast": sources.broadcast_create(
            workspace=workspace, name="SMS blast", status="draft", channels=["sms"]
        ),
        "receipts": sources.broadcast_create(
            workspace=workspace, name="Receipts", kind="api_triggered", channels=["email"]
        ),
        "banner": sources.broadcast_create(
            workspace=workspace, name="Banner", kind="in_app", channels=["in_app"]
        ),
        "gone": sources.campaign_create(workspace=workspace, name="Deleted campaign"),
        "theirs": sources.campaign_create(workspace=other_workspace, name="Their campaign"),
    }
    campaign_services.source_soft_delete(source=made["gone"])
    return made


@pytest.fixture
def goal(workspace: Workspace, catalogue: dict[str, Campaign | Broadcast]) -> Goal:
    return services.goal_create(
        workspace=workspace,
        name="Activation",
        criteria=SIGNUP,
        sources=[{"type": "campaign", "id": catalogue["welcome"].pk}],
    )


@pytest.fixture
def editor_client(client: Client, editor: User) -> Client:
    client.force_login(editor)
    return client


@pytest.fixture
def many(workspace: Workspace, goal: Goal) -> list[Campaign]:
    """25 more campaigns, so that with a page size of 10 the list has 3 pages."""
    return [
        sources.campaign_create(workspace=workspace, name=f"Campaign {n:02d}", status="running")
        for n in range(25)
    ]


@pytest.fixture
def small_pages(settings: Any) -> None:
    settings.GOALS_PICKER_PAGE_SIZE = 10


# --- what is listed -------------------------------------------------------------------------


def test_it_lists_campaigns_and_newsletters_with_drafts_and_their_status(
    editor_client: Client, goal: Goal
) -> None:
    response = editor_client.get(url(goal))
    assert names(response) == [
        "Launch prep",
        "SMS blast",
        "Weekly digest",
        "Welcome series",
        "Winback",
    ]
    html = response.content.decode()
    assert re.search(r"Launch prep.*?status-draft\">Draft<", html, re.S)
    assert re.search(r"SMS blast.*?status-draft\">Draft<", html, re.S)


def test_it_never_lists_api_triggered_in_app_deleted_or_other_workspaces_sources(
    editor_client: Client, goal: Goal
) -> None:
    html = editor_client.get(url(goal)).content.decode()
    for name in ("Receipts", "Banner", "Deleted campaign", "Their campaign"):
        assert name not in html


def test_it_shows_the_goals_present_sources_as_already_added(
    editor_client: Client, goal: Goal, catalogue: dict[str, Any]
) -> None:
    response = editor_client.get(url(goal))
    row = next(r for r in response.context["rows"] if r["name"] == "Welcome series")
    assert row["added"]
    html = response.content.decode()
    assert "Already added" in html
    assert f'name="selected" value="{ref(catalogue["welcome"])}"' not in html  # no box


# --- pagination -----------------------------------------------------------------------------


@pytest.mark.usefixtures("small_pages", "many")
def test_page_two_shows_the_next_items(editor_client: Client, goal: Goal) -> None:
    first = names(editor_client.get(url(goal)))
    second = names(editor_client.get(url(goal, "p=2")))
    third = names(editor_client.get(url(goal, "p=3")))
    assert len(first) == len(second) == 10
    assert first[:2] == ["Campaign 00", "Campaign 01"]
    assert second[:2] == ["Campaign 10", "Campaign 11"]
    assert len(third) == 10  # 25 + 5 candidates
    assert not set(first) & set(second)
    response = editor_client.get(url(goal, "p=2"))
    assert response.context["result_count"] == 30
    assert '<span class="this-page" aria-current="page">2</span>' in response.content.decode()


def step_button(html: str, label: str) -> str | None:
    """The ``go`` value of the paginator's "Previous page" / "Next page" button, if shown."""
    match = re.search(
        rf'<button type="submit" name="go" value="([^"]+)" class="paginator-link paginator-step" '
        rf'aria-label="{label}">',
        html,
    )
    return match.group(1) if match else None


@pytest.mark.usefixtures("small_pages", "many")
def test_previous_and_next_lead_to_the_neighbouring_pages(
    editor_client: Client, goal: Goal
) -> None:
    first = editor_client.get(url(goal)).content.decode()
    middle = editor_client.get(url(goal, "p=2")).content.decode()
    last = editor_client.get(url(goal, "p=3")).content.decode()

    assert step_button(first, "Previous page") is None
    assert step_button(first, "Next page") == "page:2"
    assert step_button(middle, "Previous page") == "page:1"
    assert step_button(middle, "Next page") == "page:3"
    assert step_button(last, "Previous page") == "page:2"
    assert step_button(last, "Next page") is None
    # Shown as the product page's < and >, around the page numbers.
    previous, following = "\u2039 Previous</button>", "Next \u203a</button>"
    assert previous in middle and following in middle
    assert middle.index(previous) < middle.index('aria-label="Page 1"')
    assert middle.index('aria-label="Page 3"') < middle.index(following)


@pytest.mark.usefixtures("small_pages", "many")
def test_next_and_previous_carry_the_selection_like_the_page_numbers(
    editor_client: Client, goal: Goal, many: list[Campaign]
) -> None:
    page_one = editor_client.get(url(goal)).content.decode()
    go = step_button(page_one, "Next page")
    assert go is not None
    response = editor_client.post(
        url(goal), {"selected": [ref(many[0]), ref(many[1])], "p": "1", "go": go}
    )
    query = redirected_query(response)
    assert query["p"] == ["2"]
    assert query["selected"] == [ref(many[0]), ref(many[1])]

    page_two = editor_client.get(response["Location"]).content.decode()
    assert "2 selected" in page_two
    go = step_button(page_two, "Previous page")
    assert go == "page:1"
    response = editor_client.post(
        url(goal), {"selected": [ref(many[0]), ref(many[1]), ref(many[12])], "p": "2", "go": go}
    )
    back = editor_client.get(response["Location"]).content.decode()
    assert re.search(rf'value="{ref(many[0])}"[^>]*checked', back)
    assert f'<input type="hidden" name="selected" value="{ref(many[12])}">' in back
    assert "3 selected" in back


@pytest.mark.usefixtures("small_pages", "many")
def test_a_viewer_pages_with_previous_and_next_links(
    client: Client, viewer: User, goal: Goal
) -> None:
    client.force_login(viewer)
    html = html_lib.unescape(client.get(url(goal, "p=2")).content.decode())
    previous = re.search(r'<a href="([^"]+)" class="paginator-step" rel="prev"', html)
    following = re.search(r'<a href="([^"]+)" class="paginator-step" rel="next"', html)
    assert previous and following
    assert "p=" not in previous.group(1)  # page 1 is the bare URL
    assert parse_qs(urlsplit(following.group(1)).query)["p"] == ["3"]
    assert names(client.get(following.group(1)))[:1] == ["Campaign 20"]


@pytest.mark.usefixtures("small_pages", "many")
def test_a_page_past_the_end_shows_the_last_page(editor_client: Client, goal: Goal) -> None:
    assert names(editor_client.get(url(goal, "p=99"))) == names(editor_client.get(url(goal, "p=3")))
    assert names(editor_client.get(url(goal, "p=abc"))) == names(editor_client.get(url(goal)))


# --- filters --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("type=campaign", ["Launch prep", "Welcome series", "Winback"]),
        ("type=broadcast", ["SMS blast", "Weekly digest"]),
        ("status=draft", ["Launch prep", "SMS blast"]),
        ("status=stopped", ["Winback"]),
        ("status=running&status=sent", ["Weekly digest", "Welcome series"]),
        ("channel=push", ["Weekly digest"]),
        ("channel=sms", ["SMS blast"]),
        ("tag=ONBOARDING", ["Weekly digest", "Welcome series"]),
        ("search=we", ["Weekly digest", "Welcome series"]),
        ("search=blast&type=campaign", []),
        # The page has no ordering control: a stray ordering (which the API's picker
        # refuses) changes nothing here.
        ("ordering=-name&channel=sms", ["SMS blast"]),
    ],
)
def test_it_filters_by_type_status_channel_tag_and_name(
    editor_client: Client, goal: Goal, query: str, expected: list[str]
) -> None:
    assert names(editor_client.get(url(goal, query))) == expected


def test_the_tag_filter_offers_the_workspaces_tags(editor_client: Client, goal: Goal) -> None:
    response = editor_client.get(url(goal))
    tag_group = next(group for group in response.context["filters"] if group["name"] == "tag")
    assert [choice["label"] for choice in tag_group["choices"]] == ["All", "Onboarding", "q4"]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("type=newsletter", "type", 'unknown type "newsletter"'),
        ("status=paused", "status", 'unknown status "paused"'),
        ("channel=fax", "channel", 'unknown channel "fax"'),
        ("selected=campaign:x", "selected", "expected campaign:<id> or broadcast:<id>"),
        (f"selected=campaign:{2**63}", "selected", "expected campaign:<id> or broadcast:<id>"),
    ],
)
def test_a_bad_filter_value_is_a_form_error(
    editor_client: Client, goal: Goal, query: str, field: str, message: str
) -> None:
    response = editor_client.get(url(goal, query))
    assert response.status_code == 200
    html = html_lib.unescape(response.content.decode())
    assert 'class="errornote"' in html
    assert message in html
    assert response.context["rows"] == []


# --- the selection survives paging and filtering ---------------------------------------------


def redirected_query(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 303, response.content[:500]
    return parse_qs(urlsplit(response["Location"]).query)


@pytest.mark.usefixtures("small_pages", "many")
def test_a_selection_is_carried_to_the_next_page_and_shown_there(
    editor_client: Client, goal: Goal, many: list[Campaign]
) -> None:
    # Page 1: tick two boxes, then press "2".
    response = editor_client.post(
        url(goal), {"selected": [ref(many[0]), ref(many[1])], "p": "1", "go": "page:2"}
    )
    query = redirected_query(response)
    assert query["p"] == ["2"]
    assert query["selected"] == [ref(many[0]), ref(many[1])]

    page_two = editor_client.get(response["Location"])
    html = page_two.content.decode()
    # Not on this page: kept as hidden inputs, named in the selection summary.
    assert f'<input type="hidden" name="selected" value="{ref(many[0])}">' in html
    assert "2 selected" in html
    assert "Add 2 sources" in html
    assert re.search(r'picker-chip-type">Campaign</span> Campaign 00', html)

    # Back on page 1 the boxes are ticked.
    back = editor_client.get(url(goal, f"selected={ref(many[0])}&selected={ref(many[1])}"))
    html = back.content.decode()
    assert re.search(rf'value="{ref(many[0])}"[^>]*checked', html)
    assert f'<input type="hidden" name="selected" value="{ref(many[0])}">' not in html


def test_a_selection_survives_a_filter_and_the_search(
    editor_client: Client, goal: Goal, catalogue: dict[str, Any]
) -> None:
    picked = ref(catalogue["launch"])
    response = editor_client.post(url(goal), {"selected": [picked], "go": "type:broadcast"})
    query = redirected_query(response)
    assert query["type"] == ["broadcast"]
    assert query["selected"] == [picked]

    # Filtered to broadcasts: the campaign is not listed but stays selected.
    listed = editor_client.get(response["Location"])
    assert names(listed) == ["SMS blast", "Weekly digest"]
    assert f'<input type="hidden" name="selected" value="{picked}">' in listed.content.decode()

    # Search keeps the filter and the selection; "All" clears the filter only.
    response = editor_client.post(
        url(goal), {"selected": [picked], "type": "broadcast", "search": "SMS", "go": "search"}
    )
    assert redirected_query(response) == {
        "search": ["SMS"],
        "type": ["broadcast"],
        "selected": [picked],
    }
    response = editor_client.post(
        url(goal), {"selected": [picked], "type": "broadcast", "search": "SMS", "go": "type:"}
    )
    assert redirected_query(response) == {"search": ["SMS"], "selected": [picked]}
    response = editor_client.post(url(goal), {"selected": [picked], "type": "x", "go": "clear"})
    assert response.status_code == 200  # the bad posted filter is shown, not followed


def test_unticking_a_box_drops_it_and_the_cross_removes_one_from_elsewhere(
    editor_client: Client, goal: Goal, catalogue: dict[str, Any]
) -> None:
    launch, sms = ref(catalogue["launch"]), ref(catalogue["sms_blast"])
    response = editor_client.post(url(goal), {"selected": [sms], "go": f"unselect:{launch}"})
    assert redirected_query(response) == {"selected": [sms]}
    response = editor_client.post(
        url(goal), {"selected": [launch, sms], "go": f"unselect:{launch}"}
    )
    assert redirected_query(response) == {"selected": [sms]}


# --- adding ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("keep_commit_callbacks")
@pytest.mark.usefixtures("small_pages", "many")
def test_adding_two_sources_from_two_pages_stores_both_and_queues_one_recompute(
    editor_client: Client,
    goal: Goal,
    many: list[Campaign],
    catalogue: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    first_page, second_page = many[0], many[12]
    version = Goal.objects.get(pk=goal.pk).requested_version
    response = editor_client.post(
        url(goal), {"selected": [ref(first_page)], "p": "1", "go": "page:2"}
    )
    page_two = editor_client.get(response["Location"])
    assert "Campaign 12" in names(page_two)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = editor_client.post(
            url(goal), {"selected": [ref(first_page), ref(second_page)], "p": "2", "go": "add"}
        )
    assert response.status_code == 302
    assert response["Location"] == reverse("goals_ui:detail", args=[goal.pk])
    assert stored(goal) == {ref(catalogue["welcome"]), ref(first_page), ref(second_page)}
    assert len(callbacks) == 1  # one recompute queued, not one per source
    goal.refresh_from_db()
    assert goal.requested_version == version + 1
    assert goal.current_version == goal.requested_version  # tasks are eager in tests


def test_adding_nothing_is_an_error(editor_client: Client, goal: Goal) -> None:
    response = editor_client.post(url(goal), {"go": "add"})
    assert response.status_code == 200
    assert "Select at least one source to add." in response.content.decode()


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("receipts", "API-triggered broadcasts can't be goal sources"),
        ("banner", "only newsletter broadcasts can be goal sources"),
        ("gone", "is deleted"),
        ("theirs", "in this workspace"),
    ],
)
def test_a_source_that_cannot_be_one_is_refused_and_nothing_is_stored(
    editor_client: Client, goal: Goal, catalogue: dict[str, Any], key: str, message: str
) -> None:
    before = stored(goal)
    response = editor_client.post(
        url(goal), {"selected": [ref(catalogue["launch"]), ref(catalogue[key])], "go": "add"}
    )
    assert response.status_code == 200
    html = html_lib.unescape(response.content.decode())
    assert "Nothing was added." in html
    assert message in html
    assert stored(goal) == before


def test_a_source_already_added_is_not_added_twice(
    editor_client: Client, goal: Goal, catalogue: dict[str, Any]
) -> None:
    response = editor_client.post(
        url(goal), {"selected": [ref(catalogue["welcome"]), ref(catalogue["launch"])], "go": "add"}
    )
    assert response.status_code == 302
    assert stored(goal) == {ref(catalogue["welcome"]), ref(catalogue["launch"])}


# --- access ---------------------------------------------------------------------------------


def test_a_viewer_browses_read_only_and_cannot_add(
    client: Client, viewer: User, goal: Goal, catalogue: dict[str, Any]
) -> None:
    client.force_login(viewer)
    response = client.get(url(goal))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="selected"' not in html
    assert "csrfmiddlewaretoken" not in html.split('id="changelist"')[1]
    response = client.post(url(goal), {"selected": [ref(catalogue["launch"])], "go": "add"})
    assert response.status_code == 403
    assert stored(goal) == {ref(catalogue["welcome"])}


def test_a_viewer_is_not_offered_adding_nor_editing(
    client: Client, viewer: User, goal: Goal
) -> None:
    client.force_login(viewer)
    html = client.get(url(goal)).content.decode()
    assert "<h1>Campaigns and broadcasts</h1>" in html
    assert "Add sources" not in html and "Edit sources" not in html
    sources_url = reverse("goals_ui:sources", args=[goal.pk])
    assert f'<a href="{sources_url}">View sources</a>' in html


def test_another_workspaces_goal_is_not_found(
    client: Client, outsider: User, goal: Goal, catalogue: dict[str, Any]
) -> None:
    client.force_login(outsider)
    assert client.get(url(goal)).status_code == 404
    response = client.post(url(goal), {"selected": [ref(catalogue["theirs"])], "go": "add"})
    assert response.status_code == 404
    assert stored(goal) == {ref(catalogue["welcome"])}


def test_it_requires_a_login(client: Client, goal: Goal) -> None:
    response = client.get(url(goal))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- performance ----------------------------------------------------------------------------


def test_a_page_costs_the_same_number_of_queries_whatever_the_number_of_candidates(
    editor_client: Client,
    workspace: Workspace,
    goal: Goal,
    catalogue: dict[str, Any],
    django_assert_max_num_queries: Any,
) -> None:
    selection = f"selected={ref(catalogue['launch'])}&selected={ref(catalogue['weekly'])}"
    editor_client.get(url(goal))  # warm the content-type cache
    with django_assert_max_num_queries(13):
        editor_client.get(url(goal, selection))
    for n in range(60):
        sources.broadcast_create(
            workspace=workspace,
            name=f"Newsletter {n:02d}",
            status="sent",
            channels=["email"],
            tags=[f"tag{n}", "bulk"],
        )
    with django_assert_max_num_queries(13):
        response = editor_client.get(url(goal, selection + "&p=2"))
    assert len(response.context["rows"]) == 20
