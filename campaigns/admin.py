"""The Django admin for the messaging data, scoped to the workspaces the user belongs to.

Access comes from ``Membership`` roles (SPEC §2), not from Django model permissions, so a
non-superuser staff account needs none: any member of a workspace views its rows; admins and
editors change them (admins alone manage members and API tokens); viewers change nothing.
Superusers see and change everything. ``WorkspaceScopedAdmin`` is the one place this is decided.

Ingested facts (events, messages, metrics, attribute and segment history) are read-only here:
they arrive through the API, whose services queue the processing that keeps achievements and
reports consistent, and an edit here would skip it. People can be deleted (their personal data
goes, their history stays, SPEC §3). Deleting a campaign, broadcast or segment is the soft
delete of the API.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.contrib.contenttypes import views as contenttype_views
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import smart_split

from campaigns import channels, services
from campaigns.errors import DomainError
from campaigns.filters import MAX_SEARCH_WORDS
from campaigns.models import (
    WRITE_ROLES,
    ApiToken,
    Broadcast,
    Campaign,
    Event,
    Membership,
    Message,
    MessageMetric,
    PendingMetric,
    Person,
    PersonAttributeChange,
    Role,
    Segment,
    SegmentMembershipChange,
    Workspace,
    time_zone_names,
)
from campaigns.pagination import IdsFirstPaginator
from campaigns.sources import broadcast_kind_check, tag_rows, tags_clean

_ROLES_CACHE = "_goals_workspace_roles"


def workspace_roles(request: HttpRequest) -> dict[int, str]:
    """``{workspace id: role}`` of the requesting user, read once per request."""
    roles: dict[int, str] | None = getattr(request, _ROLES_CACHE, None)
    if roles is None:
        user = request.user
        roles = (
            dict(Membership.objects.filter(user__pk=user.pk).values_list("workspace_id", "role"))
            if user.is_authenticated
            else {}
        )
        setattr(request, _ROLES_CACHE, roles)
    return roles


class WorkspaceScopedForm(forms.ModelForm):
    """Refuses links across workspaces (a message of workspace A pointing at B's campaign)."""

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        workspace = cleaned.get("workspace")
        workspace_id = (
            workspace.pk if workspace is not None else getattr(self.instance, "workspace_id", None)
        )
        if workspace_id is None:
            return cleaned
        for name, value in cleaned.items():
            if name == "workspace" or not isinstance(value, models.Model):
                continue
            other = getattr(value, "workspace_id", None)
            if other is not None and other != workspace_id:
                self.add_error(name, "This belongs to another workspace.")
        return cleaned

    def clean_tags(self) -> list[str]:
        """The API's rule for tags (campaigns, broadcasts, goals): no blank names, no commas
        (taggit's field keeps one inside quotes), repeats dropped case-insensitively."""
        try:
            return tags_clean(self.cleaned_data.get("tags") or [])
        except DomainError as exc:
            raise forms.ValidationError(exc.errors["tags"]) from None

    def _save_m2m(self) -> None:
        # The tag rows the API would use: taggit, given names, creates missing rows with slugs
        # that may not fit their column (``sources.tag_rows``), which PostgreSQL refused.
        if isinstance(self.cleaned_data.get("tags"), list):
            self.cleaned_data["tags"] = tag_rows(self.cleaned_data["tags"])
        super()._save_m2m()  # type: ignore[misc]


class ShownFiltersChangeList(ChangeList):
    """A list filtered only by the filters it shows and its date hierarchy. Django also
    applies any other ``field__lookup`` of the query string, whose value is checked only when
    the query runs: ``?created_at__year=99999`` or ``?name__regex=[`` was a 500. Such a lookup
    is refused as a bad filter value is (Django's redirect to ``?e=1``), and so is a search or
    filter value with a NUL character."""

    def get_filters(self, request: HttpRequest) -> Any:
        # PostgreSQL cannot compare text with a NUL character (a 500); the API refuses it too.
        if any("\x00" in value for _, values in request.GET.lists() for value in values):
            raise IncorrectLookupParameters("A NUL character is no search or filter value.")
        filters = super().get_filters(request)
        remaining = set(filters[2])
        # The date hierarchy's own bounds, and a list filter's field given a value (?channel=sms).
        remaining -= {f"{self.date_hierarchy}__gte", f"{self.date_hierarchy}__lt"}
        remaining -= {f[0] if isinstance(f, tuple) else f for f in self.list_filter}
        if remaining:
            raise IncorrectLookupParameters(f"Not a filter of this list: {sorted(remaining)}")
        return filters


class WorkspaceScopedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Limits rows, choices and permissions to the user's workspaces and roles there.

    ``workspace_field`` is the path from the model to its workspace (``"pk"`` for Workspace
    itself). ``write_roles`` may add, change and delete. ``read_only`` admins only view;
    ``deletable`` lets write roles delete even then.
    """

    workspace_field = "workspace"
    write_roles: frozenset[str] = frozenset(WRITE_ROLES)
    read_only = False
    deletable = True
    form: type[forms.ModelForm] = WorkspaceScopedForm  # type: ignore[type-arg]
    list_per_page = 50

    # --- who may do what -------------------------------------------------------------------

    def visible_workspace_ids(self, request: HttpRequest) -> set[int]:
        return set(workspace_roles(request))

    def writable_workspace_ids(self, request: HttpRequest) -> set[int]:
        return {ws for ws, role in workspace_roles(request).items() if role in self.write_roles}

    def workspace_id_of(self, obj: models.Model) -> int | None:
        if self.workspace_field == "pk":
            return obj.pk  # type: ignore[no-any-return]
        *path, last = self.workspace_field.split("__")
        target: Any = obj
        for part in path:
            target = getattr(target, part)
        return getattr(target, f"{last}_id")  # type: ignore[no-any-return]

    def _may_write(self, request: HttpRequest, obj: models.Model | None) -> bool:
        if request.user.is_superuser:
            return True
        writable = self.writable_workspace_ids(request)
        if obj is None:
            return bool(writable)
        return self.workspace_id_of(obj) in writable

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or bool(workspace_roles(request))

    def has_view_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        if request.user.is_superuser:
            return True
        if obj is None:
            return bool(workspace_roles(request))
        return self.workspace_id_of(obj) in self.visible_workspace_ids(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not self.read_only and self._may_write(request, None)

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return not self.read_only and self._may_write(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.deletable and self._may_write(request, obj)

    # --- what they see -------------------------------------------------------------------

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return ShownFiltersChangeList

    def _get_obj_does_not_exist_redirect(
        self, request: HttpRequest, opts: Any, object_id: str
    ) -> HttpResponse:
        """A row the user's lists do not hold (another workspace's, or none at all) is a 404 on
        the change, delete and history pages (SPEC §2), as "View on site" answers; Django
        redirected to the index, a 302 that answered another workspace's id as a success.
        The same answer for both, so neither tells the other apart."""
        raise Http404(f"No {opts.verbose_name} with this id in your workspaces.")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(
            **{f"{self.workspace_field}__in": sorted(self.visible_workspace_ids(request))}
        )

    def formfield_for_foreignkey(
        self, db_field: models.ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> Any:
        related = db_field.related_model
        if not request.user.is_superuser:
            if related is Workspace:
                # Only workspaces the user may write to can receive a new or changed row.
                kwargs["queryset"] = Workspace.objects.filter(
                    pk__in=self.writable_workspace_ids(request)
                )
            elif any(f.name == "workspace" for f in related._meta.get_fields()):  # type: ignore[union-attr]
                kwargs["queryset"] = related._default_manager.filter(  # type: ignore[union-attr]
                    workspace__in=self.visible_workspace_ids(request)
                )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        readonly = tuple(super().get_readonly_fields(request, obj))
        # A row never moves to another workspace: its history and links stay where they are.
        if obj is not None and self.workspace_field == "workspace" and "workspace" not in readonly:
            readonly = (*readonly, "workspace")
        return readonly  # type: ignore[return-value]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        writable = self.writable_workspace_ids(request)
        if (
            self.workspace_field == "workspace"
            and "workspace" not in initial
            and len(writable) == 1
        ):
            initial["workspace"] = str(next(iter(writable)))
        return initial

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        """Django's search, each word read once and at most ``MAX_SEARCH_WORDS`` of them, as
        the API's ``?search=``: every word is one more condition in the SQL, and 1,000 made
        SQLite refuse the list (a 500)."""
        words = list(dict.fromkeys(smart_split(search_term)))
        if len(words) > MAX_SEARCH_WORDS:
            messages.error(
                request, f"Search takes at most {MAX_SEARCH_WORDS} different words at once."
            )
            return queryset.none(), False
        return super().get_search_results(request, queryset, " ".join(words))

    # --- writes --------------------------------------------------------------------------

    @staticmethod
    def save_changed(obj: models.Model, form: Any, *also: str) -> None:
        """Save only the fields the form changed (and ``also``): a full save would write back
        columns read when the form was shown (a soft delete, a revocation, a recompute's
        result version) and undo a change made to them meanwhile."""
        concrete = {f.name for f in obj._meta.concrete_fields}
        obj.save(update_fields=[*(f for f in form.changed_data if f in concrete), *also])

    def check_writable(self, request: HttpRequest, objs: Iterable[models.Model]) -> None:
        """Defence in depth behind the form's choices: refuse rows of read-only workspaces."""
        if request.user.is_superuser:
            return
        writable = self.writable_workspace_ids(request)
        if any(self.workspace_id_of(obj) not in writable for obj in objs):
            raise PermissionDenied("You cannot change data of this workspace.")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        self.check_writable(request, [obj])
        super().save_model(request, obj, form, change)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.check_writable(request, [obj])
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self.check_writable(request, queryset)
        super().delete_queryset(request, queryset)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, ...]:
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        if not request.user.is_superuser:
            writable = self.writable_workspace_ids(request)
            if any(self.workspace_id_of(obj) not in writable for obj in objs):
                perms_needed = {*perms_needed, str(self.model._meta.verbose_name_plural)}
        return deleted, model_count, perms_needed, protected

    def summarised_deleted_objects(
        self, objs: Any, request: HttpRequest, extra_counts: dict[str, int] | None = None
    ) -> tuple[Any, ...]:
        """A confirmation page that lists the objects themselves and counts, nothing more.

        Django's default walks every related row (and would list thousands of metrics or
        attribute changes, slowly); the deletes here keep history, so that list is noise.
        """
        objs = list(objs)
        perms_needed: set[str] = set()
        if not request.user.is_superuser:
            writable = self.writable_workspace_ids(request)
            if any(self.workspace_id_of(obj) not in writable for obj in objs):
                perms_needed.add(str(self.model._meta.verbose_name_plural))
        counts = {str(self.model._meta.verbose_name_plural): len(objs), **(extra_counts or {})}
        return [str(obj) for obj in objs], counts, perms_needed, []


def view_on_site(request: HttpRequest, content_type_id: int, object_id: str) -> HttpResponse:
    """The admin's "View on site" redirect (``/admin/r/<content type>/<id>/``), limited to the
    rows the user's admin lists. Django's own looks any object up by bare id: a member of one
    workspace would learn that another workspace's goal exists, and which workspace it is in
    (the goal page link names it), and its 404 messages tell "exists, has no page" from "does
    not exist". Mounted over Django's URL in ``goals_project.urls``."""
    if not request.user.is_superuser:
        try:
            model = ContentType.objects.get_for_id(content_type_id).model_class()
            model_admin = admin.site._registry.get(model) if model is not None else None
            # Django's own admins (users, groups, tags) list every row to whoever may view
            # them at all: ask for the permission too, not only for the row.
            visible = (
                model_admin is not None
                and model_admin.has_view_permission(request)
                and model_admin.get_queryset(request).filter(pk=object_id).exists()
            )
        except (ContentType.DoesNotExist, ValueError, TypeError, ValidationError):
            visible = False  # no such content type, or an id of the wrong type
        if not visible:
            raise Http404("No such object.")
    return contenttype_views.shortcut(request, content_type_id, object_id)


def _tag_list(obj: Any) -> str:
    # ``tags.all()`` reads the prefetched tags (see get_queryset): no query per row.
    return ", ".join(sorted(tag.name for tag in obj.tags.all()))


class DeletedFilter(admin.SimpleListFilter):
    """Soft-deleted rows are hidden unless asked for: "No" is the default, not "All"."""

    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "No"), ("yes", "Yes"), ("all", "All")]

    def _choice(self) -> str:
        value = self.value()
        return value if value in {"no", "yes", "all"} else "no"

    def choices(self, changelist: Any) -> Iterator[Any]:
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self._choice() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        choice = self._choice()
        if choice == "no":
            return queryset.filter(deleted_at__isnull=True)
        if choice == "yes":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


class TagFilter(admin.SimpleListFilter):
    """The tags used by the rows the user can see (not every tag of every workspace), one
    spelling per tag, matched case-insensitively as the API's ``?tag=`` is."""

    title = "tag"
    parameter_name = "tag"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        names = (
            model_admin.get_queryset(request)
            .filter(tags__isnull=False)
            .order_by()
            .values_list("tags__name", flat=True)
            .distinct()
        )
        unique: dict[str, str] = {}
        for name in sorted(names, key=lambda n: (n.casefold(), n)):
            unique.setdefault(name.casefold(), name)
        return [(name, name) for name in unique.values()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        # A subquery: a row whose tags match twice ("VIP" and "vip") is listed once.
        tagged = queryset.model.objects.filter(tags__name__iexact=value).values("pk")
        return queryset.filter(pk__in=tagged)


def _filter_by_id(queryset: QuerySet[Any], column: str, value: str | None) -> QuerySet[Any]:
    """A list filter's id from the query string. What is not written in ASCII digits is ignored
    (``str.isdigit`` takes "²", which ``int`` refuses: a 500), and a number beyond the 64 bits
    an id has matches nothing (SQLite could not take it: a 500)."""
    if not value or not (value.isascii() and value.isdigit()):
        return queryset
    number = int(value)
    return queryset.filter(**{column: number}) if number < 2**63 else queryset.none()


class WorkspaceFilter(admin.SimpleListFilter):
    """The user's workspaces, read from their memberships: Django's related-only filter would
    scan the listed table (millions of metrics) for its distinct workspaces on every page."""

    title = "workspace"
    parameter_name = "workspace"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        workspaces = Workspace.objects.all()
        if not request.user.is_superuser:
            workspaces = workspaces.filter(pk__in=workspace_roles(request))
        return [(str(ws.pk), ws.name) for ws in workspaces]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return _filter_by_id(queryset, "workspace_id", self.value())


class SegmentFilter(admin.SimpleListFilter):
    """Segments of the user's workspaces (deleted ones included: their history stays)."""

    title = "segment"
    parameter_name = "segment"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        segments = Segment.objects.select_related("workspace")
        if not request.user.is_superuser:
            segments = segments.filter(workspace__in=workspace_roles(request))
        return [(str(s.pk), f"{s} ({s.workspace})") for s in segments]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return _filter_by_id(queryset, "segment_id", self.value())


class SoftDeleteAdmin(WorkspaceScopedAdmin):
    """Campaigns, broadcasts and segments: deleting hides the row but keeps its history."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        return queryset.prefetch_related("tags") if hasattr(self.model, "tags") else queryset

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        self.check_writable(request, [obj])
        obj.updated_at = timezone.now()
        if not change:
            obj.save()
            return
        # Not `deleted_at`, read when the form was shown: a soft delete made meanwhile stays.
        self.save_changed(obj, form, "updated_at")

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.check_writable(request, [obj])
        services.source_soft_delete(source=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        objs = list(queryset)
        self.check_writable(request, objs)
        for obj in objs:
            services.source_soft_delete(source=obj)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, ...]:
        return self.summarised_deleted_objects(objs, request)


@admin.register(Campaign)
class CampaignAdmin(SoftDeleteAdmin):
    list_display = (
        "name", "status", "tag_list", "workspace", "created_at", "updated_at", "deleted_at",
    )  # fmt: skip
    list_filter = (DeletedFilter, "status", TagFilter, WorkspaceFilter)
    list_select_related = ("workspace",)
    search_fields = ("name",)
    date_hierarchy = "created_at"
    fields = ("workspace", "name", "status", "tags", "created_at", "updated_at", "deleted_at")
    readonly_fields = ("created_at", "updated_at", "deleted_at")
    ordering = ("name", "id")

    @admin.display(description="tags")
    def tag_list(self, obj: Campaign) -> str:
        return _tag_list(obj)


class BroadcastForm(WorkspaceScopedForm):
    channels = forms.MultipleChoiceField(
        choices=channels.CHANNEL_CHOICES, widget=forms.CheckboxSelectMultiple, required=False
    )

    class Meta:
        model = Broadcast
        fields = ("workspace", "name", "kind", "status", "channels", "tags")

    def clean_kind(self) -> str:
        kind: str = self.cleaned_data["kind"]
        try:
            broadcast_kind_check(broadcast=self.instance, kind=kind)
        except DomainError as exc:
            raise forms.ValidationError(exc.errors["kind"]) from None
        return kind


class ChannelFilter(admin.SimpleListFilter):
    title = "channel"
    parameter_name = "channel"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(channels.CHANNEL_CHOICES)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value not in channels.CHANNEL_CHAINS:
            return queryset
        # A quoted substring of the JSON list: the same match on SQLite and PostgreSQL.
        return queryset.filter(channels__icontains=f'"{value}"')


@admin.register(Broadcast)
class BroadcastAdmin(SoftDeleteAdmin):
    form = BroadcastForm
    list_display = (
        "name", "kind", "status", "channel_list", "tag_list", "workspace", "created_at",
        "updated_at", "deleted_at",
    )  # fmt: skip
    list_filter = (DeletedFilter, "kind", "status", ChannelFilter, TagFilter, WorkspaceFilter)
    list_select_related = ("workspace",)
    search_fields = ("name",)
    date_hierarchy = "created_at"
    fields = (
        "workspace", "name", "kind", "status", "channels", "tags", "created_at", "updated_at",
        "deleted_at",
    )  # fmt: skip
    readonly_fields = ("created_at", "updated_at", "deleted_at")
    ordering = ("name", "id")

    @admin.display(description="channels")
    def channel_list(self, obj: Broadcast) -> str:
        return ", ".join(obj.channels or [])

    @admin.display(description="tags")
    def tag_list(self, obj: Broadcast) -> str:
        return _tag_list(obj)


@admin.register(Segment)
class SegmentAdmin(SoftDeleteAdmin):
    list_display = ("name", "workspace", "created_at", "updated_at", "deleted_at")
    list_filter = (DeletedFilter, WorkspaceFilter)
    list_select_related = ("workspace",)
    search_fields = ("name",)
    fields = ("workspace", "name", "created_at", "updated_at", "deleted_at")
    readonly_fields = ("created_at", "updated_at", "deleted_at")
    ordering = ("name", "id")


# --- workspaces, members, tokens -----------------------------------------------------------


class WorkspaceForm(forms.ModelForm):
    time_zone = forms.ChoiceField(
        choices=[(tz, tz) for tz in sorted(time_zone_names())], initial="UTC"
    )

    class Meta:
        model = Workspace
        fields = ("name", "time_zone")


@admin.register(Workspace)
class WorkspaceAdmin(WorkspaceScopedAdmin):
    """Workspaces are created by superusers (or ``manage.py create_workspace``); their admins
    rename them and change the time zone. Deleting one is not offered here: it would erase
    every achievement and report of a team with one click."""

    form = WorkspaceForm
    workspace_field = "pk"
    write_roles = frozenset({Role.ADMIN})
    deletable = False
    list_display = ("name", "time_zone", "member_count", "created_at")
    search_fields = ("name",)
    readonly_fields = ("created_at",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).annotate(member_count=Count("memberships"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    @admin.display(description="members", ordering="member_count")
    def member_count(self, obj: Any) -> int:
        return obj.member_count  # type: ignore[no-any-return]


@admin.register(Membership)
class MembershipAdmin(WorkspaceScopedAdmin):
    """Members of a workspace see its members; only its admins add, change or remove them."""

    write_roles = frozenset({Role.ADMIN})
    list_display = ("user", "workspace", "role", "created_at")
    list_filter = ("role", WorkspaceFilter)
    list_select_related = ("user", "workspace")
    search_fields = ("user__username", "user__email", "workspace__name")
    fields = ("workspace", "user", "role", "created_at")
    readonly_fields = ("created_at",)

    def formfield_for_foreignkey(
        self, db_field: models.ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> Any:
        if db_field.name == "user" and not request.user.is_superuser:
            # A workspace admin adds people who already share a workspace with them; new
            # accounts (and their first membership) are a superuser's job. Listing every user
            # of the installation would leak other tenants' staff.
            kwargs["queryset"] = (
                get_user_model()
                .objects.filter(memberships__workspace__in=self.visible_workspace_ids(request))
                .distinct()
                .order_by("username")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        readonly = super().get_readonly_fields(request, obj)
        return (*readonly, "user") if obj is not None else readonly


class ActiveTokenFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("active", "Active"), ("revoked", "Revoked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiToken)
class ApiTokenAdmin(WorkspaceScopedAdmin):
    """Tokens are issued and revoked by workspace admins. The secret is generated on save and
    shown once, in a message; only its hash is stored."""

    write_roles = frozenset({Role.ADMIN})
    list_display = (
        "name", "prefix", "workspace", "role", "is_active", "created_by", "created_at",
        "last_used_at", "revoked_at",
    )  # fmt: skip
    list_filter = (ActiveTokenFilter, "role", WorkspaceFilter)
    list_select_related = ("workspace", "created_by")
    search_fields = ("name", "=prefix")
    readonly_fields = (
        "prefix", "token_hash", "created_by", "created_at", "last_used_at", "revoked_at",
    )  # fmt: skip
    actions = ("revoke_tokens",)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ("workspace", "name", "role")
        return ("workspace", "name", "role", *self.readonly_fields)

    @admin.display(boolean=True, description="active")
    def is_active(self, obj: ApiToken) -> bool:
        return obj.is_active

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            # Only what the form changed (name, role): a full save would write back the
            # `revoked_at` read when the form was posted and undo a revocation made meanwhile.
            self.check_writable(request, [obj])
            self.save_changed(obj, form)
            return
        secret = obj.set_new_secret()
        obj.created_by = request.user
        super().save_model(request, obj, form, change)
        messages.warning(
            request,
            format_html(
                "The secret of token “{}” is <code>{}</code>. Copy it now; it won't be shown "
                "again (only its hash is stored).",
                obj.name,
                secret,
            ),
        )

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        tokens = list(queryset)
        allowed = [t for t in tokens if self.has_change_permission(request, t)]
        revoked = 0
        for token in allowed:
            if token.revoked_at is None:
                services.api_token_revoke(token=token)
                revoked += 1
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)
        if len(allowed) < len(tokens):
            self.message_user(
                request,
                f"Skipped {len(tokens) - len(allowed)} token(s) of workspaces you do not "
                "administer.",
                messages.WARNING,
            )


# --- people and ingested facts (read-only) ---------------------------------------------------


class ReadOnlyInline(admin.TabularInline):  # type: ignore[type-arg]
    """History rows shown on their parent's page. The parent's admin has already checked that
    the user may view it."""

    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AttributeChangeInline(ReadOnlyInline):
    model = PersonAttributeChange
    fields = ("timestamp", "attributes", "received_at")
    readonly_fields = fields
    ordering = ("-timestamp",)


class FactAdmin(WorkspaceScopedAdmin):
    """Raw rows as received by the API: viewable, never edited here.

    These tables hold millions of rows, so search is by exact value only, and each term is
    matched through an index: ``search_columns`` of the row equal to the term, or a related row
    (``search_related``: foreign key -> (model, column)) found first and matched by id. (An OR
    across a join, what ``search_fields = ["=person__identifier", ...]`` produces, makes the
    database scan the whole table.)
    """

    read_only = True
    deletable = False
    paginator = IdsFirstPaginator
    # Counting twice (filtered and total) doubles the cost of a page on tables of millions.
    show_full_result_count = False
    search_columns: tuple[str, ...] = ()
    search_related: dict[str, tuple[type[models.Model], str]] = {}

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        if not term or not (self.search_columns or self.search_related):
            return super().get_search_results(request, queryset, search_term)
        condition = Q()
        for column in self.search_columns:
            condition |= Q(**{column: term})
        for fk, (model, column) in self.search_related.items():
            related = model._default_manager.filter(**{column: term})
            if not request.user.is_superuser:
                related = related.filter(workspace__in=self.visible_workspace_ids(request))
            ids = list(related.values_list("pk", flat=True)[:100])
            if ids:
                condition |= Q(**{f"{fk}__in": ids})
        return queryset.filter(condition) if condition else queryset.none(), False


def _person_label(obj: Any) -> str:
    if obj.person_id is not None:
        return str(obj.person)
    if obj.person_key is not None:
        return f"deleted person {str(obj.person_key)[:8]}…"
    return "anonymous"


@admin.register(Person)
class PersonAdmin(FactAdmin):
    """Deleting a person removes their personal data; their history keeps counting under an
    anonymous key (SPEC §3)."""

    deletable = True
    list_display = ("identifier", "email", "workspace", "created_at", "updated_at")
    list_filter = (WorkspaceFilter,)
    list_select_related = ("workspace",)
    search_fields = ("=identifier", "email")
    date_hierarchy = "created_at"
    ordering = ("-id",)
    fields = ("workspace", "identifier", "email", "attributes", "key", "created_at", "updated_at")
    inlines = (AttributeChangeInline,)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.check_writable(request, [obj])
        services.person_delete(person=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        people = list(queryset)
        self.check_writable(request, people)
        for person in people:
            services.person_delete(person=person)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, ...]:
        objs = list(objs)
        history = PersonAttributeChange.objects.filter(person__in=objs).count()
        return self.summarised_deleted_objects(objs, request, {"attribute changes": history})


@admin.register(PersonAttributeChange)
class PersonAttributeChangeAdmin(FactAdmin):
    list_display = ("person", "timestamp", "attributes", "workspace")
    list_filter = (WorkspaceFilter,)
    list_select_related = ("workspace", "person")
    search_fields = ("=person__identifier",)
    search_related = {"person": (Person, "identifier")}
    search_help_text = "A person's exact identifier."
    raw_id_fields = ("person",)
    date_hierarchy = "timestamp"
    ordering = ("-id",)


@admin.register(Event)
class EventAdmin(FactAdmin):
    list_display = ("name", "person_label", "timestamp", "data", "client_id", "workspace")
    # A fixed date filter rather than date_hierarchy, which scans the whole table for the
    # months and days it offers on every page load.
    list_filter = (("timestamp", admin.DateFieldListFilter), WorkspaceFilter)
    list_select_related = ("workspace", "person")
    search_fields = ("=name", "=client_id", "=person__identifier")
    search_columns = ("name", "client_id")
    search_related = {"person": (Person, "identifier")}
    search_help_text = "An exact event name, event id or person identifier."
    raw_id_fields = ("person",)
    ordering = ("-id",)

    @admin.display(description="person")
    def person_label(self, obj: Event) -> str:
        return _person_label(obj)


@admin.register(SegmentMembershipChange)
class SegmentMembershipChangeAdmin(FactAdmin):
    list_display = ("segment", "action", "person_label", "timestamp", "workspace")
    list_filter = ("action", SegmentFilter, WorkspaceFilter)
    list_select_related = ("workspace", "segment", "person")
    search_fields = ("=person__identifier",)
    search_related = {"person": (Person, "identifier")}
    search_help_text = "A person's exact identifier."
    raw_id_fields = ("person", "segment")
    date_hierarchy = "timestamp"
    ordering = ("-id",)

    @admin.display(description="person")
    def person_label(self, obj: SegmentMembershipChange) -> str:
        return _person_label(obj)


class MessageSourceFilter(admin.SimpleListFilter):
    title = "source"
    parameter_name = "source"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("campaign", "Campaign"),
            ("broadcast", "Broadcast"),
            ("transactional", "Transactional (none)"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value == "campaign":
            return queryset.filter(campaign__isnull=False)
        if value == "broadcast":
            return queryset.filter(broadcast__isnull=False)
        if value == "transactional":
            return queryset.filter(campaign__isnull=True, broadcast__isnull=True)
        return queryset


class MetricInline(ReadOnlyInline):
    model = MessageMetric
    fields = ("metric", "timestamp", "machine", "received_at")
    readonly_fields = fields
    ordering = ("timestamp",)


REACHED_FIELDS = (
    "reached_sent_at",
    "reached_delivered_at",
    "reached_opened_at",
    "reached_opened_human_at",
    "reached_clicked_at",
    "reached_clicked_human_at",
)


@admin.register(Message)
class MessageAdmin(FactAdmin):
    list_display = (
        "client_id", "channel", "person_label", "source", "sent_at", "furthest_step",
        "workspace",
    )  # fmt: skip
    list_filter = (
        ("sent_at", admin.DateFieldListFilter),  # not date_hierarchy: see EventAdmin
        "channel",
        MessageSourceFilter,
        "anonymous",
        WorkspaceFilter,
    )
    list_select_related = ("workspace", "person", "campaign", "broadcast")
    search_fields = ("=client_id", "=person__identifier")
    search_columns = ("client_id",)
    search_related = {"person": (Person, "identifier")}
    search_help_text = "An exact message id or person identifier."
    raw_id_fields = ("person", "campaign", "broadcast")
    ordering = ("-id",)
    fields = (
        "workspace", "client_id", "channel", "person", "person_key", "anonymous", "campaign",
        "broadcast", "sent_at", "received_at", *REACHED_FIELDS,
    )  # fmt: skip
    readonly_fields = REACHED_FIELDS
    inlines = (MetricInline,)

    @admin.display(description="person")
    def person_label(self, obj: Message) -> str:
        return _person_label(obj)

    @admin.display(description="reached")
    def furthest_step(self, obj: Message) -> str:
        """The last step of the chain the message reached (from the derived columns)."""
        for step in reversed(channels.CHAIN):
            if getattr(obj, f"reached_{step}_at") is None:
                continue
            if (
                step in channels.MACHINE_METRICS
                and getattr(obj, f"reached_{step}_human_at") is None
            ):
                return f"{step} (machine only)"
            return step
        return "-"


@admin.register(MessageMetric)
class MessageMetricAdmin(FactAdmin):
    list_display = ("message", "metric", "machine", "timestamp", "workspace")
    list_filter = ("metric", "machine", WorkspaceFilter)
    list_select_related = ("workspace", "message")
    search_fields = ("=message__client_id",)
    search_related = {"message": (Message, "client_id")}
    search_help_text = "A message's exact id."
    raw_id_fields = ("message",)
    ordering = ("-id",)


@admin.register(PendingMetric)
class PendingMetricAdmin(FactAdmin):
    """Metrics waiting for a message that has not arrived (yet); stored on it when it does."""

    list_display = (
        "message_client_id", "metric", "machine", "timestamp", "received_at", "workspace",
    )  # fmt: skip
    list_filter = ("metric", "machine", WorkspaceFilter)
    list_select_related = ("workspace",)
    search_fields = ("=message_client_id",)
    search_columns = ("message_client_id",)
    search_help_text = "A message's exact id."
    ordering = ("-id",)
