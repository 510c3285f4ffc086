"""Create and edit a goal: the builder (``goals.forms.GoalForm``), which writes through
``goals.services`` and leads to the goal's page, as the product page describes ("Click Save.
At first, you'll see a revenue report").

Only editors and admins build goals: a viewer's GET is refused like their POST (403), since the
page offers nothing but a change.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.generic import TemplateView

from goals.forms import GoalForm
from goals.models import Goal
from goals.views.base import WorkspaceMixin


class _BuilderView(WorkspaceMixin, TemplateView):
    template_name = "goals/goal_form.html"

    def goal(self) -> Goal | None:
        return None

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not self.can_edit:
            raise PermissionDenied("Your role in this workspace cannot change goals.")
        goal = self.goal()
        return self.render(GoalForm(workspace=self.workspace, goal=goal), goal)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        goal = self.goal()
        form = GoalForm(request.POST, workspace=self.workspace, goal=goal)
        version = goal.requested_version if goal is not None else None
        if form.is_valid():
            saved = form.save()
            if saved is not None:
                if goal is None:
                    text = f"Goal “{saved.name}” created. Its achievements are being computed."
                elif saved.requested_version != version:
                    text = "Goal saved. It is being recomputed with the changes."
                else:
                    text = "Goal saved."
                messages.success(request, text)
                return HttpResponseRedirect(reverse("goals_ui:detail", args=[saved.pk]))
        return self.render(form, goal)

    def render(self, form: GoalForm, goal: Goal | None) -> HttpResponse:
        context = self.get_context_data(
            form=form,
            goal=goal,
            title=f"Edit “{goal.name}”" if goal is not None else "Create goal",
        )
        return self.render_to_response(context)


class GoalCreateView(_BuilderView):
    pass


class GoalEditView(_BuilderView):
    def goal(self) -> Goal | None:
        return self.get_goal(self.kwargs["pk"])
