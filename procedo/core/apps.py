from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Shared pieces with no app behind them: errors, money, paging, registries, settings."""

    name = "procedo.core"
    label = "core"
    verbose_name = "Procedo core"
