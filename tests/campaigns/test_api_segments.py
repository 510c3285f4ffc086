"""/api/v1/segments: create, list, filter, retrieve, update, soft delete (SPEC §7)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns import services, sources
from campaigns.models import Segment, SegmentMembershipChange, Workspace

URL = "/api/v1/segments"


def detail(segment: Segment) -> str:
    return f"{URL}/{segment.pk}"


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["name"] for row in response.json()["results"]]


@pytest.fixture
def trial_users(workspace: Workspace) -> Segment:
    return sources.segment_create(workspace=workspace, name="Trial users")


def test_it_creates_a_segment(api: APIClient, workspace: Workspace) -> None:
    response = api.post(URL, {"name": "Power users"})

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "name", "created_at", "updated_at"}
    segment = Segment.objects.get(pk=body["id"])
    assert segment.workspace == workspace
    assert segment.name == "Power users"


def test_it_rejects_a_blank_name(api: APIClient) -> None:
    response = api.post(URL, {"name": ""})

    assert response.status_code == 400
    assert response.json() == {"errors": {"name": ["This field may not be blank."]}}
    assert not Segment.objects.exists()


def test_it_rejects_a_name_over_200_characters(api: APIClient) -> None:
    response = api.post(URL, {"name": "x" * 201})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["name"]


def test_it_lists_filters_and_searches(
    api: APIClient, workspace: Workspace, other_workspace: Workspace
) -> None:
    for name in ["Trial users", "Paying users", "Churned"]:
        sources.segment_create(workspace=workspace, name=name)
    sources.segment_create(workspace=other_workspace, name="Globex users")

    assert names(api.get(URL)) == ["Churned", "Paying users", "Trial users"]
    assert names(api.get(URL, {"name": "USERS"})) == ["Paying users", "Trial users"]
    assert names(api.get(URL, {"search": "trial"})) == ["Trial users"]
    assert names(api.get(URL, {"ordering": "-name"})) == ["Trial users", "Paying users", "Churned"]


def test_it_retrieves_and_renames_a_segment(api: APIClient, trial_users: Segment) -> None:
    day_ago = timezone.now() - timedelta(days=1)
    Segment.objects.filter(pk=trial_users.pk).update(updated_at=day_ago)

    assert api.get(detail(trial_users)).json()["name"] == "Trial users"
    put = api.put(detail(trial_users), {"name": "Trialists"})
    patch = api.patch(detail(trial_users), {"name": "Trial (14 days)"})

    assert put.status_code == 200
    assert patch.status_code == 200
    assert patch.json()["name"] == "Trial (14 days)"
    trial_users.refresh_from_db()
    assert trial_users.name == "Trial (14 days)"
    assert trial_users.updated_at > day_ago + timedelta(hours=23)


def test_delete_hides_the_segment_but_keeps_its_membership_history(
    api: APIClient, workspace: Workspace, trial_users: Segment
) -> None:
    change = SegmentMembershipChange.objects.create(
        workspace=workspace,
        segment=trial_users,
        person_key=uuid.uuid4(),
        action="enter",
        timestamp=timezone.now(),
    )

    response = api.delete(detail(trial_users))

    assert response.status_code == 204
    assert api.get(detail(trial_users)).status_code == 404
    assert api.get(URL).json()["count"] == 0
    trial_users.refresh_from_db()
    assert trial_users.deleted_at is not None
    assert SegmentMembershipChange.objects.get(pk=change.pk).segment_id == trial_users.pk


def test_another_workspace_cannot_see_or_change_the_segment(
    other_api: APIClient, trial_users: Segment
) -> None:
    assert other_api.get(detail(trial_users)).status_code == 404
    assert other_api.patch(detail(trial_users), {"name": "Mine"}).status_code == 404
    assert other_api.delete(detail(trial_users)).status_code == 404
    assert other_api.get(URL).json()["count"] == 0
    trial_users.refresh_from_db()
    assert trial_users.name == "Trial users"
    assert trial_users.deleted_at is None


def test_deleting_twice_is_a_404_and_keeps_the_first_deletion_time(
    api: APIClient, trial_users: Segment
) -> None:
    services.source_soft_delete(source=trial_users)
    first = Segment.objects.get(pk=trial_users.pk).deleted_at

    assert api.delete(detail(trial_users)).status_code == 404
    assert Segment.objects.get(pk=trial_users.pk).deleted_at == first
