"""Benchmark the goals engine on an existing (seeded) workspace.

Creates a "Trial to paid" goal (``plan_activated``, revenue from ``data.price``, every campaign
and newsletter of the workspace as a source), then measures:

* a full recompute, twice: the first build, then a recompute after a settings change (which
  also drops the previous version): wall time, SQL queries issued on this connection (a large
  build also runs its shares' statements on ``GOALS_BUILD_CONNECTIONS`` connections), peak
  memory of this process (the worker's work runs here), achievements made;
* the report API for the last 30 and 90 days, and the achievement list's first page (of 50)
  and last page (of 500): median and p95 of ``--calls`` requests through Django's full
  request stack.

The goal is deleted afterwards unless ``--keep``.
"""

from __future__ import annotations

import resource
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.models import F
from django.test import Client
from django.utils import timezone

from campaigns import services
from campaigns.models import Role, Workspace
from goals import engine
from goals import services as goal_services
from goals.bench import bench_goal, bench_workspace, summary
from goals.models import Achievement, Goal


class Command(BaseCommand):
    help = "Measure a full goal recompute and report latency on a seeded workspace."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", help="workspace name (default: the largest one)")
        parser.add_argument("--calls", type=int, default=50)
        parser.add_argument("--window", type=int, default=7)
        parser.add_argument("--event", default="plan_activated", help="the trigger event")
        parser.add_argument("--keep", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = bench_workspace(options["workspace"])
        goal = bench_goal(
            workspace,
            name="bench: trial to paid",
            criteria={"trigger": {"type": "event", "name": options["event"]}, "filters": []},
            impact_currency="EUR",
            impact_event_key="price",
            window_days=options["window"],
        )
        try:
            self._recompute(goal)
            self._reports(goal, workspace, options["calls"])
        finally:
            if not options["keep"]:
                # As the API deletes a goal: its result tables are dropped whole (a plain
                # ``goal.delete()`` emptied them row by row and left them behind).
                goal_services.goal_delete(goal=goal)

    def _recompute(self, goal: Goal) -> None:
        """The first build of the goal, then a recompute after a settings change (the window
        doubled), which also drops the previous version."""
        self._measure(goal, "first build")
        Goal.objects.filter(pk=goal.pk).update(window_days=min(90, 2 * goal.window_days))
        self._measure(goal, "recompute after a window change")

    def _measure(self, goal: Goal, label: str) -> None:
        queries = 0

        def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            nonlocal queries
            queries += 1
            return execute(sql, params, many, context)

        Goal.objects.filter(pk=goal.pk).update(requested_version=F("requested_version") + 1)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        with connection.execute_wrapper(count):
            engine.recompute(goal_id=goal.pk)
        elapsed = time.perf_counter() - started
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        goal.refresh_from_db()
        rows = Achievement.objects.filter(goal=goal, version=goal.current_version)
        attributed = rows.exclude(message=None).count()
        self.stdout.write(
            f"{label} on {connection.vendor} ({settings.GOALS_BUILD_CONNECTIONS} build "
            f"connections): {elapsed:.2f} s, {queries} queries on this connection, peak RSS "
            f"{rss_after / 1024:.0f} MiB (before {rss_before / 1024:.0f} MiB), "
            f"{rows.count():,} achievements, {attributed:,} attributed"
        )

    def _reports(self, goal: Goal, workspace: Workspace, calls: int) -> None:
        _, secret = services.api_token_create(workspace=workspace, name="bench", role=Role.VIEWER)
        client = Client(headers={"Authorization": f"Bearer {secret}"})
        today = timezone.now().astimezone(workspace.tz).date()
        try:
            for days in (30, 90):
                start = today - timedelta(days=days - 1)
                url = f"/api/v1/goals/{goal.pk}/report?start={start}&end={today}"
                self._time(client, url, calls, f"report {days} days")
            count = Achievement.objects.filter(goal=goal, version=goal.current_version).count()
            last = max(1, -(-count // 500))
            for label, query in (
                ("first page of 50", "page_size=50"),
                ("last page of 500", f"page_size=500&page={last}"),
            ):
                url = f"/api/v1/goals/{goal.pk}/achievements?{query}"
                self._time(client, url, calls, f"achievement list, {label}")
        finally:
            workspace.api_tokens.filter(name="bench").delete()

    def _time(self, client: Client, url: str, calls: int, label: str) -> None:
        """Median and p95 of ``calls`` GETs of ``url``, each of which must succeed."""
        timings = []
        for _ in range(calls):
            began = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - began) * 1000)
            if response.status_code != 200:
                raise CommandError(f"{label} failed: {response.status_code}")
        self.stdout.write(f"{label}: {summary(timings)} over {calls} calls")
