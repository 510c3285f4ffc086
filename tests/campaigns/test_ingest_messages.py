"""POST /api/v1/messages, GET /api/v1/messages/{id}, POST /api/v1/messages/{id}/metrics."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from campaigns import services, values
from campaigns.models import Broadcast, Campaign, Message, MessageMetric, Person, Workspace

pytestmark = pytest.mark.django_db

SENT = "2025-11-05T09:00:00Z"
T0 = datetime(2025, 11, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def campaign(workspace: Workspace) -> Campaign:
    return Campaign.objects.create(workspace=workspace, name="Onboarding", status="running")


@pytest.fixture
def broadcast(workspace: Workspace) -> Broadcast:
    return Broadcast.objects.create(
        workspace=workspace, name="November news", kind="newsletter", channels=["email"]
    )


#: Tests that look at what the queued task did run with real commits, so each request's
#: on-commit task runs (in-process, as without a broker) when its transaction commits.
committing = pytest.mark.django_db(transaction=True)


def post_message(api: APIClient, **fields: Any) -> Any:
    body = {"id": "m1", "person": "cust-1", "channel": "email", "sent_at": SENT, **fields}
    body = {k: v for k, v in body.items() if v is not ...}
    return api.post("/api/v1/messages", body, format="json")


def post_metric(api: APIClient, message_id: str = "m1", **fields: Any) -> Any:
    return api.post(f"/api/v1/messages/{message_id}/metrics", fields, format="json")


# --- messages -----------------------------------------------------------------------------------


@committing
def test_it_stores_a_campaign_message(
    api: APIClient, workspace: Workspace, campaign: Campaign
) -> None:
    r = post_message(api, campaign=campaign.pk)
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["id"] == "m1"
    assert body["person"] == "cust-1"
    assert body["campaign"] == campaign.pk
    assert body["broadcast"] is None
    assert body["sent_at"] == SENT
    # The task ran on commit: the message has reached `sent`.
    assert body["reached"]["sent"] == SENT

    message = Message.objects.get(workspace=workspace, client_id="m1")
    person = Person.objects.get(workspace=workspace, identifier="cust-1")
    assert (message.person, message.person_key) == (person, person.key)
    assert (message.channel, message.campaign, message.broadcast) == ("email", campaign, None)
    assert message.sent_at == T0
    assert message.reached_sent_at == T0


def test_it_stores_a_broadcast_message(
    api: APIClient, workspace: Workspace, broadcast: Broadcast
) -> None:
    r = post_message(api, broadcast=broadcast.pk)
    assert r.status_code == 201
    assert Message.objects.get(workspace=workspace).broadcast == broadcast


def test_it_stores_a_transactional_message(api: APIClient, workspace: Workspace) -> None:
    r = post_message(api, channel="sms")
    assert r.status_code == 201
    message = Message.objects.get(workspace=workspace)
    assert (message.campaign, message.broadcast, message.channel) == (None, None, "sms")


def test_it_accepts_a_deleted_campaign_as_source(
    api: APIClient, workspace: Workspace, campaign: Campaign
) -> None:
    services.source_soft_delete(source=campaign)
    r = post_message(api, campaign=campaign.pk)
    assert r.status_code == 201
    assert Message.objects.get(workspace=workspace).campaign == campaign


def test_it_stores_an_anonymous_in_app_message(api: APIClient, workspace: Workspace) -> None:
    r = post_message(api, person=..., channel="in_app", anonymous=True)
    assert r.status_code == 201, r.json()
    message = Message.objects.get(workspace=workspace)
    assert message.anonymous
    assert (message.person, message.person_key) == (None, None)
    assert not Person.objects.exists()


def test_it_rejects_an_unknown_channel(api: APIClient) -> None:
    r = post_message(api, channel="carrier_pigeon")
    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["channel"]
    assert not Message.objects.exists()
    assert not Person.objects.exists()


def test_it_rejects_an_unknown_campaign(api: APIClient) -> None:
    r = post_message(api, campaign=999999)
    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["campaign"]
    assert not Message.objects.exists()
    assert not Person.objects.exists()


def test_it_rejects_an_unknown_broadcast(api: APIClient) -> None:
    r = post_message(api, broadcast=999999)
    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["broadcast"]


@pytest.mark.parametrize("field", ["campaign", "broadcast"])
@pytest.mark.parametrize("source_id", [99999999999999999999, "9" * 5000])
def test_it_rejects_a_source_id_beyond_64_bits(api: APIClient, field: str, source_id: Any) -> None:
    r = post_message(api, **{field: source_id})
    assert r.status_code == 400
    assert r.json() == {"errors": {field: [values.ID_RANGE_ERROR]}}
    assert not Message.objects.exists()
    assert not Person.objects.exists()


def test_it_rejects_both_campaign_and_broadcast(
    api: APIClient, campaign: Campaign, broadcast: Broadcast
) -> None:
    r = post_message(api, campaign=campaign.pk, broadcast=broadcast.pk)
    assert r.status_code == 400
    assert r.json()["errors"]["campaign"] == ["give a campaign or a broadcast, not both"]
    assert not Message.objects.exists()


def test_it_rejects_anonymous_outside_in_app(api: APIClient) -> None:
    r = post_message(api, person=..., anonymous=True)
    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["anonymous"]


def test_it_rejects_an_anonymous_message_with_a_person(api: APIClient) -> None:
    r = post_message(api, channel="in_app", anonymous=True)
    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["person"]


def test_it_requires_a_person_unless_anonymous(api: APIClient) -> None:
    r = post_message(api, person=...)
    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["person"]


def test_it_requires_sent_at(api: APIClient) -> None:
    r = post_message(api, sent_at=...)
    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["sent_at"]


def test_it_rejects_a_naive_sent_at(api: APIClient) -> None:
    r = post_message(api, sent_at="2025-11-05T09:00:00")
    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["sent_at"]


def test_it_accepts_sent_at_in_unix_seconds(api: APIClient, workspace: Workspace) -> None:
    r = post_message(api, sent_at=1762333200)
    assert r.status_code == 201
    assert Message.objects.get(workspace=workspace).sent_at == T0


def test_the_same_message_again_is_answered_200_and_stored_once(
    api: APIClient, workspace: Workspace, campaign: Campaign
) -> None:
    assert post_message(api, campaign=campaign.pk).status_code == 201
    # Same instant written differently is the same content.
    again = post_message(api, campaign=campaign.pk, sent_at="2025-11-05T10:00:00+01:00")
    assert again.status_code == 200
    assert again.json()["id"] == "m1"
    assert Message.objects.filter(workspace=workspace).count() == 1


def test_the_same_id_with_different_content_is_a_conflict(
    api: APIClient, workspace: Workspace, campaign: Campaign
) -> None:
    post_message(api, campaign=campaign.pk)
    r = post_message(api, campaign=campaign.pk, channel="sms")
    assert r.status_code == 409
    assert "id" in r.json()["errors"]
    message = Message.objects.get(workspace=workspace)
    assert message.channel == "email"


@committing
def test_it_gets_a_message_with_metrics_and_reached_times(
    api: APIClient, campaign: Campaign
) -> None:
    post_message(api, campaign=campaign.pk)
    post_metric(api, metric="delivered", timestamp="2025-11-05T09:01:00Z")
    post_metric(api, metric="clicked", timestamp="2025-11-05T09:30:00Z")
    r = api.get("/api/v1/messages/m1")
    assert r.status_code == 200
    body = r.json()
    assert body["reached"] == {
        "sent": SENT,
        "delivered": "2025-11-05T09:01:00Z",
        "opened": "2025-11-05T09:30:00Z",
        "opened_human": "2025-11-05T09:30:00Z",
        "clicked": "2025-11-05T09:30:00Z",
        "clicked_human": "2025-11-05T09:30:00Z",
    }
    assert sorted(m["metric"] for m in body["metrics"]) == ["clicked", "delivered"]


@committing
@pytest.mark.parametrize(
    ("channel", "absent"),
    [
        ("webhook", {"delivered", "opened", "opened_human"}),
        ("slack", {"delivered", "opened", "opened_human"}),
        ("in_app", {"delivered"}),
        ("sms", {"opened", "opened_human"}),
    ],
)
def test_reached_lists_only_the_steps_of_the_message_channel(
    api: APIClient, channel: str, absent: set[str]
) -> None:
    # SPEC §3: a webhook has no delivered or opened step; a click there reaches sent and
    # clicked only, so the API must not say it was delivered or opened.
    post_message(api, channel=channel)
    post_metric(api, metric="clicked", timestamp="2025-11-05T09:30:00Z")
    reached = api.get("/api/v1/messages/m1").json()["reached"]
    assert {step for step, at in reached.items() if at is None} == absent
    assert reached["sent"] == SENT
    assert reached["clicked"] == reached["clicked_human"] == "2025-11-05T09:30:00Z"


def test_get_answers_404_for_an_unknown_message(api: APIClient) -> None:
    assert api.get("/api/v1/messages/nope").status_code == 404


# --- metrics ------------------------------------------------------------------------------------


@committing
def test_it_stores_a_metric_and_the_task_sets_reached_columns(
    api: APIClient, workspace: Workspace
) -> None:
    post_message(api)
    r = post_metric(api, metric="opened", timestamp="2025-11-05T09:10:00Z")
    assert r.status_code == 201, r.json()
    assert r.json() == {
        "message": "m1",
        "metric": "opened",
        "timestamp": "2025-11-05T09:10:00Z",
        "machine": False,
        "pending": False,
    }
    metric = MessageMetric.objects.get(workspace=workspace)
    assert (metric.metric, metric.machine) == ("opened", False)
    message = Message.objects.get(workspace=workspace)
    opened = datetime(2025, 11, 5, 9, 10, tzinfo=UTC)
    # Opened implies delivered on the email chain.
    assert message.reached_delivered_at == opened
    assert message.reached_opened_human_at == opened
    assert message.reached_clicked_at is None


@committing
def test_a_machine_click_proves_delivery_but_not_a_human_open(
    api: APIClient, workspace: Workspace
) -> None:
    post_message(api)
    r = post_metric(api, metric="clicked", timestamp="2025-11-05T09:00:05Z", machine=True)
    assert r.status_code == 201
    message = Message.objects.get(workspace=workspace)
    scanned = datetime(2025, 11, 5, 9, 0, 5, tzinfo=UTC)
    assert message.reached_delivered_at == scanned
    assert message.reached_clicked_at == scanned
    assert message.reached_opened_human_at is None
    assert message.reached_clicked_human_at is None


def test_a_repeated_metric_is_stored_once(api: APIClient, workspace: Workspace) -> None:
    post_message(api)
    first = post_metric(api, metric="delivered", timestamp=1762333260)
    again = post_metric(api, metric="delivered", timestamp="2025-11-05T09:01:00Z")
    assert (first.status_code, again.status_code) == (201, 200)
    assert MessageMetric.objects.filter(workspace=workspace).count() == 1
    # A different machine flag or time is a different metric event.
    assert post_metric(api, metric="delivered", timestamp=1762333261).status_code == 201
    assert MessageMetric.objects.filter(workspace=workspace).count() == 2


@pytest.mark.parametrize(
    ("channel", "metric"),
    [("sms", "opened"), ("in_app", "delivered"), ("webhook", "opened"), ("slack", "delivered")],
)
def test_it_rejects_a_metric_the_channel_does_not_have(
    api: APIClient, channel: str, metric: str
) -> None:
    post_message(api, channel=channel)
    r = post_metric(api, metric=metric, timestamp=SENT)
    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["metric"]
    assert f"the {channel} channel has no" in r.json()["errors"]["metric"][0]
    assert not MessageMetric.objects.exists()


def test_it_accepts_non_chain_metrics_on_every_channel(api: APIClient) -> None:
    post_message(api, channel="slack")
    assert post_metric(api, metric="bounced", timestamp=SENT).status_code == 201


def test_it_rejects_an_unknown_metric(api: APIClient) -> None:
    post_message(api)
    r = post_metric(api, metric="read", timestamp=SENT)
    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["metric"]


def test_it_rejects_machine_on_other_metrics(api: APIClient) -> None:
    post_message(api)
    r = post_metric(api, metric="delivered", timestamp=SENT, machine=True)
    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["machine"]
    assert not MessageMetric.objects.exists()


def test_it_rejects_an_unparseable_metric_timestamp(api: APIClient) -> None:
    post_message(api)
    r = post_metric(api, metric="delivered", timestamp="5 Nov 2025")
    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["timestamp"]


def test_it_requires_a_metric_timestamp(api: APIClient) -> None:
    post_message(api)
    r = post_metric(api, metric="delivered")
    assert r.status_code == 400
    assert list(r.json()["errors"]) == ["timestamp"]


def test_it_keeps_a_metric_of_an_unknown_message_pending(api: APIClient) -> None:
    # What happens when the message arrives: tests/campaigns/test_ingest_pending_metrics.py.
    r = post_metric(api, "nope", metric="delivered", timestamp=SENT)
    assert r.status_code == 202
    assert r.json() == {
        "message": "nope",
        "metric": "delivered",
        "timestamp": SENT,
        "machine": False,
        "pending": True,
    }
    assert not MessageMetric.objects.exists()
