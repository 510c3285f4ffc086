"""Placeholder: being written (issue 4)."""

from django.views import View


class GoalPageView(View):
    pass


class GoalStatusView(View):
    pass
