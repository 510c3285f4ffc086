"""Test helpers for the goals engine: goals built with the ORM and ingestion through the API."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, Phase, settings
from rest_framework.test import APIClient

from campaigns.models import Broadcast, Campaign, Workspace
from goals import engine
from goals.engine import recomputes
from goals.models import Achievement, Goal, GoalSource


def make_goal(
    workspace: Workspace,
    *,
    trigger: dict[str, Any] | None = None,
    filters: list[dict[str, Any]] | None = None,
    sources: list[Campaign | Broadcast] = (),  # type: ignore[assignment]
    compute: bool = True,
    **fields: Any,
) -> Goal:
    goal = Goal.objects.create(
        workspace=workspace,
        name=fields.pop("name", "Trial to paid"),
        criteria={
            "trigger": trigger or {"type": "event", "name": "plan_activated"},
            "filters": filters or [],
        },
        **fields,
    )
    for source in sources:
        if isinstance(source, Campaign):
            GoalSource.objects.create(goal=goal, campaign=source)
        else:
            GoalSource.objects.create(goal=goal, broadcast=source)
    if compute:
        recompute_now(goal)
    return goal


@contextmanager
def builds_read_as_built() -> Iterator[None]:
    """Recomputes skip their catch-up. In a test every row was received seconds ago, so a
    recompute's catch-up re-derives and re-attributes every person through the incremental
    path, and what the build itself wrote (the SQL event staging, the LATERAL walk, the as-of
    join) was overwritten before a test could read it. Nothing is ingested while a build runs
    in these tests (tasks run in-process), so the catch-up has nothing of its own to do."""
    with (
        mock.patch.object(recomputes, "catch_up", lambda **kwargs: None),
        mock.patch.object(recomputes, "catch_up_version", lambda *args, **kwargs: None),
    ):
        yield


def recompute_now(goal: Goal) -> Goal:
    """Request and run a recompute synchronously (what the task does)."""
    Goal.objects.filter(pk=goal.pk).update(requested_version=goal.requested_version + 1)
    engine.recompute(goal_id=goal.pk)
    goal.refresh_from_db()
    return goal


def results(goal: Goal) -> list[tuple[Any, ...]]:
    """The goal's current result as comparable tuples (client ids, not row ids)."""
    goal.refresh_from_db()
    rows = Achievement.objects.filter(goal=goal, version=goal.current_version).select_related(
        "person", "message", "source_campaign", "source_broadcast"
    )
    return sorted(
        (
            a.person.identifier if a.person else str(a.person_key),
            a.achieved_at.isoformat(),
            a.trigger_kind,
            str(a.revenue.normalize()),
            a.revenue_missing,
            a.message.client_id if a.message else None,
            a.source_campaign.name if a.source_campaign else None,
            a.source_broadcast.name if a.source_broadcast else None,
            a.touch_at.isoformat() if a.touch_at else None,
        )
        for a in rows
    )


def ingest(api: APIClient, *items: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/api/v1/batch", {"items": list(items)}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["rejected"] == 0, body
    return body


def oracle_settings(examples: int) -> settings:
    """Hypothesis settings of the oracle property tests (``test_*_oracle.py``): ``examples``
    by default, ``ORACLE_EXAMPLES=<n>`` for a long run, ``ORACLE_NOSHRINK=1`` to skip
    shrinking a failure (slow on these database-backed examples)."""
    return settings(
        max_examples=int(os.environ.get("ORACLE_EXAMPLES", str(examples))),
        deadline=None,
        phases=[p for p in Phase if p != Phase.shrink or not os.environ.get("ORACLE_NOSHRINK")],
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


#: SPEC §3's channel table as the spec writes it: each channel's chain, then the metrics that
#: are recorded but never qualify. The oracle tests read these, not ``campaigns.channels``, so
#: that they check the product against the spec rather than against itself.
SPEC_CHAINS: dict[str, tuple[str, ...]] = {
    "email": ("sent", "delivered", "opened", "clicked"),
    "push": ("sent", "delivered", "opened", "clicked"),
    "whatsapp": ("sent", "delivered", "opened", "clicked"),
    "sms": ("sent", "delivered", "clicked"),
    "in_app": ("sent", "opened", "clicked"),
    "webhook": ("sent", "clicked"),
    "slack": ("sent", "clicked"),
}
SPEC_OTHER_METRICS = ("converted", "bounced", "dropped", "failed", "spammed", "unsubscribed")
