from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from procedo.core.search import SearchHit, SearchProvider
from procedo.sops.models import Sop

SOPS_READ_MAX = 2000


def _find_sops(query: str, limit: int) -> list[SearchHit]:
    # A business writes dozens of SOPs, not thousands: their names and goals are read and
    # casefolded here, because SQLite's LIKE folds only ASCII and SOP names are often Cyrillic.
    needle = query.casefold()
    hits = []
    rows = Sop.objects.only("name", "goal", "subject_type").order_by("name", "id")
    for sop in rows[:SOPS_READ_MAX]:
        if needle in f"{sop.name} {sop.goal}".casefold():
            hits.append(
                SearchHit(
                    title=sop.name,
                    detail=" · ".join(
                        part for part in (sop.get_subject_type_display(), sop.goal[:80]) if part
                    ),
                    url=reverse("sops:detail", args=[sop.pk]),
                )
            )
            if len(hits) == limit:
                break
    return hits


sop_search = SearchProvider(label=_("SOPs"), permission="sops.view", find=_find_sops, order=300)
