"""How the log tells the runs of SOPs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.utils.translation import gettext_lazy

from procedo.automation.models import Run
from procedo.core.texts import stored_text_render
from procedo.events.models import Event
from procedo.events.timeline import Names, sentence_register, subject_register


def _runs(ids: Sequence[int]) -> Mapping[int, str]:
    return dict(Run.objects.filter(pk__in=ids).values_list("pk", "sop__name"))


def _params(event: Event, names: Names) -> dict[str, Any]:
    payload = event.payload or {}
    on = (
        names.link(str(payload.get("subject_type", "")), payload.get("subject_id"))
        if payload.get("subject_type")
        else ""
    )
    return {
        "run": names.link("sop_run", event.subject_id, str(payload.get("sop") or "")),
        "on": on or "—",
        "reason": stored_text_render(
            payload.get("reason_text") or payload.get("error_text"),
            str(payload.get("reason") or payload.get("error") or ""),
        ),
        "step": payload.get("step") or "",
        "trigger": payload.get("trigger") or "",
    }


def timeline_register() -> None:
    subject_register("sop_run", names=_runs, url_name="automation:run")
    sentence = sentence_register
    sentence("sop_run.started", gettext_lazy("%(actor)s started %(run)s on %(on)s"), _params)
    sentence("sop_run.cancelled", gettext_lazy("%(actor)s cancelled %(run)s: %(reason)s"), _params)
    sentence("sop_run.failed", gettext_lazy("%(run)s stopped at “%(step)s”: %(reason)s"), _params)
    sentence(
        "sop.trigger_failed",
        gettext_lazy("The trigger “%(trigger)s” of %(subject)s failed: %(reason)s"),
        _params,
    )
