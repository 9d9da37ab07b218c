"""Consumers of the event log that belong to the log itself."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date

from django.db.models import F

from procedo.core.selectors import business_get
from procedo.events.models import Event, EventDailyCount


def daily_counts(events: Sequence[Event]) -> None:
    """Add a batch to the per-day, per-type counts (days in the business's time zone)."""
    zone = business_get().zone
    counts: Counter[tuple[date, str]] = Counter(
        (event.occurred_at.astimezone(zone).date(), event.event_type) for event in events
    )
    EventDailyCount.objects.bulk_create(
        [EventDailyCount(day=day, event_type=kind, count=0) for day, kind in counts],
        ignore_conflicts=True,
    )
    # One UPDATE per distinct (day, type) in the batch, not one per event.
    for (day, kind), count in counts.items():
        EventDailyCount.objects.filter(day=day, event_type=kind).update(count=F("count") + count)
