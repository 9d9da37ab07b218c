from django.urls import path

from procedo.imports import views

app_name = "imports"
urlpatterns = [
    path("", views.import_list, name="list"),
    path("<int:job_id>/", views.import_detail, name="detail"),
    path("<int:job_id>/report.csv", views.import_report, name="report"),
]

# Each page's twin in the API (procedo/home/tests/test_api_twins.py).
API_TWINS = {
    "list": ("import_list", "import_create"),
    "detail": ("import_get",),
    "report": ("import_report",),
}
