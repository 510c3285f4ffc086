"""Workspace scoping for API views: the one place a view's rows are limited to a workspace.

Views list ``queryset`` as usual; ``get_queryset`` narrows it to the request's workspace (set by
``campaigns.auth.WorkspaceRolePermission``). An id from another workspace is then simply not
found: 404, never its data.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework.request import Request

from campaigns.models import Workspace


class WorkspaceScopedMixin:
    request: Request
    queryset: QuerySet[Any] | None

    @property
    def workspace(self) -> Workspace:
        return self.request.workspace  # type: ignore[attr-defined,no-any-return]

    def get_queryset(self) -> QuerySet[Any]:
        assert self.queryset is not None, f"{type(self).__name__} needs a queryset"
        return self.queryset.all().filter(workspace_id=self.workspace.pk)

    def get_serializer_context(self) -> dict[str, Any]:
        context: dict[str, Any] = super().get_serializer_context()  # type: ignore[misc]
        context["workspace"] = self.workspace
        return context
