"""The README's commands work as written, on the machine ``make run`` sets up.

Found following the README on a fresh clone: after ``make run`` (whose demo workspace holds
campaigns 1-11 and goals 1-3), the API examples' ``"campaign": 1`` was a 400 and
``/goals/1/...`` a 404 for the new workspace's token; the example person's attributes took
effect when they were sent, after the example event, so the example goal's country filter
refused it and its report stayed empty; and ``make run`` could not be told another port."""

from __future__ import annotations

import json
import re
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from campaigns.models import Campaign, Workspace
from goals.models import Achievement, Goal

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _api_block() -> str:
    section = README.split("## The API", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


@pytest.mark.django_db(transaction=True)
def test_the_readme_api_examples_work_verbatim_next_to_the_demo_data(
    live_server: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # What ``make run`` leaves: another workspace whose rows took the first ids.
    demo = Workspace.objects.create(name="Demo")
    Campaign.objects.create(workspace=demo, name="Demo campaign", status="running")
    Goal.objects.create(
        workspace=demo,
        name="Demo goal",
        criteria={"trigger": {"type": "event", "name": "x"}, "filters": []},
    )
    capsys.readouterr()
    call_command("create_workspace", "Acme", "--time-zone", "Europe/Berlin")
    token = capsys.readouterr().out.strip().splitlines()[-1]

    script = _api_block().replace("http://127.0.0.1:8000", live_server.url)
    # Every request must succeed (curl exits non-zero on an HTTP error) and every command too.
    wrapped = (
        "set -euo pipefail\n"
        'curl() { command curl -sS --fail-with-body "$@"; echo; }\n'
        f"TOKEN={token}\n{script}"
    )
    done = subprocess.run(
        ["bash", "-c", wrapped], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr

    acme = Workspace.objects.get(name="Acme")
    goal = Goal.objects.get(workspace=acme)
    # The example's person achieves the example goal (event at 09:00Z, before the open at
    # 09:30Z: unattributed), and the example's last query lists that achievement.
    achievement = Achievement.objects.get(goal=goal, version=goal.current_version)
    assert achievement.message is None and achievement.revenue == Decimal(29)
    listed = [line for line in done.stdout.splitlines() if line.startswith('{"count"')][-1]
    assert json.loads(listed)["count"] == 1
    assert (tmp_path / "report.csv").read_text().startswith("period_start,series")


def test_make_run_takes_a_port() -> None:
    dry = subprocess.run(
        ["make", "-n", "run", "PORT=8103"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "runserver 127.0.0.1:8103" in dry.stdout
    assert "make run PORT=" in README
