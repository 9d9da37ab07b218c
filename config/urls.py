from django.urls import include, path

from config.api import api

urlpatterns = [
    path("", include("procedo.home.urls")),
    path("accounts/", include("procedo.accounts.urls")),
    path("customers/", include("procedo.customers.urls")),
    path("catalog/", include("procedo.catalog.urls")),
    path("orders/", include("procedo.orders.urls")),
    path("sops/runs/", include("procedo.automation.urls")),
    path("sops/", include("procedo.sops.urls")),
    path("tasks/", include("procedo.work.urls")),
    path("imports/", include("procedo.imports.urls")),
    path("analytics/", include("procedo.analytics.urls")),
    path("loyalty/", include("procedo.loyalty.urls")),
    path("messages/", include("procedo.messaging.urls")),
    path("marketing/", include("procedo.marketing.urls")),
    path("support/", include("procedo.support.urls")),
    path("webhooks/", include("procedo.outbound.urls")),
    path("integrations/", include("procedo.integrations.urls")),
    path("hooks/", include("procedo.integrations.hook_urls")),
    path("sales/", include("procedo.sales.urls")),
    path("", include("procedo.collab.urls")),
    path("", include("procedo.knowledge.urls")),
    path("api/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the user menu's switch
]

handler404 = "procedo.home.views.not_found"
# A database gone or locked, met outside a view (in a middleware), is a 503 there too.
handler500 = "procedo.core.middleware.server_error"

# Pages with no API twin, and why (procedo/home/tests/test_api_twins.py).
PAGE_ONLY = {
    "set_language": "the browser's language; the API answers in Accept-Language's",
}
