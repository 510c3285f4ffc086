"""Who may call the ingestion endpoints, and in which workspace (SPEC §2, §7).

Workspace A is ``workspace`` (``api`` is an editor token there); workspace B is
``other_workspace`` (``other_api``). A's rows are invisible to B: 404, never their data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from campaigns import services
from campaigns.models import (
    ApiToken,
    Broadcast,
    Campaign,
    Event,
    Message,
    MessageMetric,
    PendingMetric,
    Person,
    Segment,
    SegmentMembershipChange,
    Workspace,
)

pytestmark = pytest.mark.django_db

T = "2025-11-05T09:00:00Z"

WRITES: list[tuple[str, str, dict[str, Any]]] = [
    ("put", "/api/v1/people/ada", {"attributes": {"plan": "pro"}}),
    ("delete", "/api/v1/people/ada", {}),
    ("post", "/api/v1/people/ada/events", {"name": "signup"}),
    ("post", "/api/v1/people/ada/segments", {"segment": 1, "action": "enter"}),
    ("post", "/api/v1/messages", {"id": "m2", "person": "ada", "channel": "email", "sent_at": T}),
    ("post", "/api/v1/messages/m1/metrics", {"metric": "delivered", "timestamp": T}),
    ("post", "/api/v1/batch", {"items": [{"type": "event", "person": "ada", "name": "x"}]}),
]
READS = ["/api/v1/people/ada", "/api/v1/messages/m1"]


@pytest.fixture
def a_data(api: APIClient, workspace: Workspace) -> dict[str, Any]:
    """Workspace A's person ``ada``, message ``m1``, event ``e1``, campaign, broadcast, segment."""
    campaign = Campaign.objects.create(workspace=workspace, name="A campaign")
    broadcast = Broadcast.objects.create(workspace=workspace, name="A news", channels=["email"])
    segment = Segment.objects.create(workspace=workspace, name="A segment")
    assert (
        api.put("/api/v1/people/ada", {"attributes": {"plan": "pro"}}, format="json").status_code
        == 201
    )
    api.post("/api/v1/people/ada/events", {"name": "signup", "id": "e1"}, format="json")
    api.post(
        "/api/v1/messages",
        {"id": "m1", "person": "ada", "channel": "email", "campaign": campaign.pk, "sent_at": T},
        format="json",
    )
    return {"campaign": campaign, "broadcast": broadcast, "segment": segment}


def call(client: APIClient, method: str, url: str, body: dict[str, Any]) -> Any:
    return getattr(client, method)(url, body, format="json")


def counts() -> tuple[int, ...]:
    return (
        Person.objects.count(),
        Event.objects.count(),
        Message.objects.count(),
        MessageMetric.objects.count(),
        SegmentMembershipChange.objects.count(),
    )


# --- credentials ------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "url", "body"), WRITES)
def test_it_requires_a_token(
    a_data: dict[str, Any], method: str, url: str, body: dict[str, Any]
) -> None:
    before = counts()
    r = call(APIClient(), method, url, body)
    assert r.status_code == 401
    assert counts() == before


@pytest.mark.parametrize("url", READS)
def test_reads_require_a_token(a_data: dict[str, Any], url: str) -> None:
    assert APIClient().get(url).status_code == 401


@pytest.mark.parametrize(("method", "url", "body"), WRITES)
def test_a_revoked_token_is_refused(
    a_data: dict[str, Any],
    make_token_client: Callable[..., APIClient],
    workspace: Workspace,
    method: str,
    url: str,
    body: dict[str, Any],
) -> None:
    client = make_token_client(workspace)
    # The token make_token_client just issued (the newest of the workspace).
    token = ApiToken.objects.filter(workspace=workspace).order_by("-pk").first()
    assert token is not None
    services.api_token_revoke(token=token)
    before = counts()
    assert call(client, method, url, body).status_code == 401
    assert client.get("/api/v1/people/ada").status_code == 401
    assert counts() == before


def test_an_unknown_token_is_refused(a_data: dict[str, Any]) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer gk_not-a-real-token")
    assert client.get("/api/v1/people/ada").status_code == 401
    assert call(client, *WRITES[2]).status_code == 401


@pytest.mark.parametrize(("method", "url", "body"), WRITES)
def test_a_viewer_cannot_write(
    a_data: dict[str, Any], viewer_api: APIClient, method: str, url: str, body: dict[str, Any]
) -> None:
    before = counts()
    r = call(viewer_api, method, url, body)
    assert r.status_code == 403
    assert counts() == before
    assert Person.objects.get(identifier="ada").attributes == {"plan": "pro"}


@pytest.mark.parametrize("url", READS)
def test_a_viewer_can_read(a_data: dict[str, Any], viewer_api: APIClient, url: str) -> None:
    assert viewer_api.get(url).status_code == 200


def test_a_member_can_ingest_with_a_session(editor: User, workspace: Workspace) -> None:
    client = APIClient()
    client.force_login(editor)
    r = client.put("/api/v1/people/ada", {"email": "ada@example.org"}, format="json")
    assert r.status_code == 201
    assert Person.objects.get(identifier="ada").workspace == workspace


def test_a_session_outside_the_workspace_gets_404(
    a_data: dict[str, Any], outsider: User, workspace: Workspace
) -> None:
    client = APIClient()
    client.force_login(outsider)
    r = client.get("/api/v1/people/ada", HTTP_X_WORKSPACE=str(workspace.pk))
    assert r.status_code == 404
    assert "ada" not in r.content.decode()
    r = client.delete("/api/v1/people/ada", HTTP_X_WORKSPACE=str(workspace.pk))
    assert r.status_code == 404
    assert Person.objects.filter(workspace=workspace, identifier="ada").exists()


@pytest.mark.parametrize(("method", "url", "body"), WRITES)
def test_a_token_naming_another_workspace_gets_404_and_writes_nowhere(
    a_data: dict[str, Any],
    other_api: APIClient,
    workspace: Workspace,
    method: str,
    url: str,
    body: dict[str, Any],
) -> None:
    # B's token naming A: it was answered from B's own workspace, so a script that meant A
    # stored its data in B with a 2xx. A token sees its workspace alone (SPEC §2).
    before = counts()
    by_header = getattr(other_api, method)(
        url, body, format="json", HTTP_X_WORKSPACE=str(workspace.pk)
    )
    by_param = getattr(other_api, method)(f"{url}?workspace={workspace.pk}", body, format="json")

    assert (by_header.status_code, by_param.status_code) == (404, 404)
    assert counts() == before


def test_a_token_may_name_its_own_workspace(api: APIClient, workspace: Workspace) -> None:
    r = api.put("/api/v1/people/ada", {}, format="json", HTTP_X_WORKSPACE=str(workspace.pk))
    assert r.status_code == 201
    assert api.get(f"/api/v1/people/ada?workspace={workspace.pk}").status_code == 200
    assert api.get("/api/v1/people/ada?workspace=x").status_code == 400


# --- workspace isolation ----------------------------------------------------------------------


def test_another_workspace_cannot_read_a_person(
    a_data: dict[str, Any], other_api: APIClient
) -> None:
    r = other_api.get("/api/v1/people/ada")
    assert r.status_code == 404
    assert "pro" not in r.content.decode()


def test_another_workspace_cannot_delete_a_person(
    a_data: dict[str, Any], other_api: APIClient, workspace: Workspace
) -> None:
    assert other_api.delete("/api/v1/people/ada").status_code == 404
    person = Person.objects.get(workspace=workspace, identifier="ada")
    assert person.attributes == {"plan": "pro"}


def test_another_workspace_cannot_read_a_message(
    a_data: dict[str, Any], other_api: APIClient
) -> None:
    r = other_api.get("/api/v1/messages/m1")
    assert r.status_code == 404
    assert "campaign" not in r.content.decode()


def test_another_workspace_cannot_add_metrics_to_a_message(
    a_data: dict[str, Any], other_api: APIClient, other_workspace: Workspace
) -> None:
    # Their "m1" is not stored (yet) in their workspace: the metric waits there, for theirs.
    r = other_api.post(
        "/api/v1/messages/m1/metrics", {"metric": "delivered", "timestamp": T}, format="json"
    )
    assert r.status_code == 202
    assert "campaign" not in r.content.decode()
    in_batch = other_api.post(
        "/api/v1/batch",
        {"items": [{"type": "metric", "message": "m1", "metric": "delivered", "timestamp": T}]},
        format="json",
    )
    assert in_batch.json()["results"][0]["status"] == 202
    assert not MessageMetric.objects.exists()
    assert PendingMetric.objects.get().workspace == other_workspace


def test_a_message_cannot_use_another_workspaces_sources(
    a_data: dict[str, Any], other_api: APIClient, other_workspace: Workspace
) -> None:
    base = {"id": "b1", "person": "bob", "channel": "email", "sent_at": T}
    r = other_api.post(
        "/api/v1/messages", {**base, "campaign": a_data["campaign"].pk}, format="json"
    )
    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["campaign"]
    r = other_api.post(
        "/api/v1/messages", {**base, "broadcast": a_data["broadcast"].pk}, format="json"
    )
    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["broadcast"]
    assert not Message.objects.filter(workspace=other_workspace).exists()
    assert not Person.objects.filter(workspace=other_workspace).exists()


def test_a_segment_change_cannot_use_another_workspaces_segment(
    a_data: dict[str, Any], other_api: APIClient
) -> None:
    r = other_api.post(
        "/api/v1/people/bob/segments",
        {"segment": a_data["segment"].pk, "action": "enter"},
        format="json",
    )
    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["segment"]
    assert not SegmentMembershipChange.objects.exists()


def test_identifiers_and_ids_are_per_workspace(
    a_data: dict[str, Any], other_api: APIClient, workspace: Workspace, other_workspace: Workspace
) -> None:
    # The same identifier, event id and message id in B are B's own rows, not A's.
    r = other_api.put("/api/v1/people/ada", {"attributes": {"plan": "free"}}, format="json")
    assert r.status_code == 201
    assert r.json()["attributes"] == {"plan": "free"}
    r = other_api.post("/api/v1/people/ada/events", {"name": "signup", "id": "e1"}, format="json")
    assert r.status_code == 201
    r = other_api.post(
        "/api/v1/messages",
        {"id": "m1", "person": "ada", "channel": "sms", "sent_at": T},
        format="json",
    )
    assert r.status_code == 201
    assert Person.objects.get(workspace=workspace, identifier="ada").attributes == {"plan": "pro"}
    assert Event.objects.filter(client_id="e1").count() == 2
    assert Message.objects.get(workspace=workspace, client_id="m1").channel == "email"
    assert Message.objects.get(workspace=other_workspace, client_id="m1").channel == "sms"
    a_key = Person.objects.get(workspace=workspace, identifier="ada").key
    b_key = Person.objects.get(workspace=other_workspace, identifier="ada").key
    assert a_key != b_key
