from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "procedo.customers"
    label = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from procedo.customers.timeline import timeline_register

        timeline_register()
        from procedo.core.navigation import NavEntry, nav_register
        from procedo.core.search import search_provider_register
        from procedo.customers.search import customer_search

        nav_register(NavEntry("customers:list", _("Customers"), "customers.view", order=100))
        search_provider_register(customer_search)
