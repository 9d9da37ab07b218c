"""How the log tells the life of an article."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.utils.translation import gettext_lazy

from procedo.events.models import Event
from procedo.events.timeline import Names, sentence_register, subject_register
from procedo.knowledge.models import Article


def _titles(ids: Sequence[int]) -> Mapping[int, str]:
    return dict(Article.objects.filter(pk__in=ids).values_list("pk", "title"))


def _opened(event: Event, names: Names) -> dict[str, Any]:
    payload = event.payload or {}
    where = payload.get("from_id")
    where_id = where if isinstance(where, int) else None
    return {"from": names.link(str(payload.get("from", "")), where_id)}


def _revision(event: Event, names: Names) -> dict[str, Any]:
    return {"revision": (event.payload or {}).get("revision", "")}


def timeline_register() -> None:
    # Articles are addressed by slug, so their names are plain text in the log.
    subject_register("article", names=_titles)
    sentence_register("article.created", gettext_lazy("%(actor)s wrote the article %(subject)s"))
    sentence_register(
        "article.revised",
        gettext_lazy("%(actor)s saved revision %(revision)s of %(subject)s"),
        _revision,
    )
    sentence_register("article.published", gettext_lazy("%(actor)s published %(subject)s"))
    sentence_register(
        "article.unpublished", gettext_lazy("%(actor)s took %(subject)s back to draft")
    )
    sentence_register(
        "article.opened", gettext_lazy("%(actor)s opened %(subject)s from %(from)s"), _opened
    )
    sentence_register(
        "article.used_in_reply",
        gettext_lazy("%(actor)s answered with %(subject)s in %(from)s"),
        _opened,
    )
