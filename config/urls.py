from django.urls import include, path

from config.api import api

urlpatterns = [
    path("", include("procedo.core.urls")),
    path("accounts/", include("procedo.accounts.urls")),
    path("activity/", include("procedo.events.urls")),
    path("customers/", include("procedo.customers.urls")),
    path("catalog/", include("procedo.catalog.urls")),
    path("orders/", include("procedo.orders.urls")),
    path("imports/", include("procedo.imports.urls")),
    path("api/", api.urls),
]
