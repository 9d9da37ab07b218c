from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    name = "procedo.events"
    label = "events"
    verbose_name = "Event log"

    def ready(self) -> None:
        from procedo.core.navigation import NavEntry, nav_register
        from procedo.events import consumers, registry

        registry.consumer_register(name="events.daily_counts", handler=consumers.daily_counts)
        nav_register(NavEntry("events:log", _("Activity"), "events.view", order=900))
