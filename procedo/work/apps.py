from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkConfig(AppConfig):
    name = "procedo.work"
    label = "work"
    verbose_name = _("Work")

    def ready(self) -> None:
        from procedo.core.navigation import NavEntry, nav_register
        from procedo.customers.registry import merge_participant_register
        from procedo.work.services import tasks_move_to_customer

        nav_register(NavEntry("work:list", _("Tasks"), "tasks.view", order=150))
        merge_participant_register(tasks_move_to_customer, name="tasks")
