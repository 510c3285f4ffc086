"""The goal page's Progress chart data (SPEC §5), as Chart.js ``{labels, datasets}`` JSON.

django-chartjs views: each reads the same query as the page (``start``, ``end``, ``period``,
plus ``measure`` or ``unattributed``), calls ``goals.reports.goal_report`` once, and answers

* ``labels``: the periods' first days, ISO dates in the workspace's calendar (a week is
  labelled with its Monday);
* ``datasets``: Chart.js datasets whose ``data`` are JSON numbers (people are integers;
  revenue, where the goal has an impact, is a number in the goal's currency, named in the
  dataset's label), each with ``kind`` (``people``, ``revenue``, ``source``,
  ``unattributed``) and the y axis it belongs to;
* ``meta``: what the page needs to draw readable axes (titles, currency) and whether there is
  anything to draw (``empty``, ``empty_message``).

Money becomes a float only here, for drawing: the report's exact decimals stay what the
tables, the API and the CSV show.
"""

from __future__ import annotations

import colorsys
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from chartjs.views.lines import BaseLineChartView
from django.http import HttpRequest, HttpResponse, JsonResponse

from goals import reports
from goals.views.base import WorkspaceMixin
from goals.views.report_query import ReportRangeForm, view_options

#: RGB colours: the admin's blue first, then colours that stay apart in light and dark mode.
PALETTE = [
    (65, 118, 144),
    (230, 126, 34),
    (39, 174, 96),
    (142, 68, 173),
    (192, 57, 43),
    (22, 160, 133),
    (211, 84, 0),
    (41, 128, 185),
    (127, 140, 141),
    (243, 156, 18),
    (52, 73, 94),
    (233, 30, 99),
    (0, 150, 136),
    (121, 85, 72),
    (156, 204, 101),
    (63, 81, 181),
]
REVENUE_COLOR = (214, 137, 16)


def source_color(index: int) -> tuple[int, int, int]:
    """The colour of the ``index``-th source: the palette, then hues a golden angle apart, so
    a goal with many sources never draws two of them alike."""
    if index < len(PALETTE):
        return PALETTE[index]
    hue = (index * 137.508) % 360 / 360
    red, green, blue = colorsys.hls_to_rgb(hue, 0.45, 0.55)
    return round(red * 255), round(green * 255), round(blue * 255)


UNATTRIBUTED_COLOR = (150, 150, 150)


def _number(amount: Decimal) -> float | int:
    """A money amount as a JSON number (an integer when it has no fraction)."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)


class _GoalChartView(WorkspaceMixin, BaseLineChartView):
    """One report per request; subclasses say which series to draw from it."""

    remember_named_workspace = False

    report: reports.GoalReport
    options: dict[str, str]
    series: list[tuple[str, list[float | int], dict[str, Any]]]

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        goal = self.get_goal(kwargs["pk"])  # first: another workspace's goal is a 404
        form = ReportRangeForm(request.GET, workspace=self.workspace)
        if not form.is_valid():
            errors = {field: [str(e) for e in errs] for field, errs in form.errors.items()}
            return JsonResponse({"errors": errors}, status=400)
        data = form.cleaned_data
        report = reports.goal_report(
            goal=goal, start=data["start"], end=data["end"], period=data["period"]
        )
        return self.render_to_response(self.payload(report, view_options(request.GET)))

    def payload(self, report: reports.GoalReport, options: dict[str, str]) -> dict[str, Any]:
        """``{labels, datasets, meta}`` for ``report`` drawn with the view ``options``."""
        self.report, self.options = report, options
        self.series = self.get_series()
        datasets = self.get_datasets()
        meta = {
            "start": report.start.isoformat(),
            "end": report.end.isoformat(),
            "period": report.period,
            "currency": report.currency,
            "x_title": "Date" if report.period == "day" else "Week of",
            "y_title": "People",
            "revenue_title": f"Revenue ({report.currency})" if report.currency else "",
            "total_people": report.total_people,
            "achievements": report.achievements,
            "empty": not any(value for dataset in datasets for value in dataset["data"]),
            "empty_message": self.empty_message(),
            **self.extra_meta(),
        }
        return {"labels": self.get_labels(), "datasets": datasets, "meta": meta}

    # django-chartjs' hooks ---------------------------------------------------------------------

    def get_labels(self) -> list[str]:
        return [p.period_start.isoformat() for p in self.report.progress]

    def get_providers(self) -> list[str]:
        return [label for label, _, _ in self.series]

    def get_data(self) -> list[list[float | int]]:
        return [data for _, data, _ in self.series]

    def get_colors(self) -> Iterator[tuple[int, int, int]]:
        for _, _, extra in self.series:
            yield extra["color"]

    def get_dataset_options(self, index: int, color: tuple[int, int, int]) -> dict[str, Any]:
        extra = self.series[index][2]
        red, green, blue = color
        solid = f"rgb({red}, {green}, {blue})"
        return {
            "backgroundColor": f"rgba({red}, {green}, {blue}, 0.75)",
            "borderColor": solid,
            "pointBackgroundColor": solid,
            "pointBorderColor": solid,
            "borderWidth": 2,
            **{key: value for key, value in extra.items() if key != "color"},
        }

    def get_datasets(self) -> list[dict[str, Any]]:
        datasets: list[dict[str, Any]] = super().get_datasets()
        for dataset in datasets:
            dataset.pop("name", None)  # HighCharts' copy of the label
        return datasets

    # what each chart draws ---------------------------------------------------------------------

    def get_series(self) -> list[tuple[str, list[float | int], dict[str, Any]]]:
        """(label, data, dataset options incl. ``color``) per dataset."""
        raise NotImplementedError

    def empty_message(self) -> str:
        return "No achievements in this range"

    def extra_meta(self) -> dict[str, Any]:
        return {}


class TotalChartView(_GoalChartView):
    """People per period (``measure=count``) or their running sum (``cumulative``), and the
    revenue per period (or its running sum) where the goal has an impact."""

    def get_series(self) -> list[tuple[str, list[float | int], dict[str, Any]]]:
        cumulative = self.options["measure"] == "cumulative"
        progress = self.report.progress
        people: list[float | int] = [
            p.cumulative_people if cumulative else p.people for p in progress
        ]
        series: list[tuple[str, list[float | int], dict[str, Any]]] = [
            (
                "People (cumulative)" if cumulative else "People",
                people,
                {"kind": "people", "yAxisID": "people", "color": PALETTE[0]},
            )
        ]
        if self.report.currency:
            running = Decimal(0)
            revenue: list[float | int] = []
            for p in progress:
                running += p.revenue
                revenue.append(_number(running if cumulative else p.revenue))
            label = "Revenue, cumulative" if cumulative else "Revenue"
            series.append(
                (
                    f"{label} ({self.report.currency})",
                    revenue,
                    {"kind": "revenue", "yAxisID": "revenue", "color": REVENUE_COLOR},
                )
            )
        return series

    def extra_meta(self) -> dict[str, Any]:
        return {"view": "total", "measure": self.options["measure"]}


class SourcesChartView(_GoalChartView):
    """People credited to each source per period (distinct per period), and optionally the
    unattributed ones. Deleted sources are drawn too, marked in their label."""

    def get_series(self) -> list[tuple[str, list[float | int], dict[str, Any]]]:
        with_revenue = bool(self.report.currency)
        series: list[tuple[str, list[float | int], dict[str, Any]]] = []
        for index, s in enumerate(self.report.by_source):
            label = f"{s.source.name} (deleted)" if s.source.deleted else s.source.name
            extra: dict[str, Any] = {
                "kind": "source",
                "yAxisID": "people",
                "source": {"type": s.source.type, "id": s.source.id, "deleted": s.source.deleted},
                "color": source_color(index),
            }
            if with_revenue:
                extra["revenue"] = [_number(p.revenue) for p in s.progress]
            series.append((label, [p.people for p in s.progress], extra))
        if self.options["unattributed"] == "1":
            u = self.report.unattributed
            extra = {"kind": "unattributed", "yAxisID": "people", "color": UNATTRIBUTED_COLOR}
            if with_revenue:
                extra["revenue"] = [_number(p.revenue) for p in u.progress]
            series.append(("Unattributed", [p.people for p in u.progress], extra))
        return series

    def empty_message(self) -> str:
        if not self.report.by_source and self.options["unattributed"] != "1":
            return "This goal has no sources yet"
        return "No achievements in this range"

    def extra_meta(self) -> dict[str, Any]:
        return {"view": "sources", "unattributed": self.options["unattributed"] == "1"}


def chart_payload(report: reports.GoalReport, options: dict[str, str]) -> dict[str, Any]:
    """What the chart view for ``options["view"]`` answers for ``report``: the goal page
    embeds it so that opening the page reads one report, not two."""
    view = SourcesChartView() if options["view"] == "sources" else TotalChartView()
    return view.payload(report, options)
