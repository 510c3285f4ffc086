"""Measure the server time of the marketing UI's main pages on an existing (seeded) workspace.

Logs in as a member of the workspace (the demo admin by default) and requests the dashboard
and each goal's page (default range: the last 30 days) ``--calls`` times through Django's full
request stack, printing the median and p95. Run it against the 100,000-people demo database
on PostgreSQL for the figures the README quotes.
"""

from __future__ import annotations

import time
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from campaigns.models import Membership
from goals.bench import bench_workspace, summary
from goals.models import Goal


class Command(BaseCommand):
    help = "Measure the dashboard's and the goal pages' server time on a seeded workspace."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", help="workspace name (default: the largest one)")
        parser.add_argument("--user", default="demo", help="a member of the workspace")
        parser.add_argument("--calls", type=int, default=20)

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = bench_workspace(options["workspace"])
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None or not Membership.objects.filter(user=user, workspace=workspace).exists():
            raise CommandError(f"{options['user']!r} is not a member of {workspace.name!r}")
        client = Client()
        client.force_login(user)
        people = workspace.people.count()
        self.stdout.write(
            f"workspace {workspace.name!r} ({people:,} people) on {connection.vendor}"
        )
        pages = [("dashboard", f"/goals/?workspace={workspace.pk}")]
        pages += [
            (f"goal page: {goal.name}", f"/goals/{goal.pk}/")
            for goal in Goal.objects.filter(workspace=workspace).order_by("name")
        ]
        for label, url in pages:
            self._measure(client, label, url, options["calls"])

    def _measure(self, client: Client, label: str, url: str, calls: int) -> None:
        timings = []
        queries = 0
        for _ in range(calls):
            with CaptureQueriesContext(connection) as captured:
                began = time.perf_counter()
                response = client.get(url)
                timings.append((time.perf_counter() - began) * 1000)
            queries = len(captured)
            if response.status_code != 200:
                raise CommandError(f"{url} answered {response.status_code}")
        self.stdout.write(f"{label}: {summary(timings)}, {queries} queries, over {calls} calls")
