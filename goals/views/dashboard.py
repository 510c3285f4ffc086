"""Placeholder: being written (issue 4)."""

from django.views import View


class DashboardView(View):
    pass


class GoalDeleteView(View):
    pass
