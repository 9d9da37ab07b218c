from django.urls import path

from procedo.analytics import views

app_name = "analytics"
urlpatterns = [
    path("", views.overview, name="overview"),
]
