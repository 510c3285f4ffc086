"""Benchmark batch ingestion through ``POST /api/v1/batch``.

Posts ``--events`` events in requests of ``--batch`` items, ``--runs`` times, into a fresh
workspace, and prints events per second for each run and their median. By default requests go
through Django's full request stack in-process (no network); ``--url`` sends them over HTTP to
a running server instead (e.g. gunicorn), using a token of the bench workspace.
"""

from __future__ import annotations

import json
import statistics
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection
from django.test import Client

from campaigns import services
from campaigns.models import Role, Workspace


class Command(BaseCommand):
    help = "Measure batch ingestion throughput (events/s) through POST /api/v1/batch."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--events", type=int, default=100_000)
        parser.add_argument("--batch", type=int, default=1_000)
        parser.add_argument("--runs", type=int, default=3)
        parser.add_argument("--people", type=int, default=10_000)
        parser.add_argument("--url", default="", help="Base URL of a running server.")
        parser.add_argument("--keep", action="store_true", help="Keep the bench workspace.")

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = services.workspace_create(name=f"bench-{uuid.uuid4().hex[:8]}")
        _, secret = services.api_token_create(workspace=workspace, name="bench", role=Role.ADMIN)
        post = self._poster(options["url"], secret)
        vendor = connection.vendor
        self.stdout.write(
            f"Batch ingestion on {vendor}: {options['events']:,} events in requests of "
            f"{options['batch']:,}, {options['runs']} runs"
            + (f", over HTTP to {options['url']}" if options["url"] else ", in-process")
        )
        rates = []
        try:
            for run in range(options["runs"]):
                payloads = list(self._payloads(run, options))
                started = time.perf_counter()
                for payload in payloads:
                    status, body = post(payload)
                    if status != 200 or body.get("rejected"):
                        raise RuntimeError(f"batch failed: {status} {str(body)[:500]}")
                elapsed = time.perf_counter() - started
                rate = options["events"] / elapsed
                rates.append(rate)
                self.stdout.write(f"  run {run + 1}: {elapsed:.2f} s, {rate:,.0f} events/s")
            self.stdout.write(f"median: {statistics.median(rates):,.0f} events/s")
        finally:
            if not options["keep"]:
                Workspace.objects.filter(pk=workspace.pk).delete()

    def _payloads(self, run: int, options: dict[str, Any]) -> Any:
        start = datetime(2026, 1, 1, tzinfo=UTC)
        total, size, people = options["events"], options["batch"], options["people"]
        for first in range(0, total, size):
            items = []
            for n in range(first, min(first + size, total)):
                items.append(
                    {
                        "type": "event",
                        "person": f"bench-person-{n % people}",
                        "name": "plan_activated" if n % 10 == 0 else "page_viewed",
                        "id": f"run{run}-event{n}",
                        "timestamp": (start + timedelta(seconds=n)).isoformat(),
                        "data": {"price": "29.00", "plan": "pro", "n": n},
                    }
                )
            yield json.dumps({"items": items})

    def _poster(self, url: str, secret: str) -> Any:
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        if not url:
            client = Client()

            def post_local(body: str) -> tuple[int, dict[str, Any]]:
                response = client.post(
                    "/api/v1/batch",
                    body,
                    content_type="application/json",
                    headers={"Authorization": headers["Authorization"]},
                )
                return response.status_code, response.json()

            return post_local

        def post_http(body: str) -> tuple[int, dict[str, Any]]:
            request = urllib.request.Request(
                url.rstrip("/") + "/api/v1/batch",
                data=body.encode(),
                headers=headers,
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, json.loads(response.read())

        return post_http
