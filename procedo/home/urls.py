from django.urls import path

from procedo.home import views

app_name = "home"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("search/", views.search, name="search"),
    path("settings/", views.business, name="business"),
    path("activity/", views.activity, name="activity"),
]
