from django.urls import path

from procedo.automation import views

app_name = "automation"
urlpatterns = [
    path("start/", views.run_start_manual, name="start"),
    path("of/<slug:subject_type>/<int:subject_id>/", views.subject_runs, name="subject"),
    path("<int:run_id>/", views.run_detail, name="run"),
    path("sop/<int:sop_id>/export/", views.run_export, name="export"),
    path("sop/<int:sop_id>/review/", views.sop_review, name="review"),
    path("<int:run_id>/cancel/", views.run_cancel, name="cancel"),
]

# Each page's twin in the API (procedo/home/tests/test_api_twins.py).
API_TWINS = {
    "start": ("run_start_manual",),
    "subject": ("runs_of_subject",),
    "run": ("run_detail",),
    "export": ("run_export",),
    "review": ("sop_review",),
    "cancel": ("run_cancel",),
}
