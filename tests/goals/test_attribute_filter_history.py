"""Attribute filters before a person's first recorded attribute change (decisions "Attribute
history"): SPEC §7's ``PUT /people/{identifier}`` carries no time, so a client that stores a
person with their attributes and then sends their past events means those attributes to hold
for them. Before the first change a filter reads the first snapshot; later changes apply from
their own time. Attribute *triggers* still start from no attributes."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.goals.test_api_scenarios import achievements, event, goal, ok

pytestmark = pytest.mark.django_db(transaction=True)

DE = {"type": "attribute", "key": "country", "op": "eq", "value": "DE"}


def test_attributes_stored_without_a_time_hold_for_the_persons_past_events(
    api: APIClient,
) -> None:
    g = goal(api, criteria={"trigger": {"type": "event", "name": "buy"}, "filters": [DE]})
    ok(api.put("/api/v1/people/ada", {"attributes": {"country": "DE"}}, format="json"), 201)
    ok(api.put("/api/v1/people/bob", {"attributes": {"country": "FR"}}, format="json"), 201)
    assert event(api, "ada", "buy", "2026-01-15T10:00:00Z").status_code == 201
    assert event(api, "bob", "buy", "2026-01-15T10:00:00Z").status_code == 201

    assert [a["person"] for a in achievements(api, g["id"])] == ["ada"]


def test_a_later_change_applies_from_its_own_time(api: APIClient) -> None:
    g = goal(api, criteria={"trigger": {"type": "event", "name": "buy"}, "filters": [DE]})
    first = {"attributes": {"country": "FR"}, "timestamp": "2026-01-10T00:00:00Z"}
    then = {"attributes": {"country": "DE"}, "timestamp": "2026-01-20T00:00:00Z"}
    ok(api.put("/api/v1/people/ada", first, format="json"), 201)
    ok(api.put("/api/v1/people/ada", then, format="json"))
    for moment in ("2026-01-05T10:00:00Z", "2026-01-15T10:00:00Z", "2026-01-25T10:00:00Z"):
        assert event(api, "ada", "buy", moment).status_code == 201

    # Before the first change: the first snapshot (FR); then FR; from the 20th: DE.
    assert [a["achieved_at"] for a in achievements(api, g["id"])] == ["2026-01-25T10:00:00Z"]


def test_an_attribute_trigger_still_fires_on_the_first_write(api: APIClient) -> None:
    trigger = {"type": "attribute", "key": "plan", "op": "eq", "value": "pro"}
    g = goal(api, criteria={"trigger": trigger})
    body = {"attributes": {"plan": "pro"}, "timestamp": "2026-01-10T00:00:00Z"}
    ok(api.put("/api/v1/people/ada", body, format="json"), 201)

    assert [a["achieved_at"] for a in achievements(api, g["id"])] == ["2026-01-10T00:00:00Z"]


def test_the_same_when_the_attributes_arrive_after_the_events(api: APIClient) -> None:
    g = goal(api, criteria={"trigger": {"type": "event", "name": "buy"}, "filters": [DE]})
    assert event(api, "ada", "buy", "2026-01-15T10:00:00Z").status_code == 201
    assert achievements(api, g["id"]) == []  # nothing is known of ada's country yet
    ok(api.put("/api/v1/people/ada", {"attributes": {"country": "DE"}}, format="json"))

    assert [a["person"] for a in achievements(api, g["id"])] == ["ada"]
