"""The marketing UI's pages (server-rendered), under /goals/."""

from django.urls import path

from goals.views import attribution, base, builder, charts, dashboard, page

app_name = "goals_ui"

urlpatterns = [
    path("", dashboard.DashboardView.as_view(), name="dashboard"),
    path("workspace/", base.WorkspaceSwitchView.as_view(), name="workspace_switch"),
    path("new/", builder.GoalCreateView.as_view(), name="create"),
    path("<int:pk>/", page.GoalPageView.as_view(), name="detail"),
    path("<int:pk>/status/", page.GoalStatusView.as_view(), name="status"),
    path("<int:pk>/edit/", builder.GoalEditView.as_view(), name="edit"),
    path("<int:pk>/delete/", dashboard.GoalDeleteView.as_view(), name="delete"),
    path("<int:pk>/sources/", attribution.SourcesEditView.as_view(), name="sources"),
    path("<int:pk>/sources/add/", attribution.SourcePickerView.as_view(), name="source_picker"),
    path("<int:pk>/settings/", attribution.SettingsView.as_view(), name="settings"),
    path("<int:pk>/charts/total/", charts.TotalChartView.as_view(), name="chart_total"),
    path("<int:pk>/charts/sources/", charts.SourcesChartView.as_view(), name="chart_sources"),
]
