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
        from procedo.events.selectors import consumer_failures_parked_count
        from procedo.home.consumers import daily_counts

        consumer_register(
            name="events.daily_counts", handler=daily_counts, label=_("Activity counts")
        )
        nav_register(NavEntry("home:dashboard", _("Dashboard"), "dashboard.view", order=0))
        nav_register(NavEntry("home:activity", _("Activity"), "events.view", order=900))
        # The number beside it: parked events wait for a person (retrying ones may still pass).
        nav_register(
            NavEntry(
                "home:failures",
                _("Stuck events"),
                "events.failures",
                order=910,
                badge=lambda user: consumer_failures_parked_count(),
            )
        )
        nav_register(NavEntry("home:business", _("Settings"), "business.change", order=1000))
