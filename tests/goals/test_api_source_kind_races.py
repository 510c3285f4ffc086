"""Only newsletters are goal sources (SPEC §4.3), also when a broadcast's kind changes while a
goal is being given it as a source. Each request checked the other's side before the other
committed: a broadcast PATCHed to ``api_triggered`` while a goal PATCH added it as a source
both answered 200, and the goal credited an API-triggered broadcast (3-5 times in 15 tries,
on PostgreSQL and SQLite alike). Both writes now lock the broadcast row and check under it."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from campaigns import sources
from campaigns.models import Broadcast, BroadcastKind, Workspace
from goals import criteria, services
from goals.models import GoalSource
from tests.goals.test_api_scenarios import goal, ok

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def newsletter(workspace: Workspace) -> Broadcast:
    return sources.broadcast_create(
        workspace=workspace, name="News", kind="newsletter", channels=["email"]
    )


def test_a_broadcast_turned_api_triggered_after_the_goal_checked_it_is_refused(
    api: APIClient, workspace: Workspace, newsletter: Broadcast, monkeypatch: Any
) -> None:
    """Replays the goal's side: its sources were checked, then the kind change committed,
    then the goal wrote its sources."""
    g = goal(api, criteria={"trigger": {"type": "event", "name": "buy"}})
    real_clean = criteria.sources_clean

    def checked_then_kind_changes(*args: Any, **kwargs: Any) -> Any:
        cleaned = real_clean(*args, **kwargs)
        Broadcast.objects.filter(pk=newsletter.pk).update(kind=BroadcastKind.API_TRIGGERED)
        return cleaned

    monkeypatch.setattr(criteria, "sources_clean", checked_then_kind_changes)
    body = [{"type": "broadcast", "id": newsletter.pk}]

    patched = api.patch(f"/api/v1/goals/{g['id']}", {"sources": body}, format="json")
    created = api.post(
        "/api/v1/goals",
        {"name": "New", "criteria": {"trigger": {"type": "event", "name": "x"}}, "sources": body},
        format="json",
    )

    for response in (patched, created):
        assert response.status_code == 400, response.content
        assert response.json()["errors"] == {
            "sources": [f"broadcast {newsletter.pk} is no longer a newsletter"]
        }
    assert not GoalSource.objects.exists()


@pytest.mark.postgresql
def test_a_kind_change_waits_for_a_goal_adding_the_broadcast_and_then_conflicts(
    api: APIClient, workspace: Workspace, newsletter: Broadcast, monkeypatch: Any
) -> None:
    """Replays the broadcast's side: a goal's transaction has written the broadcast as a
    source and not committed yet when the kind change comes. The change waits for it (the
    row lock) and then sees the source: 409."""
    g = goal(api, criteria={"trigger": {"type": "event", "name": "buy"}})
    written, release = threading.Event(), threading.Event()
    real_write = services._sources_write

    def write_and_wait(*args: Any, **kwargs: Any) -> bool:
        changed = real_write(*args, **kwargs)
        written.set()
        release.wait(10)
        return changed

    monkeypatch.setattr(services, "_sources_write", write_and_wait)
    statuses: dict[str, int] = {}

    def add_source() -> None:
        try:
            response = api.patch(
                f"/api/v1/goals/{g['id']}",
                {"sources": [{"type": "broadcast", "id": newsletter.pk}]},
                format="json",
            )
            statuses["goal"] = response.status_code
        finally:
            connection.close()

    adder = threading.Thread(target=add_source, daemon=True)
    adder.start()
    assert written.wait(10)
    threading.Timer(1.0, release.set).start()  # the goal commits while the change waits

    change = api.patch(
        f"/api/v1/broadcasts/{newsletter.pk}", {"kind": "api_triggered"}, format="json"
    )
    adder.join(10)

    assert statuses == {"goal": 200}
    assert change.status_code == 409, change.content
    newsletter.refresh_from_db()
    assert newsletter.kind == BroadcastKind.NEWSLETTER
    assert ok(api.get(f"/api/v1/goals/{g['id']}"))["sources"][0]["id"] == newsletter.pk
