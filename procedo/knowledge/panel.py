"""The search box other pages include, and the global search's provider."""

from __future__ import annotations

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


def search_box_context(
    *, subject_type: str = "", subject_id: Any = None, kinds: str = "", query: str = ""
) -> dict[str, Any]:
    """The context of `knowledge/_search_box.html` (see templatetags/knowledge.py)."""
    return {
        "subject_type": subject_type,
        "subject_id": subject_id or "",
        "kinds": kinds,
        "query": query,
        "box_id": f"kb-{subject_type or 'any'}-{subject_id or 0}",
    }
