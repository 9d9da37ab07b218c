from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    name = "procedo.catalog"
    label = "catalog"
    verbose_name = "Catalog"

    def ready(self) -> None:
        from procedo.catalog.timeline import timeline_register

        timeline_register()
        from procedo.catalog.search import product_search
        from procedo.core.navigation import NavEntry, nav_register
        from procedo.core.search import search_provider_register

        search_provider_register(product_search)
        nav_register(NavEntry("catalog:products", _("Products"), "catalog.view", order=300))
