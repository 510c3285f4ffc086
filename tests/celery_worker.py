"""A real Celery worker, in a subprocess, for tests marked ``celery_worker``.

It consumes a queue private to this test run (so a developer's own worker never steals its
tasks) and talks to the same test database as the test process, which is why those tests use
``transactional_db``: the worker only sees committed rows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from goals_project.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent


def broker_and_database_ready() -> tuple[bool, str]:
    """Worker tests need a broker and a database a second process can open (not SQLite memory)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return False, "CELERY_BROKER_URL is not set"
    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return False, "DATABASE_URL is not PostgreSQL"
    return True, ""


@pytest.fixture(scope="session")
def celery_worker_process(
    django_db_setup: None, django_db_blocker: pytest.FixtureRequest
) -> Iterator[str]:
    """Start one worker for the session; yields the queue name it consumes."""
    queue = f"goals-test-{uuid.uuid4().hex[:8]}"
    db = settings.DATABASES["default"]
    test_db_name = db["NAME"]  # pytest-django already switched this to the test database
    env = dict(os.environ)
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    user = db.get("USER") or "postgres"
    password = db.get("PASSWORD") or ""
    auth = f"{user}:{password}" if password else user
    env["DATABASE_URL"] = f"postgres://{auth}@{host}:{port}/{test_db_name}"
    env.setdefault("SECRET_KEY", "test-only-secret-key")
    (ROOT / ".pytest_cache").mkdir(exist_ok=True)
    log = open(ROOT / ".pytest_cache" / f"celery-{queue}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "goals_project",
            "worker",
            "--pool",
            "solo",
            "--concurrency",
            "1",
            "--queues",
            queue,
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    previous_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"celery worker exited with {proc.returncode}; see {log.name}")
            replies = celery_app.control.ping(timeout=1.0)
            if replies:
                break
        else:
            raise RuntimeError(f"celery worker did not answer within 60 s; see {log.name}")
        connection.close()
        yield queue
    finally:
        celery_app.conf.task_default_queue = previous_queue
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
