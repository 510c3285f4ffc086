"""PUT/GET/DELETE /api/v1/people/{identifier} (SPEC §3, §7)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from campaigns.models import (
    Event,
    Message,
    Person,
    PersonAttributeChange,
    Segment,
    SegmentMembershipChange,
    Workspace,
)

pytestmark = pytest.mark.django_db


def put(api: APIClient, identifier: str, body: Any) -> Any:
    return api.put(f"/api/v1/people/{identifier}", body, format="json")


def test_it_creates_a_person(api: APIClient, workspace: Workspace) -> None:
    r = put(
        api,
        "cust-1",
        {
            "email": "ada@example.org",
            "attributes": {"plan": "free", "country": "DE"},
            "timestamp": "2025-11-05T10:00:00+01:00",
        },
    )
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["identifier"] == "cust-1"
    assert body["email"] == "ada@example.org"
    assert body["attributes"] == {"plan": "free", "country": "DE"}
    assert body["created_at"] and body["updated_at"]

    person = Person.objects.get(workspace=workspace, identifier="cust-1")
    assert person.email == "ada@example.org"
    assert person.attributes == {"plan": "free", "country": "DE"}
    change = PersonAttributeChange.objects.get(person=person)
    assert change.attributes == {"plan": "free", "country": "DE"}
    assert change.person_key == person.key
    assert change.timestamp == datetime(2025, 11, 5, 9, 0, tzinfo=UTC)


def test_it_merges_attributes_and_null_removes_a_key(api: APIClient, workspace: Workspace) -> None:
    put(api, "cust-1", {"attributes": {"plan": "free", "country": "DE", "age": 30}})
    r = put(api, "cust-1", {"attributes": {"plan": "pro", "age": None}})
    assert r.status_code == 200
    assert r.json()["attributes"] == {"plan": "pro", "country": "DE"}

    person = Person.objects.get(workspace=workspace, identifier="cust-1")
    assert person.attributes == {"plan": "pro", "country": "DE"}
    snapshots = list(
        PersonAttributeChange.objects.filter(person=person)
        .order_by("id")
        .values_list("attributes", flat=True)
    )
    # Each snapshot is the full set after the change, not the delta.
    assert snapshots == [
        {"plan": "free", "country": "DE", "age": 30},
        {"plan": "pro", "country": "DE"},
    ]


def test_it_keeps_no_snapshot_when_attributes_do_not_change(
    api: APIClient, workspace: Workspace
) -> None:
    put(api, "cust-1", {"attributes": {"plan": "pro"}})
    r = put(api, "cust-1", {"attributes": {"plan": "pro", "gone": None}, "email": "a@b.org"})
    assert r.status_code == 200
    assert PersonAttributeChange.objects.filter(workspace=workspace).count() == 1
    assert Person.objects.get(workspace=workspace, identifier="cust-1").email == "a@b.org"


def test_it_treats_a_type_change_as_a_change(api: APIClient, workspace: Workspace) -> None:
    put(api, "cust-1", {"attributes": {"vip": 1}})
    put(api, "cust-1", {"attributes": {"vip": True}})
    assert PersonAttributeChange.objects.filter(workspace=workspace).count() == 2


def test_it_creates_without_a_body(api: APIClient, workspace: Workspace) -> None:
    r = put(api, "cust-1", {})
    assert r.status_code == 201
    person = Person.objects.get(workspace=workspace, identifier="cust-1")
    assert person.attributes == {}
    assert person.email == ""
    assert r.json()["email"] is None
    assert not PersonAttributeChange.objects.exists()


def test_it_clears_the_email_with_null(api: APIClient, workspace: Workspace) -> None:
    put(api, "cust-1", {"email": "ada@example.org"})
    r = put(api, "cust-1", {"email": None})
    assert r.status_code == 200
    assert Person.objects.get(workspace=workspace, identifier="cust-1").email == ""


def test_it_rejects_non_object_attributes(api: APIClient) -> None:
    r = put(api, "cust-1", {"attributes": ["plan", "pro"]})
    assert r.status_code == 400
    assert "attributes" in r.json()["errors"]
    assert not Person.objects.exists()


def test_it_rejects_an_invalid_email(api: APIClient) -> None:
    r = put(api, "cust-1", {"email": "not-an-email"})
    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["email"]
    assert not Person.objects.exists()


def test_it_rejects_a_naive_timestamp(api: APIClient) -> None:
    r = put(api, "cust-1", {"attributes": {"a": 1}, "timestamp": "2025-11-05T10:00:00"})
    assert r.status_code == 400
    assert "offset" in r.json()["errors"]["timestamp"][0]
    assert not Person.objects.exists()


def test_it_accepts_unix_seconds(api: APIClient, workspace: Workspace) -> None:
    r = put(api, "cust-1", {"attributes": {"a": 1}, "timestamp": 1762333200})
    assert r.status_code == 201
    change = PersonAttributeChange.objects.get(workspace=workspace)
    assert change.timestamp == datetime(2025, 11, 5, 9, 0, tzinfo=UTC)


def test_it_rejects_unknown_fields(api: APIClient) -> None:
    r = put(api, "cust-1", {"atributes": {"a": 1}})
    assert r.status_code == 400
    assert "atributes" in r.json()["errors"]
    assert not Person.objects.exists()


def test_it_rejects_a_body_that_is_not_an_object(api: APIClient) -> None:
    r = put(api, "cust-1", ["a"])
    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["body"]
    assert not Person.objects.exists()


def test_it_accepts_a_trailing_slash(api: APIClient, workspace: Workspace) -> None:
    assert put(api, "cust-1/", {}).status_code == 201
    assert api.get("/api/v1/people/cust-1/").status_code == 200
    assert Person.objects.get(workspace=workspace).identifier == "cust-1"


def test_it_gets_a_person(api: APIClient) -> None:
    put(api, "cust-1", {"email": "ada@example.org", "attributes": {"plan": "pro"}})
    r = api.get("/api/v1/people/cust-1")
    assert r.status_code == 200
    assert r.json()["identifier"] == "cust-1"
    assert r.json()["attributes"] == {"plan": "pro"}


def test_it_answers_404_for_an_unknown_person(api: APIClient) -> None:
    assert api.get("/api/v1/people/nobody").status_code == 404
    assert api.delete("/api/v1/people/nobody").status_code == 404


def test_delete_removes_personal_data_and_keeps_history(
    api: APIClient, workspace: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    segment = Segment.objects.create(workspace=workspace, name="Trial")
    with django_capture_on_commit_callbacks(execute=True):
        put(api, "cust-1", {"email": "ada@example.org", "attributes": {"plan": "pro"}})
        api.post("/api/v1/people/cust-1/events", {"name": "signup", "id": "e1"}, format="json")
        api.post(
            "/api/v1/people/cust-1/segments",
            {"segment": segment.pk, "action": "enter"},
            format="json",
        )
        api.post(
            "/api/v1/messages",
            {"id": "m1", "person": "cust-1", "channel": "email", "sent_at": 1762333200},
            format="json",
        )
    key = Person.objects.get(workspace=workspace, identifier="cust-1").key

    r = api.delete("/api/v1/people/cust-1")
    assert r.status_code == 204

    assert not Person.objects.filter(workspace=workspace).exists()
    assert not Person.objects.filter(email="ada@example.org").exists()
    assert not PersonAttributeChange.objects.exists()
    event = Event.objects.get(workspace=workspace, client_id="e1")
    assert (event.person_id, event.person_key) == (None, key)
    message = Message.objects.get(workspace=workspace, client_id="m1")
    assert (message.person_id, message.person_key) == (None, key)
    change = SegmentMembershipChange.objects.get(workspace=workspace)
    assert (change.person_id, change.person_key) == (None, key)
    assert api.get("/api/v1/people/cust-1").status_code == 404
    # The history is still readable, without the identifier.
    assert api.get("/api/v1/messages/m1").json()["person"] is None


def test_it_queues_one_task_per_request(
    api: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        put(api, "cust-1", {"attributes": {"plan": "pro"}})
    assert len(callbacks) == 1
