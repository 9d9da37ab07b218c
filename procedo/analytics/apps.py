from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "procedo.analytics"
    verbose_name = _("Analytics")

    def ready(self) -> None:
        from procedo.core.navigation import NavEntry, nav_register

        nav_register(NavEntry("analytics:overview", _("Analytics"), "analytics.view", order=150))
