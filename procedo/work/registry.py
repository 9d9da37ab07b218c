"""Where other apps hear that a task was closed, without this app importing them.

The automation engine registers one listener in its AppConfig.ready(): a task
an SOP run made moves that run on. Listeners run inside the closing
transaction, so the task and what it moves commit together.
"""

from __future__ import annotations

from collections.abc import Callable
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
