"""A metric that arrives before its message is kept and stored when the message arrives
(SPEC §4.5: the result never depends on the order in which messages and metrics arrived).

Tests run with real commits, so each request's on-commit task runs in-process, as without a
broker."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from campaigns import services, tasks
from campaigns.models import Campaign, Message, MessageMetric, PendingMetric, Workspace
from tests.goals.helpers import ingest, make_goal, results

pytestmark = pytest.mark.django_db(transaction=True)

SENT = "2025-11-05T09:00:00Z"
OPENED = "2025-11-05T09:10:00Z"


def post_message(api: APIClient, id: str = "m1", **fields: Any) -> Any:
    body = {"id": id, "person": "cust-1", "channel": "email", "sent_at": SENT, **fields}
    return api.post("/api/v1/messages", body, format="json")


def post_metric(api: APIClient, id: str = "m1", **fields: Any) -> Any:
    return api.post(f"/api/v1/messages/{id}/metrics", fields, format="json")


def stored_metrics(workspace: Workspace) -> list[tuple[str, str, bool]]:
    return sorted(
        MessageMetric.objects.in_workspace(workspace).values_list(
            "message__client_id", "metric", "machine"
        )
    )


def test_a_metric_before_its_message_is_kept_and_stored_when_the_message_arrives(
    api: APIClient, workspace: Workspace
) -> None:
    early = post_metric(api, metric="opened", timestamp=OPENED)
    assert early.status_code == 202
    assert early.json()["pending"] is True
    assert not MessageMetric.objects.exists()

    r = post_message(api)

    assert r.status_code == 201
    assert [m["metric"] for m in r.json()["metrics"]] == ["opened"]
    # The task that runs for the new message derived what the early open implies.
    assert r.json()["reached"]["delivered"] == OPENED
    assert r.json()["reached"]["opened_human"] == OPENED
    assert stored_metrics(workspace) == [("m1", "opened", False)]
    assert not PendingMetric.objects.exists()


def test_it_works_the_same_through_the_batch(api: APIClient, workspace: Workspace) -> None:
    early = ingest(
        api,
        {"type": "metric", "message": "m1", "metric": "clicked", "timestamp": OPENED},
        {"type": "metric", "message": "m1", "metric": "opened", "timestamp": OPENED},
    )
    assert [x["status"] for x in early["results"]] == [202, 202]

    later = ingest(
        api,
        {"type": "message", "id": "m1", "person": "cust-1", "channel": "email", "sent_at": SENT},
        # The same open again, now that the message is there: stored once.
        {"type": "metric", "message": "m1", "metric": "opened", "timestamp": OPENED},
    )

    assert [x["status"] for x in later["results"]] == [201, 200]
    assert stored_metrics(workspace) == [("m1", "clicked", False), ("m1", "opened", False)]
    message = Message.objects.get(workspace=workspace)
    assert message.reached_clicked_human_at == datetime(2025, 11, 5, 9, 10, tzinfo=UTC)
    assert not PendingMetric.objects.exists()


def test_a_repeated_early_metric_is_kept_once(api: APIClient, workspace: Workspace) -> None:
    first = post_metric(api, metric="delivered", timestamp=OPENED)
    again = post_metric(api, metric="delivered", timestamp=OPENED)
    machine = post_metric(api, metric="opened", timestamp=OPENED, machine=True)
    assert (first.status_code, again.status_code, machine.status_code) == (202, 202, 202)
    assert PendingMetric.objects.count() == 2

    post_message(api)

    assert stored_metrics(workspace) == [("m1", "delivered", False), ("m1", "opened", True)]
    assert post_metric(api, metric="delivered", timestamp=OPENED).status_code == 200


def test_early_metrics_are_validated_as_far_as_they_can_be_without_the_message(
    api: APIClient,
) -> None:
    r = post_metric(api, metric="read", timestamp="yesterday", machine=True)
    assert r.status_code == 400
    assert sorted(r.json()["errors"]) == ["metric", "timestamp"]
    r = post_metric(api, metric="delivered", timestamp=OPENED, machine=True)
    assert list(r.json()["errors"]) == ["machine"]
    assert not PendingMetric.objects.exists()


def test_an_early_metric_the_channel_does_not_have_is_dropped_and_logged(
    api: APIClient, workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    post_metric(api, metric="opened", timestamp=OPENED)  # SMS has no opened
    post_metric(api, metric="clicked", timestamp=OPENED)

    with caplog.at_level(logging.WARNING, logger="campaigns"):
        r = post_message(api, channel="sms")

    assert r.status_code == 201
    assert stored_metrics(workspace) == [("m1", "clicked", False)]
    assert not PendingMetric.objects.exists()
    assert "the sms channel has no 'opened' metric" in caplog.text


def test_metrics_of_messages_still_missing_keep_waiting(
    api: APIClient, workspace: Workspace
) -> None:
    post_metric(api, "m1", metric="delivered", timestamp=OPENED)
    post_metric(api, "m2", metric="delivered", timestamp=OPENED)

    post_message(api, "m1")

    assert stored_metrics(workspace) == [("m1", "delivered", False)]
    assert list(PendingMetric.objects.values_list("message_client_id", flat=True)) == ["m2"]


def test_another_workspaces_early_metric_never_reaches_our_message(
    api: APIClient, other_api: APIClient, workspace: Workspace, other_workspace: Workspace
) -> None:
    assert post_metric(other_api, metric="delivered", timestamp=OPENED).status_code == 202

    post_message(api)

    assert not MessageMetric.objects.exists()
    assert PendingMetric.objects.get().workspace == other_workspace
    post_message(other_api)
    assert stored_metrics(other_workspace) == [("m1", "delivered", False)]
    assert stored_metrics(workspace) == []


def test_the_task_stores_a_metric_its_messages_request_could_not_see(
    api: APIClient, workspace: Workspace
) -> None:
    """A metric request and its message's request commit at the same time: neither sees the
    other's row. Each one's task runs after its own commit and looks again."""
    post_message(api)
    message = Message.objects.get(workspace=workspace)

    def kept_unseen() -> None:  # what the metric request committed, unseen by the message's
        PendingMetric.objects.create(
            workspace=workspace,
            message_client_id="m1",
            metric="delivered",
            timestamp=datetime(2025, 11, 5, 9, 1, tzinfo=UTC),
        )

    # The metric's request committed last: its task finds the message.
    kept_unseen()
    tasks.process_ingested.delay(workspace.pk, [], pending_client_ids=["m1"])
    message.refresh_from_db()
    assert message.reached_delivered_at == datetime(2025, 11, 5, 9, 1, tzinfo=UTC)
    assert not PendingMetric.objects.exists()

    # The message's request committed last: its task finds the metric.
    MessageMetric.objects.all().delete()
    services.message_reach_refresh(message_ids=[message.pk])
    kept_unseen()
    tasks.process_ingested.delay(workspace.pk, [message.pk])
    message.refresh_from_db()
    assert message.reached_delivered_at == datetime(2025, 11, 5, 9, 1, tzinfo=UTC)
    assert not PendingMetric.objects.exists()


def test_a_goal_ends_the_same_whether_the_metric_or_the_message_came_first(
    make_token_client: Any,
) -> None:
    """The same data in both orders gives identical achievements and attribution, and the
    early open is what qualifies the message (the goal credits opened emails only)."""

    def build(name: str, metric_first: bool) -> list[tuple[Any, ...]]:
        workspace = services.workspace_create(name=name, time_zone="Europe/Berlin")
        client = make_token_client(workspace)
        campaign = Campaign.objects.create(workspace=workspace, name="Onboarding")
        goal = make_goal(
            workspace,
            sources=[campaign],
            metrics={"email": "opened"},
            impact_currency="EUR",
            impact_static=Decimal("29.90"),
        )
        message: dict[str, Any] = {
            "type": "message",
            "id": "m1",
            "person": "ada",
            "channel": "email",
            "campaign": campaign.pk,
            "sent_at": "2026-01-10T09:00:00Z",
        }
        opened: dict[str, Any] = {
            "type": "metric",
            "message": "m1",
            "metric": "opened",
            "timestamp": "2026-01-10T09:30:00Z",
        }
        achieved: dict[str, Any] = {
            "type": "event",
            "person": "ada",
            "name": "plan_activated",
            "timestamp": "2026-01-11T08:00:00Z",
        }
        for item in [opened, achieved, message] if metric_first else [message, opened, achieved]:
            ingest(client, item)
        return results(goal)

    metric_first = build("metric first", metric_first=True)
    message_first = build("message first", metric_first=False)

    assert metric_first == message_first
    [(person, _, _, revenue, _, credited, source, _, touch_at)] = metric_first
    assert (person, revenue, credited, source) == ("ada", "29.9", "m1", "Onboarding")
    assert touch_at == "2026-01-10T09:30:00+00:00"  # the early open is the touch
