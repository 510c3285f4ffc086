"""What a goal report request asks for: the range, the period and the chart's view options.

Read from the query string the same way by the goal page and its chart views
(``goals.views.page``, ``goals.views.charts``), so a URL copied from the page and the chart
requests it makes always describe the same report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from django import forms
from django.http import HttpRequest

from campaigns.errors import DomainError
from campaigns.models import Workspace
from goals import reports

ISO_DATE = "%Y-%m-%d"

#: The chart's view options: name -> allowed values, the first being the default. They only
#: change how the chart draws the report, so an unknown value falls back to the default.
VIEW_OPTIONS: dict[str, tuple[str, ...]] = {
    "view": ("total", "sources"),
    "measure": ("count", "cumulative"),
    "chart": ("bar", "line"),
    "unattributed": ("1", "0"),
}


def view_options(query: Mapping[str, Any]) -> dict[str, str]:
    """The chart's view options from a query string (unknown values: the defaults)."""
    options = {}
    for name, allowed in VIEW_OPTIONS.items():
        value = query.get(name)
        options[name] = value if value in allowed else allowed[0]
    return options


class ReportRangeForm(forms.Form):
    """``start`` / ``end`` / ``period`` of a report, checked as the report checks them.

    Missing dates default as ``goals.reports.default_range`` says (the last 30 local days);
    a reversed or too long range, or an unknown period, is an error on its field.
    """

    start = forms.DateField(
        required=False,
        input_formats=[ISO_DATE],
        widget=forms.DateInput(attrs={"type": "date"}, format=ISO_DATE),
    )
    end = forms.DateField(
        required=False,
        input_formats=[ISO_DATE],
        widget=forms.DateInput(attrs={"type": "date"}, format=ISO_DATE),
    )
    period = forms.ChoiceField(
        required=False,
        choices=[("day", "Daily"), ("week", "Weekly")],
        widget=forms.HiddenInput,
    )

    def __init__(self, data: Mapping[str, Any], *, workspace: Workspace) -> None:
        super().__init__(data)
        self.workspace = workspace

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        period = cleaned.get("period") or "day"
        try:
            start, end = reports.default_range(
                workspace=self.workspace, start=cleaned.get("start"), end=cleaned.get("end")
            )
            reports.check_range(start=start, end=end, period=period)
        except DomainError as exc:
            for field, reasons in exc.errors.items():
                for reason in reasons:
                    self.add_error(field if field in self.fields else None, reason)
            return cleaned
        cleaned.update(start=start, end=end, period=period)
        return cleaned


@dataclass(frozen=True)
class ReportQuery:
    """The report a request asks for, with the form that read it (errors included)."""

    form: ReportRangeForm
    start: date
    end: date
    period: reports.Period

    @classmethod
    def of(cls, request: HttpRequest, workspace: Workspace) -> ReportQuery:
        form = ReportRangeForm(request.GET, workspace=workspace)
        if form.is_valid():
            data = form.cleaned_data
            return cls(form, data["start"], data["end"], data["period"])
        start, end = reports.default_range(workspace=workspace)
        return cls(form, start, end, "day")
