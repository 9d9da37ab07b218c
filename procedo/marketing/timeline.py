"""How the log tells what happened to segments, campaigns, RFM scores and the ladder."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.utils.translation import gettext_lazy

from procedo.events.models import Event
from procedo.events.timeline import Names, sentence_register, subject_register
from procedo.marketing.models import Campaign, RfmGroup, Segment


def _segments(ids: Sequence[int]) -> Mapping[int, str]:
    return dict(Segment.objects.filter(pk__in=ids).values_list("pk", "name"))


def _campaigns(ids: Sequence[int]) -> Mapping[int, str]:
    return dict(Campaign.objects.filter(pk__in=ids).values_list("pk", "name"))


def _payload(*keys: str) -> Callable[[Event, Names], dict[str, Any]]:
    def params(event: Event, _names: Names) -> dict[str, Any]:
        payload = event.payload or {}
        return {key: payload.get(key, "") for key in keys}

    return params


def _groups(event: Event, _names: Names) -> dict[str, Any]:
    payload, labels = event.payload or {}, dict(RfmGroup.choices)
    return {
        key: labels.get(payload.get(f"{key}_group", ""), payload.get(f"{key}_group", ""))
        for key in ("from", "to")
    }


def timeline_register() -> None:
    subject_register("segment", names=_segments, url_name="marketing:segment-edit")
    subject_register("campaign", names=_campaigns, url_name="marketing:campaign")
    sentence = sentence_register
    sentence("segment.created", gettext_lazy("%(actor)s made the segment %(subject)s"))
    sentence("segment.changed", gettext_lazy("%(actor)s changed the segment %(subject)s"))
    sentence(
        "segment.deleted", gettext_lazy("%(actor)s deleted the segment %(name)s"), _payload("name")
    )
    sentence(
        "rfm.refreshed",
        gettext_lazy("RFM scores computed for %(scored)s customers (%(changed)s changed)"),
        _payload("scored", "changed"),
    )
    sentence(
        "rfm.group_changed",
        gettext_lazy("%(subject)s moved from the RFM group %(from)s to %(to)s"),
        _groups,
    )
    sentence("campaign.created", gettext_lazy("%(actor)s created the campaign %(subject)s"))
    sentence(
        "campaign.sent",
        gettext_lazy(
            "%(actor)s sent the campaign %(subject)s: %(queued)s messages, %(held_out)s held out"
        ),
        _payload("queued", "held_out"),
    )
    sentence("campaign.cancelled", gettext_lazy("%(actor)s cancelled the campaign %(subject)s"))
    sentence(
        "campaign.refused",
        gettext_lazy("The campaign %(subject)s was not sent: %(reason)s"),
        _payload("reason"),
    )
    sentence(
        "ladder.computed",
        gettext_lazy("The product ladder was computed: %(steps)s steps"),
        _payload("steps"),
    )
    sentence("ladder.set", gettext_lazy("%(actor)s set the product ladder of %(subject)s"))
