"""Settings come from the environment and refuse malformed values, naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from campaigns.apps import runtime_summary

ROOT = Path(__file__).resolve().parent.parent


def load_settings(**env: str) -> subprocess.CompletedProcess[str]:
    """Import the settings in a fresh interpreter with exactly this environment on top."""
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    clean.update({"SECRET_KEY": "x", **env})
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import goals_project.settings as s; print(s.DATABASES['default']['ENGINE'])",
        ],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "url",
    [
        "mysql://root@localhost/goals",
        "not a url",
        "postgres://postgres@127.0.0.1:5432/",
        "postgres://:not-a-port/x",
    ],
)
def test_it_refuses_a_malformed_database_url_naming_the_variable(url: str) -> None:
    result = load_settings(DATABASE_URL=url)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DATABASE_URL" in result.stderr


def test_it_uses_sqlite_by_default_and_postgres_when_asked() -> None:
    assert load_settings().stdout.strip() == "django.db.backends.sqlite3"
    result = load_settings(DATABASE_URL="postgres://postgres@127.0.0.1:5432/goals")
    assert result.stdout.strip() == "django.db.backends.postgresql"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "maybe"),
        ("GOALS_TRACKING_START", "yesterday"),
        ("GOALS_TRACKING_START", "2025-11-01T00:00:00"),  # no offset
        ("CELERY_BROKER_URL", "localhost:6379"),
        ("CELERY_RESULT_BACKEND", "http://example.org"),
        ("CACHE_URL", "memcached://x"),
        ("TRUST_X_FORWARDED_PROTO", "maybe"),
    ],
)
def test_it_refuses_malformed_values_naming_the_variable(variable: str, value: str) -> None:
    result = load_settings(**{variable: value})
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {variable}" in result.stderr


def test_it_trusts_a_proxy_saying_https_only_when_told_to() -> None:
    """Behind a proxy that terminates TLS the app sees plain HTTP: the API's absolute links
    (a list's next and previous pages) said http:// to clients that came over HTTPS (SPEC §7:
    the API is served over HTTPS). Off by default: a client reaching the app around the proxy
    could otherwise claim HTTPS with the header."""
    code = "import goals_project.settings as s; print(getattr(s, 'SECURE_PROXY_SSL_HEADER', None))"
    env = {k: v for k, v in os.environ.items() if k != "TRUST_X_FORWARDED_PROTO"}

    def header(**extra: str) -> str:
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={**env, "SECRET_KEY": "x", **extra},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert header() == "None"
    assert header(TRUST_X_FORWARDED_PROTO="false") == "None"
    assert header(TRUST_X_FORWARDED_PROTO="true") == "('HTTP_X_FORWARDED_PROTO', 'https')"


def test_it_requires_a_secret_key_unless_debugging() -> None:
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    code = "import goals_project.settings"
    refused = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "DEBUG": "0"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0
    assert "SECRET_KEY" in refused.stderr
    allowed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "DEBUG": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert allowed.returncode == 0, allowed.stderr


def test_it_runs_tasks_in_process_without_a_broker() -> None:
    code = "import goals_project.settings as s; print(s.CELERY_TASK_ALWAYS_EAGER)"
    env = {k: v for k, v in os.environ.items() if k != "CELERY_BROKER_URL"}
    without = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "SECRET_KEY": "x"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    with_broker = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "SECRET_KEY": "x", "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert without.stdout.strip() == "True"
    assert with_broker.stdout.strip() == "False"


def test_the_runtime_summary_names_the_database_and_task_mode(settings: object) -> None:
    summary = runtime_summary()
    assert ("SQLite database" in summary) or ("PostgreSQL database" in summary)
    assert "background tasks" in summary


def test_it_says_at_start_up_which_database_and_task_mode_it_uses(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    env.update(SECRET_KEY="x", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    result = subprocess.run(
        [sys.executable, "manage.py", "runserver", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert "Goals starting:" in output
    assert f"SQLite database {tmp_path / 'db.sqlite3'}" in output
    assert "background tasks run in-process (no CELERY_BROKER_URL set)" in output


def test_postgres_connections_turn_jit_off_unless_the_url_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from goals_project.settings import env_database

    url = "postgres://postgres@127.0.0.1:5432/goals"
    monkeypatch.setenv("GOALS_TEST_DB", url)
    assert env_database("GOALS_TEST_DB", "")["OPTIONS"]["options"] == "-c jit=off"
    monkeypatch.setenv("GOALS_TEST_DB", url + "?options=-c%20work_mem%3D64MB")
    assert env_database("GOALS_TEST_DB", "")["OPTIONS"]["options"] == "-c work_mem=64MB"
