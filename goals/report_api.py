"""``GET /api/v1/goals/{id}/report`` (SPEC §5, §7): a goal's report as JSON or CSV.

A thin view: parse the query (``start``, ``end``, ``period``), find the goal in the caller's
workspace (another workspace's goal is a 404), call ``goals.reports.goal_report`` and render it.
Every member may read it, viewers included.

CSV is chosen with ``Accept: text/csv`` or ``?format=csv`` (which wins over any ``Accept``
header, ``campaigns.negotiation``); the body is ``goals.reports.report_csv``. Errors are
always JSON, even when CSV was asked for: ``{"errors": {...}}`` in a CSV file helps nobody.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import renderers, serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns import schema as _schema  # noqa: F401  (registers the bearer scheme)
from campaigns.models import Workspace
from campaigns.scoping import WorkspaceScopedMixin
from goals import reports
from goals.criteria import SOURCE_TYPES
from goals.models import Goal, GoalStatus


class CSVRenderer(renderers.BaseRenderer):
    """Renders a CSV text prepared by the view (``goals.reports.report_csv``)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        if not isinstance(data, str):
            # The view turns every error into JSON; anything else reaching here is a bug.
            raise TypeError("CSVRenderer renders CSV text only")
        return data.encode(self.charset)


class JSONErrorsMixin:
    """Errors (400, 401, 403, 404, 429) are JSON even when CSV was asked for."""

    def finalize_response(
        self, request: Request, response: Any, *args: Any, **kwargs: Any
    ) -> Response:
        if response.status_code >= 400 and isinstance(
            getattr(request, "accepted_renderer", None), CSVRenderer
        ):
            request.accepted_renderer = renderers.JSONRenderer()
            request.accepted_media_type = "application/json"
        return super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc,no-any-return]


# --- query and body -----------------------------------------------------------------------------


#: The achievement list's reason (``goals.filters``): DRF's "Date has wrong format" also
#: answered a well-formed date the calendar lacks (2026-02-30).
_BAD_DATE = "must be a date like 2025-11-30"


class RangeQuerySerializer(serializers.Serializer):
    """``start`` and ``end``: an inclusive range of local dates (``reports.default_range``
    fills in what is missing and refuses a reversed or too long range)."""

    start = serializers.DateField(
        required=False,
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": _BAD_DATE},
        help_text="First local date (YYYY-MM-DD, inclusive). Default: 29 days before `end`.",
    )
    end = serializers.DateField(
        required=False,
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": _BAD_DATE},
        help_text="Last local date (YYYY-MM-DD, inclusive). Default: today in the workspace's "
        "time zone (or `start`, if that is later).",
    )

    def range(self, workspace: Workspace) -> tuple[date, date]:
        """The validated range with its defaults filled in (400 naming the field if bad)."""
        self.is_valid(raise_exception=True)
        return reports.default_range(
            workspace=workspace,
            start=self.validated_data.get("start"),
            end=self.validated_data.get("end"),
        )


class ReportQuerySerializer(RangeQuerySerializer):
    period = serializers.ChoiceField(
        choices=list(reports.PERIODS),
        default="day",
        error_messages={
            "invalid_choice": f'unknown period "{{input}}"; expected {" or ".join(reports.PERIODS)}'
        },
        help_text="`day`, or `week` (ISO weeks, Monday first, labelled with their Monday).",
    )


@extend_schema_field({"type": "string", "format": "decimal", "example": "1250.00"})
class MoneyField(serializers.Field):
    """Money as a plain decimal string (SPEC §7), exactly as the report computed it."""

    def to_representation(self, value: Any) -> str:
        return reports.money_text(value)


class ReportTotalPeriodSerializer(serializers.Serializer):
    period_start = serializers.DateField(help_text="The day, or the Monday of the ISO week.")
    people = serializers.IntegerField(
        help_text="People whose first achievement in the range is in this period."
    )
    cumulative_people = serializers.IntegerField(help_text="Running sum of `people`.")
    achievements = serializers.IntegerField()
    revenue = MoneyField()


class ReportSeriesPeriodSerializer(serializers.Serializer):
    period_start = serializers.DateField()
    people = serializers.IntegerField(
        help_text="Distinct people credited in this period (periods need not add up to the "
        "series' total)."
    )
    revenue = MoneyField()


class ReportSourceSerializer(serializers.Serializer):
    # One enum component for every source `type` (SPECTACULAR_SETTINGS' ENUM_NAME_OVERRIDES).
    type = serializers.ChoiceField(choices=list(SOURCE_TYPES))
    id = serializers.IntegerField()
    name = serializers.CharField()
    deleted = serializers.BooleanField()


class ReportSeriesSerializer(serializers.Serializer):
    people = serializers.IntegerField(help_text="Distinct people over the range.")
    achievements = serializers.IntegerField()
    revenue = MoneyField()
    progress = ReportSeriesPeriodSerializer(many=True)


class ReportSourceSeriesSerializer(serializers.Serializer):
    source = ReportSourceSerializer()  # type: ignore[assignment]  # a field named "source"
    people = serializers.IntegerField(
        help_text="Distinct people credited to the source over the range."
    )
    achievements = serializers.IntegerField()
    revenue = MoneyField()
    progress = ReportSeriesPeriodSerializer(many=True)


class ReportImpactSerializer(serializers.Serializer):
    amount = MoneyField()
    currency = serializers.CharField()


class GoalReportSerializer(serializers.Serializer):
    start = serializers.DateField(help_text="The range's first local date (as used).")
    end = serializers.DateField(help_text="The range's last local date (as used).")
    period = serializers.ChoiceField(choices=list(reports.PERIODS), help_text="As asked.")
    total_people = serializers.IntegerField(
        help_text="Unique people with at least one achievement in the range."
    )
    achievements = serializers.IntegerField()
    impact = ReportImpactSerializer(
        allow_null=True, help_text="Revenue of the range; null when the goal has no impact."
    )
    revenue_missing_achievements = serializers.IntegerField(
        help_text="Achievements whose impact event value was missing or not a number "
        "(counted, with revenue 0)."
    )
    progress = ReportTotalPeriodSerializer(many=True)
    by_source = ReportSourceSeriesSerializer(many=True)
    unattributed = ReportSeriesSerializer()


class SummaryGoalSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField(), help_text="Sorted by name.")
    status = serializers.ChoiceField(choices=GoalStatus.choices)


class GoalSummarySerializer(serializers.Serializer):
    goal = SummaryGoalSerializer()
    total_people = serializers.IntegerField(
        help_text="Unique people with at least one achievement in the range (the goal's "
        "report's `total_people`)."
    )
    impact = ReportImpactSerializer(
        allow_null=True,
        help_text="Revenue of the range (the report's `impact`); null when the goal has no impact.",
    )


class GoalSummaryPageSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    count = serializers.IntegerField(help_text="Goals matching the filters, on every page.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = GoalSummarySerializer(many=True)


def summary_body(row: reports.GoalSummary) -> dict[str, Any]:
    """One goal's entry of ``GET /goals/summary`` (``GoalSummarySerializer``)."""
    impact = row.impact
    return {
        "goal": {"id": row.goal_id, "name": row.name, "tags": row.tags, "status": row.status},
        "total_people": row.total_people,
        "impact": (
            {"amount": reports.money_text(impact.amount), "currency": impact.currency}
            if impact
            else None
        ),
    }


def report_body(report: reports.GoalReport) -> dict[str, Any]:
    """The JSON body of ``report``: exactly what ``GoalReportSerializer`` describes (a test
    holds them equal), built directly because a 90-day report by 20 sources has a few thousand
    period rows and DRF's serializers took three times longer than the report itself."""
    money = reports.money_text

    def series_periods(rows: list[reports.SeriesPeriod]) -> list[dict[str, Any]]:
        return [
            {
                "period_start": p.period_start.isoformat(),
                "people": p.people,
                "revenue": money(p.revenue),
            }
            for p in rows
        ]

    impact = report.impact
    unattributed = report.unattributed
    return {
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "period": report.period,
        "total_people": report.total_people,
        "achievements": report.achievements,
        "impact": (
            {"amount": money(impact.amount), "currency": impact.currency} if impact else None
        ),
        "revenue_missing_achievements": report.revenue_missing_achievements,
        "progress": [
            {
                "period_start": p.period_start.isoformat(),
                "people": p.people,
                "cumulative_people": p.cumulative_people,
                "achievements": p.achievements,
                "revenue": money(p.revenue),
            }
            for p in report.progress
        ],
        "by_source": [
            {
                "source": {
                    "type": s.source.type,
                    "id": s.source.id,
                    "name": s.source.name,
                    "deleted": s.source.deleted,
                },
                "people": s.people,
                "achievements": s.achievements,
                "revenue": money(s.revenue),
                "progress": series_periods(s.progress),
            }
            for s in report.by_source
        ],
        "unattributed": {
            "people": unattributed.people,
            "achievements": unattributed.achievements,
            "revenue": money(unattributed.revenue),
            "progress": series_periods(unattributed.progress),
        },
    }


# --- the view -----------------------------------------------------------------------------------


class GoalReportView(JSONErrorsMixin, WorkspaceScopedMixin, GenericAPIView):  # type: ignore[misc]
    queryset = Goal.objects.all()
    serializer_class = GoalReportSerializer
    renderer_classes = [renderers.JSONRenderer, renderers.BrowsableAPIRenderer, CSVRenderer]
    filter_backends: list[Any] = []
    pagination_class = None

    @extend_schema(
        summary="A goal's report",
        description=(
            "Totals, impact, progress per day or ISO week, by source and unattributed, for the "
            "inclusive local dates `start`..`end` in the workspace's time zone (default: the "
            "last 30 days ending today). `progress[].people` counts each person once, in the "
            "period of their first achievement in the range, so it adds up to `total_people`; "
            "per-source people are distinct per period. Every period has a row, empty ones "
            "included. With `Accept: text/csv` or `?format=csv` the same numbers come as CSV: "
            "one row per period x series, columns `period_start,series,source_type,source_id,"
            "source_name,deleted,people,cumulative_people,achievements,revenue,currency,"
            "revenue_missing_achievements`, `series` being `total`, `source` or "
            "`unattributed`; then one summary row per series for the whole range, with "
            "`period_start` empty: unique people (`total_people`, each series' `people`), "
            "achievements and revenue, and on the `total` one `revenue_missing_achievements`."
        ),
        tags=["goals"],
        parameters=[
            OpenApiParameter("id", int, OpenApiParameter.PATH, description="The goal's id."),
            ReportQuerySerializer,
        ],
        responses={
            (200, "application/json"): OpenApiResponse(
                response=GoalReportSerializer, description="The report."
            ),
            (200, "text/csv"): OpenApiResponse(
                response=OpenApiTypes.STR,
                description="The report as CSV (an attachment).",
                examples=[
                    OpenApiExample(
                        "CSV",
                        value=(
                            "period_start,series,source_type,source_id,source_name,deleted,"
                            "people,cumulative_people,achievements,revenue,currency,"
                            "revenue_missing_achievements\r\n"
                            "2026-03-02,total,,,,,3,3,4,120.00,EUR,\r\n"
                            "2026-03-02,source,campaign,7,Onboarding,false,2,,2,80.00,EUR,\r\n"
                            "2026-03-02,unattributed,,,,,1,,2,40.00,EUR,\r\n"
                            "2026-03-03,total,,,,,1,4,2,50.00,EUR,\r\n"
                            "2026-03-03,source,campaign,7,Onboarding,false,2,,2,50.00,EUR,\r\n"
                            "2026-03-03,unattributed,,,,,0,,0,0.00,EUR,\r\n"
                            ",total,,,,,4,4,6,170.00,EUR,1\r\n"
                            ",source,campaign,7,Onboarding,false,3,,4,130.00,EUR,\r\n"
                            ",unattributed,,,,,1,,2,40.00,EUR,\r\n"
                        ),
                        media_type="text/csv",
                    )
                ],
            ),
            400: OpenApiResponse(
                description="A bad `start`, `end` or `period`, an `end` before `start`, a "
                f"range longer than {reports.MAX_RANGE_DAYS} days, or an unknown `format`: "
                '`{"errors": {"<parameter>": ["<reason>"]}}` (always JSON).'
            ),
            404: OpenApiResponse(description="No such goal in this workspace (always JSON)."),
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        goal: Goal = self.get_object()  # first: another workspace's goal is a 404, not a 400
        query = ReportQuerySerializer(data=request.query_params)
        start, end = query.range(self.workspace)
        report = reports.goal_report(
            goal=goal, start=start, end=end, period=query.validated_data["period"]
        )
        if isinstance(request.accepted_renderer, CSVRenderer):
            filename = f"goal-{goal.pk}-report-{start}-{end}-{report.period}.csv"
            return Response(
                reports.report_csv(report),
                content_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{filename}"'},
            )
        return Response(report_body(report))
