"""REST endpoints for goals: CRUD, the source picker and the achievement list (SPEC §7).

Thin viewset: ``WorkspaceScopedMixin`` limits every query to the caller's workspace (another
workspace's goal is a 404), ``goals.services`` validates and writes, ``goals.selectors``
reads. The report endpoint lives in ``goals.report_api``.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import renderers, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns import channels, values
from campaigns import schema as _schema  # noqa: F401  (registers the bearer scheme)
from campaigns.bulk import batched
from campaigns.errors import NotFound
from campaigns.filters import MAX_FILTER_TAGS, StableOrderingFilter
from campaigns.pagination import IdsFirstPagination
from campaigns.parsers import JSONParser
from campaigns.schema import AutoSchema
from campaigns.scoping import WorkspaceScopedMixin
from goals import reports, selectors, services
from goals.criteria import SOURCE_TYPES
from goals.filters import (
    CANDIDATE_STATUSES,
    AchievementQuery,
    GoalFilter,
    GoalSearchFilter,
    SourceCandidateQuery,
    form_errors,
)
from goals.models import Goal, GoalSource
from goals.report_api import (
    CSVRenderer,
    GoalSummaryPageSerializer,
    JSONErrorsMixin,
    RangeQuerySerializer,
    summary_body,
)
from goals.serializers import AchievementSerializer, GoalSerializer, SourceCandidateSerializer

TAGS = ["goals"]


def _param(name: str, description: str, **kwargs: Any) -> OpenApiParameter:
    return OpenApiParameter(
        name, OpenApiTypes.STR, OpenApiParameter.QUERY, description=description, **kwargs
    )


# An id of one of our rows, as ``campaigns.values.parse_id`` takes it.
_ID: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": values.MAX_ID}

CANDIDATE_PARAMETERS = [
    _param("search", "Name contains (case-insensitive)."),
    _param("name", "Name contains (case-insensitive), as on the campaign and broadcast lists."),
    # Repeats or commas, any of them: arrays of the allowed values, as the lists document them.
    _param(
        "type",
        "Only campaigns or only broadcasts (repeat or separate with commas for any of them).",
        many=True,
        enum=list(SOURCE_TYPES),
    ),
    _param(
        "status",
        "Any of these statuses (repeat or separate with commas). `draft` matches campaigns "
        "and broadcasts.",
        many=True,
        enum=CANDIDATE_STATUSES,
    ),
    _param(
        "channel",
        "Broadcasts using any of these channels (repeat or separate with commas). Campaigns "
        "have no channel list, so a channel filter leaves only broadcasts.",
        many=True,
        enum=list(channels.CHANNELS),
    ),
    OpenApiParameter(
        "tag",
        {"type": "array", "items": {"type": "string"}, "maxItems": MAX_FILTER_TAGS},
        OpenApiParameter.QUERY,
        description="Carries any of these tags (case-insensitive; repeat or separate with commas).",
    ),
]

ACHIEVEMENT_PARAMETERS = [
    OpenApiParameter(
        "start",
        OpenApiTypes.DATE,
        OpenApiParameter.QUERY,
        description="First local date (the workspace's time zone), inclusive.",
    ),
    OpenApiParameter(
        "end",
        OpenApiTypes.DATE,
        OpenApiParameter.QUERY,
        description="Last local date, inclusive.",
    ),
    OpenApiParameter(
        "date",
        OpenApiTypes.DATE,
        OpenApiParameter.QUERY,
        description="One local date: the same as `start` and `end` both that day.",
    ),
    _param(
        "source",
        "Credited to this source: `campaign:<id>` or `broadcast:<id>` (deleted ones "
        "included). One that is not the workspace's (here and in the three ways below) is a "
        "404 naming `source`.",
    ),
    _param(
        "source_type",
        "With `source_id`: credited to this source (`campaign` or `broadcast`), as the "
        "achievement's `source` names it.",
        enum=list(SOURCE_TYPES),
    ),
    OpenApiParameter("source_id", _ID, OpenApiParameter.QUERY, description="See `source_type`."),
    OpenApiParameter("campaign", _ID, OpenApiParameter.QUERY, description="Credited to it."),
    OpenApiParameter("broadcast", _ID, OpenApiParameter.QUERY, description="Credited to it."),
    OpenApiParameter(
        "attributed",
        OpenApiTypes.BOOL,
        OpenApiParameter.QUERY,
        description="`true` (or `1`): credited to a source; `false` (or `0`): unattributed.",
    ),
]

_ORDERING = "`?ordering=` one of `name`, `created_at`, `updated_at` (prefix `-` to reverse)."


#: Goals read per query while the summary's CSV is written (each chunk: goals, their tags).
SUMMARY_CSV_CHUNK = 500


class ListSchema(AutoSchema):
    """A list-level action whose body is not a bare page (the summary adds its range): its
    filters, search, ordering and pagination are documented as the goals list's are."""

    def get_filter_backends(self) -> list[Any]:
        return list(getattr(self.view, "filter_backends", []))

    def _get_pagination_parameters(self) -> list[dict[str, Any]]:
        paginator = self._get_paginator()
        return paginator.get_schema_operation_parameters(self.view) if paginator else []


def _with_current_status(goal: Goal) -> Goal:
    """The goal with the engine's columns as stored now: without a broker the recompute the
    write queued has already run by the time the response is built. A goal deleted since the
    write committed (a DELETE sent at the same time) is a 404, as it is when the deletion
    comes first (``goals.services``), not a 500."""
    try:
        goal.refresh_from_db(fields=["status", "computed_at"])
    except Goal.DoesNotExist:
        raise NotFound({"goal": ["this goal no longer exists"]}) from None
    return goal


@extend_schema_view(
    list=extend_schema(
        summary="List goals",
        description=(
            "Goals of the workspace, paginated. Filters: `tag` (any of), `name` (contains), "
            "`status` (`ready`, `recomputing`); `?search=` matches the name and description; "
            + _ORDERING
        ),
        tags=TAGS,
    ),
    create=extend_schema(
        summary="Create a goal",
        description=(
            "`name` and `criteria` are required. Invalid parts are a 400 naming each field "
            "by its dotted path (`criteria.trigger.name`, `impact.currency`, "
            "`sources.0.id`). The goal is then computed in the background "
            "(`status: recomputing`)."
        ),
        tags=TAGS,
    ),
    retrieve=extend_schema(summary="Get a goal", tags=TAGS),
    update=extend_schema(
        summary="Replace a goal",
        description=(
            "Optional fields left out keep their current values. A change to criteria, "
            "impact, attribution or sources recomputes the goal in the background; readers "
            "keep the previous result until the new one is complete."
        ),
        tags=TAGS,
    ),
    partial_update=extend_schema(
        summary="Change some fields of a goal",
        description=(
            "Fields left out keep their values. `attribution` is merged into the current "
            "settings: keys (and channels of `metrics`) left out keep their values, `null` "
            "resets one to its default. `criteria`, `impact` and `sources` are replaced whole."
        ),
        tags=TAGS,
    ),
    destroy=extend_schema(
        summary="Delete a goal",
        description="Deletes the goal with its results (achievements and attributions).",
        tags=TAGS,
    ),
)
# The mixin narrows ``request``/``queryset`` annotations that DRF's stubs type more loosely.
class GoalViewSet(JSONErrorsMixin, WorkspaceScopedMixin, viewsets.ModelViewSet):  # type: ignore[misc]
    # Tags and sources (with their campaign or broadcast) are prefetched: a page of goals is
    # a fixed number of queries, however many goals and sources it holds.
    # (django-stubs cannot resolve taggit's manager as a prefetchable relation.)
    queryset = Goal.objects.prefetch_related(  # type: ignore[misc]
        "tags",
        Prefetch(
            "sources",
            queryset=GoalSource.objects.select_related("campaign", "broadcast").order_by("id"),
        ),
    )
    serializer_class = GoalSerializer
    filter_backends = [DjangoFilterBackend, GoalSearchFilter, StableOrderingFilter]
    filterset_class = GoalFilter
    # JSON only: criteria, impact, attribution and sources are nested objects.
    parser_classes = [JSONParser]
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created_at", "updated_at"]
    ordering = ["name"]

    def get_queryset(self) -> Any:
        if self.action in {"candidates", "achievements"}:
            # Only the goal row: its tags and sources are not part of these answers.
            return Goal.objects.in_workspace(self.workspace)
        if self.action == "summary":
            # Tags only; the numbers are the summary's own annotations.
            # (django-stubs cannot resolve taggit's manager as a prefetchable relation.)
            return Goal.objects.in_workspace(self.workspace).prefetch_related("tags")  # type: ignore[misc]
        return super().get_queryset()

    def perform_create(self, serializer: serializers.BaseSerializer[Any]) -> None:
        goal = services.goal_create(workspace=self.workspace, **serializer.validated_data)
        serializer.instance = _with_current_status(goal)

    def perform_update(self, serializer: serializers.BaseSerializer[Any]) -> None:
        assert isinstance(serializer.instance, Goal)
        changes = dict(serializer.validated_data)
        if serializer.partial and "attribution" in changes:
            # A PATCH changes the settings it names and keeps the others: merged by the
            # service under the goal's lock, into the settings as stored then.
            changes["attribution_patch"] = changes.pop("attribution")
        goal = services.goal_update(goal=serializer.instance, **changes)
        serializer.instance = _with_current_status(goal)

    def perform_destroy(self, instance: Goal) -> None:
        services.goal_delete(goal=instance)

    # The actions below look the goal up without the list filters: their own query parameters
    # (``status``, ``search``) mean something else there. Their ``**kwargs`` take the router's
    # format suffix (``achievements.json``), which DRF's negotiation reads from the view.

    @extend_schema(
        summary="Source picker",
        description=(
            "Campaigns (any status, drafts included) and newsletter broadcasts of the "
            "workspace that this goal may pick as sources, as one list ordered by name, "
            "then type, then id. Deleted ones, API-triggered and in-app broadcasts are never "
            "listed. `selected` marks the goal's present sources."
        ),
        parameters=CANDIDATE_PARAMETERS,
        responses=SourceCandidateSerializer(many=True),
        tags=TAGS,
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="sources/candidates",
        url_name="source-candidates",
        filter_backends=[],
        serializer_class=SourceCandidateSerializer,
    )
    def candidates(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        goal = self.get_object()
        query = SourceCandidateQuery(request.query_params)
        if not query.is_valid():
            raise serializers.ValidationError(form_errors(query))
        rows = selectors.source_candidates(goal=goal, **query.selector_arguments())
        page = self.paginate_queryset(rows)
        assert page is not None  # the API always paginates
        body = selectors.source_candidates_decorate(goal=goal, rows=page)
        return self.get_paginated_response(SourceCandidateSerializer(body, many=True).data)

    @extend_schema(
        summary="Achievements",
        description=(
            "Every achievement of the goal's current result, by time: the person (null once "
            "deleted; `person_key` stays), the revenue, what triggered it (with the client's "
            "event or delivery id), and the credited message and source (null when "
            "unattributed)."
        ),
        parameters=ACHIEVEMENT_PARAMETERS,
        responses=AchievementSerializer(many=True),
        tags=TAGS,
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="achievements",
        url_name="achievements",
        filter_backends=[],
        serializer_class=AchievementSerializer,
        pagination_class=IdsFirstPagination,
    )
    def achievements(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        goal = self.get_object()
        query = AchievementQuery(request.query_params)
        if not query.is_valid():
            raise serializers.ValidationError(form_errors(query))
        rows = selectors.achievement_list(goal=goal, **query.selector_arguments())
        page = self.paginate_queryset(rows)
        assert page is not None
        client_ids = selectors.achievement_trigger_client_ids(goal=goal, achievements=page)
        context = {"goal": goal, "trigger_client_ids": client_ids}
        body = AchievementSerializer(page, many=True, context=context).data
        return self.get_paginated_response(body)

    @extend_schema(
        summary="Goals with their numbers",
        description=(
            "Every goal of the workspace with its headline numbers for the inclusive local "
            "dates `start`..`end` (the workspace's time zone; default: the last 30 days ending "
            "today, as the dashboard shows): `total_people` and `impact` equal the goal's "
            "report's for the same range. Filtered, searched, ordered and paginated like the "
            "goals list (" + _ORDERING + "). With `Accept: text/csv` or `?format=csv`: every "
            "matching goal (all pages; `page` and `page_size` are ignored) as CSV, columns "
            "`goal_id,goal_name,tags,status,start,end,total_people,impact_amount,currency` "
            "(tags joined with `, `; the impact cells empty without an impact)."
        ),
        parameters=[RangeQuerySerializer],
        responses={
            (200, "application/json"): OpenApiResponse(
                response=GoalSummaryPageSerializer, description="A page of goals."
            ),
            (200, "text/csv"): OpenApiResponse(
                response=OpenApiTypes.STR,
                description="Every matching goal as CSV (an attachment).",
                examples=[
                    OpenApiExample(
                        "CSV",
                        value=(
                            "goal_id,goal_name,tags,status,start,end,total_people,"
                            "impact_amount,currency\r\n"
                            '7,Trial to paid,"paid, q4",ready,2026-03-01,2026-03-30,42,'
                            "1250.00,EUR\r\n"
                            "9,Onboarding done,,recomputing,2026-03-01,2026-03-30,18,,\r\n"
                        ),
                        media_type="text/csv",
                    )
                ],
            ),
            400: OpenApiResponse(
                description="A bad `start` or `end`, an `end` before `start`, a range longer "
                f"than {reports.MAX_RANGE_DAYS} days, a bad filter, `ordering`, `page` or "
                '`page_size`, or an unknown `format`: `{"errors": {"<parameter>": '
                '["<reason>"]}}` (always JSON).'
            ),
        },
        tags=TAGS,
    )
    @action(
        detail=False,
        methods=["get"],
        url_path="summary",
        url_name="summary",
        renderer_classes=[renderers.JSONRenderer, renderers.BrowsableAPIRenderer, CSVRenderer],
        schema=ListSchema(),
    )
    def summary(self, request: Request, **kwargs: Any) -> Response:
        start, end = RangeQuerySerializer(data=request.query_params).range(self.workspace)
        goals = self.filter_queryset(
            selectors.goals_with_period_totals(self.get_queryset(), start=start, end=end)
        )
        if isinstance(request.accepted_renderer, CSVRenderer):
            # Every matching goal, read in chunks (each: the goals, their tags, their money's
            # places), so the queries grow with the goals by chunks, not one by one.
            body = [reports.summary_csv_header()]
            for chunk in batched(goals.iterator(chunk_size=SUMMARY_CSV_CHUNK), SUMMARY_CSV_CHUNK):
                rows = selectors.goal_summaries(chunk, start=start, end=end)
                body.append(reports.summary_csv_rows(rows))
            filename = f"goals-summary-{start}-{end}.csv"
            return Response(
                "".join(body),
                content_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{filename}"'},
            )
        page = self.paginate_queryset(goals)
        assert page is not None and self.paginator is not None  # the API always paginates
        results = [
            summary_body(row) for row in selectors.goal_summaries(page, start=start, end=end)
        ]
        paginated = self.paginator.get_paginated_response(results).data
        return Response({"start": start.isoformat(), "end": end.isoformat(), **paginated})
