"""A large recompute on PostgreSQL splits its people over several connections working at once
(``shards._shards``); what it builds is what one connection builds. Committed data only
(other connections cannot see a test's transaction), so these tests commit."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from campaigns.models import Broadcast, Campaign, Workspace
from goals import engine
from goals.engine import build, recomputes, rollup, shards
from goals.models import Achievement, Goal
from tests.goals import helpers
from tests.goals.test_engine import event, message, metric
from tests.goals.test_rollups import (
    assert_rollup_is_a_full_rebuild,
    assert_same_reports,
    stored_cells,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shard_counts(monkeypatch: Any) -> list[int]:
    """Every build step's number of connections; any goal is "large"."""
    counts: list[int] = []
    real = shards._on_shards

    def spy(count: int, work: Any) -> Any:
        counts.append(count)
        return real(count, work)

    # Patched where each build step looks them up.
    for module in (build, rollup, recomputes):
        monkeypatch.setattr(module, "_on_shards", spy)
    for module in (shards, build):
        monkeypatch.setattr(module, "SHARD_MIN_ROWS", 1)
    return counts


def people_data(workspace: Workspace, campaign: Campaign, newsletter: Broadcast) -> list[Any]:
    """Forty people's events, messages and metrics over four weeks, some touches inside the
    window of an achievement and some outside it."""
    rng = random.Random(11)
    items: list[Any] = []
    start = datetime(2026, 3, 2, tzinfo=UTC)
    for n in range(40):
        who = f"person-{n}"
        for k in range(rng.randrange(1, 5)):
            at = start + timedelta(hours=rng.randrange(24 * 28))
            source = rng.choice([campaign, newsletter])
            items.append(message(f"m{n}-{k}", who, at.isoformat(), source))
            if rng.random() < 0.8:
                delivered = at + timedelta(minutes=rng.randrange(1, 600))
                items.append(metric(f"m{n}-{k}", "delivered", delivered.isoformat()))
        for _ in range(rng.randrange(0, 4)):
            at = start + timedelta(hours=rng.randrange(24 * 28))
            price = rng.choice(["10", "0.5", "n/a", "19.99"])
            items.append(event(who, "plan_activated", at.isoformat(), price=price))
    return items


@pytest.mark.parametrize(
    "trigger",
    [
        # Staged by SQL on each connection (PostgreSQL)...
        {"type": "event", "name": "plan_activated"},
        # ...or evaluated in Python once, then attributed on each connection.
        {
            "type": "event",
            "name": "plan_activated",
            "conditions": [{"key": "price", "op": "neq", "value": "n/a"}],
        },
    ],
)
def test_a_build_over_two_connections_equals_the_build_on_one(
    workspace: Workspace,
    api: APIClient,
    settings: Any,
    shard_counts: list[int],
    trigger: dict[str, Any],
) -> None:
    campaign = Campaign.objects.create(workspace=workspace, name="Onboarding", status="running")
    newsletter = Broadcast.objects.create(
        workspace=workspace, name="March news", kind="newsletter", status="sent", channels=["email"]
    )
    settings.GOALS_BUILD_CONNECTIONS = 1
    goal = helpers.make_goal(
        workspace,
        trigger=trigger,
        sources=[campaign, newsletter],
        impact_currency="EUR",
        impact_event_key="price",
    )
    assert build._events_in_sql(engine.GoalSpec.load(goal)) == (
        connection.vendor == "postgresql" and "conditions" not in trigger
    )
    helpers.ingest(api, *people_data(workspace, campaign, newsletter))
    helpers.recompute_now(goal)
    one_connection = (helpers.results(goal), stored_cells(goal))
    assert len(one_connection[0]) > 20
    assert any(row[5] for row in one_connection[0])  # some achievements are credited...
    assert any(row[5] is None for row in one_connection[0])  # ...and some are not
    assert set(shard_counts) == {1}

    settings.GOALS_BUILD_CONNECTIONS = 2
    shard_counts.clear()
    goal = helpers.recompute_now(goal)

    expected = 2 if connection.vendor == "postgresql" else 1  # SQLite: one connection only
    # Staging (when done in SQL), the achievements and the rollup: all on two connections
    # (and on SQLite, dropping the older versions' rows too).
    assert len(shard_counts) >= 2 and set(shard_counts) == {expected}
    assert (helpers.results(goal), stored_cells(goal)) == one_connection
    assert_rollup_is_a_full_rebuild(goal)
    assert_same_reports(goal)
    assert Goal.objects.get(pk=goal.pk).current_version == 3
    # The older versions' rows are gone (their tables on PostgreSQL).
    assert set(Achievement.objects.filter(goal=goal).values_list("version", flat=True)) == {3}


def test_a_build_inside_a_transaction_stays_on_its_connection(
    workspace: Workspace, api: APIClient, settings: Any, shard_counts: list[int]
) -> None:
    settings.GOALS_BUILD_CONNECTIONS = 4
    goal = helpers.make_goal(workspace, compute=False)
    helpers.ingest(api, event("ada", "plan_activated", "2026-03-04T10:00:00Z"))
    with transaction.atomic():  # other connections could not see what it writes
        goal = helpers.recompute_now(goal)
        assert len(helpers.results(goal)) == 1
    assert len(shard_counts) >= 2 and set(shard_counts) == {1}
