"""A message's metrics as ``GET /api/v1/messages/{id}`` lists them: in time order, whatever
order they arrived in (SPEC §4.5: nothing depends on arrival order)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from campaigns.models import Workspace

pytestmark = pytest.mark.django_db


def test_metrics_are_listed_by_time_not_by_arrival(api: APIClient, workspace: Workspace) -> None:
    """The list had no order: rows came back as the database kept them (arrival order on
    SQLite, heap order on PostgreSQL, which a concurrent batch shuffles)."""
    body = {"id": "dlv-1", "person": "ada", "channel": "email", "sent_at": "2026-01-05T08:00:00Z"}
    assert api.post("/api/v1/messages", body, format="json").status_code == 201
    arrivals = [
        ("clicked", "2026-01-05T08:03:00Z"),
        ("opened", "2026-01-05T08:02:00Z"),
        ("delivered", "2026-01-05T08:01:00Z"),
        ("opened", "2026-01-05T08:04:00Z"),
    ]
    for metric, at in arrivals:
        response = api.post(
            "/api/v1/messages/dlv-1/metrics", {"metric": metric, "timestamp": at}, format="json"
        )
        assert response.status_code == 201, response.json()

    listed = api.get("/api/v1/messages/dlv-1").json()["metrics"]

    assert [(m["metric"], m["timestamp"]) for m in listed] == sorted(
        arrivals, key=lambda pair: pair[1]
    )
