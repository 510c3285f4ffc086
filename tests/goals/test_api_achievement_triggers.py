"""What triggered an achievement, as a client can use it (SPEC §7's achievement list).

The API names events and messages by the client's own ids (an event's ``id``, a message's
delivery ``id``); the row ids the server assigns appear in no request or response. So an
achievement's ``trigger`` carries the client's id of the event or message that achieved it,
which a data warehouse can join on, beside the server's row id."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from campaigns.models import Workspace
from tests.goals.test_api_scenarios import achievements, batch, create, goal

pytestmark = pytest.mark.django_db(transaction=True)

AT = "2026-02-01T10:00:00Z"


def triggers(api: APIClient, goal_id: int) -> dict[str | None, dict[str, Any]]:
    return {a["person"]: a["trigger"] for a in achievements(api, goal_id)}


def test_an_event_achievement_names_the_clients_event_id(
    api: APIClient, workspace: Workspace
) -> None:
    g = goal(api, criteria={"trigger": {"type": "event", "name": "buy"}})
    batch(
        api,
        {"type": "event", "person": "ana", "name": "buy", "id": "evt-7", "timestamp": AT},
        {"type": "event", "person": "ben", "name": "buy", "timestamp": AT},  # no client id
    )

    found = triggers(api, g["id"])

    assert found["ana"]["kind"] == "event"
    assert found["ana"]["client_id"] == "evt-7"
    assert isinstance(found["ana"]["id"], int)
    assert found["ben"]["client_id"] is None


def test_a_message_achievement_names_the_delivery_id(api: APIClient, workspace: Workspace) -> None:
    g = goal(api, criteria={"trigger": {"type": "message", "metric": "opened"}})
    batch(
        api,
        {"type": "message", "id": "dlv-1", "person": "ana", "channel": "email", "sent_at": AT},
        {"type": "metric", "message": "dlv-1", "metric": "opened", "timestamp": AT},
    )

    assert triggers(api, g["id"])["ana"]["client_id"] == "dlv-1"


def test_attribute_and_segment_changes_have_no_client_id(
    api: APIClient, workspace: Workspace
) -> None:
    segment = create(api, "/api/v1/segments", {"name": "VIP"})
    pro = {"type": "attribute", "key": "plan", "op": "eq", "value": "pro"}
    vip = {"type": "segment", "segment": segment["id"]}
    entered = goal(api, name="vip", criteria={"trigger": vip})
    upgraded = goal(api, name="pro", criteria={"trigger": pro})
    batch(
        api,
        {"type": "segment", "person": "ana", "segment": segment["id"], "action": "enter",
         "timestamp": AT},
        {"type": "person", "person": "ana", "attributes": {"plan": "pro"}, "timestamp": AT},
    )  # fmt: skip

    assert triggers(api, entered["id"])["ana"]["client_id"] is None
    assert triggers(api, upgraded["id"])["ana"]["client_id"] is None
