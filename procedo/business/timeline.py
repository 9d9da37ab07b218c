"""How the log tells a change of the business's settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.utils.translation import gettext_lazy

from procedo.business.models import Business
from procedo.events.timeline import sentence_register, subject_register


def _names(ids: Sequence[int]) -> Mapping[int, str]:
    return dict(Business.objects.filter(pk__in=ids).values_list("pk", "name"))


def timeline_register() -> None:
    subject_register("business", names=_names, url_name="home:business")
    sentence_register("business.updated", gettext_lazy("%(actor)s changed the business settings"))
