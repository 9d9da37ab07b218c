from django.urls import path

from procedo.home import views

app_name = "home"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("search/", views.search, name="search"),
    path("search/suggest/", views.suggest, name="suggest"),
    path("settings/", views.business, name="business"),
    path("activity/", views.activity, name="activity"),
    path("activity/export/", views.activity_export, name="activity-export"),
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

# Each page's twin in the API: the operations that read and do what it does, through the
# same services with the same permission (procedo/home/tests/test_api_twins.py checks it).
API_TWINS = {
    "dashboard": ("dashboard",),
    "search": ("search",),
    "suggest": ("search",),
    "business": ("business_settings", "business_update"),
    "activity": ("events_recent",),
    "activity-export": ("events_export",),
    "failures": ("consumer_failures",),
    "failure-retry": ("consumer_failure_retry",),
    "failure-dismiss": ("consumer_failure_dismiss",),
}
