from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "procedo.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from procedo.accounts.timeline import timeline_register

        timeline_register()
        from procedo.accounts import signals  # noqa: F401
        from procedo.accounts.search import people_search
        from procedo.core.navigation import NavEntry, nav_register
        from procedo.core.search import search_provider_register

        search_provider_register(people_search)
        nav_register(NavEntry("accounts:users", _("Team"), "accounts.manage", order=950))
