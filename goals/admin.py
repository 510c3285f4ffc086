"""Goals in the Django admin, scoped like every other model (campaigns.admin).

What a goal measures (criteria, impact, sources, attribution settings) is edited through the
API and the goals UI, where it is validated and recomputed; here a goal's name, description
and tags can be changed, its result inspected, and the goal deleted. Every model of the app is
here (SPEC §1): a goal's sources and its report rollups are listed read-only.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from campaigns.admin import FactAdmin, ReadOnlyInline, WorkspaceFilter, WorkspaceScopedAdmin
from goals import services
from goals.models import Achievement, Goal, GoalRollup, GoalSource


class GoalSourceInline(ReadOnlyInline):
    model = GoalSource
    fields = ("campaign", "broadcast", "created_at")
    readonly_fields = fields


@admin.register(Goal)
class GoalAdmin(WorkspaceScopedAdmin):
    list_display = (
        "name",
        "workspace",
        "status",
        "tag_list",
        "computed_at",
        "updated_at",
        "goal_page",
    )
    list_filter = (WorkspaceFilter, "status")
    list_select_related = ("workspace",)
    search_fields = ("name", "description")
    ordering = ("name", "id")
    fields = (
        "workspace",
        "name",
        "description",
        "tags",
        "criteria",
        "impact_currency",
        "impact_static",
        "impact_event_key",
        "window_days",
        "metrics",
        "count_machine",
        "status",
        "computed_at",
        "current_version",
        "requested_version",
        "created_at",
        "updated_at",
    )
    readonly_fields = (
        "criteria",
        "impact_currency",
        "impact_static",
        "impact_event_key",
        "window_days",
        "metrics",
        "count_machine",
        "status",
        "computed_at",
        "current_version",
        "requested_version",
        "created_at",
        "updated_at",
    )
    inlines = (GoalSourceInline,)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # goals are created through the API / goals UI, which validate criteria

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).prefetch_related("tags")

    @admin.display(description="page")
    def goal_page(self, obj: Goal) -> str:
        return format_html('<a href="{}">Open goal page</a>', obj.get_absolute_url())

    @admin.display(description="tags")
    def tag_list(self, obj: Goal) -> str:
        return ", ".join(sorted(tag.name for tag in obj.tags.all()))

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Writes only what the form changed (name, description), as the API's update does: a
        full save would write back the result version and status read when the form was
        posted, undoing a recompute that switched in its result meanwhile."""
        self.check_writable(request, [obj])
        obj.updated_at = timezone.now()
        self.save_changed(obj, form, "updated_at")

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.check_writable(request, [obj])
        services.goal_delete(goal=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self.check_writable(request, queryset)
        for goal in queryset:
            services.goal_delete(goal=goal)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, ...]:
        return self.summarised_deleted_objects(objs, request)


class AttributedFilter(admin.SimpleListFilter):
    title = "attributed"
    parameter_name = "attributed"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Attributed"), ("no", "Unattributed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(message__isnull=False)
        if self.value() == "no":
            return queryset.filter(message__isnull=True)
        return queryset


@admin.register(Achievement)
class AchievementAdmin(FactAdmin):
    """The current result of every goal (older versions are a recompute's scratch space)."""

    workspace_field = "goal__workspace"
    list_display = (
        "goal_link",
        "person_label",
        "achieved_at",
        "revenue",
        "revenue_missing",
        "trigger_kind",
        "message",
        "source",
        "touch_at",
    )
    list_filter = (AttributedFilter, "trigger_kind", "revenue_missing")
    list_select_related = ("goal", "person", "message", "source_campaign", "source_broadcast")
    raw_id_fields = ("person", "message")
    ordering = ("-achieved_at", "-id")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).filter(version=F("goal__current_version"))

    @admin.display(description="person")
    def person_label(self, obj: Achievement) -> str:
        return str(obj.person) if obj.person_id else f"deleted person {str(obj.person_key)[:8]}…"

    @admin.display(description="goal", ordering="goal__name")
    def goal_link(self, obj: Achievement) -> str:
        return format_html('<a href="{}">{}</a>', obj.goal.get_absolute_url(), obj.goal.name)

    @admin.display(description="source")
    def source(self, obj: Achievement) -> str:
        return str(obj.source_campaign or obj.source_broadcast or "unattributed")


class SourceTypeFilter(admin.SimpleListFilter):
    title = "type"
    parameter_name = "type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("campaign", "Campaign"), ("broadcast", "Broadcast")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "campaign":
            return queryset.filter(campaign__isnull=False)
        if self.value() == "broadcast":
            return queryset.filter(broadcast__isnull=False)
        return queryset


@admin.register(GoalSource)
class GoalSourceAdmin(FactAdmin):
    """Every goal's sources in one list. Read-only: adding or removing a source recomputes the
    goal, which the API and the goals UI do (they also check the source may be one, SPEC §4.3).
    """

    workspace_field = "goal__workspace"
    list_display = ("goal_link", "source", "source_type", "deleted", "created_at")
    list_filter = (SourceTypeFilter,)
    list_select_related = ("goal", "campaign", "broadcast")
    search_fields = ("goal__name", "campaign__name", "broadcast__name")
    fields = ("goal", "campaign", "broadcast", "created_at")
    ordering = ("goal__name", "goal_id", "id")

    @admin.display(description="goal", ordering="goal__name")
    def goal_link(self, obj: GoalSource) -> str:
        return format_html('<a href="{}">{}</a>', obj.goal.get_absolute_url(), obj.goal.name)

    @admin.display(description="source")
    def source(self, obj: GoalSource) -> str:
        return str(obj.campaign or obj.broadcast)

    @admin.display(description="type")
    def source_type(self, obj: GoalSource) -> str:
        return obj.ref[0]

    @admin.display(boolean=True, description="deleted")
    def deleted(self, obj: GoalSource) -> bool:
        source = obj.campaign or obj.broadcast
        return getattr(source, "deleted_at", None) is not None


@admin.register(GoalRollup)
class GoalRollupAdmin(FactAdmin):
    """The report rollups ``goals.reports`` reads (those of each goal's ``rollup_version``,
    the current result's once complete; not a rollup still being rebuilt), derived by the
    engine and shown for inspection only."""

    workspace_field = "goal__workspace"
    list_display = (
        "goal",
        "scope_type",
        "scope_id",
        "local_date",
        "prev_date",
        "people",
        "achievements",
        "revenue_micro",
        "revenue_missing",
    )
    list_filter = ("scope_type",)
    list_select_related = ("goal",)
    ordering = ("goal__name", "goal_id", "-local_date", "id")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).filter(version=F("goal__rollup_version"))
