"""API authentication, workspace resolution, role checks and throttling.

A request acts in exactly one workspace:
- with a token (``Authorization: Bearer <token>``), the token's workspace, with the token's role
  (naming another one with ``X-Workspace`` or ``?workspace=`` is a 404);
- with a logged-in session, the workspace named by the ``X-Workspace`` header or ``?workspace=``
  parameter, else the one chosen in the UI (session), else the user's first membership; with
  the user's role there.
``WorkspaceRolePermission`` resolves it once and stores it on the request; the scoping mixin in
``campaigns.scoping`` reads it from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions, throttling
from rest_framework.request import Request

from campaigns import values
from campaigns.models import WRITE_ROLES, ApiToken, Membership, Workspace, hash_token

SESSION_WORKSPACE_KEY = "workspace_id"
# Writing last_used_at on every request would add a write to every read; once a minute is
# precise enough for "is this token still used?".
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass
class TokenUser:
    """The principal of a token-authenticated request (not a Django user)."""

    token: ApiToken
    is_authenticated: bool = True
    is_anonymous: bool = False
    is_superuser: bool = False
    is_staff: bool = False

    @property
    def pk(self) -> str:
        return f"token:{self.token.pk}"

    def __str__(self) -> str:
        return f"API token {self.token.prefix}…"


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[TokenUser, ApiToken] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, secret = header.partition(" ")
        if scheme.lower() not in {"bearer", "token"}:
            return None
        secret = secret.strip()
        if not secret:
            raise exceptions.AuthenticationFailed("Authorization header has no token.")
        token = (
            ApiToken.objects.select_related("workspace")
            .filter(token_hash=hash_token(secret))
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This token has been revoked.")
        now = timezone.now()
        if token.last_used_at is None or token.last_used_at < now - LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).filter(
                Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
            ).update(last_used_at=now)
        return TokenUser(token), token

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


class WorkspaceChoiceError(Exception):
    """A named workspace that is not usable: ``invalid`` (not an id) or not found/not a member."""

    def __init__(self, *, invalid: bool) -> None:
        super().__init__("workspace must be a workspace id" if invalid else "No such workspace.")
        self.invalid = invalid


def user_workspace(user: Any, wanted: Any) -> tuple[Workspace, str] | None:
    """The workspace a logged-in user acts in and their role there: the one ``wanted`` (an id,
    from a header, a parameter or the session) when they belong to it, else their first
    membership. Shared by the API's session auth and the UI, so both resolve it the same way.

    Raises ``WorkspaceChoiceError`` for a malformed id, or one the user is not a member of (the
    same answer as a workspace that does not exist). Superusers may act in any workspace.
    """
    memberships = Membership.objects.filter(user_id=user.pk or 0).select_related("workspace")
    if wanted is not None and wanted != "":
        try:
            wanted_id = values.parse_id(wanted)
        except ValueError:  # not an id, or beyond the ids the database can hold
            raise WorkspaceChoiceError(invalid=True) from None
        membership = memberships.filter(workspace_id=wanted_id).first()
        if membership is not None:
            return membership.workspace, membership.role
        if getattr(user, "is_superuser", False):
            workspace = Workspace.objects.filter(pk=wanted_id).first()
            if workspace is not None:
                return workspace, "admin"
        raise WorkspaceChoiceError(invalid=False)
    membership = memberships.order_by("workspace_id").first()
    if membership is None:
        return None
    return membership.workspace, membership.role


def _named_workspace(request: Request) -> str | None:
    """The workspace the request names (``X-Workspace`` header, else ``?workspace=``), if any."""
    return request.headers.get("X-Workspace") or request.query_params.get("workspace")


def _token_workspace(request: Request, token: ApiToken) -> tuple[Workspace, str]:
    """The token's workspace and role. A token that names another workspace is answered as a
    session naming one it is not a member of (404): acting in its own workspace instead stored
    a script's data in the wrong workspace with a 2xx."""
    wanted = _named_workspace(request)
    if wanted:
        try:
            wanted_id = values.parse_id(wanted)
        except ValueError:
            raise exceptions.ValidationError({"workspace": ["must be a workspace id"]}) from None
        if wanted_id != token.workspace_id:
            raise exceptions.NotFound("No such workspace.")
    return token.workspace, token.role


def _session_workspace(request: Request) -> tuple[Workspace, str] | None:
    wanted = _named_workspace(request)
    if wanted is None:
        wanted = request.session.get(SESSION_WORKSPACE_KEY) if hasattr(request, "session") else None
    try:
        return user_workspace(request.user, wanted)
    except WorkspaceChoiceError as exc:
        if exc.invalid:
            raise exceptions.ValidationError({"workspace": ["must be a workspace id"]}) from None
        raise exceptions.NotFound("No such workspace.") from None


def resolve_workspace(request: Request) -> tuple[Workspace, str] | None:
    """The workspace a request acts in and the caller's role there (cached on the request)."""
    cached = getattr(request, "_workspace_and_role", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    auth = request.auth
    if isinstance(auth, ApiToken):
        result: tuple[Workspace, str] | None = _token_workspace(request, auth)
    elif request.user and request.user.is_authenticated:
        result = _session_workspace(request)
    else:
        result = None
    request._workspace_and_role = result  # type: ignore[attr-defined]
    return result


class WorkspaceRolePermission(permissions.BasePermission):
    """Authenticated, in a workspace; viewers may only read.

    A write the role forbids on an object's URL looks the object up first: another
    workspace's object, or none, is a 404 whatever the caller's role (SPEC §2), so only the
    caller's own objects answer 403. The role is still checked here, before any handler runs.
    """

    message = "Your role in this workspace cannot change data."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        resolved = resolve_workspace(request)
        if resolved is None:
            self.message = "You are not a member of any workspace."
            return False
        workspace, role = resolved
        request.workspace = workspace  # type: ignore[attr-defined]
        request.workspace_role = role  # type: ignore[attr-defined]
        if request.method in permissions.SAFE_METHODS or role in WRITE_ROLES:
            return True
        # An object's URL of a generic view (duck-typed: importing DRF's generics here would
        # be circular, DRF's settings import this module).
        lookup = getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", None)
        if lookup and lookup in getattr(view, "kwargs", {}):
            view.get_object()  # Http404 outside the workspace
        return False


class _WorkspaceThrottle(throttling.SimpleRateThrottle):
    """Rate limits per token (or per user for sessions).

    A request one throttle refuses is not counted by the throttles after it. DRF asks every
    throttle (burst first, then sustained, as settings list them) and each records the
    requests it lets through, so the requests the burst rate refused used up the sustained
    rate's quota: a client bursting past it, then waiting as ``Retry-After`` said, was locked
    out for the rest of the minute long before the sustained rate's requests were served. A
    throttle after a refusal still refuses when its own limit is full (the 429's
    ``Retry-After`` is the longer wait), but records nothing.
    """

    def allow_request(self, request: Request, view: Any) -> bool:
        self._request = request
        return super().allow_request(request, view)

    def throttle_success(self) -> bool:
        if getattr(self._request, "_throttled", False):
            return True  # refused already: served by no one, so counted by no one
        return super().throttle_success()

    def throttle_failure(self) -> bool:
        self._request._throttled = True  # type: ignore[attr-defined]
        return super().throttle_failure()

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not (request.user and request.user.is_authenticated):
            return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class WorkspaceBurstThrottle(_WorkspaceThrottle):
    scope = "workspace_burst"


class WorkspaceSustainedThrottle(_WorkspaceThrottle):
    scope = "workspace_sustained"
