from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "procedo.events"
    label = "events"
    verbose_name = "Event log"

    def ready(self) -> None:
        from procedo.events.timeline import failure_sentences_register

        failure_sentences_register()
