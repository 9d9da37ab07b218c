"""How the log tells what happened to a customer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.utils.translation import gettext_lazy

from procedo.customers.models import Customer
from procedo.events.models import Event
from procedo.events.timeline import Names, sentence_register, subject_register


def _names(ids: Sequence[int]) -> Mapping[int, str]:
    rows = Customer.objects.filter(pk__in=ids).only("first_name", "last_name", "company")
    return {customer.pk: str(customer) for customer in rows}


def _payload(*keys: str) -> Any:
    def params(event: Event, _names: Names) -> dict[str, Any]:
        payload = event.payload or {}
        return {key: payload.get(key, "") for key in keys}

    return params


def _merged(event: Event, _names: Names) -> dict[str, Any]:
    return {"other": (event.payload or {}).get("duplicate_name") or "—"}


def timeline_register() -> None:
    subject_register("customer", names=_names, url_name="customers:card")
    sentence = sentence_register
    sentence("customer.created", gettext_lazy("%(actor)s added the customer %(subject)s"))
    sentence("customer.imported", gettext_lazy("%(subject)s came in with imported history"))
    sentence("customer.updated", gettext_lazy("%(actor)s changed %(subject)s's details"))
    sentence(
        "customer.identity_added",
        gettext_lazy("%(actor)s added %(value)s to %(subject)s"),
        _payload("value"),
    )
    sentence(
        "customer.identity_removed",
        gettext_lazy("%(actor)s removed %(value)s from %(subject)s"),
        _payload("value"),
    )
    sentence(
        "customer.consent_changed",
        gettext_lazy("Marketing consent of %(subject)s for %(value)s: %(from)s → %(to)s"),
        _payload("value", "from", "to"),
    )
    sentence(
        "customer.address_added",
        gettext_lazy("%(actor)s added the address %(address)s to %(subject)s"),
        _payload("address"),
    )
    sentence(
        "customer.address_removed",
        gettext_lazy("%(actor)s removed the address %(address)s of %(subject)s"),
        _payload("address"),
    )
    sentence(
        "customer.tagged", gettext_lazy("%(actor)s tagged %(subject)s “%(tag)s”"), _payload("tag")
    )
    sentence(
        "customer.untagged",
        gettext_lazy("%(actor)s took the tag “%(tag)s” off %(subject)s"),
        _payload("tag"),
    )
    sentence(
        "customer.note_added",
        gettext_lazy("%(actor)s wrote about %(subject)s: “%(excerpt)s”"),
        _payload("excerpt"),
    )
    sentence(
        "customer.merged",
        gettext_lazy("%(actor)s merged the duplicate %(other)s into %(subject)s"),
        _merged,
    )
    sentence(
        "customer.duplicate_dismissed",
        gettext_lazy("%(actor)s marked %(subject)s and another record as different people"),
    )
