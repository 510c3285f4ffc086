"""Measure the time from ingesting an achieving event to seeing it attributed through the API.

Needs ``CELERY_BROKER_URL`` and a running worker (``celery -A goals_project worker``) on the
same database: the event goes in through ``POST /api/v1/people/<id>/events``, the worker's
``process_ingested`` evaluates and attributes it, and this command polls
``GET /api/v1/goals/<id>/achievements`` until the new achievement is there with its credit.

Uses a "bench: latency" goal on ``--event`` (every campaign and newsletter as a source),
created and computed first if missing; each sample is a person who has a message from a
source, so attribution has real work. Prints the median and p95.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test import Client
from django.utils import timezone

from campaigns import services
from campaigns.models import Message, Role, Workspace
from goals import engine
from goals.bench import bench_goal, bench_workspace, summary
from goals.models import Goal


class Command(BaseCommand):
    help = "Time from ingesting an achieving event to seeing it attributed (needs a worker)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", help="workspace name (default: the largest one)")
        parser.add_argument("--samples", type=int, default=20)
        parser.add_argument("--event", default="plan_activated")
        parser.add_argument("--timeout", type=float, default=30.0, help="seconds per sample")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            raise CommandError("set CELERY_BROKER_URL and run a worker: this measures the worker")
        workspace = bench_workspace(options["workspace"])
        goal = self._goal(workspace, options["event"])
        _, secret = services.api_token_create(workspace=workspace, name="bench", role=Role.EDITOR)
        client = Client(headers={"Authorization": f"Bearer {secret}"})
        people = list(
            Message.objects.filter(
                workspace=workspace, campaign__isnull=False, person__isnull=False
            )
            .order_by("-sent_at")
            .values_list("person__identifier", flat=True)[: options["samples"] * 5]
        )
        timings: list[float] = []
        try:
            for n, identifier in enumerate(dict.fromkeys(people)):
                if len(timings) == options["samples"]:
                    break
                timings.append(self._sample(client, goal, identifier, n, options["timeout"]))
        finally:
            workspace.api_tokens.filter(name="bench").delete()
        self.stdout.write(
            f"ingest -> attributed through the API: {summary(timings)}, "
            f"max {max(timings):.1f} ms over {len(timings)} events"
        )

    def _goal(self, workspace: Workspace, event: str) -> Goal:
        goal = Goal.objects.filter(workspace=workspace, name="bench: latency").first()
        if goal is not None:
            return goal
        goal = bench_goal(
            workspace,
            name="bench: latency",
            criteria={"trigger": {"type": "event", "name": event}, "filters": []},
        )
        Goal.objects.filter(pk=goal.pk).update(requested_version=1)
        engine.recompute(goal_id=goal.pk)
        goal.refresh_from_db()
        return goal

    def _sample(self, client: Client, goal: Goal, identifier: str, n: int, limit: float) -> float:
        now = timezone.now().replace(microsecond=0) + timedelta(seconds=n)
        began = time.perf_counter()
        response = client.post(
            f"/api/v1/people/{identifier}/events",
            {"name": goal.criteria["trigger"]["name"], "timestamp": now.isoformat()},
            content_type="application/json",
        )
        if response.status_code != 201:
            raise CommandError(f"ingestion failed: {response.status_code} {response.content!r}")
        today = now.astimezone(goal.workspace.tz).date()
        # The last page of today's achievements (by time): this one is the latest when it
        # lands. A short page keeps each poll cheap, so the figure is the pipeline's latency.
        url = (
            f"/api/v1/goals/{goal.pk}/achievements?start={today}&end={today}&page_size=20&page=last"
        )
        while time.perf_counter() - began < limit:
            rows = client.get(url).json()["results"]
            if any(
                r["person"] == identifier
                and r["achieved_at"].startswith(now.strftime("%Y-%m-%dT%H:%M:%S"))
                for r in rows
            ):
                return (time.perf_counter() - began) * 1000
            time.sleep(0.01)
        raise CommandError(f"no achievement for {identifier} after {limit} s: is a worker running?")
