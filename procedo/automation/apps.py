from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AutomationConfig(AppConfig):
    name = "procedo.automation"
    label = "automation"
    verbose_name = _("Automation")

    def ready(self) -> None:
        from procedo.automation.timeline import timeline_register

        timeline_register()
        from procedo.analytics.registry import GoalPanel, goal_panel_register
        from procedo.automation import panels, selectors
        from procedo.automation.services import engine, moving, runs
        from procedo.customers.registry import (
            CardSection,
            card_section_register,
            merge_participant_register,
        )
        from procedo.events.registry import consumer_register
        from procedo.messaging.registry import sop_sources_register
        from procedo.sops.registry import (
            SopPanel,
            run_facts_register,
            runs_mover_register,
            sop_panel_register,
        )
        from procedo.work.registry import (
            TaskPanel,
            task_closed_listener_register,
            task_panel_register,
        )

        consumer_register(
            name=engine.CONSUMER,
            handler=engine.engine_consume,
            label=_("SOP automation"),
            leads=True,
        )
        run_facts_register(selectors.RUN_FACTS)
        runs_mover_register(moving.runs_to_revision)
        sop_panel_register(
            SopPanel(
                key="queue",
                template="automation/_sop_queue.html",
                context=panels.sop_queue,
                order=40,
            )
        )
        sop_sources_register(selectors.SOP_SOURCES)
        sop_panel_register(
            SopPanel(key="runs", template="automation/_sop_runs.html", context=panels.sop_runs)
        )
        goal_panel_register(
            GoalPanel(key="sops", template="automation/_goal_sops.html", context=panels.goal_sops)
        )
        sop_panel_register(
            SopPanel(
                key="impact",
                template="automation/_sop_impact.html",
                context=panels.sop_impact,
                order=50,
            )
        )
        # "Were the scripts used": articles opened from the SOP's tasks (procedo.knowledge).
        sop_panel_register(
            SopPanel(
                key="scripts",
                template="knowledge/_sop_scripts.html",
                context=panels.sop_scripts,
                order=60,
            )
        )
        task_closed_listener_register("automation.run_step", engine.run_step_task_closed)
        merge_participant_register(runs.runs_move_to_customer, name="sop_runs")
        task_panel_register(
            TaskPanel(
                key="sop",
                template="automation/_task_sop_panel.html",
                context=selectors.task_sop_panel,
            )
        )
        # The customer card lists the customer's SOP runs and starts an SOP by hand.
        card_section_register(
            CardSection(
                key="sop_runs",
                title=_("SOP runs"),
                template="automation/_subject_runs.html",
                permission="sops.view",
                context=panels.customer_runs,
                order=300,
            )
        )
