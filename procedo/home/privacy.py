"""Staff's personal data in the log (the address they signed in from) is for owners only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from procedo.accounts.permissions import user_can
from procedo.events.models import Event
from procedo.events.timeline import HIDDEN

# Payload keys that say where or on what a person works from.
PERSONAL_KEYS = frozenset({"ip", "ip_address", "user_agent", "address"})


def events_for_reader(events: Sequence[Event], *, reader: Any) -> list[Event]:
    """The events as this reader may see them: personal values hidden unless they may see them.

    The events are changed in memory only (the log itself never changes).
    """
    if user_can(reader, "accounts.personal_data"):
        return list(events)
    for event in events:
        payload = event.payload or {}
        # Staff's own events only: a customer's address on their card is the shop's data.
        if event.subject_type != "user":
            continue
        if isinstance(payload, dict) and PERSONAL_KEYS.intersection(payload):
            event.payload = {k: HIDDEN if k in PERSONAL_KEYS else v for k, v in payload.items()}
    return list(events)
