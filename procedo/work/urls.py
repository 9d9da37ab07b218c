from django.urls import path

from procedo.work import manage_views, views

app_name = "work"
urlpatterns = [
    path("", views.my_work, name="mine"),
    path("open/", views.task_list, name="list"),
    path("new/", views.task_create, name="create"),
    path("export/", views.task_export, name="export"),
    path("team/", manage_views.team_work, name="team"),
    path("team/tasks/", manage_views.team_tasks, name="team_tasks"),
    path("team/unattended/", manage_views.unattended, name="unattended"),
    path("team/handover/", manage_views.handover_page, name="handover"),
    path("<int:task_id>/", views.task_detail, name="detail"),
    path("<int:task_id>/answer/", views.task_answer, name="answer"),
    path("<int:task_id>/complete/", views.task_complete, name="complete"),
    path("<int:task_id>/skip/", views.task_skip, name="skip"),
    path("<int:task_id>/take/", views.task_take, name="take"),
    path("<int:task_id>/release/", views.task_release, name="release"),
]

# Each page's twin in the API (procedo/home/tests/test_api_twins.py).
API_TWINS = {
    "mine": ("task_list",),
    "list": ("task_list",),
    "create": ("task_create",),
    "export": ("task_export",),
    "team": ("team_work",),
    "team_tasks": ("team_task_list",),
    "unattended": ("tasks_unattended",),
    "handover": ("handover_preview", "handover_do"),
    "detail": ("task_detail",),
    "answer": ("task_answer",),
    "complete": ("task_complete",),
    "skip": ("task_skip",),
    "take": ("task_take",),
    "release": ("task_release",),
}
