"""What the ``bench_*`` management commands share: the workspace they measure and the goals
they create on it."""

from __future__ import annotations

import statistics
from typing import Any

from django.core.management.base import CommandError

from campaigns.models import Broadcast, BroadcastKind, Campaign, Workspace
from goals.models import Goal, GoalSource


def bench_workspace(name: str | None) -> Workspace:
    """The workspace called ``name``, or the one with the most people."""
    qs = Workspace.objects.all()
    if name:
        qs = qs.filter(name=name)
    workspace = max(qs, key=lambda w: w.people.count(), default=None)
    if workspace is None:
        raise CommandError("no workspace to benchmark; run seed_demo first")
    return workspace


def bench_goal(workspace: Workspace, *, name: str, **fields: Any) -> Goal:
    """A goal with every campaign and newsletter broadcast of ``workspace`` as its sources."""
    goal = Goal.objects.create(workspace=workspace, name=name, **fields)
    GoalSource.objects.bulk_create(
        [GoalSource(goal=goal, campaign=c) for c in Campaign.objects.in_workspace(workspace)]
        + [
            GoalSource(goal=goal, broadcast=b)
            for b in Broadcast.objects.in_workspace(workspace).filter(kind=BroadcastKind.NEWSLETTER)
        ]
    )
    return goal


def summary(timings_ms: list[float]) -> str:
    """``median X ms, p95 Y ms`` of the timings."""
    ordered = sorted(timings_ms)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return f"median {statistics.median(ordered):.1f} ms, p95 {p95:.1f} ms"
