from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "procedo.events"
    label = "events"
    verbose_name = "Event log"
