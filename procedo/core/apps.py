from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "procedo.core"
    label = "core"
    verbose_name = "Procedo core"

    def ready(self) -> None:
        from procedo.core.navigation import NavEntry, nav_register

        nav_register(NavEntry("core:dashboard", _("Dashboard"), "dashboard.view", order=0))
        nav_register(NavEntry("core:business", _("Settings"), "business.change", order=1000))
