"""The attribution pages: "Add source" (the paginated picker), "Edit sources" and "Edit
settings" (SPEC §4.3-4.4; the product page's Attribution section).

The picker and "Edit sources" keep their whole state in the URL (filters, page, and the ticked
sources as repeated ``selected=campaign:12`` / ``remove=...`` parameters). For an editor the page
is one POST form: every paging and filter button posts the ticked boxes with the rest of the
state and is answered with a redirect to the new URL (post/redirect/get), so a selection made on
one page survives the next without JavaScript; only "Add" and "Save" write. A viewer gets the
same pages read-only, with plain links. ``picker.js`` only keeps the counters live.

Writes go through ``goals.services``: one call, one transaction, one recompute however many
sources are added or removed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.generic import TemplateView

from campaigns import channels
from campaigns.errors import DomainError, NotFound
from campaigns.models import Broadcast, Campaign
from goals import criteria as rules
from goals import selectors, services
from goals.attribution_forms import (
    AttributionSettingsForm,
    PickerQuery,
    PickerState,
    SourcesRemoveQuery,
    ref_text,
)
from goals.criteria import SourceRef
from goals.filters import CANDIDATE_STATUSES
from goals.models import Goal
from goals.views.base import WorkspaceMixin

#: Rows per page of the picker and of "Edit sources" (``GOALS_PICKER_PAGE_SIZE`` overrides).
DEFAULT_PAGE_SIZE = 20

TYPE_LABELS = {"campaign": "Campaign", "broadcast": "Broadcast"}
STATUS_LABELS = {status: status.capitalize() for status in CANDIDATE_STATUSES}
CHANNEL_LABELS = dict(channels.CHANNEL_CHOICES)


def page_size() -> int:
    size = getattr(settings, "GOALS_PICKER_PAGE_SIZE", DEFAULT_PAGE_SIZE)
    return size if isinstance(size, int) and size > 0 else DEFAULT_PAGE_SIZE


def source_label(ref: SourceRef, source: Campaign | Broadcast | None) -> str:
    kind = TYPE_LABELS[ref[0]]
    if source is None:
        return f"{kind} {ref[1]}"
    return f"{kind} “{source.name}”"


def page_links(page: Page[Any], url_of: Any) -> list[dict[str, Any]]:
    """The admin's paginator: a few pages around the current one and both ends, with "…",
    between "Previous" and "Next" (the product page's "click < or >"), each shown only where
    there is such a page. Every item is a ``go`` value for an editor's form (which posts the
    ticked boxes along) and an ``href`` for a viewer's link."""
    if page.paginator.num_pages < 2:
        return []

    def link(number: int, **extra: Any) -> dict[str, Any]:
        return {
            "number": number,
            "current": number == page.number,
            "go": f"page:{number}",
            "href": url_of(number),
            "label": str(number),
            "aria_label": f"Page {number}",
            **extra,
        }

    items: list[dict[str, Any]] = []
    if page.has_previous():
        items.append(
            link(
                page.previous_page_number(),
                step="previous",
                rel="prev",
                label="\u2039 Previous",
                aria_label="Previous page",
            )
        )
    for number in page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1):
        if number == page.paginator.ELLIPSIS:
            items.append({"ellipsis": True})
        else:
            items.append(link(int(number)))
    if page.has_next():
        items.append(
            link(
                page.next_page_number(),
                step="next",
                rel="next",
                label="Next \u203a",
                aria_label="Next page",
            )
        )
    return items


def service_errors(
    errors: Mapping[str, list[str]], refs: Sequence[SourceRef], names: Mapping[SourceRef, Any]
) -> list[str]:
    """A ``DomainError`` of ``sources_change`` as sentences naming the source (``add.N.id``
    indexes the list that was sent)."""
    sentences: list[str] = []
    for key, reasons in errors.items():
        parts = key.split(".")
        label = ""
        if len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) < len(refs):
            ref = refs[int(parts[1])]
            label = source_label(ref, names.get(ref)) + ": "
        sentences.extend(f"{label}{reason}" for reason in reasons)
    return sentences


def source_row(source: Campaign | Broadcast) -> dict[str, Any]:
    """What the tables show of a campaign or broadcast."""
    ref = rules.source_ref(source)
    return {
        "ref": ref,
        "value": ref_text(ref),
        "type": ref[0],
        "type_label": TYPE_LABELS[ref[0]],
        "name": source.name,
        "status": source.status,
        "status_label": STATUS_LABELS.get(source.status, source.status),
        "channels": [CHANNEL_LABELS.get(c, c) for c in (getattr(source, "channels", None) or [])],
        "deleted": source.deleted_at is not None,
    }


class SourcePickerView(WorkspaceMixin, TemplateView):
    """The "Add source" picker: campaigns and newsletter broadcasts the goal may pick,
    paginated by the database, searched and filtered like the API's candidates endpoint."""

    template_name = "goals/source_picker.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        goal = self.get_goal(kwargs["pk"])
        return self.render_page(goal, PickerQuery(request.GET))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        goal = self.get_goal(kwargs["pk"])
        query = PickerQuery(request.POST)
        if not query.is_valid():
            return self.render_page(goal, query)
        state = PickerState.of(query)
        go = request.POST.get("go", "")
        if go != "add":
            url = reverse("goals_ui:source_picker", args=[goal.pk])
            new_state = state.after(go)
            query_string = new_state.query_string()
            return HttpResponseRedirect(
                f"{url}?{query_string}" if query_string else url, status=303
            )

        current = self.current_refs(goal)
        picked = [ref for ref in state.selected if ref not in current]
        if not picked:
            return self.render_page(goal, query, errors=["Select at least one source to add."])
        try:
            services.sources_change(goal=goal, add=picked)
        except NotFound:
            raise Http404("This goal no longer exists.") from None
        except DomainError as exc:
            names = selectors.sources_by_ref(workspace_id=self.workspace.pk, refs=picked)
            return self.render_page(goal, query, errors=service_errors(exc.errors, picked, names))
        count = len(picked)
        messages.success(
            request,
            f"Added {count} source{'' if count == 1 else 's'}. "
            "The goal is being recomputed with them.",
        )
        return HttpResponseRedirect(reverse("goals_ui:detail", args=[goal.pk]))

    @staticmethod
    def current_refs(goal: Goal) -> set[SourceRef]:
        return {row.ref for row in goal.sources.all()}

    def render_page(
        self, goal: Goal, query: PickerQuery, *, errors: Iterable[str] = ()
    ) -> HttpResponse:
        errors = list(errors)
        valid = query.is_valid()
        state = PickerState.of(query)
        url = reverse("goals_ui:source_picker", args=[goal.pk])

        def href(new: PickerState) -> str:
            query_string = new.query_string()
            return f"{url}?{query_string}" if query_string else url

        current = self.current_refs(goal)
        picked = [ref for ref in state.selected if ref not in current]
        state = replace(state, selected=tuple(picked))

        rows: list[dict[str, Any]] = []
        page: Page[Any] | None = None
        if valid:
            candidates = selectors.source_candidates(goal=goal, **query.selector_arguments())
            page = Paginator(candidates, page_size()).get_page(state.page)
            rows = selectors.source_candidates_decorate(goal=goal, rows=page.object_list)
            for row in rows:
                row["value"] = ref_text((row["type"], row["id"]))
                row["type_label"] = TYPE_LABELS[row["type"]]
                row["status_label"] = STATUS_LABELS.get(row["status"], row["status"])
                row["channel_labels"] = [CHANNEL_LABELS.get(c, c) for c in row["channels"]]
                row["added"] = row["selected"]
                row["picked"] = (row["type"], row["id"]) in picked

        on_page = {(row["type"], row["id"]) for row in rows}
        names = (
            selectors.sources_by_ref(workspace_id=self.workspace.pk, refs=picked) if picked else {}
        )
        selection = []
        for ref in picked:
            source = names.get(ref)
            problem = (
                "not found in this workspace"
                if source is None
                else rules.source_error(source, workspace=self.workspace)
            )
            selection.append(
                {
                    "value": ref_text(ref),
                    "label": source_label(ref, source),
                    "name": source.name if source is not None else f"{ref[0]} {ref[1]}",
                    "type_label": TYPE_LABELS[ref[0]],
                    "problem": problem,
                    "on_page": ref in on_page,
                    "go": f"unselect:{ref_text(ref)}",
                    "href": href(state.after(f"unselect:{ref_text(ref)}")),
                }
            )

        def choices(name: str, options: Iterable[tuple[str, str]], active: Iterable[str]) -> Any:
            active = set(active)
            out = [
                {
                    "label": "All",
                    "selected": not active,
                    "go": f"{name}:",
                    "href": href(state.with_filter(name, "")),
                }
            ]
            for value, label in options:
                out.append(
                    {
                        "label": label,
                        "selected": value in active,
                        "go": f"{name}:{value}",
                        "href": href(state.with_filter(name, value)),
                    }
                )
            return out

        tags = selectors.source_candidate_tags(workspace_id=self.workspace.pk)
        active_tag = [t for t in tags if t.casefold() == state.tag.casefold()] or (
            [state.tag] if state.tag else []
        )
        filters = [
            {
                "name": "type",
                "title": "type",
                "choices": choices("type", TYPE_LABELS.items(), [state.type] if state.type else []),
            },
            {
                "name": "status",
                "title": "status",
                "choices": choices("status", STATUS_LABELS.items(), state.statuses),
            },
            {
                "name": "channel",
                "title": "channel",
                "help": "Broadcasts only: campaigns have no channel list.",
                "choices": choices(
                    "channel", channels.CHANNEL_CHOICES, [state.channel] if state.channel else []
                ),
            },
            {
                "name": "tag",
                "title": "tag",
                "choices": choices("tag", [(t, t) for t in tags], active_tag),
            },
        ]
        for group in filters:
            group["errors"] = query.errors.get(group["name"], [])

        context = self.get_context_data(
            goal=goal,
            title="Add sources" if self.can_edit else "Campaigns and broadcasts",
            subtitle=goal.name,
            state=state,
            rows=rows,
            page=page,
            result_count=page.paginator.count if page else 0,
            page_links=page_links(page, lambda n: href(replace(state, page=n))) if page else [],
            filters=filters,
            filtered=state.filtered,
            clear_href=href(state.after("clear")),
            selection=selection,
            hidden_selection=[item for item in selection if not item["on_page"]],
            selected_count=len(picked),
            form_errors=[
                f"{name.capitalize()}: {message}"
                for name, messages_ in query.errors.items()
                for message in messages_
            ],
            errors=errors,
            error_count=len(errors) + sum(len(m) for m in query.errors.values()),
            no_sources_yet=valid and not rows and not state.filtered and page is not None,
        )
        return self.render_to_response(context)


class SourcesEditView(WorkspaceMixin, TemplateView):
    """The "Edit sources" page: the goal's sources (deleted ones marked); the ticked ones
    are removed on Save."""

    template_name = "goals/sources_edit.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        goal = self.get_goal(kwargs["pk"])
        return self.render_page(goal, SourcesRemoveQuery(request.GET))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        goal = self.get_goal(kwargs["pk"])
        query = SourcesRemoveQuery(request.POST)
        if not query.is_valid():
            return self.render_page(goal, query)
        remove = query.cleaned_data["remove"]
        go = request.POST.get("go", "")
        if go.startswith("page:"):
            url = reverse("goals_ui:sources", args=[goal.pk])
            return HttpResponseRedirect(
                f"{url}?{self.query_string(go.removeprefix('page:'), remove)}", status=303
            )
        if not remove:
            return self.render_page(goal, query, errors=["Tick the sources to remove."])
        present = {row.ref for row in goal.sources.all()}
        removing = [ref for ref in remove if ref in present]
        try:
            services.sources_change(goal=goal, remove=removing)
        except NotFound:
            raise Http404("This goal no longer exists.") from None
        count = len(removing)
        if count:
            messages.success(
                request,
                f"Removed {count} source{'' if count == 1 else 's'}. "
                "The goal is being recomputed without them.",
            )
        return HttpResponseRedirect(reverse("goals_ui:detail", args=[goal.pk]))

    @staticmethod
    def query_string(page: Any, remove: Iterable[SourceRef]) -> str:
        pairs = [("p", str(page))] if str(page) not in ("", "1") else []
        pairs.extend(("remove", ref_text(ref)) for ref in remove)
        return urlencode(pairs)

    def render_page(
        self, goal: Goal, query: SourcesRemoveQuery, *, errors: Sequence[str] = ()
    ) -> HttpResponse:
        query.is_valid()
        data = getattr(query, "cleaned_data", {})
        remove: list[SourceRef] = list(data.get("remove") or [])
        page = Paginator(selectors.goal_source_list(goal=goal), page_size()).get_page(
            data.get("p") or 1
        )
        rows = []
        for goal_source in page.object_list:
            source = goal_source.campaign or goal_source.broadcast
            assert source is not None
            row = source_row(source)
            row["picked"] = row["ref"] in remove
            rows.append(row)
        on_page = {row["ref"] for row in rows}
        url = reverse("goals_ui:sources", args=[goal.pk])

        def href(number: int) -> str:
            query_string = self.query_string(number, remove)
            return f"{url}?{query_string}" if query_string else url

        context = self.get_context_data(
            goal=goal,
            title="Edit sources" if self.can_edit else "Sources",
            subtitle=goal.name,
            rows=rows,
            page=page,
            result_count=page.paginator.count,
            page_links=page_links(page, href),
            hidden_remove=[ref_text(ref) for ref in remove if ref not in on_page],
            remove_count=len(remove),
            current_page=page.number,
            form_errors=[
                f"{name}: {message}"
                for name, messages_ in query.errors.items()
                for message in messages_
            ],
            errors=list(errors),
            error_count=len(errors) + sum(len(m) for m in query.errors.values()),
        )
        return self.render_to_response(context)


class SettingsView(WorkspaceMixin, TemplateView):
    """The "Edit settings" page: the qualifying metric per channel, machine opens, the window."""

    template_name = "goals/settings.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        goal = self.get_goal(kwargs["pk"])
        form = AttributionSettingsForm(goal=goal, read_only=not self.can_edit)
        return self.render_page(goal, form)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        goal = self.get_goal(kwargs["pk"])
        form = AttributionSettingsForm(request.POST, goal=goal)
        if not form.is_valid():
            return self.render_page(goal, form)
        version = goal.requested_version
        try:
            goal = services.goal_update(goal=goal, attribution=form.attribution())
        except NotFound:
            raise Http404("This goal no longer exists.") from None
        except DomainError as exc:
            form.add_service_errors(exc.errors)
            return self.render_page(goal, form)
        if goal.requested_version != version:
            messages.success(
                request, "Attribution settings saved. The goal is being recomputed with them."
            )
        else:
            messages.info(request, "Attribution settings unchanged.")
        return HttpResponseRedirect(reverse("goals_ui:detail", args=[goal.pk]))

    def render_page(self, goal: Goal, form: AttributionSettingsForm) -> HttpResponse:
        context = self.get_context_data(
            goal=goal,
            title="Edit settings" if self.can_edit else "Attribution settings",
            subtitle=goal.name,
            form=form,
            default_window=rules.DEFAULT_WINDOW_DAYS,
        )
        return self.render_to_response(context)
