from django.apps import AppConfig


class BusinessConfig(AppConfig):
    """The one business this installation serves: its name, time zone, currency and limits."""

    name = "procedo.business"
    label = "business"
    verbose_name = "Business"

    def ready(self) -> None:
        from procedo.business.timeline import timeline_register

        timeline_register()
