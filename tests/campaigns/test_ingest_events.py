"""POST /api/v1/people/{identifier}/events (SPEC §3, §7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns import values
from campaigns.models import Event, Person, Workspace

pytestmark = pytest.mark.django_db


def post(api: APIClient, body: Any, identifier: str = "cust-1") -> Any:
    return api.post(f"/api/v1/people/{identifier}/events", body, format="json")


def test_it_stores_an_event(api: APIClient, workspace: Workspace) -> None:
    api.put("/api/v1/people/cust-1", {}, format="json")
    r = post(
        api,
        {
            "name": "plan_activated",
            "data": {"plan": "pro", "price": "29.00"},
            "timestamp": "2025-11-05T10:00:00+01:00",
            "id": "evt-1",
        },
    )
    assert r.status_code == 201, r.json()
    assert r.json() == {
        "id": "evt-1",
        "person": "cust-1",
        "name": "plan_activated",
        "data": {"plan": "pro", "price": "29.00"},
        "timestamp": "2025-11-05T09:00:00Z",
        "received_at": r.json()["received_at"],
    }
    event = Event.objects.get(workspace=workspace)
    person = Person.objects.get(workspace=workspace, identifier="cust-1")
    assert event.person == person
    assert event.person_key == person.key
    assert event.client_id == "evt-1"
    assert event.data == {"plan": "pro", "price": "29.00"}
    assert event.timestamp == datetime(2025, 11, 5, 9, 0, tzinfo=UTC)


def test_it_creates_an_unknown_person(api: APIClient, workspace: Workspace) -> None:
    r = post(api, {"name": "signup"}, identifier="new-person")
    assert r.status_code == 201
    person = Person.objects.get(workspace=workspace, identifier="new-person")
    assert person.attributes == {}
    assert Event.objects.get(workspace=workspace).person_key == person.key


def test_it_defaults_the_timestamp_to_now_and_data_to_empty(
    api: APIClient, workspace: Workspace
) -> None:
    r = post(api, {"name": "signup"})
    assert r.status_code == 201
    event = Event.objects.get(workspace=workspace)
    assert abs(event.timestamp - timezone.now()) < timedelta(minutes=1)
    assert event.data == {}
    assert event.client_id is None
    assert r.json()["id"] is None


def test_the_same_id_twice_is_stored_once(api: APIClient, workspace: Workspace) -> None:
    first = post(api, {"name": "signup", "id": "evt-1", "timestamp": 1762333200})
    again = post(api, {"name": "signup", "id": "evt-1", "timestamp": 1762333200})
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == "evt-1"
    assert again.json()["timestamp"] == first.json()["timestamp"]
    assert Event.objects.filter(workspace=workspace).count() == 1


def test_another_persons_event_under_a_used_id_is_a_conflict(
    api: APIClient, workspace: Workspace
) -> None:
    """Not a repeat (the same id twice is stored once): a 200 answering with the other
    person's event dropped this one, and which person's counted depended on arrival."""
    assert post(api, {"name": "buy", "id": "1", "timestamp": 1762333200}).status_code == 201
    other = post(api, {"name": "buy", "id": "1", "timestamp": 1762333200}, identifier="cust-2")
    assert other.status_code == 409
    assert set(other.json()) == {"detail", "errors"}  # the documented ConflictError
    assert list(other.json()["errors"]) == ["id"]
    body = api.post(
        "/api/v1/batch",
        {"items": [
            {"type": "event", "person": "cust-3", "name": "buy", "id": "2"},
            {"type": "event", "person": "cust-4", "name": "buy", "id": "2"},
            {"type": "event", "person": "cust-3", "name": "buy", "id": "2"},
            {"type": "event", "person": "cust-2", "name": "buy", "id": "1"},
            {"type": "event", "person": "cust-1", "name": "buy", "id": "1"},
        ]},
        format="json",
    ).json()  # fmt: skip
    assert [r["status"] for r in body["results"]] == [201, 409, 200, 409, 200]
    assert Event.objects.filter(workspace=workspace).count() == 2


def test_an_integer_id_is_read_as_its_string(api: APIClient, workspace: Workspace) -> None:
    assert post(api, {"name": "signup", "id": 42}).status_code == 201
    assert post(api, {"name": "signup", "id": "42"}).status_code == 200
    assert Event.objects.get(workspace=workspace).client_id == "42"


def test_events_without_id_are_all_stored(api: APIClient, workspace: Workspace) -> None:
    post(api, {"name": "page_viewed"})
    post(api, {"name": "page_viewed"})
    assert Event.objects.filter(workspace=workspace).count() == 2


def test_it_rejects_a_missing_name(api: APIClient) -> None:
    r = post(api, {"data": {"a": 1}})
    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["name"]
    assert not Event.objects.exists()
    # A refused event creates no person either.
    assert not Person.objects.exists()


def test_it_rejects_a_blank_name(api: APIClient) -> None:
    r = post(api, {"name": "  "})
    assert r.status_code == 400
    assert "name" in r.json()["errors"]


def test_it_rejects_data_that_is_not_an_object(api: APIClient) -> None:
    r = post(api, {"name": "signup", "data": "plan=pro"})
    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["data"]
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"name": "signup", "data": {"v": 1e400}}', "data.v"),
        (b'{"name": "signup", "data": {"order": {"items": [1, -1e999]}}}', "data.order.items.1"),
    ],
)
def test_it_rejects_numbers_beyond_the_float_range_in_data(
    api: APIClient, body: bytes, field: str
) -> None:
    # Python's json reads 1e400 as inf, which no JSON column stores: a 400, never a 500.
    r = api.post("/api/v1/people/cust-1/events", body, content_type="application/json")
    assert r.status_code == 400
    assert r.json() == {"errors": {field: [values.NON_FINITE_ERROR]}}
    assert not Event.objects.exists()
    assert not Person.objects.exists()


def test_it_stores_large_integers_and_floats_in_data(api: APIClient, workspace: Workspace) -> None:
    body = b'{"name": "signup", "data": {"big": 99999999999999999999, "max": 1.7e308}}'
    r = api.post("/api/v1/people/cust-1/events", body, content_type="application/json")
    assert r.status_code == 201, r.json()
    data = Event.objects.get(workspace=workspace).data
    assert data["big"] == 99999999999999999999
    assert float(data["max"]) == 1.7e308  # PostgreSQL's jsonb gives it back as an integer


def test_it_rejects_an_unparseable_timestamp(api: APIClient) -> None:
    r = post(api, {"name": "signup", "timestamp": "yesterday"})
    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["timestamp"]
    assert not Event.objects.exists()


def test_it_rejects_a_naive_timestamp(api: APIClient) -> None:
    r = post(api, {"name": "signup", "timestamp": "2025-11-05T10:00:00"})
    assert r.status_code == 400
    assert "offset" in r.json()["errors"]["timestamp"][0]
    assert not Event.objects.exists()


def test_it_rejects_a_date_without_time(api: APIClient) -> None:
    r = post(api, {"name": "signup", "timestamp": "2025-11-05"})
    assert r.status_code == 400
    assert "timestamp" in r.json()["errors"]


def test_it_rejects_a_boolean_timestamp(api: APIClient) -> None:
    r = post(api, {"name": "signup", "timestamp": True})
    assert r.status_code == 400
    assert "timestamp" in r.json()["errors"]


def test_it_rejects_milliseconds_with_a_hint(api: APIClient) -> None:
    r = post(api, {"name": "signup", "timestamp": 1762333200000000})
    assert r.status_code == 400
    assert "milliseconds" in r.json()["errors"]["timestamp"][0]


def test_it_accepts_unix_seconds(api: APIClient, workspace: Workspace) -> None:
    r = post(api, {"name": "signup", "timestamp": 1762333200.5})
    assert r.status_code == 201
    assert Event.objects.get(workspace=workspace).timestamp == datetime(
        2025, 11, 5, 9, 0, 0, 500000, tzinfo=UTC
    )


def test_it_accepts_z_and_offsets(api: APIClient, workspace: Workspace) -> None:
    post(api, {"name": "a", "timestamp": "2025-11-05T09:00:00Z"})
    post(api, {"name": "b", "timestamp": "2025-11-05T04:00:00-05:00"})
    assert set(Event.objects.values_list("timestamp", flat=True)) == {
        datetime(2025, 11, 5, 9, 0, tzinfo=UTC)
    }


def test_it_rejects_a_person_in_the_body(api: APIClient) -> None:
    r = post(api, {"name": "signup", "person": "someone-else"})
    assert r.status_code == 400
    assert "person" in r.json()["errors"]
    assert not Event.objects.exists()


def test_it_names_every_bad_field(api: APIClient) -> None:
    r = post(api, {"name": 7, "data": [], "timestamp": "nope", "id": ""})
    assert r.status_code == 400
    assert set(r.json()["errors"]) == {"name", "data", "timestamp", "id"}
