from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from procedo.core.search import SearchHit, SearchProvider
from procedo.customers import selectors


def _find_customers(query: str, limit: int) -> list[SearchHit]:
    # The list's own search: an index seek on name, email and phone prefixes.
    page = selectors.customer_list(search=query, limit=limit)
    return [
        SearchHit(
            title=str(customer),
            detail=" · ".join(
                part
                for part in (customer.company, *customer.emails[:1], *customer.phones[:1])
                if part
            ),
            url=reverse("customers:card", args=[customer.pk]),
        )
        for customer in page.items
    ]


customer_search = SearchProvider(
    label=_("Customers"), permission="customers.view", find=_find_customers, order=100
)
