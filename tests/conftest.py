"""Shared fixtures. Every access test has an owner, a team member, a viewer and an outsider
(a member of a second workspace), as healthchecks' test bases do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from campaigns import services
from campaigns.models import Membership, Role, Workspace
from goals_project import inprocess
from goals_project.celery import app as celery_app
from tests.celery_worker import broker_and_database_ready, celery_worker_process

__all__ = ["celery_worker_process"]

# Password hashing is deliberately slow; tests create many users and need no such protection.
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``celery_worker`` need Redis and PostgreSQL, and those marked
    ``postgresql`` PostgreSQL; without them they are deselected (not skipped, not counted), and
    the run says so. CI's second pass runs them."""
    notes: list[str] = []
    if connection.vendor != "postgresql":
        _deselect(config, items, "postgresql", "the database is not PostgreSQL", notes)
    ready, why = broker_and_database_ready()
    if not ready:
        _deselect(config, items, "celery_worker", why, notes)
    if notes:
        config.stash[_DESELECTED_NOTE] = "\n".join(notes)


def _deselect(
    config: pytest.Config, items: list[pytest.Item], marker: str, why: str, notes: list[str]
) -> None:
    deselected = [item for item in items if item.get_closest_marker(marker)]
    if deselected:
        items[:] = [item for item in items if not item.get_closest_marker(marker)]
        config.hook.pytest_deselected(items=deselected)
        notes.append(
            f"{len(deselected)} {marker} tests deselected: {why} "
            "(CI's PostgreSQL + Redis pass runs them)"
        )


_DESELECTED_NOTE = pytest.StashKey[str]()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    note = config.stash.get(_DESELECTED_NOTE, None)
    for line in (note or "").splitlines():
        terminalreporter.write_line(line)


@pytest.fixture(autouse=True)
def _task_mode(request: pytest.FixtureRequest) -> Any:
    """Tasks run in-process in ordinary tests, even when a broker is configured; tests marked
    ``celery_worker`` send them to the real worker instead."""
    eager = request.node.get_closest_marker("celery_worker") is None
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = eager
    if not eager:
        request.getfixturevalue("celery_worker_process")
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def keep_commit_callbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Leave a request's on-commit callbacks pending, as a real transaction does until it
    commits, for tests that inspect what a request queued: in-process, the test transaction's
    callbacks otherwise run at the end of the request (``goals_project.inprocess``)."""
    monkeypatch.setattr(inprocess, "_only_test_transactions", lambda alias: False)


@pytest.fixture(autouse=True)
def _fresh_cache() -> Any:
    """Each test starts with an empty cache. The API throttles count requests in it per token,
    and a rolled-back test database hands the next test the same token id: without this, a
    fast run trips ``100/second`` and tests fail with 429s that depend on their order."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def workspace(db: Any) -> Workspace:
    return services.workspace_create(name="Acme", time_zone="Europe/Berlin")


@pytest.fixture
def other_workspace(db: Any) -> Workspace:
    return services.workspace_create(name="Globex", time_zone="UTC")


@pytest.fixture
def owner(workspace: Workspace) -> User:
    user = User.objects.create_user("alice", "alice@example.org", "password")
    Membership.objects.create(workspace=workspace, user=user, role=Role.ADMIN)
    return user


@pytest.fixture
def editor(workspace: Workspace) -> User:
    user = User.objects.create_user("bob", "bob@example.org", "password")
    Membership.objects.create(workspace=workspace, user=user, role=Role.EDITOR)
    return user


@pytest.fixture
def viewer(workspace: Workspace) -> User:
    user = User.objects.create_user("vera", "vera@example.org", "password")
    Membership.objects.create(workspace=workspace, user=user, role=Role.VIEWER)
    return user


@pytest.fixture
def outsider(other_workspace: Workspace) -> User:
    user = User.objects.create_user("charlie", "charlie@example.org", "password")
    Membership.objects.create(workspace=other_workspace, user=user, role=Role.ADMIN)
    return user


@pytest.fixture
def make_token_client(db: Any) -> Callable[..., APIClient]:
    """An API client authenticated with a new token of ``workspace`` and ``role``."""

    def make(workspace: Workspace, role: str = Role.EDITOR) -> APIClient:
        _, secret = services.api_token_create(workspace=workspace, name=f"{role} token", role=role)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        client.token_secret = secret  # type: ignore[attr-defined]
        return client

    return make


@pytest.fixture
def api(make_token_client: Callable[..., APIClient], workspace: Workspace) -> APIClient:
    """An editor-token client of ``workspace``."""
    return make_token_client(workspace)


@pytest.fixture
def other_api(make_token_client: Callable[..., APIClient], other_workspace: Workspace) -> APIClient:
    """An editor-token client of ``other_workspace``."""
    return make_token_client(other_workspace)


@pytest.fixture
def viewer_api(make_token_client: Callable[..., APIClient], workspace: Workspace) -> APIClient:
    return make_token_client(workspace, Role.VIEWER)
