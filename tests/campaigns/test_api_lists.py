"""Pagination and ordering, the same on every API list (SPEC §7): campaigns, broadcasts,
segments, goals, a goal's source candidates and its achievements. Bad ``page``, ``page_size``
and ``ordering`` values are a 400 naming the parameter, never a 404 or silently ignored."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from campaigns import sources
from campaigns.models import Workspace
from goals import services as goal_services
from goals.models import Goal

LISTS = ["campaigns", "broadcasts", "segments", "goals", "candidates", "achievements"]
ORDERED = ["campaigns", "broadcasts", "segments", "goals"]


@pytest.fixture
def goal(workspace: Workspace) -> Goal:
    return goal_services.goal_create(
        workspace=workspace,
        name="Trial to paid",
        criteria={"trigger": {"type": "event", "name": "plan_activated"}},
    )


@pytest.fixture
def urls(goal: Goal) -> dict[str, str]:
    return {
        "campaigns": "/api/v1/campaigns",
        "broadcasts": "/api/v1/broadcasts",
        "segments": "/api/v1/segments",
        "goals": "/api/v1/goals",
        "candidates": f"/api/v1/goals/{goal.pk}/sources/candidates",
        "achievements": f"/api/v1/goals/{goal.pk}/achievements",
    }


@pytest.fixture
def two_of_each(workspace: Workspace) -> None:
    for name in ["Alpha", "Beta"]:
        sources.campaign_create(workspace=workspace, name=name)
        sources.broadcast_create(workspace=workspace, name=name, channels=["email"])
        sources.segment_create(workspace=workspace, name=name)
        goal_services.goal_create(
            workspace=workspace, name=name, criteria={"trigger": {"type": "event", "name": "x"}}
        )


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["name"] for row in response.json()["results"]]


# --- page -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", LISTS)
@pytest.mark.parametrize("page", ["abc", "0", "-1", "1.5", " 2", "9" * 5000])
def test_a_page_that_is_not_a_page_number_is_a_400_naming_page(
    api: APIClient, urls: dict[str, str], kind: str, page: str
) -> None:
    response = api.get(urls[kind], {"page": page})

    assert response.status_code == 400
    assert response.json() == {
        "errors": {"page": [f'must be a whole number from 1 or "last", not "{page}"']}
    }


@pytest.mark.parametrize("kind", LISTS)
def test_a_page_past_the_end_is_a_400_saying_how_many_pages_there_are(
    api: APIClient, urls: dict[str, str], kind: str
) -> None:
    response = api.get(urls[kind], {"page": 99})

    assert response.status_code == 400
    assert response.json() == {"errors": {"page": ["there is no page 99: the list has 1 page"]}}


@pytest.mark.parametrize("kind", LISTS)
def test_the_first_page_exists_even_for_an_empty_list(
    api: APIClient, urls: dict[str, str], kind: str
) -> None:
    # Every list is empty here but the goals list, which holds the goal itself.
    queries: list[dict[str, Any]] = [{}, {"page": 1}, {"page": ""}, {"page": "last"}]
    for params in queries:
        response = api.get(urls[kind], params)

        assert response.status_code == 200, params
        assert response.json()["count"] == (1 if kind == "goals" else 0)


@pytest.mark.usefixtures("two_of_each")
@pytest.mark.parametrize("kind", ORDERED)
def test_pages_are_counted_with_the_page_size(
    api: APIClient, urls: dict[str, str], kind: str
) -> None:
    url = urls[kind]
    wanted = ["Alpha", "Beta", "Trial to paid"] if kind == "goals" else ["Alpha", "Beta"]
    size: dict[str, Any] = {"page_size": 1, "ordering": "name"}

    pages = [names(api.get(url, {**size, "page": n})) for n in range(1, len(wanted) + 1)]
    last = api.get(url, {**size, "page": "last"})
    past = api.get(url, {**size, "page": len(wanted) + 1})

    assert pages == [[name] for name in wanted]
    assert names(last) == [wanted[-1]]
    assert past.status_code == 400
    assert past.json()["errors"]["page"] == [
        f"there is no page {len(wanted) + 1}: the list has {len(wanted)} pages"
    ]


# --- page_size --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", LISTS)
@pytest.mark.parametrize("size", ["abc", "0", "-3", "2.5", "9" * 5000])
def test_a_bad_page_size_is_a_400_naming_page_size(
    api: APIClient, urls: dict[str, str], kind: str, size: str
) -> None:
    response = api.get(urls[kind], {"page_size": size})

    assert response.status_code == 400
    assert response.json() == {
        "errors": {"page_size": [f'must be a whole number from 1, not "{size}"']}
    }


@pytest.mark.usefixtures("two_of_each")
@pytest.mark.parametrize("kind", ORDERED)
def test_a_page_size_above_500_gives_pages_of_500_and_an_empty_one_the_default(
    api: APIClient, urls: dict[str, str], kind: str
) -> None:
    huge = api.get(urls[kind], {"page_size": 10_000, "page": 1})
    empty = api.get(urls[kind], {"page_size": ""})

    assert huge.status_code == 200
    assert huge.json()["next"] is None
    assert len(huge.json()["results"]) == huge.json()["count"]
    assert empty.status_code == 200


@pytest.mark.usefixtures("two_of_each")
@pytest.mark.parametrize("kind", ORDERED)
def test_page_links_say_https_behind_a_proxy_that_says_so(
    api: APIClient, urls: dict[str, str], kind: str, settings: Any
) -> None:
    # What TRUST_X_FORWARDED_PROTO=true sets (goals_project.settings): a client that came over
    # HTTPS through a TLS-terminating proxy follows next and previous over HTTPS too.
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    first, second = {"page_size": 1, "page": 1}, {"page_size": 1, "page": 2}

    proxied: dict[str, Any] = {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_HOST": "testserver"}

    behind = api.get(urls[kind], first, **proxied).json()
    back = api.get(urls[kind], second, **proxied).json()
    direct = api.get(urls[kind], first, HTTP_HOST="testserver").json()

    assert behind["next"].startswith("https://testserver/api/v1/")
    assert back["previous"].startswith("https://testserver/api/v1/")
    assert direct["next"].startswith("http://testserver/api/v1/")


def test_a_bad_page_and_page_size_are_reported_by_the_first_one_read(
    api: APIClient, urls: dict[str, str]
) -> None:
    # DRF reads the size first (it is needed to count the pages); one 400 is enough to fix.
    response = api.get(urls["campaigns"], {"page_size": "x", "page": "y"})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["page_size"]


# --- ordering ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ORDERED)
@pytest.mark.parametrize("ordering", ["bogus", "-bogus", "name,bogus", "-", "id"])
def test_an_unknown_ordering_is_a_400_naming_ordering(
    api: APIClient, urls: dict[str, str], kind: str, ordering: str
) -> None:
    response = api.get(urls[kind], {"ordering": ordering})

    assert response.status_code == 400
    [reason] = response.json()["errors"]["ordering"]
    assert list(response.json()["errors"]) == ["ordering"]
    assert reason.startswith("unknown ordering")
    assert "expected one of name, created_at, updated_at (prefix - to reverse)" in reason


@pytest.mark.usefixtures("two_of_each")
@pytest.mark.parametrize("kind", ORDERED)
def test_known_orderings_still_sort(api: APIClient, urls: dict[str, str], kind: str) -> None:
    url = urls[kind]
    ascending = names(api.get(url, {"ordering": "name"}))

    assert names(api.get(url, {"ordering": "-name"})) == ascending[::-1]
    assert names(api.get(url, {"ordering": "name,"})) == ascending
    assert sorted(names(api.get(url, {"ordering": "-updated_at,name"}))) == ascending
    assert sorted(names(api.get(url, {"ordering": ""}))) == ascending


@pytest.mark.parametrize("kind", ORDERED)
def test_names_sort_case_insensitively_by_default_and_on_request(
    api: APIClient, urls: dict[str, str], workspace: Workspace, kind: str
) -> None:
    """As the dashboard and the picker sort them, whatever the database's collation (SQLite's
    put "Zebra" before "apple")."""
    for name in ["banana", "Zebra", "apple", "Cherry"]:
        if kind == "campaigns":
            sources.campaign_create(workspace=workspace, name=name)
        elif kind == "broadcasts":
            sources.broadcast_create(workspace=workspace, name=name, channels=["email"])
        elif kind == "segments":
            sources.segment_create(workspace=workspace, name=name)
        else:
            goal_services.goal_create(
                workspace=workspace, name=name, criteria={"trigger": {"type": "event", "name": "x"}}
            )
    expected = ["apple", "banana", "Cherry", "Zebra"]
    if kind == "goals":
        expected.insert(3, "Trial to paid")  # the fixture's goal

    assert names(api.get(urls[kind])) == expected
    assert names(api.get(urls[kind], {"ordering": "name"})) == expected
    assert names(api.get(urls[kind], {"ordering": "-name"})) == expected[::-1]


@pytest.mark.parametrize(
    ("kind", "param", "allowed"),
    [
        ("campaigns", "kind", "name, status, tag"),
        ("campaigns", "channel", "name, status, tag"),
        ("segments", "status", "name"),
        ("segments", "kind", "name"),
        ("segments", "channel", "name"),
        ("segments", "tag", "name"),
    ],
)
def test_a_messaging_filter_the_list_does_not_have_is_a_400_naming_it(
    api: APIClient, workspace: Workspace, urls: dict[str, str], kind: str, param: str, allowed: str
) -> None:
    # SPEC §7 filters the messaging objects by status, kind, channel, tag and name. A campaign
    # has no kind or channels and a segment only a name: such a filter was ignored, so
    # ``/campaigns?channel=email`` answered every campaign, as if each one used email.
    sources.campaign_create(workspace=workspace, name="Onboarding", status="running")
    sources.segment_create(workspace=workspace, name="VIP")
    value = {"status": "running", "kind": "newsletter", "channel": "email", "tag": "vip"}[param]

    response = api.get(urls[kind], {param: value})

    assert response.status_code == 400
    [reason] = response.json()["errors"][param]
    assert f"{kind} have no {param}" in reason
    assert allowed in reason
