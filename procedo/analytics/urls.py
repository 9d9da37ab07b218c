from django.urls import path

from procedo.analytics import views

app_name = "analytics"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("kpi/<slug:code>/", views.kpi, name="kpi"),
    path("kpi/<slug:code>/csv/", views.kpi_csv, name="kpi-csv"),
    path("goals/", views.goals, name="goals"),
    path("goals/new/", views.goal_create, name="goal-create"),
    path("goals/<int:goal_id>/", views.goal, name="goal"),
    path("goals/<int:goal_id>/state/", views.goal_state, name="goal-state"),
]

# Each page's API operations (procedo/home/tests/test_api_twins.py).
API_TWINS = {
    "overview": ("kpi_catalog", "kpi_reading", "cohorts", "countries"),
    "kpi": ("kpi_series_read",),
    "kpi-csv": ("kpi_series_csv",),
    "goals": ("goals",),
    "goal-create": ("goal_create",),
    "goal": ("goal_detail",),
    "goal-state": ("goal_update",),
}
