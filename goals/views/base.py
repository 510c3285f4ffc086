"""Workspace scoping for the UI: the one place a page learns its workspace and the user's role.

Every page is login-only and acts in one workspace: the one a link names (``?workspace=``,
which also becomes the session's choice), else the one chosen with the switcher (kept in the
session, the same key the API's session auth reads), else the user's first membership.
Viewers see every page; any write (a non-safe method) from a viewer is refused with 403 before
the view runs. Goals are only ever fetched through ``goal_queryset``, so another workspace's
goal is simply not found (404).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views import View

from campaigns.auth import SESSION_WORKSPACE_KEY, WorkspaceChoiceError, user_workspace
from campaigns.models import WRITE_ROLES, Workspace
from goals.models import Goal

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class WorkspaceMixin(LoginRequiredMixin):
    """Resolves ``self.workspace`` and ``self.role``; refuses a viewer's write with 403."""

    request: HttpRequest
    workspace: Workspace
    role: str
    #: Whether a request naming its workspace also makes it the session's choice. The data a
    #: page fetches for itself (chart views, recompute status) names the page's workspace but
    #: must not switch the user's other tabs to it.
    remember_named_workspace = True

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        named = request.GET.get("workspace")
        resolved = None
        if named:
            # A link that names its workspace (from the admin, a shared URL) switches to it,
            # when the user belongs to it; otherwise the page does not exist for them.
            try:
                resolved = user_workspace(request.user, named)
            except WorkspaceChoiceError:
                raise Http404("No such workspace.") from None
            if resolved is not None and self.remember_named_workspace:
                request.session[SESSION_WORKSPACE_KEY] = resolved[0].pk
        if resolved is None:
            try:
                resolved = user_workspace(request.user, request.session.get(SESSION_WORKSPACE_KEY))
            except WorkspaceChoiceError:
                # The remembered workspace is gone or the membership was removed: fall back.
                request.session.pop(SESSION_WORKSPACE_KEY, None)
                resolved = user_workspace(request.user, None)
        if resolved is None:
            return render(request, "goals/no_workspace.html", status=403)
        self.workspace, self.role = resolved
        if request.method not in SAFE_METHODS and not self.can_edit:
            raise PermissionDenied("Your role in this workspace cannot change data.")
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]

    @property
    def can_edit(self) -> bool:
        return self.role in WRITE_ROLES

    def goal_queryset(self) -> QuerySet[Goal]:
        return Goal.objects.filter(workspace_id=self.workspace.pk)

    def get_goal(self, pk: Any) -> Goal:
        return get_object_or_404(self.goal_queryset(), pk=pk)

    def workspace_context(self) -> dict[str, Any]:
        """What ``templates/goals/base.html`` needs: the workspace, the role and the switcher."""
        user = self.request.user
        workspaces = list(
            Workspace.objects.filter(memberships__user_id=user.pk or 0).order_by("name", "pk")
        )
        return {
            "workspace": self.workspace,
            "workspace_role": self.role,
            "can_edit": self.can_edit,
            "workspaces": workspaces,
            # The admin's base template reads these to draw its header.
            "has_permission": True,
            "site_header": "Goals",
            "site_title": "Goals",
        }

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(**kwargs)  # type: ignore[misc]
        context.update(self.workspace_context())
        return context


class WorkspaceSwitchView(LoginRequiredMixin, View):
    """POST ``workspace``: remember it in the session for the UI and the API's session auth."""

    def post(self, request: HttpRequest) -> HttpResponse:
        wanted = request.POST.get("workspace", "")
        try:
            resolved = user_workspace(request.user, wanted)
        except WorkspaceChoiceError:
            raise Http404("No such workspace.") from None
        if resolved is None:
            raise Http404("No such workspace.")
        request.session[SESSION_WORKSPACE_KEY] = resolved[0].pk
        # Object pages of the old workspace would answer 404 in the new one: go to the list.
        return HttpResponseRedirect(reverse("goals_ui:dashboard"))


class LoginView(auth_views.LoginView):
    """Django's login with the admin's look, open to every member (the admin's own login
    accepts staff only)."""

    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        # ``title`` too: the admin's login template builds the page title from it ("Log in |
        # Goals"); without it the browser tab read "| Goals".
        context.update(
            app_path=self.request.get_full_path(),
            site_header="Goals",
            site_title="Goals",
            title="Log in",
        )
        return context
