"""Consumers of the event log register here; the dispatcher drains each by its own cursor."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from procedo.events.models import Event

EventHandler = Callable[[Sequence["Event"]], None]


@dataclass(frozen=True)
class Consumer:
    name: str
    handler: EventHandler


_consumers: dict[str, Consumer] = {}


def consumer_register(*, name: str, handler: EventHandler) -> None:
    _consumers[name] = Consumer(name=name, handler=handler)


def consumers_all() -> list[Consumer]:
    return list(_consumers.values())
