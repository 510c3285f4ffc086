"""The admin site: Django's, opened to every workspace member (SPEC §1).

"Workspace administrators in the Django admin": a member needs no staff flag to sign in. What
they see and may change there is decided by their memberships alone (``campaigns.admin``'s
``WorkspaceScopedAdmin``); Django's own users, groups and tags keep Django's permissions, which
a member without the staff flag has none of, so those stay for superusers.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest


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
