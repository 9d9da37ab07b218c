from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "procedo.events"
    label = "events"
    verbose_name = "Event log"

    def ready(self) -> None:
        from procedo.events import consumers, registry

        registry.consumer_register(name="events.daily_counts", handler=consumers.daily_counts)
