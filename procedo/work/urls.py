from django.urls import path

from procedo.work import views

app_name = "work"
urlpatterns = [
    path("", views.task_list, name="list"),
    path("<int:task_id>/complete/", views.task_complete, name="complete"),
    path("<int:task_id>/skip/", views.task_skip, name="skip"),
]
