from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SopsConfig(AppConfig):
    name = "procedo.sops"
    label = "sops"
    verbose_name = _("SOPs")

    def ready(self) -> None:
        from procedo.sops.timeline import timeline_register

        timeline_register()
        from procedo.core.navigation import NavEntry, nav_register
        from procedo.core.search import search_provider_register
        from procedo.sops.search import sop_search

        search_provider_register(sop_search)
        nav_register(NavEntry("sops:list", _("SOPs"), "sops.view", order=400))
        nav_register(NavEntry("sops:mine", _("My SOPs"), "sops.view", order=410))
        nav_register(NavEntry("sops:recognition", _("Recognition"), "sops.view", order=420))
