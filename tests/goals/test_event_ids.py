"""An event's client id makes ingestion idempotent (SPEC §3: "the same id twice
is stored once"). Ids are unique per workspace, and a repeat is answered 200 with the stored
event whatever it carries (decisions, "Repeats"). Two people's events under one id (a client
numbering events per person) are not a repeat: the second is dropped with a 200, and which
one was dropped depended on the arrival order (§4.5: the result never depends on it); it is
a conflict (409), as a message id whose content differs is."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from campaigns.models import Workspace
from tests.goals.test_api_scenarios import achievements, event, goal

pytestmark = pytest.mark.django_db(transaction=True)


def test_another_persons_event_under_a_used_id_is_not_silently_dropped(
    api: APIClient, workspace: Workspace
) -> None:
    g = goal(api, criteria={"trigger": {"type": "event", "name": "buy"}})
    assert event(api, "ada", "buy", "2026-02-01T10:00:00Z", id="1").status_code == 201
    response = event(api, "bo", "buy", "2026-02-05T10:00:00Z", id="1")
    # Either stored (ids per person) or refused as a conflict (409, as a message id whose
    # content differs is): never a 200 answering with ada's event.
    assert response.status_code != 200 or response.json()["person"] == "bo"
    if response.status_code in (200, 201):
        people = {a["person"] for a in achievements(api, g["id"])}
        assert people == {"ada", "bo"}
