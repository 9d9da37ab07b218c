"""What higher areas add to a goal's page: the SOPs serving it and what each contributes.

Analytics stands below the SOPs and their runs, so it does not read them; the engine
registers a panel here in its `AppConfig.ready()`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from procedo.analytics.models import Goal


@dataclass(frozen=True)
class GoalPanel:
    key: str
    template: str
    context: Callable[[Goal], dict[str, Any] | None]
    order: int = 100


_panels: dict[str, GoalPanel] = {}


def goal_panel_register(panel: GoalPanel) -> None:
    _panels[panel.key] = panel


def goal_panels(goal: Goal) -> list[tuple[str, dict[str, Any]]]:
    shown = []
    for panel in sorted(_panels.values(), key=lambda panel: panel.order):
        context = panel.context(goal)
        if context is not None:
            shown.append((panel.template, context))
    return shown
