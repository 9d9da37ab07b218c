from django.urls import path

from procedo.integrations import views

app_name = "integrations"
urlpatterns = [
    path("", views.connection_list, name="list"),
    path("<int:connection_id>/", views.connection_detail, name="detail"),
    path("<int:connection_id>/edit/", views.connection_update, name="update"),
    path("<int:connection_id>/test/", views.connection_test, name="test"),
    path("deliveries/<int:delivery_id>/replay/", views.delivery_replay, name="replay"),
]

# Each page's twin in the API (procedo/home/tests/test_api_twins.py).
API_TWINS = {
    "list": ("connection_list", "connection_create"),
    "detail": ("connection_get", "delivery_list"),
    "update": ("connection_update",),
    "test": ("connection_test",),
    "replay": ("delivery_replay",),
}
