"""How the log tells the life of an SOP: written, reviewed, published, improved."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.utils.translation import gettext_lazy

from procedo.events.models import Event
from procedo.events.timeline import Names, sentence_register, subject_register
from procedo.sops.models import FeedbackKind, Proposal, Revision, RevisionState, Sop, StepFeedback


def _sops(ids: Sequence[int]) -> Mapping[int, str]:
    return dict(Sop.objects.filter(pk__in=ids).values_list("pk", "name"))


def _revisions(ids: Sequence[int]) -> Mapping[int, str]:
    rows = Revision.objects.filter(pk__in=ids).values_list("pk", "sop__name", "number")
    return {pk: f"{name} · {number}" for pk, name, number in rows}


def _feedback(ids: Sequence[int]) -> Mapping[int, str]:
    return dict(StepFeedback.objects.filter(pk__in=ids).values_list("pk", "sop__name"))


def _proposals(ids: Sequence[int]) -> Mapping[int, str]:
    return dict(Proposal.objects.filter(pk__in=ids).values_list("pk", "sop__name"))


def _state(value: Any) -> str:
    try:
        return str(RevisionState(value).label).lower()
    except ValueError:
        return str(value or "")


def _sop(event: Event, names: Names) -> Any:
    """The SOP an event on a revision, feedback or proposal belongs to, linked."""
    payload = event.payload or {}
    sop_id = payload.get("sop_id")
    if event.subject_type == "sop":
        return names.link("sop", event.subject_id)
    sops = names.once("sops.names", dict)
    if sop_id and sop_id not in sops:
        sops[sop_id] = Sop.objects.filter(pk=sop_id).values_list("name", flat=True).first() or ""
    return names.link("sop", sop_id, sops.get(sop_id, "") if sop_id else "")


def _params(event: Event, names: Names) -> dict[str, Any]:
    payload = event.payload or {}
    kind = payload.get("kind")
    try:
        kind_text = str(FeedbackKind(kind).label) if kind else ""
    except ValueError:
        kind_text = str(kind)
    return {
        "sop": _sop(event, names),
        "number": payload.get("number") or payload.get("revision") or "",
        "from": _state(payload.get("from")),
        "to": _state(payload.get("to")),
        "step": payload.get("step_key") or "",
        "kind": kind_text,
        "reason": payload.get("reason") or payload.get("comment") or "",
    }


def _tested(event: Event, names: Names) -> dict[str, Any]:
    # The step by its title: a reader who did not write the SOP never sees its keys.
    return _params(event, names) | {"step": (event.payload or {}).get("step_title") or ""}


def timeline_register() -> None:
    subject_register("sop", names=_sops, url_name="sops:detail")
    subject_register("revision", names=_revisions, url_name="sops:revision")
    subject_register("stepfeedback", names=_feedback)
    subject_register("proposal", names=_proposals)
    sentence = sentence_register
    sentence("sop.created", gettext_lazy("%(actor)s wrote a new SOP, %(sop)s"), _params)
    sentence("sop.updated", gettext_lazy("%(actor)s changed the SOP %(sop)s"), _params)
    sentence("sop.pace_set", gettext_lazy("%(actor)s set the pace of %(sop)s"), _params)
    sentence(
        "sop.library_installed",
        gettext_lazy("%(actor)s took %(sop)s from the library of ready SOPs"),
        _params,
    )
    sentence(
        "sop_revision.created",
        gettext_lazy("%(actor)s began revision %(number)s of %(sop)s"),
        _params,
    )
    sentence(
        "sop_revision.updated",
        gettext_lazy("%(actor)s edited revision %(number)s of %(sop)s"),
        _params,
    )
    sentence(
        "sop_revision.state_changed",
        gettext_lazy("%(actor)s moved revision %(number)s of %(sop)s from %(from)s to %(to)s"),
        _params,
    )
    sentence(
        "sop.message_tested",
        gettext_lazy("%(actor)s sent themselves a test of “%(step)s” of %(sop)s"),
        _tested,
    )
    sentence(
        "sop_revision.acknowledged",
        gettext_lazy("%(actor)s confirmed they read revision %(number)s of %(sop)s"),
        _params,
    )
    sentence(
        "sop_feedback.left",
        gettext_lazy("%(actor)s said of step “%(step)s” of %(sop)s: %(kind)s"),
        _params,
    )
    sentence(
        "sop_feedback.resolved",
        gettext_lazy("%(actor)s handled feedback on step “%(step)s” of %(sop)s"),
        _params,
    )
    sentence(
        "sop_proposal.made",
        gettext_lazy("%(actor)s proposed a change to %(sop)s"),
        _params,
    )
    sentence(
        "sop_proposal.accepted",
        gettext_lazy("%(actor)s accepted a proposed change to %(sop)s"),
        _params,
    )
    sentence(
        "sop_proposal.declined",
        gettext_lazy("%(actor)s declined a proposed change to %(sop)s: %(reason)s"),
        _params,
    )
