"""PUT/GET/DELETE /api/v1/people/{identifier} (SPEC §3, §7)."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from typing import Any

import pytest
from django.apps import apps
from rest_framework.test import APIClient

from campaigns import ingestion
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


def test_it_records_every_attribute_patch(api: APIClient, workspace: Workspace) -> None:
    # A patch that changes nothing now may change something once an older patch arrives
    # late, so every non-empty patch is kept; triggers only fire on a transition anyway.
    put(api, "cust-1", {"attributes": {"plan": "pro"}})
    r = put(api, "cust-1", {"attributes": {"plan": "pro", "gone": None}, "email": "a@b.org"})
    assert r.status_code == 200
    rows = PersonAttributeChange.objects.filter(workspace=workspace).order_by("id")
    assert [(c.patch, c.attributes) for c in rows] == [
        ({"plan": "pro"}, {"plan": "pro"}),
        ({"plan": "pro", "gone": None}, {"plan": "pro"}),
    ]
    assert Person.objects.get(workspace=workspace, identifier="cust-1").email == "a@b.org"


def test_it_keeps_no_change_for_an_empty_patch(api: APIClient, workspace: Workspace) -> None:
    put(api, "cust-1", {"attributes": {"plan": "pro"}})
    r = put(api, "cust-1", {"attributes": {}, "email": "a@b.org"})
    assert r.status_code == 200
    assert PersonAttributeChange.objects.filter(workspace=workspace).count() == 1


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


def test_it_rejects_numbers_beyond_the_float_range_in_attributes(
    api: APIClient, workspace: Workspace
) -> None:
    put(api, "cust-1", {"attributes": {"plan": "pro"}})
    for body in (b'{"attributes": {"v": 1e400}}', b'{"attributes": {"v": {"w": -1e400}}}'):
        for identifier in ("cust-1", "cust-2"):  # an update, and a creation
            r = api.put(f"/api/v1/people/{identifier}", body, content_type="application/json")
            assert r.status_code == 400
            assert list(r.json()["errors"]) in (["attributes.v"], ["attributes.v.w"])
    assert list(Person.objects.values_list("identifier", "attributes")) == [
        ("cust-1", {"plan": "pro"})
    ]


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


@pytest.mark.usefixtures("keep_commit_callbacks")
def test_it_queues_one_task_per_request(
    api: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        put(api, "cust-1", {"attributes": {"plan": "pro"}})
    assert len(callbacks) == 1


def history(person: Person) -> list[tuple[str, dict[str, Any]]]:
    """The person's snapshots in (timestamp, id) order, as (ISO time, attributes)."""
    rows = PersonAttributeChange.objects.filter(person=person).order_by("timestamp", "id")
    return [(c.timestamp.isoformat(), c.attributes) for c in rows]


def test_a_late_older_patch_rebuilds_the_later_snapshots(
    api: APIClient, workspace: Workspace
) -> None:
    put(api, "cust-1", {"attributes": {"plan": "pro"}, "timestamp": "2026-01-10T12:00:00Z"})
    r = put(api, "cust-1", {"attributes": {"country": "DE"}, "timestamp": "2026-01-10T09:00:00Z"})
    assert r.status_code == 200
    assert r.json()["attributes"] == {"plan": "pro", "country": "DE"}
    # Older still, and overwritten by the 12:00 patch: the current plan stays pro.
    put(api, "cust-1", {"attributes": {"plan": "free"}, "timestamp": "2026-01-10T08:00:00Z"})

    person = Person.objects.get(workspace=workspace, identifier="cust-1")
    assert history(person) == [
        ("2026-01-10T08:00:00+00:00", {"plan": "free"}),
        ("2026-01-10T09:00:00+00:00", {"plan": "free", "country": "DE"}),
        ("2026-01-10T12:00:00+00:00", {"plan": "pro", "country": "DE"}),
    ]
    assert person.attributes == {"plan": "pro", "country": "DE"}
    assert api.get("/api/v1/people/cust-1").json()["attributes"] == person.attributes


def test_a_late_removal_applies_only_from_its_timestamp(
    api: APIClient, workspace: Workspace
) -> None:
    put(api, "cust-1", {"attributes": {"vip": True}, "timestamp": "2026-01-10T08:00:00Z"})
    put(api, "cust-1", {"attributes": {"vip": True}, "timestamp": "2026-01-10T12:00:00Z"})
    put(api, "cust-1", {"attributes": {"vip": None}, "timestamp": "2026-01-10T10:00:00Z"})
    person = Person.objects.get(workspace=workspace, identifier="cust-1")
    assert history(person) == [
        ("2026-01-10T08:00:00+00:00", {"vip": True}),
        ("2026-01-10T10:00:00+00:00", {}),
        ("2026-01-10T12:00:00+00:00", {"vip": True}),
    ]
    assert person.attributes == {"vip": True}


PATCHES: list[dict[str, Any]] = [
    {"attributes": {"plan": "free", "country": "FR"}, "timestamp": "2026-01-10T08:00:00Z"},
    {"attributes": {"country": "DE"}, "timestamp": "2026-01-10T09:00:00Z"},
    {"attributes": {"plan": "pro", "seats": 3}, "timestamp": "2026-01-10T12:00:00Z"},
    {"attributes": {"seats": None}, "timestamp": "2026-01-10T13:00:00Z"},
]


@pytest.mark.parametrize("order", [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]])
@pytest.mark.parametrize("batched", [False, True])
def test_the_arrival_order_does_not_change_the_history(
    workspace: Workspace, other_workspace: Workspace, make_token_client: Any,
    order: list[int], batched: bool,
) -> None:  # fmt: skip
    def send(ws: Workspace, patches: list[dict[str, Any]]) -> Person:
        client = make_token_client(ws)
        if batched:
            items = [{"type": "person", "person": "cust-1", **p} for p in patches]
            r = client.post("/api/v1/batch", {"items": items}, format="json")
            assert r.status_code == 200, r.json()
        else:
            for p in patches:
                assert put(client, "cust-1", p).status_code in (200, 201)
        return Person.objects.get(workspace=ws, identifier="cust-1")

    in_order = send(workspace, PATCHES)
    shuffled = send(other_workspace, [PATCHES[i] for i in order])
    assert history(shuffled) == history(in_order)
    assert history(in_order)[-1] == (
        "2026-01-10T13:00:00+00:00",
        {"plan": "pro", "country": "DE"},
    )
    assert shuffled.attributes == in_order.attributes == {"plan": "pro", "country": "DE"}


def test_it_reports_new_and_rebuilt_changes_to_the_goals(workspace: Workspace) -> None:
    def item(at: str, **attributes: Any) -> dict[str, Any]:
        return {"type": "person", "person": "cust-1", "attributes": attributes, "timestamp": at}

    ingestion.ingest(
        workspace=workspace,
        items=[item("2026-01-10T08:00:00Z", plan="free"), item("2026-01-10T12:00:00Z", seats=2)],
    )
    _early, late = PersonAttributeChange.objects.filter(workspace=workspace).order_by("timestamp")
    outcome = ingestion.ingest(
        workspace=workspace, items=[item("2026-01-10T09:00:00Z", plan="pro")]
    )
    new = PersonAttributeChange.objects.get(workspace=workspace, patch={"plan": "pro"})
    # The 08:00 snapshot is unaffected; the 12:00 one now says plan=pro.
    assert sorted(outcome.touched.attribute_change_ids) == sorted([new.pk, late.pk])
    late.refresh_from_db()
    assert late.attributes == {"plan": "pro", "seats": 2}


def test_the_migration_gives_stored_snapshots_their_patches(workspace: Workspace) -> None:
    person = Person.objects.create(workspace=workspace, identifier="cust-1")

    def snapshot(hour: int, attributes: dict[str, Any]) -> PersonAttributeChange:
        return PersonAttributeChange.objects.create(
            workspace=workspace,
            person=person,
            person_key=person.key,
            timestamp=datetime(2026, 1, 10, hour, tzinfo=UTC),
            attributes=attributes,
        )

    rows = [
        snapshot(8, {"plan": "free", "vip": 1}),
        snapshot(9, {"plan": "free", "vip": True}),
        snapshot(10, {"plan": "pro"}),
    ]
    migration = importlib.import_module("campaigns.migrations.0003_attribute_change_patch")
    migration.backfill_patches(apps, None)
    patches = [PersonAttributeChange.objects.get(pk=r.pk).patch for r in rows]
    assert patches == [{"plan": "free", "vip": 1}, {"vip": True}, {"plan": "pro", "vip": None}]


def test_the_identifier_in_the_body_is_refused_as_given_by_the_url(api: APIClient) -> None:
    response = api.put("/api/v1/people/ada", {"identifier": "bo"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"errors": {"identifier": ["is given by the URL"]}}
