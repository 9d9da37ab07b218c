"""Where other apps hear that a task was closed, and add to the task page, without imports.

The automation engine registers one listener in its AppConfig.ready(): a task
an SOP run made moves that run on. Listeners run inside the closing
transaction, so the task and what it moves commit together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from procedo.work.models import Task

# fn(task, actor) after the task became done, skipped or cancelled.
TaskListener = Callable[["Task", Any], None]

_listeners: dict[str, TaskListener] = {}


def task_closed_listener_register(name: str, listener: TaskListener) -> None:
    _listeners[name] = listener


def task_closed_listeners() -> list[TaskListener]:
    return list(_listeners.values())


@dataclass(frozen=True)
class TaskPanel:
    """A box on the task page from another app (the SOP the task serves, its comments…).

    `context(task)` returns the template's context, or None to show nothing.
    """

    key: str
    template: str
    context: Callable[[Task], dict[str, Any] | None]
    order: int = 100


_panels: dict[str, TaskPanel] = {}


def task_panel_register(panel: TaskPanel) -> None:
    _panels[panel.key] = panel


def task_panels(task: Task) -> list[tuple[str, dict[str, Any]]]:
    """(template, context) of every panel with something to show for this task, in order."""
    shown = []
    for panel in sorted(_panels.values(), key=lambda panel: panel.order):
        context = panel.context(task)
        if context is not None:
            shown.append((panel.template, {"task": task, **context}))
    return shown
