from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HomeConfig(AppConfig):
    """The shell's own pages: the dashboard, search, the business settings and the activity log."""

    name = "procedo.home"
    label = "home"
    verbose_name = "Home"

    def ready(self) -> None:
        from procedo.core.navigation import NavEntry, nav_register
        from procedo.events.registry import consumer_register
        from procedo.home.consumers import daily_counts

        consumer_register(name="events.daily_counts", handler=daily_counts)
        nav_register(NavEntry("home:dashboard", _("Dashboard"), "dashboard.view", order=0))
        nav_register(NavEntry("home:activity", _("Activity"), "events.view", order=900))
        nav_register(NavEntry("home:business", _("Settings"), "business.change", order=1000))
