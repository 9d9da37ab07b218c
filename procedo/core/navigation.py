"""The staff navigation: each area registers its entry, shown only to roles that may use it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise


@dataclass(frozen=True)
class NavEntry:
    url_name: str
    label: str | Promise
    permission: str
    order: int
    # How many things wait for this person there (shown beside the label); one cheap query.
    badge: Callable[[Any], int] | None = None


_entries: list[NavEntry] = []


def nav_register(entry: NavEntry) -> None:
    """Called from an app's ready(); `order` places it (dashboard 0, settings 1000)."""
    if all(existing.url_name != entry.url_name for existing in _entries):
        _entries.append(entry)
        _entries.sort(key=lambda item: item.order)


def nav_entries() -> list[NavEntry]:
    return list(_entries)
