from django.urls import path

from procedo.analytics import views

app_name = "analytics"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("goals/", views.goals, name="goals"),
    path("goals/new/", views.goal_create, name="goal-create"),
    path("goals/<int:goal_id>/", views.goal, name="goal"),
    path("goals/<int:goal_id>/state/", views.goal_state, name="goal-state"),
]
