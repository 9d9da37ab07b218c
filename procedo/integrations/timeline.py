"""How the log tells connections and their deliveries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.utils.translation import gettext_lazy

from procedo.events.timeline import sentence_register, subject_register
from procedo.integrations.models import Connection


def _names(ids: Sequence[int]) -> Mapping[int, str]:
    return dict(Connection.objects.filter(pk__in=ids).values_list("pk", "name"))


def timeline_register() -> None:
    subject_register("connection", names=_names, url_name="integrations:detail")
    sentence_register("connection.created", gettext_lazy("%(actor)s connected %(subject)s"))
    sentence_register(
        "connection.updated", gettext_lazy("%(actor)s changed connection %(subject)s")
    )
    sentence_register(
        "connection.tested",
        gettext_lazy("%(actor)s sent %(subject)s a signed test delivery"),
    )
    sentence_register(
        "delivery.replayed", gettext_lazy("%(actor)s replayed a delivery of %(subject)s")
    )
    sentence_register(
        "shipment.waiting_at_branch",
        gettext_lazy("The parcel of %(subject)s has waited at the branch for 3 days"),
    )
    sentence_register(
        "checkout.abandoned", gettext_lazy("%(subject)s left a checkout without ordering")
    )
