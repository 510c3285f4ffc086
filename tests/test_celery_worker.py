"""A real Celery worker over Redis picks up what the app queues (CI's PostgreSQL pass)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from campaigns.models import Message, Person, Workspace
from goals_project.celery import ping

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def test_a_task_round_trips_through_the_worker() -> None:
    assert ping.delay("hello").get(timeout=30) == "pong:hello"


def wait_for(predicate: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_an_ingested_metric_is_processed_by_the_worker(
    workspace: Workspace, api: APIClient
) -> None:
    person = Person.objects.create(workspace=workspace, identifier="p1")
    message = Message.objects.create(
        workspace=workspace,
        client_id="m1",
        person=person,
        person_key=person.key,
        channel="email",
        sent_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
    )
    response = api.post(
        "/api/v1/messages/m1/metrics",
        {"metric": "opened", "timestamp": "2026-01-05T10:00:00+00:00"},
        format="json",
    )
    assert response.status_code == 201, response.content

    def reached() -> bool:
        message.refresh_from_db()
        return message.reached_opened_human_at is not None

    assert wait_for(reached), "the worker never refreshed the message's reach"
    assert message.reached_opened_human_at == datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    assert message.reached_delivered_at == datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
