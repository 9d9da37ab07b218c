"""How the log tells a goal set and changed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.utils.translation import gettext_lazy

from procedo.analytics.models import Goal
from procedo.events.timeline import sentence_register, subject_register


def _names(ids: Sequence[int]) -> Mapping[int, str]:
    return dict(Goal.objects.filter(pk__in=ids).values_list("pk", "name"))


def timeline_register() -> None:
    subject_register("goal", names=_names, url_name="analytics:goal")
    sentence_register("goal.created", gettext_lazy("%(actor)s set the goal %(subject)s"))
    sentence_register("goal.changed", gettext_lazy("%(actor)s changed the goal %(subject)s"))
