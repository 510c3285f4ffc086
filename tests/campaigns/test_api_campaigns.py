"""/api/v1/campaigns: create, list, filter, retrieve, update, soft delete (SPEC §7)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns import services, sources
from campaigns.models import Campaign, Message, Workspace

URL = "/api/v1/campaigns"


def detail(campaign: Campaign) -> str:
    return f"{URL}/{campaign.pk}"


def names(response: Any) -> list[str]:
    return [row["name"] for row in response.json()["results"]]


@pytest.fixture
def welcome(workspace: Workspace) -> Campaign:
    return sources.campaign_create(
        workspace=workspace, name="Welcome series", status="running", tags=["onboarding"]
    )


# --- create ------------------------------------------------------------------------------


def test_it_creates_a_campaign(api: APIClient, workspace: Workspace) -> None:
    response = api.post(
        URL, {"name": "Welcome series", "status": "running", "tags": ["q4", "onboarding"]}
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"id", "name", "status", "tags", "created_at", "updated_at"}
    assert body["name"] == "Welcome series"
    assert body["status"] == "running"
    assert body["tags"] == ["onboarding", "q4"]
    campaign = Campaign.objects.get(pk=body["id"])
    assert campaign.workspace == workspace
    assert campaign.status == "running"
    assert sorted(campaign.tags.names()) == ["onboarding", "q4"]
    assert campaign.deleted_at is None


def test_it_defaults_to_a_draft_without_tags(api: APIClient) -> None:
    response = api.post(URL, {"name": "Winback"})

    assert response.status_code == 201
    assert response.json()["status"] == "draft"
    assert response.json()["tags"] == []
    assert Campaign.objects.get(pk=response.json()["id"]).status == "draft"


def test_it_trims_names_and_drops_repeated_tags(api: APIClient) -> None:
    response = api.post(URL, {"name": "  Winback  ", "tags": ["vip", " VIP ", "churn", "vip"]})

    assert response.status_code == 201
    assert response.json()["name"] == "Winback"
    assert response.json()["tags"] == ["churn", "vip"]
    campaign = Campaign.objects.get(pk=response.json()["id"])
    assert campaign.name == "Winback"
    assert sorted(campaign.tags.names()) == ["churn", "vip"]


def test_it_rejects_an_unknown_status(api: APIClient) -> None:
    response = api.post(URL, {"name": "Winback", "status": "paused"})

    assert response.status_code == 400
    [message] = response.json()["errors"]["status"]
    assert "paused" in message
    assert "draft, running, stopped, archived" in message
    assert not Campaign.objects.exists()


@pytest.mark.parametrize("name", ["", "   "])
def test_it_rejects_a_blank_name(api: APIClient, name: str) -> None:
    response = api.post(URL, {"name": name})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["name"]
    assert not Campaign.objects.exists()


def test_it_requires_a_name(api: APIClient) -> None:
    response = api.post(URL, {"status": "draft"})

    assert response.status_code == 400
    assert response.json()["errors"]["name"] == ["This field is required."]


@pytest.mark.parametrize(
    ("tags", "reason"),
    [
        ("onboarding", "must be a list of tag names"),
        (["onboarding", ""], "tags may not be blank"),
        (["onboarding", "  "], "tags may not be blank"),
        ([3], "every tag must be a string"),
        ([None], "every tag must be a string"),
        (["x" * 101], "tags are at most 100 characters long"),
    ],
)
def test_it_rejects_tags_that_are_not_a_list_of_names(
    api: APIClient, tags: Any, reason: str
) -> None:
    response = api.post(URL, {"name": "Winback", "tags": tags})

    assert response.status_code == 400
    assert response.json() == {"errors": {"tags": [reason]}}
    assert not Campaign.objects.exists()


def test_it_rejects_form_encoded_bodies(api: APIClient) -> None:
    response = api.post(URL, {"name": "Winback"}, format="multipart")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["body"]
    assert not Campaign.objects.exists()


# --- list and filters ---------------------------------------------------------------------


def test_it_lists_the_live_campaigns_of_the_callers_workspace(
    api: APIClient, workspace: Workspace, other_workspace: Workspace, welcome: Campaign
) -> None:
    gone = sources.campaign_create(workspace=workspace, name="Gone")
    services.source_soft_delete(source=gone)
    sources.campaign_create(workspace=other_workspace, name="Globex promo")

    response = api.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert body["next"] is None
    assert body["previous"] is None
    [row] = body["results"]
    assert row["id"] == welcome.pk
    assert row["tags"] == ["onboarding"]
    assert row["status"] == "running"


def test_it_paginates(api: APIClient, workspace: Workspace) -> None:
    for name in ["A", "B", "C", "D", "E"]:
        sources.campaign_create(workspace=workspace, name=name)

    first = api.get(URL, {"page_size": 2})
    third = api.get(URL, {"page_size": 2, "page": 3})

    assert first.status_code == 200
    assert first.json()["count"] == 5
    assert names(first) == ["A", "B"]
    assert "page=2" in first.json()["next"]
    assert first.json()["previous"] is None
    assert names(third) == ["E"]
    assert third.json()["next"] is None


def test_it_caps_the_page_size_at_500(api: APIClient, workspace: Workspace) -> None:
    now = timezone.now()
    Campaign.objects.bulk_create(
        Campaign(workspace=workspace, name=f"C{i:03}", created_at=now, updated_at=now)
        for i in range(501)
    )

    response = api.get(URL, {"page_size": 501})

    assert response.status_code == 200
    assert response.json()["count"] == 501
    assert len(response.json()["results"]) == 500


def test_it_filters_by_status_given_repeated_or_comma_separated(
    api: APIClient, workspace: Workspace
) -> None:
    for name, status in [("D", "draft"), ("R", "running"), ("S", "stopped"), ("A", "archived")]:
        sources.campaign_create(workspace=workspace, name=name, status=status)

    repeated = api.get(f"{URL}?status=running&status=draft")
    comma = api.get(f"{URL}?status=running,draft")
    single = api.get(URL, {"status": "archived"})

    assert names(repeated) == ["D", "R"]
    assert names(comma) == ["D", "R"]
    assert names(single) == ["A"]


def test_it_rejects_an_unknown_status_filter(api: APIClient, welcome: Campaign) -> None:
    response = api.get(URL, {"status": "running,paused"})

    assert response.status_code == 400
    [message] = response.json()["errors"]["status"]
    assert "paused" in message
    assert "draft, running, stopped, archived" in message


def test_it_filters_by_tag_case_insensitively(api: APIClient, workspace: Workspace) -> None:
    sources.campaign_create(workspace=workspace, name="Both", tags=["Onboarding", "vip"])
    sources.campaign_create(workspace=workspace, name="Onboarding only", tags=["onboarding"])
    sources.campaign_create(workspace=workspace, name="VIP only", tags=["vip"])
    sources.campaign_create(workspace=workspace, name="Untagged")

    one = api.get(URL, {"tag": "onboarding"})
    either = api.get(f"{URL}?tag=onboarding&tag=VIP")

    assert names(one) == ["Both", "Onboarding only"]
    # "Both" carries both tags and is still listed once.
    assert names(either) == ["Both", "Onboarding only", "VIP only"]
    assert either.json()["count"] == 3


def test_it_does_not_match_another_workspaces_tags(
    api: APIClient, other_workspace: Workspace
) -> None:
    sources.campaign_create(workspace=other_workspace, name="Globex", tags=["onboarding"])

    response = api.get(URL, {"tag": "onboarding"})

    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_it_filters_by_name_and_searches(api: APIClient, workspace: Workspace) -> None:
    for name in ["Welcome series", "Winback", "Black Friday welcome"]:
        sources.campaign_create(workspace=workspace, name=name)

    by_name = api.get(URL, {"name": "WELCOME"})
    searched = api.get(URL, {"search": "friday welcome"})

    assert names(by_name) == ["Black Friday welcome", "Welcome series"]
    assert names(searched) == ["Black Friday welcome"]


def test_it_orders_by_name_or_timestamps(api: APIClient, workspace: Workspace) -> None:
    base = timezone.now() - timedelta(days=3)
    for offset, name in enumerate(["B", "C", "A"]):
        campaign = sources.campaign_create(workspace=workspace, name=name)
        Campaign.objects.filter(pk=campaign.pk).update(
            created_at=base + timedelta(days=offset), updated_at=base - timedelta(days=offset)
        )

    assert names(api.get(URL)) == ["A", "B", "C"]
    assert names(api.get(URL, {"ordering": "-name"})) == ["C", "B", "A"]
    assert names(api.get(URL, {"ordering": "created_at"})) == ["B", "C", "A"]
    assert names(api.get(URL, {"ordering": "-created_at"})) == ["A", "C", "B"]
    assert names(api.get(URL, {"ordering": "updated_at"})) == ["A", "C", "B"]


def test_listing_tags_takes_the_same_queries_for_30_campaigns_as_for_one(
    api: APIClient, workspace: Workspace, django_assert_max_num_queries: Any
) -> None:
    sources.campaign_create(workspace=workspace, name="First", tags=["a"])
    api.get(URL)  # the token's first use writes last_used_at; keep it out of the count

    with django_assert_max_num_queries(4) as one:
        assert api.get(URL).status_code == 200
    for i in range(29):
        sources.campaign_create(workspace=workspace, name=f"C{i}", tags=[f"t{i}", "shared"])
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = api.get(URL)

    assert response.json()["count"] == 30
    assert all(row["tags"] for row in response.json()["results"])


# --- retrieve, update --------------------------------------------------------------------


def test_it_retrieves_a_campaign(api: APIClient, welcome: Campaign) -> None:
    response = api.get(detail(welcome))

    assert response.status_code == 200
    assert response.json()["id"] == welcome.pk
    assert response.json()["name"] == "Welcome series"
    assert response.json()["tags"] == ["onboarding"]
    assert response.json()["created_at"] == welcome.created_at.isoformat().replace("+00:00", "Z")


def test_trailing_slashes_are_optional(api: APIClient, welcome: Campaign) -> None:
    assert api.get(f"{URL}/").status_code == 200
    assert api.get(f"{detail(welcome)}/").json()["id"] == welcome.pk


def _age(campaign: Campaign) -> None:
    """Move the timestamps a day back, so an update's new ``updated_at`` is visible."""
    day_ago = timezone.now() - timedelta(days=1)
    Campaign.objects.filter(pk=campaign.pk).update(created_at=day_ago, updated_at=day_ago)
    campaign.refresh_from_db()


def test_put_replaces_the_fields_and_bumps_updated_at(api: APIClient, welcome: Campaign) -> None:
    _age(welcome)

    response = api.put(detail(welcome), {"name": "Welcome v2", "status": "stopped", "tags": ["q1"]})

    assert response.status_code == 200, response.json()
    assert response.json()["name"] == "Welcome v2"
    assert response.json()["tags"] == ["q1"]
    welcome.refresh_from_db()
    assert welcome.name == "Welcome v2"
    assert welcome.status == "stopped"
    assert list(welcome.tags.names()) == ["q1"]
    assert welcome.updated_at > timezone.now() - timedelta(minutes=1)
    assert welcome.created_at < timezone.now() - timedelta(hours=23)


def test_put_needs_a_name(api: APIClient, welcome: Campaign) -> None:
    response = api.put(detail(welcome), {"status": "stopped"})

    assert response.status_code == 400
    assert "name" in response.json()["errors"]
    welcome.refresh_from_db()
    assert welcome.status == "running"


def test_patch_changes_only_the_given_fields(api: APIClient, welcome: Campaign) -> None:
    _age(welcome)

    response = api.patch(detail(welcome), {"status": "archived"})

    assert response.status_code == 200
    assert response.json()["tags"] == ["onboarding"]
    welcome.refresh_from_db()
    assert welcome.status == "archived"
    assert welcome.name == "Welcome series"
    assert list(welcome.tags.names()) == ["onboarding"]
    assert welcome.updated_at > timezone.now() - timedelta(minutes=1)


def test_patching_only_the_tags_bumps_updated_at(api: APIClient, welcome: Campaign) -> None:
    _age(welcome)

    response = api.patch(detail(welcome), {"tags": []})

    assert response.status_code == 200
    assert response.json()["tags"] == []
    welcome.refresh_from_db()
    assert list(welcome.tags.names()) == []
    assert welcome.updated_at > timezone.now() - timedelta(minutes=1)


def test_patch_rejects_an_unknown_status(api: APIClient, welcome: Campaign) -> None:
    response = api.patch(detail(welcome), {"status": "paused"})

    assert response.status_code == 400
    assert "expected one of draft" in response.json()["errors"]["status"][0]
    welcome.refresh_from_db()
    assert welcome.status == "running"


# --- delete ------------------------------------------------------------------------------


def test_delete_hides_the_campaign_but_keeps_it_and_its_messages(
    api: APIClient, workspace: Workspace, welcome: Campaign
) -> None:
    message = Message.objects.create(
        workspace=workspace,
        client_id="m-1",
        person_key=uuid.uuid4(),
        channel="email",
        campaign=welcome,
        sent_at=timezone.now(),
    )

    response = api.delete(detail(welcome))

    assert response.status_code == 204
    assert api.get(detail(welcome)).status_code == 404
    assert api.get(URL).json()["count"] == 0
    assert api.patch(detail(welcome), {"name": "Back"}).status_code == 404
    assert api.delete(detail(welcome)).status_code == 404
    welcome.refresh_from_db()
    assert welcome.deleted_at is not None
    assert welcome.name == "Welcome series"
    assert Message.objects.get(pk=message.pk).campaign_id == welcome.pk


def test_an_update_never_undoes_a_concurrent_delete(welcome: Campaign) -> None:
    stale = Campaign.objects.get(pk=welcome.pk)  # read before the delete, saved after it
    services.source_soft_delete(source=welcome)

    sources.campaign_update(campaign=stale, name="Renamed")

    row = Campaign.objects.get(pk=welcome.pk)
    assert row.deleted_at is not None
    assert row.name == "Renamed"


def test_it_refuses_unknown_fields_naming_them(api: APIClient) -> None:
    response = api.post(
        "/api/v1/campaigns", {"name": "Onboarding", "stauts": "running"}, format="json"
    )
    assert response.status_code == 400
    assert "stauts" in response.json()["errors"]
    assert not Campaign.objects.filter(name="Onboarding").exists()


def test_it_accepts_back_what_it_returned(api: APIClient) -> None:
    created = api.post("/api/v1/campaigns", {"name": "Onboarding"}, format="json").json()
    sent_back = {**created, "status": "running"}
    response = api.put(f"/api/v1/campaigns/{created['id']}", sent_back, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "running"
