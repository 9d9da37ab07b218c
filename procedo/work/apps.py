from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _customer_facts(customer_id: int) -> dict[str, Any]:
    from procedo.work import selectors

    return {"facts": selectors.facts_of(subject_type="customer", subject_id=customer_id)}


class WorkConfig(AppConfig):
    name = "procedo.work"
    label = "work"
    verbose_name = _("Work")

    def ready(self) -> None:
        from procedo.work.timeline import timeline_register

        timeline_register()
        from procedo.core.navigation import NavEntry, nav_register
        from procedo.customers.registry import (
            CardSection,
            card_section_register,
            merge_participant_register,
        )
        from procedo.work.registry import TaskPanel, task_panel_register
        from procedo.work.selectors import my_open_count
        from procedo.work.services.lifecycle import tasks_move_to_customer

        nav_register(
            NavEntry("work:mine", _("My work"), "tasks.view", order=150, badge=my_open_count)
        )
        nav_register(NavEntry("work:team", _("Team's work"), "tasks.manage", order=160))
        merge_participant_register(tasks_move_to_customer, name="tasks")
        # The task's comment thread (procedo.collab, below work: the template is its).
        task_panel_register(
            TaskPanel(
                key="comments",
                template="collab/_task_comments.html",
                context=lambda task: {},
                order=200,
            )
        )
        # What information-gathering checklists learned about the customer.
        card_section_register(
            CardSection(
                key="facts",
                title=_("Learned in checklists"),
                template="work/_facts.html",
                permission="tasks.view",
                context=_customer_facts,
                order=250,
            )
        )
