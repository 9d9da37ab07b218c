from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "procedo.integrations"
    label = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from procedo.core.navigation import NavEntry, nav_register
        from procedo.integrations.timeline import timeline_register

        timeline_register()
        nav_register(
            NavEntry("integrations:list", _("Integrations"), "integrations.manage", order=850)
        )
