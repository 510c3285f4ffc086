from django.urls import include, path, re_path

from campaigns.urls import OptionalSlashRouter
from goals.api import GoalViewSet
from goals.report_api import GoalReportView

router = OptionalSlashRouter()
router.register("goals", GoalViewSet)

urlpatterns = [
    # Before the router, so a goal viewset route can never shadow it.
    re_path(r"^goals/(?P<pk>[0-9]+)/report/?$", GoalReportView.as_view(), name="goal-report"),
    path("", include(router.urls)),
]
