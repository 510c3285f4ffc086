"""GET /api/v1/goals/{id}/sources/candidates: the paginated source picker (SPEC §4.3)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from campaigns import services, sources
from campaigns.models import Broadcast, Campaign, Workspace
from goals import services as goal_services
from goals.models import Goal

SIGNUP = {"trigger": {"type": "event", "name": "signup"}}


def url(goal: Goal) -> str:
    return f"/api/v1/goals/{goal.pk}/sources/candidates"


def refs(response: Any) -> list[tuple[str, str]]:
    assert response.status_code == 200, response.json()
    return [(row["type"], row["name"]) for row in response.json()["results"]]


@pytest.fixture
def catalogue(workspace: Workspace, other_workspace: Workspace) -> dict[str, Campaign | Broadcast]:
    """Campaigns of every status, newsletters, and what the picker must never list."""
    made: dict[str, Campaign | Broadcast] = {
        "welcome": sources.campaign_create(
            workspace=workspace, name="Welcome series", status="running", tags=["Onboarding"]
        ),
        "launch": sources.campaign_create(
            workspace=workspace, name="launch prep", status="draft", tags=["q4"]
        ),
        "winback": sources.campaign_create(workspace=workspace, name="Winback", status="stopped"),
        "old": sources.campaign_create(workspace=workspace, name="Old promo", status="archived"),
        "weekly": sources.broadcast_create(
            workspace=workspace,
            name="Weekly digest",
            status="sent",
            channels=["email", "push"],
            tags=["onboarding", "news"],
        ),
        "sms_blast": sources.broadcast_create(
            workspace=workspace, name="SMS blast", status="draft", channels=["sms"]
        ),
        # A campaign and a broadcast with the same name: type breaks the tie.
        "same_c": sources.campaign_create(workspace=workspace, name="Launch prep", status="draft"),
        "same_b": sources.broadcast_create(
            workspace=workspace, name="Launch prep", status="sent", channels=["email"]
        ),
    }
    # Never listed: API-triggered and in-app broadcasts, deleted sources, other workspaces.
    sources.broadcast_create(
        workspace=workspace, name="Receipts", kind="api_triggered", channels=["email"]
    )
    sources.broadcast_create(workspace=workspace, name="Banner", kind="in_app", channels=["in_app"])
    gone = sources.campaign_create(workspace=workspace, name="Deleted campaign")
    services.source_soft_delete(source=gone)
    gone_b = sources.broadcast_create(workspace=workspace, name="Deleted newsletter")
    services.source_soft_delete(source=gone_b)
    sources.campaign_create(workspace=other_workspace, name="Their campaign")
    sources.broadcast_create(workspace=other_workspace, name="Their newsletter")
    return made


@pytest.fixture
def goal(workspace: Workspace, catalogue: dict[str, Campaign | Broadcast]) -> Goal:
    return goal_services.goal_create(
        workspace=workspace,
        name="Activation",
        criteria=SIGNUP,
        sources=[
            {"type": "campaign", "id": catalogue["welcome"].pk},
            {"type": "broadcast", "id": catalogue["weekly"].pk},
        ],
    )


ALL = [
    ("broadcast", "Launch prep"),
    ("campaign", "launch prep"),
    ("campaign", "Launch prep"),
    ("campaign", "Old promo"),
    ("broadcast", "SMS blast"),
    ("broadcast", "Weekly digest"),
    ("campaign", "Welcome series"),
    ("campaign", "Winback"),
]


def test_it_lists_campaigns_and_newsletters_by_name_then_type_then_id(
    api: APIClient, goal: Goal, catalogue: dict[str, Any]
) -> None:
    response = api.get(url(goal))

    assert response.json()["count"] == 8
    # "launch prep" (earlier id) and "Launch prep" sort together, case-insensitively; the
    # broadcast comes first by type.
    assert refs(response) == ALL
    rows = {(row["type"], row["id"]): row for row in response.json()["results"]}
    weekly = rows[("broadcast", catalogue["weekly"].pk)]
    assert weekly == {
        "type": "broadcast",
        "id": catalogue["weekly"].pk,
        "name": "Weekly digest",
        "status": "sent",
        "channels": ["email", "push"],
        # Its own spelling, though "Welcome series" carries "Onboarding" (tag rows are
        # case-sensitive: taggit's table is shared by every workspace).
        "tags": ["news", "onboarding"],
        "selected": True,
    }
    welcome = rows[("campaign", catalogue["welcome"].pk)]
    assert welcome == {
        "type": "campaign",
        "id": catalogue["welcome"].pk,
        "name": "Welcome series",
        "status": "running",
        "channels": [],
        "tags": ["Onboarding"],
        "selected": True,
    }
    assert [row["selected"] for row in response.json()["results"]].count(True) == 2


def test_it_never_lists_api_triggered_in_app_deleted_or_foreign_sources(
    api: APIClient, goal: Goal
) -> None:
    listed = {name for _, name in refs(api.get(url(goal), {"page_size": 500}))}

    assert not listed & {
        "Receipts",
        "Banner",
        "Deleted campaign",
        "Deleted newsletter",
        "Their campaign",
        "Their newsletter",
    }
    assert refs(api.get(url(goal), {"search": "receipts"})) == []
    assert refs(api.get(url(goal), {"channel": "in_app"})) == []


def test_it_paginates_across_pages_with_filters(api: APIClient, goal: Goal) -> None:
    first = api.get(url(goal), {"page_size": 3})
    second = api.get(url(goal), {"page_size": 3, "page": 2})
    third = api.get(url(goal), {"page_size": 3, "page": 3})

    assert first.json()["count"] == 8
    assert first.json()["previous"] is None
    assert "page=2" in first.json()["next"]
    assert refs(first) + refs(second) + refs(third) == ALL
    assert third.json()["next"] is None

    # Drafts of both kinds, two per page.
    drafts: dict[str, Any] = {"status": "draft", "page_size": 2}
    page_1 = api.get(url(goal), drafts)
    page_2 = api.get(url(goal), {**drafts, "page": 2})
    assert page_1.json()["count"] == 3
    assert refs(page_1) == [("campaign", "launch prep"), ("campaign", "Launch prep")]
    assert refs(page_2) == [("broadcast", "SMS blast")]
    assert page_2.json()["next"] is None
    past = api.get(url(goal), {**drafts, "page": 3})
    assert past.status_code == 400
    assert past.json() == {"errors": {"page": ["there is no page 3: the list has 2 pages"]}}


def test_it_filters_by_type(api: APIClient, goal: Goal) -> None:
    assert refs(api.get(url(goal), {"type": "broadcast"})) == [
        ("broadcast", "Launch prep"),
        ("broadcast", "SMS blast"),
        ("broadcast", "Weekly digest"),
    ]
    campaigns = refs(api.get(url(goal), {"type": "campaign"}))
    assert {kind for kind, _ in campaigns} == {"campaign"}
    assert len(campaigns) == 5


def test_it_filters_by_any_of_several_statuses(api: APIClient, goal: Goal) -> None:
    assert refs(api.get(url(goal), {"status": "draft"})) == [
        ("campaign", "launch prep"),
        ("campaign", "Launch prep"),
        ("broadcast", "SMS blast"),
    ]
    assert refs(api.get(url(goal), {"status": "running,archived"})) == [
        ("campaign", "Old promo"),
        ("campaign", "Welcome series"),
    ]
    assert refs(api.get(url(goal), {"status": ["sent", "stopped"]})) == [
        ("broadcast", "Launch prep"),
        ("broadcast", "Weekly digest"),
        ("campaign", "Winback"),
    ]
    assert refs(api.get(url(goal), {"status": "sent", "type": "campaign"})) == []


def test_a_channel_filter_keeps_the_broadcasts_using_it(api: APIClient, goal: Goal) -> None:
    assert refs(api.get(url(goal), {"channel": "email"})) == [
        ("broadcast", "Launch prep"),
        ("broadcast", "Weekly digest"),
    ]
    assert refs(api.get(url(goal), {"channel": "sms"})) == [("broadcast", "SMS blast")]
    assert refs(api.get(url(goal), {"channel": "push", "type": "campaign"})) == []


def test_it_filters_by_tag_case_insensitively_and_searches_names(
    api: APIClient, goal: Goal
) -> None:
    assert refs(api.get(url(goal), {"tag": "ONBOARDING"})) == [
        ("broadcast", "Weekly digest"),
        ("campaign", "Welcome series"),
    ]
    assert refs(api.get(url(goal), {"tag": "q4"})) == [("campaign", "launch prep")]
    assert refs(api.get(url(goal), {"search": "LAUNCH"})) == [
        ("broadcast", "Launch prep"),
        ("campaign", "launch prep"),
        ("campaign", "Launch prep"),
    ]
    assert refs(api.get(url(goal), {"search": "we", "tag": "onboarding", "type": "broadcast"})) == [
        ("broadcast", "Weekly digest")
    ]


def test_name_filters_by_name_as_on_the_campaign_and_broadcast_lists(
    api: APIClient, goal: Goal
) -> None:
    # SPEC §7 filters campaigns and broadcasts by name; ignored here, ?name= answered the
    # whole catalogue as if everything matched.
    assert refs(api.get(url(goal), {"name": "LAUNCH"})) == [
        ("broadcast", "Launch prep"),
        ("campaign", "launch prep"),
        ("campaign", "Launch prep"),
    ]
    # With search too, both must match.
    assert refs(api.get(url(goal), {"name": "prep", "search": "launch", "type": "campaign"})) == [
        ("campaign", "launch prep"),
        ("campaign", "Launch prep"),
    ]
    assert refs(api.get(url(goal), {"name": "weekly", "search": "launch"})) == []


@pytest.mark.parametrize(
    ("params", "field", "reason"),
    [
        (
            {"type": "segment"},
            "type",
            'unknown type "segment"; expected one of campaign, broadcast',
        ),
        (
            {"status": "draft,paused"},
            "status",
            'unknown status "paused"; expected one of draft, running, stopped, archived, sent',
        ),
        ({"channel": "fax"}, "channel", 'unknown channel "fax"'),
        # Never silently the default order (decisions.md, Lists): the picker has one order.
        ({"ordering": "-name"}, "ordering", "always ordered by name, then type, then id"),
    ],
)
def test_it_rejects_unknown_filter_values(
    api: APIClient, goal: Goal, params: dict[str, str], field: str, reason: str
) -> None:
    response = api.get(url(goal), params)

    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
    assert reason in response.json()["errors"][field][0]


def test_it_caps_the_page_size_at_500(api: APIClient, goal: Goal) -> None:
    response = api.get(url(goal), {"page_size": 10_000})

    assert response.status_code == 200
    assert len(response.json()["results"]) == 8


def test_it_is_scoped_to_the_workspace_and_open_to_viewers(
    api: APIClient, other_api: APIClient, viewer_api: APIClient, goal: Goal
) -> None:
    assert other_api.get(url(goal)).status_code == 404
    assert api.get("/api/v1/goals/999999/sources/candidates").status_code == 404
    assert refs(viewer_api.get(url(goal))) == ALL
    assert api.get(f"{url(goal)}/").status_code == 200


def test_a_page_takes_the_same_queries_however_many_rows_it_holds(
    api: APIClient, workspace: Workspace, goal: Goal, django_assert_max_num_queries: Any
) -> None:
    api.get(url(goal))  # the token's first use writes last_used_at
    with django_assert_max_num_queries(6) as small:
        api.get(url(goal))
    for i in range(40):
        sources.campaign_create(workspace=workspace, name=f"C{i}", tags=[f"t{i}"])
        sources.broadcast_create(workspace=workspace, name=f"B{i}", tags=["x"], channels=["sms"])

    with django_assert_max_num_queries(len(small.captured_queries)):
        response = api.get(url(goal), {"page_size": 100})

    assert len(response.json()["results"]) == 88
    assert all(row["tags"] for row in response.json()["results"] if row["name"][1:].isdigit())


def test_type_channel_and_tag_take_repeats_or_commas_as_the_other_lists_do(
    api: APIClient, goal: Goal
) -> None:
    # decisions.md: list filters take repeats or commas (any of), and a comma separates tags
    # in ``?tag=`` (a tag may not hold one). The picker once read ``tag=q4,news`` as one
    # impossible tag (an empty list) and kept only the last of repeated values.
    both_tags = [("campaign", "launch prep"), ("broadcast", "Weekly digest")]
    assert refs(api.get(url(goal), {"tag": "q4,NEWS"})) == both_tags
    assert refs(api.get(url(goal), {"tag": ["q4", "news"]})) == both_tags
    sms_or_push = [("broadcast", "SMS blast"), ("broadcast", "Weekly digest")]
    assert refs(api.get(url(goal), {"channel": "sms,push"})) == sms_or_push
    assert refs(api.get(url(goal), {"channel": ["sms", "push"]})) == sms_or_push
    assert refs(api.get(url(goal), {"type": ["campaign", "broadcast"]})) == ALL
    assert refs(api.get(url(goal), {"type": "campaign,broadcast"})) == ALL
    bad = api.get(url(goal), {"channel": "sms,fax"})
    assert bad.status_code == 400
    assert bad.json()["errors"] == {
        "channel": [
            'unknown channel "fax"; expected one of email, push, whatsapp, sms, in_app, '
            "webhook, slack"
        ]
    }


def test_a_format_suffix_is_read_as_the_format_not_a_500(api: APIClient, goal: Goal) -> None:
    # The router routes ``candidates.json`` as it routes ``goals/1.json``; the action once
    # refused the ``format`` argument with a TypeError (a 500).
    assert refs(api.get(f"{url(goal)}.json")) == ALL


def test_long_filter_lists_are_a_400_or_read_once_never_a_500(api: APIClient, goal: Goal) -> None:
    # Each value was one more OR in the SQL: some 500 tags or 1,000 repeats of a channel made
    # SQLite's expression tree too deep (a 500, "Expression tree is too large").
    repeated = api.get(url(goal), {"channel": ",".join(["sms"] * 1000), "tag": "q4,Q4"})
    assert refs(repeated) == []
    assert refs(api.get(url(goal), {"channel": ",".join(["sms"] * 1000)})) == [
        ("broadcast", "SMS blast")
    ]
    assert refs(api.get(url(goal), {"tag": ",".join(["q4"] * 1000)})) == [
        ("campaign", "launch prep")
    ]

    too_many = api.get(url(goal), {"tag": ",".join(f"t{i}" for i in range(101))})

    assert too_many.status_code == 400
    assert too_many.json()["errors"] == {"tag": ["at most 100 tags at once, not 101"]}
    assert refs(api.get(url(goal), {"tag": ",".join(f"t{i}" for i in range(99)) + ",q4"})) == [
        ("campaign", "launch prep")
    ]
