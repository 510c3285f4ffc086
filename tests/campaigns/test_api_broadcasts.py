"""/api/v1/broadcasts: kinds, statuses, channels, tags; filters; soft delete (SPEC §7)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns import sources
from campaigns.models import Broadcast, Message, Workspace

URL = "/api/v1/broadcasts"


def detail(broadcast: Broadcast) -> str:
    return f"{URL}/{broadcast.pk}"


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["name"] for row in response.json()["results"]]


@pytest.fixture
def newsletter(workspace: Workspace) -> Broadcast:
    return sources.broadcast_create(
        workspace=workspace,
        name="November newsletter",
        kind="newsletter",
        status="sent",
        channels=["email"],
        tags=["monthly"],
    )


def test_it_creates_a_broadcast(api: APIClient, workspace: Workspace) -> None:
    response = api.post(
        URL,
        {
            "name": "Black Friday",
            "kind": "api_triggered",
            "status": "draft",
            "channels": ["email", "push"],
            "tags": ["promo"],
        },
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {
        "id",
        "name",
        "kind",
        "status",
        "channels",
        "tags",
        "created_at",
        "updated_at",
    }
    assert body["kind"] == "api_triggered"
    assert body["channels"] == ["email", "push"]
    assert body["tags"] == ["promo"]
    broadcast = Broadcast.objects.get(pk=body["id"])
    assert broadcast.workspace == workspace
    assert broadcast.kind == "api_triggered"
    assert broadcast.channels == ["email", "push"]
    assert list(broadcast.tags.names()) == ["promo"]


def test_it_defaults_to_a_draft_newsletter_without_channels(api: APIClient) -> None:
    response = api.post(URL, {"name": "Draft"})

    assert response.status_code == 201
    assert response.json()["kind"] == "newsletter"
    assert response.json()["status"] == "draft"
    assert response.json()["channels"] == []
    broadcast = Broadcast.objects.get(pk=response.json()["id"])
    assert (broadcast.kind, broadcast.status, broadcast.channels) == ("newsletter", "draft", [])


def test_it_drops_repeated_channels(api: APIClient) -> None:
    response = api.post(URL, {"name": "Dup", "channels": ["sms", "email", "sms"]})

    assert response.status_code == 201
    assert response.json()["channels"] == ["sms", "email"]
    assert Broadcast.objects.get(pk=response.json()["id"]).channels == ["sms", "email"]


def test_it_rejects_an_unknown_kind(api: APIClient) -> None:
    response = api.post(URL, {"name": "X", "kind": "postcard"})

    assert response.status_code == 400
    [message] = response.json()["errors"]["kind"]
    assert "postcard" in message
    assert "newsletter, api_triggered, in_app" in message
    assert not Broadcast.objects.exists()


def test_it_rejects_an_unknown_status(api: APIClient) -> None:
    response = api.post(URL, {"name": "X", "status": "running"})

    assert response.status_code == 400
    assert "expected one of draft, sent" in response.json()["errors"]["status"][0]
    assert not Broadcast.objects.exists()


def test_it_rejects_an_unknown_channel(api: APIClient) -> None:
    response = api.post(URL, {"name": "X", "channels": ["email", "fax", "pigeon"]})

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert list(errors) == ["channels"]
    assert len(errors["channels"]) == 2
    assert 'unknown channel "fax"' in errors["channels"][0]
    assert "email, push, whatsapp, sms, in_app, webhook, slack" in errors["channels"][0]
    assert not Broadcast.objects.exists()


@pytest.mark.parametrize("channels", ["email", {"email": True}, [1]])
def test_it_rejects_channels_that_are_not_a_list_of_names(api: APIClient, channels: Any) -> None:
    response = api.post(URL, {"name": "X", "channels": channels})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["channels"]
    assert not Broadcast.objects.exists()


def test_it_rejects_a_blank_name_and_blank_tags(api: APIClient) -> None:
    response = api.post(URL, {"name": " ", "tags": [""]})

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"name", "tags"}


# --- list and filters ---------------------------------------------------------------------


@pytest.fixture
def assorted(workspace: Workspace, other_workspace: Workspace) -> None:
    make = sources.broadcast_create
    make(workspace=workspace, name="Email news", channels=["email"], tags=["monthly"])
    make(workspace=workspace, name="Push alert", kind="api_triggered", channels=["push"])
    make(workspace=workspace, name="In-app tip", kind="in_app", channels=["in_app"], status="sent")
    make(workspace=workspace, name="Multi", channels=["sms", "email"], tags=["Promo"])
    make(workspace=other_workspace, name="Globex email", channels=["email"], tags=["monthly"])


@pytest.mark.usefixtures("assorted")
def test_it_lists_only_the_callers_workspace(api: APIClient) -> None:
    response = api.get(URL)

    assert names(response) == ["Email news", "In-app tip", "Multi", "Push alert"]
    assert response.json()["count"] == 4


@pytest.mark.usefixtures("assorted")
def test_it_filters_by_channel(api: APIClient) -> None:
    assert names(api.get(URL, {"channel": "email"})) == ["Email news", "Multi"]
    assert names(api.get(URL, {"channel": "in_app"})) == ["In-app tip"]
    assert names(api.get(f"{URL}?channel=push&channel=sms")) == ["Multi", "Push alert"]
    assert names(api.get(URL, {"channel": "push,in_app"})) == ["In-app tip", "Push alert"]
    assert names(api.get(URL, {"channel": "slack"})) == []


@pytest.mark.usefixtures("assorted")
def test_it_rejects_an_unknown_channel_filter(api: APIClient) -> None:
    response = api.get(URL, {"channel": "fax"})

    assert response.status_code == 400
    assert 'unknown channel "fax"' in response.json()["errors"]["channel"][0]


@pytest.mark.usefixtures("assorted")
def test_it_filters_by_kind_status_tag_and_name(api: APIClient) -> None:
    assert names(api.get(URL, {"kind": "newsletter"})) == ["Email news", "Multi"]
    assert names(api.get(URL, {"kind": "in_app,api_triggered"})) == ["In-app tip", "Push alert"]
    assert names(api.get(URL, {"status": "sent"})) == ["In-app tip"]
    assert names(api.get(URL, {"tag": "promo"})) == ["Multi"]
    assert names(api.get(URL, {"tag": "monthly"})) == ["Email news"]
    assert names(api.get(URL, {"name": "email"})) == ["Email news"]
    assert names(api.get(URL, {"search": "tip"})) == ["In-app tip"]
    assert names(api.get(URL, {"kind": "newsletter", "channel": "sms"})) == ["Multi"]


@pytest.mark.usefixtures("assorted")
def test_it_rejects_an_unknown_kind_filter(api: APIClient) -> None:
    response = api.get(URL, {"kind": "postcard"})

    assert response.status_code == 400
    assert "newsletter, api_triggered, in_app" in response.json()["errors"]["kind"][0]


def test_listing_tags_does_not_query_per_broadcast(
    api: APIClient, workspace: Workspace, django_assert_max_num_queries: Any
) -> None:
    for i in range(30):
        sources.broadcast_create(workspace=workspace, name=f"B{i}", tags=[f"t{i}", "x"])
    api.get(URL)  # the token's first use writes last_used_at

    with django_assert_max_num_queries(4):
        response = api.get(URL)

    assert response.json()["count"] == 30
    assert all(len(row["tags"]) == 2 for row in response.json()["results"])


# --- retrieve, update, delete ------------------------------------------------------------


def test_it_retrieves_a_broadcast(api: APIClient, newsletter: Broadcast) -> None:
    response = api.get(detail(newsletter))

    assert response.status_code == 200
    assert response.json()["channels"] == ["email"]
    assert response.json()["tags"] == ["monthly"]


def test_put_replaces_channels_and_tags(api: APIClient, newsletter: Broadcast) -> None:
    day_ago = timezone.now() - timedelta(days=1)
    Broadcast.objects.filter(pk=newsletter.pk).update(updated_at=day_ago)

    response = api.put(
        detail(newsletter),
        {"name": "Newsletter", "kind": "newsletter", "channels": ["push"], "tags": ["weekly"]},
    )

    assert response.status_code == 200, response.json()
    assert response.json()["channels"] == ["push"]
    assert response.json()["tags"] == ["weekly"]
    newsletter.refresh_from_db()
    assert newsletter.channels == ["push"]
    assert newsletter.status == "sent"  # left out: kept
    assert list(newsletter.tags.names()) == ["weekly"]
    assert newsletter.updated_at > day_ago + timedelta(hours=23)


def test_patch_rejects_an_unknown_channel_and_keeps_the_row(
    api: APIClient, newsletter: Broadcast
) -> None:
    response = api.patch(detail(newsletter), {"channels": ["email", "telegram"]})

    assert response.status_code == 400
    assert 'unknown channel "telegram"' in response.json()["errors"]["channels"][0]
    newsletter.refresh_from_db()
    assert newsletter.channels == ["email"]


def test_patch_changes_the_kind(api: APIClient, newsletter: Broadcast) -> None:
    response = api.patch(detail(newsletter), {"kind": "in_app"})

    assert response.status_code == 200
    assert response.json()["kind"] == "in_app"
    newsletter.refresh_from_db()
    assert newsletter.kind == "in_app"
    assert newsletter.name == "November newsletter"


def test_delete_hides_the_broadcast_but_keeps_it_and_its_messages(
    api: APIClient, workspace: Workspace, newsletter: Broadcast
) -> None:
    message = Message.objects.create(
        workspace=workspace,
        client_id="b-1",
        person_key=uuid.uuid4(),
        channel="email",
        broadcast=newsletter,
        sent_at=timezone.now(),
    )

    response = api.delete(detail(newsletter))

    assert response.status_code == 204
    assert api.get(detail(newsletter)).status_code == 404
    assert api.get(URL).json()["count"] == 0
    assert api.get(URL, {"channel": "email"}).json()["count"] == 0
    newsletter.refresh_from_db()
    assert newsletter.deleted_at is not None
    assert Message.objects.get(pk=message.pk).broadcast_id == newsletter.pk


def test_the_service_refuses_unknown_channels_too(workspace: Workspace) -> None:
    with pytest.raises(ValidationError) as caught:
        sources.broadcast_create(workspace=workspace, name="X", channels=["fax"])

    assert "channels" in caught.value.message_dict
    assert not Broadcast.objects.exists()
