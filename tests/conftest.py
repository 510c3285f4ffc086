"""Shared fixtures. Every access test has an owner, a team member, a viewer and an outsider
(a member of a second workspace), as healthchecks' test bases do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from campaigns import services
from campaigns.models import Membership, Role, Workspace


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
