from django.urls import path

from procedo.events import views

app_name = "events"
urlpatterns = [path("", views.log, name="log")]
