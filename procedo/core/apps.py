from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "procedo.core"
    label = "core"
    verbose_name = "Procedo core"
