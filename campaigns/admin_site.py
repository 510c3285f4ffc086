"""The admin site: Django's, opened to every workspace member (SPEC §1).

"Workspace administrators in the Django admin": a member needs no staff flag to sign in. What
they see and may change there is decided by their memberships alone (``campaigns.admin``'s
``WorkspaceScopedAdmin``); Django's own users, groups and tags keep Django's permissions, which
a member without the staff flag has none of, so those stay for superusers.
"""

from __future__ import annotations

import zoneinfo
from typing import Any

from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone


def may_use_admin(user: Any) -> bool:
    """Active staff, or an active member of at least one workspace."""
    from campaigns.models import Membership

    if not user.is_active:
        return False
    return bool(user.is_staff) or Membership.objects.filter(user__pk=user.pk).exists()


class MemberAuthenticationForm(AdminAuthenticationForm):
    """The admin's login form, taking members as well as staff."""

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": (
            "Please enter the correct %(username)s and password of a workspace member or a "
            "staff account. Note that both fields may be case-sensitive."
        ),
    }

    def confirm_login_allowed(self, user: Any) -> None:
        AuthenticationForm.confirm_login_allowed(self, user)  # refuses inactive accounts
        if not may_use_admin(user):
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


class WorkspaceAdminSite(AdminSite):
    login_form = MemberAuthenticationForm

    def has_permission(self, request: HttpRequest) -> bool:
        return may_use_admin(request.user)


class AdminTimeZoneMiddleware:
    """The admin writes and reads times in the time zone of the workspace the user works in
    (the one the goals UI's switcher chose, else their first membership), as the goal pages
    do (SPEC §2: days are the workspace's calendar days). Django's default zone (UTC, no label)
    made the admin say "Jan. 5, 11:30 p.m." for what a Berlin goal page calls 6 Jan, 00:30,
    and its date drill-downs split days elsewhere than the reports. The response is rendered
    inside this middleware, so the zone holds for the template too."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        zone = admin_time_zone(request)
        if zone is None:
            return self.get_response(request)
        with timezone.override(zone):
            return self.get_response(request)


def admin_time_zone(request: HttpRequest) -> zoneinfo.ZoneInfo | None:
    from campaigns.auth import SESSION_WORKSPACE_KEY, WorkspaceChoiceError, user_workspace

    # The path first: other requests (the API's above all) must not load the session's user.
    if not request.path_info.startswith(reverse("admin:index")):
        return None
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    try:
        resolved = user_workspace(user, request.session.get(SESSION_WORKSPACE_KEY))
    except WorkspaceChoiceError:
        resolved = user_workspace(user, None)
    if resolved is None:
        return None
    try:
        return zoneinfo.ZoneInfo(resolved[0].time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
