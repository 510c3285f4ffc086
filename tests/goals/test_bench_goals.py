"""``bench_goals`` runs end to end on a small demo workspace: both recomputes, then the report
API, and it leaves no goal behind."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

from django.core.management import call_command
from django.db import connection

from goals import partitions
from goals.models import Goal


def test_it_measures_both_recomputes_the_reports_and_the_achievement_list(db: Any) -> None:
    call_command("seed_demo", "--people", "60", "--days", "30", "--no-goals", stdout=StringIO())
    tables = set(partitions.leaves()) if connection.vendor == "postgresql" else set()
    out = StringIO()
    call_command("bench_goals", "--calls", "2", "--event", "signed_up", stdout=out)
    lines = out.getvalue().splitlines()

    achievements = []
    for label in ("first build", "recompute after a window change"):
        line = next(line for line in lines if line.startswith(label))
        achievements.append(int(re.search(r"([\d,]+) achievements", line)[1].replace(",", "")))  # type: ignore[index]
    assert achievements[0] == achievements[1] > 0  # every person signed up once
    assert any(line.startswith("report 30 days: median") for line in lines)
    assert any(line.startswith("report 90 days: median") for line in lines)
    assert any(line.startswith("achievement list, first page of 50: median") for line in lines)
    assert any(line.startswith("achievement list, last page of 500: median") for line in lines)
    assert not Goal.objects.exists()
    if connection.vendor == "postgresql":  # its result tables went with it
        assert set(partitions.leaves()) == tables
