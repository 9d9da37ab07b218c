"""How the log tells comments and notifications."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext, gettext_lazy

from procedo.events.models import Event
from procedo.events.timeline import Names, sentence_register


def _on(event: Event, names: Names) -> dict[str, Any]:
    """The thing commented on, linked: payload "on" is "<subject type>:<id>"."""
    kind, _sep, raw_id = str((event.payload or {}).get("on", "")).partition(":")
    target = int(raw_id) if raw_id.isdigit() else None
    urgent = (event.payload or {}).get("urgent")
    return {"on": names.link(kind, target), "urgent": "‼ " if urgent else ""}


def _notified(event: Event, names: Names) -> dict[str, Any]:
    payload = event.payload or {}
    why = {
        "mention": gettext("a mention"),
        "comment": gettext("a comment"),
        "comment_on_your_task": gettext("a comment on their task"),
        "assigned": gettext("a task for them"),
        "overdue": gettext("an overdue task"),
        "escalated": gettext("an escalated task"),
        "handover": gettext("tasks handed over"),
        "proposal": gettext("a proposal"),
    }.get(str(payload.get("kind")), str(payload.get("kind", "")))
    return {"count": len(payload.get("recipients") or []), "why": why}


def timeline_register() -> None:
    sentence_register(
        "comment.created", gettext_lazy("%(urgent)s%(actor)s commented on %(on)s"), _on
    )
    sentence_register("comment.deleted", gettext_lazy("%(actor)s deleted a comment on %(on)s"), _on)
    sentence_register(
        "notification.sent",
        gettext_lazy("%(count)s people were notified about %(subject)s (%(why)s)"),
        _notified,
    )
    sentence_register(
        "notification_setting.changed",
        gettext_lazy("%(actor)s changed how they are told about %(subject)s"),
    )
