"""POST /api/v1/people/{identifier}/segments (SPEC §3, §7)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from campaigns import services, values
from campaigns.models import Person, Segment, SegmentMembershipChange, Workspace

pytestmark = pytest.mark.django_db


@pytest.fixture
def segment(workspace: Workspace) -> Segment:
    return Segment.objects.create(workspace=workspace, name="Trial users")


def post(api: APIClient, body: Any, identifier: str = "cust-1") -> Any:
    return api.post(f"/api/v1/people/{identifier}/segments", body, format="json")


def test_it_records_entering_and_leaving(
    api: APIClient, workspace: Workspace, segment: Segment
) -> None:
    entered = post(
        api, {"segment": segment.pk, "action": "enter", "timestamp": "2025-11-05T10:00:00Z"}
    )
    left = post(api, {"segment": segment.pk, "action": "leave", "timestamp": 1762340400})
    assert entered.status_code == 201, entered.json()
    assert left.status_code == 201
    assert entered.json()["segment"] == segment.pk
    assert entered.json()["person"] == "cust-1"
    assert entered.json()["action"] == "enter"

    person = Person.objects.get(workspace=workspace, identifier="cust-1")
    changes = list(
        SegmentMembershipChange.objects.filter(workspace=workspace)
        .order_by("timestamp")
        .values_list("segment_id", "person_key", "action", "timestamp")
    )
    assert changes == [
        (segment.pk, person.key, "enter", datetime(2025, 11, 5, 10, 0, tzinfo=UTC)),
        (segment.pk, person.key, "leave", datetime(2025, 11, 5, 11, 0, tzinfo=UTC)),
    ]


def test_it_rejects_an_unknown_segment(api: APIClient) -> None:
    r = post(api, {"segment": 999999, "action": "enter"})
    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["segment"]
    assert not SegmentMembershipChange.objects.exists()
    assert not Person.objects.exists()


def test_it_rejects_a_deleted_segment(api: APIClient, segment: Segment) -> None:
    services.source_soft_delete(source=segment)
    r = post(api, {"segment": segment.pk, "action": "enter"})
    assert r.status_code == 400
    assert "deleted" in r.json()["errors"]["segment"][0]
    assert not SegmentMembershipChange.objects.exists()


def test_it_rejects_another_workspaces_segment(api: APIClient, other_workspace: Workspace) -> None:
    theirs = Segment.objects.create(workspace=other_workspace, name="Theirs")
    r = post(api, {"segment": theirs.pk, "action": "enter"})
    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["segment"]
    assert not SegmentMembershipChange.objects.exists()


def test_it_rejects_a_bad_action(api: APIClient, segment: Segment) -> None:
    r = post(api, {"segment": segment.pk, "action": "join"})
    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["action"]


def test_it_requires_segment_and_action(api: APIClient) -> None:
    r = post(api, {})
    assert r.status_code == 400
    assert set(r.json()["errors"]) == {"segment", "action"}


def test_it_rejects_a_non_integer_segment(api: APIClient) -> None:
    r = post(api, {"segment": True, "action": "enter"})
    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["segment"]


@pytest.mark.parametrize("segment_id", [2**63, 99999999999999999999, "99999999999999999999"])
def test_it_rejects_a_segment_id_beyond_64_bits(api: APIClient, segment_id: Any) -> None:
    r = post(api, {"segment": segment_id, "action": "enter"})
    assert r.status_code == 400
    assert r.json() == {"errors": {"segment": [values.ID_RANGE_ERROR]}}
    assert not Person.objects.exists()


def test_it_rejects_a_naive_timestamp(api: APIClient, segment: Segment) -> None:
    r = post(api, {"segment": segment.pk, "action": "enter", "timestamp": "2025-11-05 10:00"})
    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["timestamp"]
