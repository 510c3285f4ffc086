"""Error shapes, workspace isolation, roles, credentials and throttling on the messaging-object
endpoints (SPEC §2, §7). Every access test has a second workspace."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from rest_framework.test import APIClient

from campaigns import services, sources
from campaigns.auth import WorkspaceBurstThrottle
from campaigns.models import ApiToken, Broadcast, Campaign, Role, Segment, Workspace

Source = Campaign | Broadcast | Segment

MAKERS: dict[str, Callable[[Workspace], Source]] = {
    "campaigns": lambda ws: sources.campaign_create(workspace=ws, name="Globex welcome"),
    "broadcasts": lambda ws: sources.broadcast_create(
        workspace=ws, name="Globex news", channels=["email"]
    ),
    "segments": lambda ws: sources.segment_create(workspace=ws, name="Globex users"),
}
KINDS = list(MAKERS)


def url(kind: str, obj: Source | None = None) -> str:
    return f"/api/v1/{kind}" + (f"/{obj.pk}" if obj is not None else "")


# --- 400 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_bad_input_is_a_400_naming_the_field(api: APIClient, kind: str) -> None:
    response = api.post(url(kind), {"name": ""})

    assert response.status_code == 400
    assert response.json() == {"errors": {"name": ["This field may not be blank."]}}


@pytest.mark.parametrize("kind", KINDS)
def test_malformed_json_is_a_400_on_the_body(api: APIClient, kind: str) -> None:
    response = api.generic("POST", url(kind), "{not json", content_type="application/json")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["body"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/campaigns"),
        ("POST", "/api/v1/goals"),
        ("PUT", "/api/v1/people/ada"),
        ("POST", "/api/v1/people/ada/events"),
        ("POST", "/api/v1/batch"),
    ],
)
@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_a_body_that_is_not_json_is_a_400_naming_body(
    api: APIClient, workspace: Workspace, method: str, path: str, content_type: str
) -> None:
    # SPEC §7: bad input is a 400 with the errors shape. curl's -d without a Content-Type
    # sends a form body: DRF's 415 {"detail": ...} is not a shape the contract has.
    response = api.generic(method, path, '{"name": "Winback"}', content_type=content_type)

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert list(errors) == ["body"]
    assert content_type in errors["body"][0]
    assert "application/json" in errors["body"][0]
    assert not Campaign.objects.exists()
    assert not workspace.people.exists()


@pytest.mark.parametrize("kind", [*KINDS, "goals"])
@pytest.mark.parametrize("name", ["123", "1.5", "1e400"])
def test_a_name_that_is_not_a_string_is_a_400(api: APIClient, kind: str, name: str) -> None:
    # DRF's CharField wrote numbers as text: {"name": 1e400} (read as infinity) made a
    # segment named "inf". Ingestion refuses a name that is no string the same way.
    body: dict[str, Any] = {"name": "NAME"}
    if kind == "goals":
        body["criteria"] = {"trigger": {"type": "event", "name": "signup"}}
    text = json.dumps(body).replace('"NAME"', name)  # the number as the client wrote it
    response = api.generic("POST", url(kind), text, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"errors": {"name": ["Not a valid string."]}}


def test_a_goal_description_that_is_not_a_string_is_a_400(api: APIClient) -> None:
    body = {"name": "G", "criteria": {"trigger": {"type": "event", "name": "signup"}}}
    response = api.post(url("goals"), {**body, "description": 12.5}, format="json")

    assert response.status_code == 400
    assert response.json() == {"errors": {"description": ["Not a valid string."]}}


def test_several_bad_fields_are_reported_together(api: APIClient) -> None:
    response = api.post(
        url("broadcasts"), {"name": "", "kind": "fax", "status": "done", "channels": ["x"]}
    )

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"name", "kind", "status", "channels"}
    assert not Broadcast.objects.exists()


@pytest.mark.parametrize("kind", KINDS)
def test_an_unknown_format_is_a_400_naming_the_formats(
    api: APIClient, workspace: Workspace, kind: str
) -> None:
    # Not DRF's bare 404, which would read as "outside your workspace".
    ours = MAKERS[kind](workspace)

    responses = [
        api.get(url(kind), {"format": "xml"}),
        api.get(url(kind, ours), {"format": "xml"}),
        api.delete(url(kind, ours) + "?format=xml"),
    ]

    assert [r.status_code for r in responses] == [400, 400, 400]
    expected = {"errors": {"format": ['unknown format "xml"; expected one of json, api']}}
    assert all(r.json() == expected for r in responses)
    assert type(ours).objects.get(pk=ours.pk).deleted_at is None
    # An empty format is no format.
    assert api.get(url(kind), {"format": ""}).status_code == 200


def test_an_explicit_format_wins_over_the_accept_header(api: APIClient) -> None:
    response = api.get(url("campaigns"), {"format": "json"}, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["count"] == 0


# --- another workspace's objects: 404 -----------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_another_workspaces_object_is_not_found(
    api: APIClient, other_api: APIClient, other_workspace: Workspace, kind: str
) -> None:
    theirs = MAKERS[kind](other_workspace)

    responses = [
        api.get(url(kind, theirs)),
        api.put(url(kind, theirs), {"name": "Mine now"}),
        api.patch(url(kind, theirs), {"name": "Mine now"}),
        api.delete(url(kind, theirs)),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404, 404]
    assert all("Globex" not in r.content.decode() for r in responses)
    assert api.get(url(kind)).json()["count"] == 0
    row = type(theirs).objects.get(pk=theirs.pk)
    assert row.name == theirs.name
    assert row.deleted_at is None
    # ...while its own workspace still reaches it.
    assert other_api.get(url(kind, theirs)).status_code == 200


@pytest.mark.parametrize("kind", KINDS)
def test_an_unknown_id_is_not_found(api: APIClient, kind: str) -> None:
    assert api.get(f"/api/v1/{kind}/999999").status_code == 404
    assert api.get(f"/api/v1/{kind}/not-a-number").status_code == 404


# --- roles and credentials ----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_viewer_token_reads_but_cannot_write(
    viewer_api: APIClient, workspace: Workspace, kind: str
) -> None:
    ours = MAKERS[kind](workspace)
    model = type(ours)

    assert viewer_api.get(url(kind)).status_code == 200
    assert viewer_api.get(url(kind, ours)).status_code == 200
    assert viewer_api.post(url(kind), {"name": "New"}).status_code == 403
    assert viewer_api.put(url(kind, ours), {"name": "Renamed"}).status_code == 403
    assert viewer_api.patch(url(kind, ours), {"name": "Renamed"}).status_code == 403
    assert viewer_api.delete(url(kind, ours)).status_code == 403
    assert list(model.objects.values_list("name", "deleted_at")) == [(ours.name, None)]


@pytest.mark.parametrize("kind", KINDS)
def test_a_viewers_write_to_another_workspaces_or_no_object_is_not_found(
    viewer_api: APIClient, other_workspace: Workspace, kind: str
) -> None:
    # The object is looked up before the role is checked: 404 outside the workspace (SPEC §2),
    # 403 only for the viewer's own workspace's objects (above).
    theirs = MAKERS[kind](other_workspace)

    for path in [url(kind, theirs), f"/api/v1/{kind}/999999", f"/api/v1/{kind}/not-a-number"]:
        responses = [
            viewer_api.put(path, {"name": "Renamed"}),
            viewer_api.patch(path, {"name": "Renamed"}),
            viewer_api.delete(path),
        ]
        assert [r.status_code for r in responses] == [404, 404, 404], path
        assert all("Globex" not in r.content.decode() for r in responses)

    row = type(theirs).objects.get(pk=theirs.pk)
    assert (row.name, row.deleted_at) == (theirs.name, None)


def test_a_revoked_token_is_refused(
    api: APIClient, workspace: Workspace, make_token_client: Callable[..., APIClient]
) -> None:
    assert api.get(url("campaigns")).status_code == 200
    token = ApiToken.objects.get(workspace=workspace)
    services.api_token_revoke(token=token)

    response = api.get(url("campaigns"))
    write = api.post(url("campaigns"), {"name": "After revocation"})

    assert response.status_code == 401
    assert response.json() == {"detail": "This token has been revoked."}
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert write.status_code == 401
    assert not Campaign.objects.exists()
    # Other tokens of the workspace keep working.
    assert make_token_client(workspace).get(url("campaigns")).status_code == 200


@pytest.mark.parametrize(
    "headers", [{}, {"HTTP_AUTHORIZATION": "Bearer gk_wrong"}, {"HTTP_AUTHORIZATION": "Bearer "}]
)
def test_missing_or_wrong_credentials_are_a_401(
    db: Any, workspace: Workspace, headers: dict[str, str]
) -> None:
    sources.campaign_create(workspace=workspace, name="Secret")

    client = APIClient()
    client.credentials(**headers)

    response = client.get(url("campaigns"))

    assert response.status_code == 401
    assert "Secret" not in response.content.decode()


# --- sessions -----------------------------------------------------------------------------


@pytest.fixture
def both(workspace: Workspace, other_workspace: Workspace) -> tuple[Campaign, Campaign]:
    return (
        sources.campaign_create(workspace=workspace, name="Acme welcome"),
        sources.campaign_create(workspace=other_workspace, name="Globex welcome"),
    )


def session(user: User) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_a_logged_in_member_lists_their_workspace(
    owner: User, both: tuple[Campaign, Campaign]
) -> None:
    response = session(owner).get(url("campaigns"))

    assert response.status_code == 200
    assert [row["name"] for row in response.json()["results"]] == ["Acme welcome"]


def test_a_logged_in_member_cannot_pick_a_workspace_they_are_not_in(
    owner: User, other_workspace: Workspace, both: tuple[Campaign, Campaign]
) -> None:
    client = session(owner)

    by_header = client.get(url("campaigns"), HTTP_X_WORKSPACE=str(other_workspace.pk))
    by_param = client.get(url("campaigns"), {"workspace": other_workspace.pk})
    write = client.post(
        url("campaigns"), {"name": "Sneaky"}, HTTP_X_WORKSPACE=str(other_workspace.pk)
    )

    assert by_header.status_code == 404
    assert by_param.status_code == 404
    assert write.status_code == 404
    assert "Globex" not in by_header.content.decode()
    assert not Campaign.objects.filter(name="Sneaky").exists()


def test_a_member_of_two_workspaces_picks_one_with_the_header(
    owner: User, workspace: Workspace, other_workspace: Workspace, both: tuple[Campaign, Campaign]
) -> None:
    other_workspace.memberships.create(user=owner, role=Role.VIEWER)
    client = session(owner)

    theirs = client.get(url("campaigns"), HTTP_X_WORKSPACE=str(other_workspace.pk))
    write = client.post(
        url("campaigns"), {"name": "Viewer write"}, HTTP_X_WORKSPACE=str(other_workspace.pk)
    )
    ours = client.post(
        url("campaigns"), {"name": "Owner write"}, HTTP_X_WORKSPACE=str(workspace.pk)
    )

    assert [row["name"] for row in theirs.json()["results"]] == ["Globex welcome"]
    assert write.status_code == 403  # a viewer there
    assert ours.status_code == 201
    assert Campaign.objects.get(name="Owner write").workspace == workspace
    assert not Campaign.objects.filter(name="Viewer write").exists()


def test_an_outsider_sees_only_their_own_workspace(
    outsider: User, both: tuple[Campaign, Campaign]
) -> None:
    acme, globex = both
    client = session(outsider)

    listing = client.get(url("campaigns"))

    assert [row["name"] for row in listing.json()["results"]] == ["Globex welcome"]
    assert client.get(url("campaigns", acme)).status_code == 404
    assert client.get(url("campaigns", globex)).status_code == 200


def test_a_session_viewer_cannot_write(viewer: User, both: tuple[Campaign, Campaign]) -> None:
    acme, _ = both
    client = session(viewer)

    assert client.get(url("campaigns")).status_code == 200
    assert client.patch(url("campaigns", acme), {"name": "Nope"}).status_code == 403
    acme.refresh_from_db()
    assert acme.name == "Acme welcome"


def test_a_logged_in_user_without_a_workspace_is_refused(db: Any) -> None:
    loner = User.objects.create_user("dana", "dana@example.org", "password")

    response = session(loner).get(url("campaigns"))

    assert response.status_code == 403


# --- throttling ---------------------------------------------------------------------------


@pytest.fixture
def burst_of_three(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Three requests a minute per token. ``SimpleRateThrottle.__init__`` reads ``rate`` from
    the class before falling back to ``THROTTLE_RATES[scope]``; throttles are built per request,
    so patching the class attribute takes effect at once. The history lives in the cache."""
    cache.clear()
    monkeypatch.setattr(WorkspaceBurstThrottle, "rate", "3/minute", raising=False)
    yield
    cache.clear()


@pytest.mark.usefixtures("burst_of_three")
def test_too_many_requests_are_throttled_per_token(
    api: APIClient, other_api: APIClient, workspace: Workspace
) -> None:
    statuses = [api.get(url("campaigns")).status_code for _ in range(4)]
    write = api.post(url("campaigns"), {"name": "Throttled"})

    assert statuses == [200, 200, 200, 429]
    assert write.status_code == 429
    assert int(write["Retry-After"]) > 0
    assert not Campaign.objects.exists()
    # The limit is per token: another workspace's client is not slowed down.
    assert other_api.get(url("campaigns")).status_code == 200


@pytest.mark.usefixtures("burst_of_three")
def test_sessions_are_throttled_per_user(owner: User, outsider: User) -> None:
    client = session(owner)

    statuses = [client.get(url("segments")).status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    assert session(outsider).get(url("segments")).status_code == 200
