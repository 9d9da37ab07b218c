from __future__ import annotations

from collections.abc import Sequence

from procedo.business.selectors import business_get
from procedo.events.consumers import daily_counts_add
from procedo.events.models import Event


def daily_counts(events: Sequence[Event]) -> None:
    """The dashboard's per-day counts, days in the business's time zone."""
    daily_counts_add(events=events, zone=business_get().zone)
