"""The goals dashboard (every goal of the workspace with its last 30 days) and deleting a goal.

The list is searched, filtered by tag and status, sorted and paged in SQL
(``goals.filters.GoalDashboardFilter``); each goal's Total and Impact come with the goals in
the same query (``goals.selectors.goals_with_period_totals``), so a page costs the same number
of queries whatever its size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.urls import reverse
from django.views.generic import ListView, TemplateView

from goals import currencies, services
from goals.filters import GoalDashboardFilter
from goals.models import Goal, GoalStatus
from goals.reports import default_range
from goals.selectors import goals_with_period_totals, period_revenue, report_money_places
from goals.views.base import WorkspaceMixin

#: The dashboard's sorts the summary API orders by too (``?ordering=``); it has no order by
#: Total or Impact, so an export of a list sorted by them comes by name (name, then id).
EXPORT_ORDERING = {"name": "name", "created": "created_at", "updated": "updated_at"}

#: Goals per dashboard page.
PAGE_SIZE = 25
#: Columns the dashboard sorts by (``GoalSortFilter``'s keys), and the direction of a first click:
#: names read A to Z, numbers and dates biggest / newest first.
SORTABLE = {"name": "", "total": "-", "impact": "-", "updated": "-", "created": "-"}


def query_string(params: QueryDict, **changes: str | None) -> str:
    """``?...`` of ``params`` with ``changes`` applied (None removes a parameter)."""
    query = params.copy()
    for key, value in changes.items():
        query.pop(key, None)
        if value is not None:
            query[key] = value
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


@dataclass(frozen=True)
class Column:
    """A header of the list: its sort link (None: not sortable) and whether (and how) the list
    is sorted by it now."""

    key: str
    label: str
    url: str | None = None
    sorted: str = ""  # "", "ascending" or "descending"
    numeric: bool = False


class DashboardView(WorkspaceMixin, ListView):  # type: ignore[type-arg]
    template_name = "goals/dashboard.html"
    context_object_name = "goals"
    paginate_by = PAGE_SIZE
    page_kwarg = "page"

    def get_queryset(self) -> QuerySet[Goal]:
        self.start, self.end = default_range(workspace=self.workspace)
        goals = goals_with_period_totals(
            self.goal_queryset(), start=self.start, end=self.end
        ).order_by(Lower("name"), "id")  # the sort when ``o`` is invalid
        # Always bound, so the default sort (by name) applies without parameters too.
        self.filterset = GoalDashboardFilter(self.request.GET, queryset=goals)
        return self.filterset.qs.prefetch_related("tags")

    def paginate_queryset(
        self, queryset: Any, page_size: int
    ) -> tuple[Paginator, Page, list[Goal], bool]:  # type: ignore[type-arg]
        # An out-of-range page number shows the last page instead of a 404: a link to "page 3"
        # stays useful after goals were deleted.
        paginator = self.get_paginator(queryset, page_size)
        page = paginator.get_page(self.request.GET.get(self.page_kwarg))
        return paginator, page, list(page.object_list), page.has_other_pages()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        params = self.request.GET
        paginator: Paginator = context["paginator"]  # type: ignore[type-arg]
        page: Page = context["page_obj"]  # type: ignore[type-arg]
        # Amounts with the places the goal's report and the summary API write them with.
        places = report_money_places(context["goals"], start=self.start, end=self.end)
        for goal in context["goals"]:
            revenue = period_revenue(goal, places=places.get(goal.pk, 0))
            goal.total_display = f"{goal.period_people:,}"  # type: ignore[attr-defined]
            if revenue is None:
                goal.impact_display, goal.impact_value = None, ""  # type: ignore[attr-defined]
            else:
                goal.impact_display = currencies.money_display(revenue, goal.report_currency)  # type: ignore[attr-defined]
                goal.impact_value = f"{revenue:f}"  # type: ignore[attr-defined]
        form = self.filterset.form
        sort = form.cleaned_data.get("o") if form.is_valid() else ""
        sort = sort or GoalDashboardFilter.base_filters["o"].DEFAULT  # type: ignore[attr-defined]
        active_tags = [t.casefold() for t in (form.cleaned_data.get("tag") or [])]
        active_status = form.cleaned_data.get("status") or ""
        context.update(
            start=self.start,
            end=self.end,
            export_csv_url=self._export_url(form.cleaned_data, sort),
            filter_errors=form.errors,
            search=params.get("q", ""),
            columns=self._columns(params, sort),
            tags=self._tag_links(params, active_tags),
            statuses=[
                {
                    "label": "All",
                    "url": query_string(params, status=None, page=None),
                    "selected": not active_status,
                },
                *(
                    {
                        "label": label,
                        "url": query_string(params, status=value, page=None),
                        "selected": value == active_status,
                    }
                    for value, label in GoalStatus.choices
                ),
            ],
            has_active_filters=bool(params.get("q") or active_tags or active_status),
            clear_filters_url=query_string(params, q=None, tag=None, status=None, page=None),
            all_tags_url=query_string(params, tag=None, page=None),
            page_links=[
                None
                if number == Paginator.ELLIPSIS
                else (number, query_string(params, page=str(number)))
                for number in paginator.get_elided_page_range(page.number)
            ],
        )
        return context

    def _export_url(self, filters: dict[str, Any], sort: str) -> str:
        """``GET /api/v1/goals/summary`` as CSV (session auth works) for this page's range and
        the filters it applied: the ones it understood, as the list shows them."""
        params: list[tuple[str, Any]] = [
            ("format", "csv"),
            ("start", self.start.isoformat()),
            ("end", self.end.isoformat()),
            ("workspace", self.workspace.pk),
        ]
        if filters.get("q"):
            params.append(("name", filters["q"]))
        params += [("tag", tag) for tag in filters.get("tag") or []]
        if filters.get("status"):
            params.append(("status", filters["status"]))
        ordering = EXPORT_ORDERING.get(sort.removeprefix("-"))
        if ordering:
            params.append(("ordering", f"-{ordering}" if sort.startswith("-") else ordering))
        return f"{reverse('goal-summary')}?{urlencode(params)}"

    def _columns(self, params: QueryDict, sort: str) -> list[Column]:
        """The list's headers, in order; a click on the sorted column reverses it."""
        current = sort.removeprefix("-")

        def sortable(key: str, label: str, *, numeric: bool = False) -> Column:
            if key == current:
                descending = sort.startswith("-")
                state, wanted = ("descending", key) if descending else ("ascending", f"-{key}")
            else:
                state, wanted = "", f"{SORTABLE[key]}{key}"
            url = query_string(params, o=wanted, page=None)
            return Column(key, label, url, state, numeric)

        return [
            sortable("name", "Name"),
            Column("tags", "Tags"),
            sortable("total", "Total", numeric=True),
            sortable("impact", "Impact", numeric=True),
            Column("sources", "Sources", numeric=True),
            Column("status", "Status"),
            sortable("created", "Created"),
            sortable("updated", "Updated"),
        ]

    def _tag_links(self, params: QueryDict, active: list[str]) -> list[dict[str, Any]]:
        """The tags of the workspace's goals (not every workspace's: taggit's table is shared),
        case-insensitively unique, each linking to the list filtered by it."""
        names = (
            self.goal_queryset()
            .filter(tags__isnull=False)
            .order_by()
            .values_list("tags__name", flat=True)
            .distinct()
        )
        unique: dict[str, str] = {}
        for name in sorted(names, key=lambda n: (n.casefold(), n)):
            unique.setdefault(name.casefold(), name)
        return [
            {
                "name": name,
                "url": query_string(params, tag=name, page=None),
                "selected": key in active,
            }
            for key, name in unique.items()
        ]


class GoalDeleteView(WorkspaceMixin, TemplateView):
    """GET: "Delete this goal?"; POST: delete it (``goals.services.goal_delete``) and go back
    to the dashboard. Only editors and admins: a viewer gets 403 for both."""

    template_name = "goals/goal_confirm_delete.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not self.can_edit:
            raise PermissionDenied("Your role in this workspace cannot delete goals.")
        goal = self.get_goal(kwargs["pk"])
        return self.render_to_response(
            self.get_context_data(goal=goal, source_count=goal.sources.count())
        )

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        goal = self.get_goal(kwargs["pk"])
        name = goal.name
        services.goal_delete(goal=goal)
        messages.success(request, f"The goal “{name}” was deleted.")
        return HttpResponseRedirect(reverse("goals_ui:dashboard"))
