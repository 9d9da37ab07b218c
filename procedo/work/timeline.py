"""How the log tells the life of a task."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.utils.translation import gettext_lazy

from procedo.accounts.models import User
from procedo.core.texts import stored_text_render
from procedo.events.models import Event
from procedo.events.timeline import Names, sentence_register, subject_register
from procedo.work.models import Task


def _titles(ids: Sequence[int]) -> Mapping[int, str]:
    return dict(Task.objects.filter(pk__in=ids).values_list("pk", "title"))


def _task(event: Event, names: Names) -> Any:
    title = (event.payload or {}).get("title") or names.name("task", event.subject_id)
    return names.link("task", event.subject_id, str(title))


def _params(event: Event, names: Names) -> dict[str, Any]:
    payload = event.payload or {}
    to = payload.get("to_user_id")
    person = ""
    if to:
        people = names.once("work.people", lambda: {})
        if to not in people:
            people[to] = str(User.objects.filter(pk=to).first() or "")
        person = people[to]
    return {
        "task": _task(event, names),
        "note": stored_text_render(payload.get("note_text"), str(payload.get("note") or "")),
        "minutes": payload.get("after_minutes") or "",
        "person": person or "—",
        "count": payload.get("count") or len(payload.get("task_ids") or []),
    }


def timeline_register() -> None:
    subject_register("task", names=_titles, url_name="work:detail")
    sentence = sentence_register
    sentence("task.created", gettext_lazy("%(actor)s created the task “%(task)s”"), _params)
    sentence("task.taken", gettext_lazy("%(actor)s took the task “%(task)s”"), _params)
    sentence(
        "task.released",
        gettext_lazy("%(actor)s gave the task “%(task)s” back to its queue"),
        _params,
    )
    sentence("task.started", gettext_lazy("%(actor)s started “%(task)s”"), _params)
    sentence(
        "task.answered", gettext_lazy("%(actor)s answered the checklist of “%(task)s”"), _params
    )
    sentence("task.done", gettext_lazy("%(actor)s finished “%(task)s”"), _params)
    sentence("task.skipped", gettext_lazy("%(actor)s skipped “%(task)s”: %(note)s"), _params)
    sentence("task.cancelled", gettext_lazy("The task “%(task)s” was cancelled: %(note)s"), _params)
    sentence("task.overdue", gettext_lazy("The task “%(task)s” is overdue"), _params)
    sentence(
        "task.escalated",
        gettext_lazy("The task “%(task)s” went to %(person)s: %(minutes)s min overdue"),
        _params,
    )
    sentence("task.handed_over", gettext_lazy("%(actor)s handed over “%(task)s”"), _params)
    sentence(
        "work.handover",
        gettext_lazy("%(actor)s handed over %(count)s tasks of %(subject)s"),
        _params,
    )
