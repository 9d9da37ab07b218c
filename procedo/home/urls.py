from django.urls import path

from procedo.home import views

app_name = "home"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("search/", views.search, name="search"),
    path("search/suggest/", views.suggest, name="suggest"),
    path("settings/", views.business, name="business"),
    path("activity/", views.activity, name="activity"),
    path("activity/failures/", views.consumer_failures, name="failures"),
    path(
        "activity/failures/<int:failure_id>/retry/",
        views.consumer_failure_retry,
        name="failure-retry",
    ),
    path(
        "activity/failures/<int:failure_id>/dismiss/",
        views.consumer_failure_dismiss,
        name="failure-dismiss",
    ),
]
