"""The rollup the log keeps of itself; the home app runs it as a consumer in the business's zone."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, tzinfo

from django.db.models import F

from procedo.events.models import Event, EventDailyCount


def daily_counts_add(*, events: Sequence[Event], zone: tzinfo) -> None:
    """Add a batch to the per-day, per-type counts (days in `zone`, the business's)."""
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
