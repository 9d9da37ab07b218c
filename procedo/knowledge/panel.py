"""The search box other pages include, and the global search's provider."""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext_lazy as _

from procedo.core.search import SearchHit, SearchProvider
from procedo.knowledge import selectors


def _find(query: str, limit: int) -> list[SearchHit]:
    hits = selectors.articles_search(query[:200], limit=limit)
    return [SearchHit(title=hit.title, detail=hit.kind_label, url=hit.url) for hit in hits]


article_search_provider = SearchProvider(
    label=_("Knowledge base"), permission="knowledge.view", find=_find, order=600
)


_ELEMENT_ID = re.compile(r"[a-z][a-z0-9_-]{0,39}")


def search_box_context(
    *,
    subject_type: str = "",
    subject_id: Any = None,
    kinds: str = "",
    query: str = "",
    reply_to: str = "",
) -> dict[str, Any]:
    """The context of `knowledge/_search_box.html` (see templatetags/knowledge.py)."""
    subject_id = str(subject_id or "")
    return {
        # The id of the reply box a hit's text can be put into; only a plain id is kept, it
        # goes into the page as an attribute and into a lookup by id.
        "reply_to": reply_to if _ELEMENT_ID.fullmatch(reply_to) else "",
        # Where a hit is used, for the record (`?from=conversation:12`).
        "used_in": f"{subject_type}:{subject_id}" if subject_type and subject_id.isdigit() else "",
        "subject_type": subject_type,
        "subject_id": subject_id,
        "kinds": kinds,
        "query": query,
        "box_id": f"kb-{subject_type or 'any'}-{subject_id or 0}",
    }
