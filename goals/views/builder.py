"""Placeholder: being written (issue 4)."""

from django.views import View


class GoalCreateView(View):
    pass


class GoalEditView(View):
    pass
