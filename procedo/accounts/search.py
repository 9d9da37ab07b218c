from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from procedo.accounts.models import User
from procedo.core.search import SearchHit, SearchProvider


def _find_people(query: str, limit: int) -> list[SearchHit]:
    # Staff are a few dozen rows; casefold in Python because SQLite's LIKE
    # folds only ASCII and names here are often Cyrillic.
    needle = query.casefold()
    hits = []
    for person in User.objects.only("username", "first_name", "last_name", "email", "role"):
        haystack = f"{person.username} {person.get_full_name()} {person.email}".casefold()
        if needle in haystack:
            hits.append(
                SearchHit(
                    title=str(person),
                    detail=f"{person.get_role_display()} · {person.email}",
                    url=reverse("accounts:users"),
                )
            )
            if len(hits) == limit:
                break
    return hits


people_search = SearchProvider(label=_("People"), permission="accounts.manage", find=_find_people)
