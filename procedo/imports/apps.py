from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ImportsConfig(AppConfig):
    name = "procedo.imports"
    label = "imports"
    verbose_name = "Imports"

    def ready(self) -> None:
        from procedo.imports.timeline import timeline_register

        timeline_register()
        from procedo.core.navigation import NavEntry, nav_register

        nav_register(NavEntry("imports:list", _("Import"), "imports.run", order=800))
