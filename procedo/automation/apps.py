from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


def _customer_runs(customer_id: int) -> dict[str, Any]:
    from procedo.automation import selectors

    return selectors.subject_runs_context(
        subject_type="customer",
        subject_id=customer_id,
        next_url=reverse("customers:card", args=[customer_id]),
    )


class AutomationConfig(AppConfig):
    name = "procedo.automation"
    label = "automation"
    verbose_name = _("Automation")

    def ready(self) -> None:
        from procedo.automation import services
        from procedo.automation.selectors import task_sop_panel
        from procedo.customers.registry import (
            CardSection,
            card_section_register,
            merge_participant_register,
        )
        from procedo.events.registry import consumer_register
        from procedo.work.registry import (
            TaskPanel,
            task_closed_listener_register,
            task_panel_register,
        )

        consumer_register(name=services.CONSUMER, handler=services.engine_consume)
        task_closed_listener_register("automation.run_step", services.run_step_task_closed)
        merge_participant_register(services.runs_move_to_customer, name="sop_runs")
        task_panel_register(
            TaskPanel(key="sop", template="automation/_task_sop_panel.html", context=task_sop_panel)
        )
        # The customer card lists the customer's SOP runs and starts an SOP by hand.
        card_section_register(
            CardSection(
                key="sop_runs",
                title=_("SOP runs"),
                template="automation/_subject_runs.html",
                permission="sops.view",
                context=_customer_runs,
                order=300,
            )
        )
