"""Placeholder: being written (issue 4)."""

from django.views import View


class TotalChartView(View):
    pass


class SourcesChartView(View):
    pass
