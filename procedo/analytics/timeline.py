"""How the log tells a goal set and changed, and a lifetime-value forecast made or not."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.utils.translation import gettext_lazy

from procedo.analytics.models import Goal
from procedo.events.models import Event
from procedo.events.timeline import Names, sentence_register, subject_register


def _names(ids: Sequence[int]) -> Mapping[int, str]:
    return dict(Goal.objects.filter(pk__in=ids).values_list("pk", "name"))


def _payload(*keys: str) -> Callable[[Event, Names], dict[str, Any]]:
    def params(event: Event, _names: Names) -> dict[str, Any]:
        payload = event.payload or {}
        return {key: payload.get(key, "") for key in keys}

    return params


def timeline_register() -> None:
    subject_register("goal", names=_names, url_name="analytics:goal")
    sentence_register("goal.created", gettext_lazy("%(actor)s set the goal %(subject)s"))
    sentence_register("goal.changed", gettext_lazy("%(actor)s changed the goal %(subject)s"))
    sentence_register(
        "value_forecast.fitted",
        gettext_lazy("Spend predicted for %(customers)s customers"),
        _payload("customers"),
    )
    sentence_register(
        "value_forecast.skipped",
        gettext_lazy(
            "No spend prediction: %(repeat_customers)s customers came back, of %(customers)s"
        ),
        _payload("customers", "repeat_customers"),
    )
