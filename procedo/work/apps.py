from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from procedo.work.models import Task


def _customer_facts(customer_id: int) -> dict[str, Any]:
    from procedo.work import selectors

    return {"facts": selectors.facts_of(subject_type="customer", subject_id=customer_id)}


def _task_subject(task: Task) -> dict[str, Any] | None:
    from procedo.orders.selectors import work_subject_panel

    return work_subject_panel(subject_type=task.subject_type, subject_id=task.subject_id)


def _customer_tasks(customer_id: int) -> dict[str, Any]:
    from procedo.work import selectors

    return {"tasks": selectors.tasks_of_customer(customer_id=customer_id)}


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
        # Who the task is about, how to reach them, where the parcel goes and what is in it,
        # beside the checklist (procedo.orders, below work: the template is its).
        task_panel_register(
            TaskPanel(
                key="subject",
                template="orders/_task_subject.html",
                context=_task_subject,
                order=10,
            )
        )
        # The customer's open and done tasks, their orders' too.
        card_section_register(
            CardSection(
                key="tasks",
                title=_("Tasks"),
                template="work/_customer_tasks.html",
                permission="tasks.view",
                context=_customer_tasks,
                order=240,
            )
        )
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
