"""Operator commands: create_workspace (SPEC §7) and api_token issue / revoke / list."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from campaigns import services, sources
from campaigns.models import ApiToken, Membership, Role, Workspace, hash_token


def run(*args: str) -> list[str]:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().splitlines()


def client_for(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


# --- create_workspace ----------------------------------------------------------------------


def test_create_workspace_prints_a_working_admin_token_last(
    db: Any, other_workspace: Workspace
) -> None:
    sources.campaign_create(workspace=other_workspace, name="Globex campaign")

    lines = run("create_workspace", "Initech", "--time-zone", "Europe/Berlin")

    workspace = Workspace.objects.get(name="Initech")
    assert workspace.time_zone == "Europe/Berlin"
    assert any("Initech" in line and str(workspace.pk) in line for line in lines[:-1])
    secret = lines[-1]
    token = ApiToken.objects.get(token_hash=hash_token(secret))
    assert token.workspace == workspace
    assert token.role == Role.ADMIN
    assert token.revoked_at is None
    # The token works against the API, and sees its own (empty) workspace only.
    response = client_for(secret).get("/api/v1/campaigns")
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_create_workspace_makes_the_owner_an_admin(db: Any) -> None:
    alice = User.objects.create_user("alice", password="pw")

    lines = run("create_workspace", "Initech", "--owner", "alice")

    workspace = Workspace.objects.get(name="Initech")
    assert workspace.time_zone == "UTC"
    membership = Membership.objects.get(workspace=workspace)
    assert (membership.user, membership.role) == (alice, Role.ADMIN)
    assert any("alice" in line for line in lines[:-1])
    assert ApiToken.objects.get(token_hash=hash_token(lines[-1])).created_by == alice


def test_create_workspace_rejects_an_unknown_time_zone(db: Any) -> None:
    with pytest.raises(CommandError, match="--time-zone"):
        run("create_workspace", "Initech", "--time-zone", "Mars/Olympus")

    assert not Workspace.objects.filter(name="Initech").exists()
    assert not ApiToken.objects.exists()


def test_create_workspace_rejects_an_unknown_owner(db: Any) -> None:
    with pytest.raises(CommandError, match=r"--owner.*nobody"):
        run("create_workspace", "Initech", "--owner", "nobody")

    assert not Workspace.objects.exists()


def test_create_workspace_rejects_a_blank_name(db: Any) -> None:
    with pytest.raises(CommandError, match="NAME"):
        run("create_workspace", "  ")

    assert not Workspace.objects.exists()


# --- api_token -----------------------------------------------------------------------------


def test_api_token_issue_prints_the_secret_last(workspace: Workspace) -> None:
    lines = run("api_token", "issue", "--workspace", str(workspace.pk), "--name", "Warehouse")

    token = ApiToken.objects.get(token_hash=hash_token(lines[-1]))
    assert (token.workspace, token.name, token.role) == (workspace, "Warehouse", Role.EDITOR)
    assert lines[-1].startswith(token.prefix)
    assert token.prefix in lines[0]
    assert client_for(lines[-1]).get("/api/v1/campaigns").status_code == 200


def test_api_token_issue_takes_a_role(workspace: Workspace) -> None:
    lines = run("api_token", "issue", "--workspace", str(workspace.pk), "--role", "viewer")

    token = ApiToken.objects.get(token_hash=hash_token(lines[-1]))
    assert token.role == Role.VIEWER
    # A viewer token reads but cannot write.
    client = client_for(lines[-1])
    assert client.get("/api/v1/campaigns").status_code == 200
    assert client.post("/api/v1/campaigns", {"name": "x"}, format="json").status_code == 403


def test_api_token_issue_rejects_an_unknown_role(workspace: Workspace) -> None:
    with pytest.raises(CommandError, match="role"):
        run("api_token", "issue", "--workspace", str(workspace.pk), "--role", "owner")

    assert not ApiToken.objects.exists()


def test_api_token_rejects_an_unknown_workspace(db: Any) -> None:
    with pytest.raises(CommandError, match="--workspace"):
        run("api_token", "issue", "--workspace", "999")

    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("by", ["prefix", "id"])
def test_api_token_revoke_revokes_by_prefix_or_id(workspace: Workspace, by: str) -> None:
    token, secret = services.api_token_create(workspace=workspace, name="Old")
    ref = token.prefix if by == "prefix" else str(token.pk)

    lines = run("api_token", "revoke", ref, "--workspace", str(workspace.pk))

    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "Revoked" in lines[-1]
    assert client_for(secret).get("/api/v1/campaigns").status_code == 401


def test_api_token_revoke_is_idempotent(workspace: Workspace) -> None:
    token, _ = services.api_token_create(workspace=workspace, name="Old")
    run("api_token", "revoke", str(token.pk), "--workspace", str(workspace.pk))
    token.refresh_from_db()
    first = token.revoked_at

    lines = run("api_token", "revoke", str(token.pk), "--workspace", str(workspace.pk))

    token.refresh_from_db()
    assert token.revoked_at == first
    assert "already revoked" in lines[-1]


def test_api_token_revoke_cannot_reach_another_workspaces_token(
    workspace: Workspace, other_workspace: Workspace
) -> None:
    theirs, _ = services.api_token_create(workspace=other_workspace, name="Theirs")

    for ref in (str(theirs.pk), theirs.prefix):
        with pytest.raises(CommandError, match="no token"):
            run("api_token", "revoke", ref, "--workspace", str(workspace.pk))

    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_api_token_revoke_refuses_an_ambiguous_prefix(workspace: Workspace) -> None:
    services.api_token_create(workspace=workspace, name="One")
    services.api_token_create(workspace=workspace, name="Two")

    with pytest.raises(CommandError, match="several"):
        run("api_token", "revoke", "gk_", "--workspace", str(workspace.pk))

    assert not ApiToken.objects.filter(revoked_at__isnull=False).exists()


def test_api_token_list_shows_the_workspaces_tokens_only(
    workspace: Workspace, other_workspace: Workspace
) -> None:
    active, _ = services.api_token_create(workspace=workspace, name="Warehouse", role="viewer")
    revoked, _ = services.api_token_create(workspace=workspace, name="Old script")
    services.api_token_revoke(token=revoked)
    theirs, _ = services.api_token_create(workspace=other_workspace, name="Globex token")

    lines = run("api_token", "list", "--workspace", str(workspace.pk))

    assert lines[0].split() == [
        "id",
        "prefix",
        "name",
        "role",
        "created",
        "last",
        "used",
        "revoked",
    ]
    by_prefix = {line.split()[1]: line for line in lines[1:]}
    assert set(by_prefix) == {active.prefix, revoked.prefix}
    assert "Warehouse" in by_prefix[active.prefix] and "viewer" in by_prefix[active.prefix]
    assert by_prefix[active.prefix].rstrip().endswith("-")  # not revoked
    assert by_prefix[revoked.prefix].rstrip().endswith(f"{revoked.revoked_at:%Y-%m-%d %H:%M}")
    assert theirs.prefix not in "\n".join(lines)
