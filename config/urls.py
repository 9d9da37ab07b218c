from django.urls import include, path

from config.api import api

urlpatterns = [
    path("", include("procedo.core.urls")),
    path("accounts/", include("procedo.accounts.urls")),
    path("activity/", include("procedo.events.urls")),
    path("api/", api.urls),
]
