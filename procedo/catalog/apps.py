from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "procedo.catalog"
    label = "catalog"
    verbose_name = "Catalog"
