"""The goal page (SPEC §5): a goal's report for a date range, and its recompute status.

The page is one ``goals.reports.goal_report`` call: the cards, the sources table and the
unattributed section read the same report the charts (``goals.views.charts``), the API and the
CSV export read, so they never disagree, and the page costs a fixed number of queries whatever
the range or the number of sources.

Everything a view shows is in its URL: ``start`` / ``end`` (local dates of the workspace,
inclusive), ``period`` (``day`` | ``week``) and the chart's view options (``view``,
``measure``, ``chart``, ``unattributed``), so a shared link reproduces it. A bad range is a
form error on the page (the default range is shown meanwhile), never a 500.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from campaigns import channels
from goals import currencies, reports, selectors
from goals.models import Goal, GoalStatus
from goals.views.base import WorkspaceMixin
from goals.views.charts import chart_payload
from goals.views.report_query import ReportQuery, view_options

PRESET_DAYS = (7, 30, 90)


# --- what the page says about a goal ------------------------------------------------------------

_OPERATORS = {
    "eq": "=",
    "neq": "≠",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "contains": "contains",
    "exists": "is set",
    "not_exists": "is not set",
}
CHANNEL_LABELS = dict(channels.CHANNEL_CHOICES)
Names = dict[str, dict[int, tuple[str, bool]]]


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def condition_text(condition: Mapping[str, Any]) -> str:
    """``plan.tier = "pro"``, ``amount ≥ 10``, ``coupon is set``."""
    op = condition.get("op", "")
    text = f"{condition.get('key', '')} {_OPERATORS.get(op, op)}"
    if "value" in condition:
        text += f" {_value_text(condition['value'])}"
    return text


def _named(names: Names, kind: str, pk: Any) -> str:
    found = names.get(kind, {}).get(pk)
    if found is None:
        return f"{kind} #{pk}"
    name, deleted = found
    return json.dumps(name, ensure_ascii=False) + (" (deleted)" if deleted else "")


def trigger_text(trigger: Mapping[str, Any], names: Names) -> str:
    """The trigger in a sentence: ``Event "plan_activated" where plan = "pro"``."""
    kind = trigger.get("type")
    if kind == "event":
        text = f"Event {_value_text(trigger.get('name', ''))}"
        conditions = [condition_text(c) for c in trigger.get("conditions") or []]
        return text + (f" where {' and '.join(conditions)}" if conditions else "")
    if kind == "attribute":
        return f"Attribute {condition_text(trigger)} starts to hold"
    if kind == "segment":
        return f"Enters segment {_named(names, 'segment', trigger.get('segment'))}"
    if kind == "message":
        text = f"A message reaches {trigger.get('metric', '')}"
        if trigger.get("channel"):
            text += f" on {CHANNEL_LABELS.get(trigger['channel'], trigger['channel'])}"
        for source in ("campaign", "broadcast"):
            if trigger.get(source) is not None:
                text += f" from {source} {_named(names, source, trigger[source])}"
        return text
    return "No trigger"


def filter_text(item: Mapping[str, Any], names: Names) -> str:
    """A filter: ``attribute country = "DE"``, ``in segment "VIP"``, ``not in segment …``."""
    if item.get("type") == "segment":
        where = "in" if item.get("in", True) else "not in"
        return f"{where} segment {_named(names, 'segment', item.get('segment'))}"
    return f"attribute {condition_text(item)}"


@dataclass(frozen=True)
class CriteriaSummary:
    trigger: str
    filters: list[str]

    def __str__(self) -> str:
        if not self.filters:
            return self.trigger
        label = "filter" if len(self.filters) == 1 else "filters"
        return f"{self.trigger}; {label}: {' and '.join(self.filters)}"


def criteria_summary(goal: Goal, names: Names) -> CriteriaSummary:
    criteria = goal.criteria if isinstance(goal.criteria, Mapping) else {}
    trigger = criteria.get("trigger")
    return CriteriaSummary(
        trigger=trigger_text(trigger, names) if isinstance(trigger, Mapping) else "No trigger",
        filters=[
            filter_text(item, names)
            for item in criteria.get("filters") or []
            if isinstance(item, Mapping)
        ],
    )


def impact_text(goal: Goal) -> str:
    if not goal.has_impact:
        return "None: the goal counts people only"
    if goal.impact_event_key:
        return f"The event's {_value_text(goal.impact_event_key)} value, in {goal.impact_currency}"
    amount = goal.impact_static if goal.impact_static is not None else Decimal(0)
    amount = amount.quantize(Decimal(1).scaleb(-currencies.money_places(goal.impact_currency)))
    return f"{currencies.money_display(amount, goal.impact_currency)} per achievement"


def window_text(days: int) -> str:
    if days == 0:
        return "0 days (the same local day as the achievement)"
    return f"{days} day{'s' if days != 1 else ''}"


def metric_rows(goal: Goal) -> list[tuple[str, str]]:
    """(channel label, qualifying metric) per channel, in the table's order (SPEC §3)."""
    metrics = goal.metrics if isinstance(goal.metrics, Mapping) else {}
    return [
        (
            label,
            str(metrics.get(channel) or channels.default_qualifying_metric(channel)).capitalize(),
        )
        for channel, label in channels.CHANNEL_CHOICES
    ]


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


# --- the views ----------------------------------------------------------------------------------


class GoalPageView(WorkspaceMixin, TemplateView):
    template_name = "goals/goal_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        goal = self.get_goal(self.kwargs["pk"])
        query = ReportQuery.of(self.request, self.workspace)
        options = view_options(self.request.GET)
        report = reports.goal_report(
            goal=goal, start=query.start, end=query.end, period=query.period
        )
        currency = report.currency
        names = selectors.criteria_reference_names(goal=goal)

        sources = [
            {
                "name": s.source.name,
                "deleted": s.source.deleted,
                "type": s.source.type,
                "people": f"{s.people:,}",
                "achievements": f"{s.achievements:,}",
                "revenue": currencies.money_display(s.revenue, currency),
                "revenue_value": reports.money_text(s.revenue),
                "share": _share(s.achievements, report.achievements),
            }
            for s in report.by_source
        ]
        unattributed = report.unattributed
        today = timezone.localdate(timezone=self.workspace.tz)
        tracking_start = timezone.localdate(settings.GOALS_TRACKING_START, self.workspace.tz)
        params = {"start": query.start, "end": query.end, "period": query.period, **options}
        context.update(
            goal=goal,
            tags=sorted((tag.name for tag in goal.tags.all()), key=str.casefold),
            criteria=criteria_summary(goal, names),
            impact_text=impact_text(goal),
            window_text=window_text(goal.window_days),
            metric_rows=metric_rows(goal),
            form=query.form,
            query=query,
            options=options,
            presets=[
                {
                    "days": days,
                    "url": "?"
                    + urlencode({**params, "start": today - timedelta(days - 1), "end": today}),
                    "active": query.end == today and (query.end - query.start).days + 1 == days,
                }
                for days in PRESET_DAYS
            ],
            report=report,
            # Nothing before the tracking start is ever counted (SPEC §4.1): say so.
            tracking_start=tracking_start if query.start < tracking_start else None,
            total_people=f"{report.total_people:,}",
            achievements=f"{report.achievements:,}",
            revenue=currencies.money_display(report.revenue, currency),
            report_revenue_value=reports.money_text(report.revenue),
            sources=sources,
            unattributed={
                "people": f"{unattributed.people:,}",
                "achievements": f"{unattributed.achievements:,}",
                "revenue": currencies.money_display(unattributed.revenue, currency),
                "revenue_value": reports.money_text(unattributed.revenue),
                "share": _share(unattributed.achievements, report.achievements),
            },
            recomputing=goal.status == GoalStatus.RECOMPUTING,
            csv_url=self.export_url(goal, query, "csv"),
            json_url=self.export_url(goal, query, "json"),
            page_state={
                "workspace": str(self.workspace.pk),
                "start": query.start.isoformat(),
                "end": query.end.isoformat(),
                "period": query.period,
                **options,
                "currency": currency,
                "status": goal.status,
                "currentVersion": goal.current_version,
                # The chart as the page opens, from this same report: no second report is read
                # until the view changes.
                "initialChart": chart_payload(report, options),
                "urls": {
                    "total": reverse("goals_ui:chart_total", args=[goal.pk]),
                    "sources": reverse("goals_ui:chart_sources", args=[goal.pk]),
                    "status": reverse("goals_ui:status", args=[goal.pk]),
                },
            },
        )
        return context

    def export_url(self, goal: Goal, query: ReportQuery, format: str) -> str:
        """The API's report (session auth works), for this page's workspace and range."""
        params = {
            "format": format,
            "start": query.start.isoformat(),
            "end": query.end.isoformat(),
            "period": query.period,
            "workspace": self.workspace.pk,
        }
        return f"{reverse('goal-report', kwargs={'pk': goal.pk})}?{urlencode(params)}"


class GoalStatusView(WorkspaceMixin, View):
    """``{status, computed_at, current_version}``: what the page polls while recomputing."""

    remember_named_workspace = False

    def get(self, request: HttpRequest, pk: int) -> JsonResponse:
        goal = self.get_goal(pk)
        response = JsonResponse(
            {
                "status": goal.status,
                "computed_at": goal.computed_at.isoformat() if goal.computed_at else None,
                "current_version": goal.current_version,
            }
        )
        response["Cache-Control"] = "no-store"
        return response
