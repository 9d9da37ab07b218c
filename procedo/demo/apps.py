from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo store: it imports every app, so it stands above them all and nothing imports it."""

    name = "procedo.demo"
    label = "demo"
    verbose_name = "Demo store"
