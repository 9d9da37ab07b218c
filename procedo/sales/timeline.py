"""How the log tells what happened to leads, deals, pipelines and channel spend."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext_lazy

from procedo.core.money import money_format
from procedo.events.models import Event
from procedo.events.timeline import Names, sentence_register, subject_register
from procedo.sales.models import (
    ChannelSpend,
    ContactKind,
    Deal,
    Lead,
    LeadForm,
    LeadSubmission,
    LostReason,
    Pipeline,
    Stage,
)


def _names(model: Any, field: str) -> Any:
    def names(ids: Sequence[int]) -> Mapping[int, str]:
        return dict(model.objects.filter(pk__in=ids).values_list("pk", field))

    return names


def _submissions(ids: Sequence[int]) -> Mapping[int, str]:
    return {
        pk: f"#{pk}"
        for pk in LeadSubmission.objects.filter(pk__in=ids).values_list("pk", flat=True)
    }


def _spends(ids: Sequence[int]) -> Mapping[int, str]:
    return {spend.pk: str(spend) for spend in ChannelSpend.objects.filter(pk__in=ids)}


def _money(payload: Mapping[str, Any], key: str) -> str:
    try:
        return money_format(Decimal(str(payload.get(key, ""))), str(payload.get("currency", "")))
    except (InvalidOperation, ValueError):
        return str(payload.get(key, ""))


def _with(**extra: Any) -> Any:
    def params(event: Event, names: Names) -> dict[str, Any]:
        payload = event.payload or {}
        return {key: make(payload, names) for key, make in extra.items()}

    return params


def _contact(payload: Mapping[str, Any], names: Names) -> str:
    try:
        return str(ContactKind(str(payload.get("kind"))).label).lower()
    except ValueError:
        return str(payload.get("kind", ""))


def _deal_link(payload: Mapping[str, Any], names: Names) -> Any:
    deal_id = payload.get("deal_id")
    return names.link("deal", int(deal_id)) if isinstance(deal_id, int) else ""


def timeline_register() -> None:
    subject_register("lead", names=_names(Lead, "name"), url_name="sales:lead")
    subject_register("deal", names=_names(Deal, "title"), url_name="sales:deal")
    subject_register("pipeline", names=_names(Pipeline, "name"), url_name="sales:settings")
    subject_register("stage", names=_names(Stage, "name"), url_name="")
    subject_register("lostreason", names=_names(LostReason, "name"))
    subject_register("leadform", names=_names(LeadForm, "name"))
    subject_register("leadsubmission", names=_submissions)
    subject_register("channelspend", names=_spends)
    sentence = sentence_register
    sentence("pipeline.created", gettext_lazy("%(actor)s created the pipeline %(subject)s"))
    sentence("stage.created", gettext_lazy("%(actor)s added the stage %(subject)s"))
    sentence("stage.updated", gettext_lazy("%(actor)s changed the stage %(subject)s"))
    sentence("stage.deleted", gettext_lazy("%(actor)s removed a stage"))
    sentence("stages.reordered", gettext_lazy("%(actor)s reordered the stages of %(subject)s"))
    sentence("lost_reason.created", gettext_lazy("%(actor)s added the lost reason %(subject)s"))
    sentence("lost_reason.updated", gettext_lazy("%(actor)s changed the lost reason %(subject)s"))
    sentence("lead_form.created", gettext_lazy("%(actor)s created the lead form %(subject)s"))
    sentence("lead_form.updated", gettext_lazy("%(actor)s changed the lead form %(subject)s"))
    sentence("lead_submission.received", gettext_lazy("A web form submission %(subject)s arrived"))
    sentence(
        "lead.created",
        gettext_lazy("Lead %(subject)s arrived from %(source)s"),
        _with(source=lambda p, n: str(p.get("source", ""))),
    )
    sentence(
        "lead.contacted",
        gettext_lazy("%(actor)s contacted lead %(subject)s (%(kind)s)"),
        _with(kind=_contact),
    )
    sentence("lead.disqualified", gettext_lazy("%(actor)s disqualified lead %(subject)s"))
    sentence(
        "lead.qualified",
        gettext_lazy("%(actor)s qualified lead %(subject)s into deal %(deal)s"),
        _with(deal=_deal_link),
    )
    sentence(
        "deal.created",
        gettext_lazy("%(actor)s opened deal %(subject)s worth %(value)s"),
        _with(value=lambda p, n: _money(p, "value")),
    )
    sentence("deal.updated", gettext_lazy("%(actor)s changed deal %(subject)s"))
    sentence(
        "deal.stage_changed",
        gettext_lazy("%(actor)s moved deal %(subject)s from %(from)s to %(to)s"),
        _with(
            **{
                "from": lambda p, n: str(p.get("from_name", "")),
                "to": lambda p, n: str(p.get("to_name", "")),
            }
        ),
    )
    sentence(
        "deal.won",
        gettext_lazy("Deal %(subject)s was won (%(value)s)"),
        _with(value=lambda p, n: _money(p, "value")),
    )
    sentence(
        "deal.lost",
        gettext_lazy("Deal %(subject)s was lost: %(reason)s"),
        _with(reason=lambda p, n: str(p.get("reason_name", ""))),
    )
    sentence("meeting.booked", gettext_lazy("%(actor)s booked a meeting on deal %(subject)s"))
    sentence(
        "meeting.reminded", gettext_lazy("Both sides were reminded of a meeting on %(subject)s")
    )
    sentence(
        "spend.set",
        gettext_lazy("%(actor)s entered %(amount)s spent on %(source)s in %(month)s"),
        _with(
            amount=lambda p, n: _money(p, "amount"),
            source=lambda p, n: str(p.get("source", "")),
            month=lambda p, n: str(p.get("month", ""))[:7],
        ),
    )
