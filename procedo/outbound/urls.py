from django.urls import path

from procedo.outbound import views

app_name = "outbound"
urlpatterns = [
    path("", views.webhook_list, name="list"),
    path("new/", views.webhook_create, name="create"),
    path("<int:subscription_id>/", views.webhook_get, name="detail"),
    path("<int:subscription_id>/edit/", views.webhook_update, name="edit"),
    path("<int:subscription_id>/pause/", views.webhook_pause, name="pause"),
    path("<int:subscription_id>/resume/", views.webhook_resume, name="resume"),
    path("<int:subscription_id>/test/", views.webhook_send_test, name="send-test"),
    path("deliveries/<int:delivery_id>/redeliver/", views.delivery_redeliver, name="redeliver"),
]

# Each page's twin in the API (procedo/home/tests/test_api_twins.py).
API_TWINS = {
    "list": ("webhook_list",),
    "create": ("webhook_create", "webhook_event_types"),
    "detail": ("webhook_get", "webhook_deliveries"),
    "edit": ("webhook_update", "webhook_get"),
    "pause": ("webhook_pause",),
    "resume": ("webhook_resume",),
    "send-test": ("webhook_send_test",),
    "redeliver": ("delivery_redeliver",),
}
