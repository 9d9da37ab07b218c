"""Consumers of the event log register here; the dispatcher drains each by its own cursor."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.functional import Promise

if TYPE_CHECKING:
    from procedo.events.models import Event

EventHandler = Callable[[Sequence["Event"]], None]


@dataclass(frozen=True)
class Consumer:
    name: str
    handler: EventHandler
    # What the owner reads on the failures page ("SOP automation"); the name if empty.
    label: str | Promise = ""
    # False (the default): when the handler fails on an event, the events after it keep
    # flowing and the failed one is retried, then parked, on its own. True: later events
    # of the same subject wait behind it, in order (docs/architecture.md).
    ordered_by_subject: bool = False
    # Handed each batch before the others: people wait for what it does (the SOP engine's
    # runs and their tasks), not for the counts and the webhooks.
    leads: bool = False


_consumers: dict[str, Consumer] = {}


def consumer_register(
    *,
    name: str,
    handler: EventHandler,
    label: str | Promise = "",
    ordered_by_subject: bool = False,
    leads: bool = False,
) -> None:
    _consumers[name] = Consumer(
        name=name,
        handler=handler,
        label=label,
        ordered_by_subject=ordered_by_subject,
        leads=leads,
    )


def consumer_unregister(name: str) -> None:
    """For tests that register a consumer of their own."""
    _consumers.pop(name, None)


def consumer_get(name: str) -> Consumer | None:
    return _consumers.get(name)


def consumers_all() -> list[Consumer]:
    """Every consumer, those that lead first (in the order they registered)."""
    return sorted(_consumers.values(), key=lambda consumer: not consumer.leads)
