"""Who did it: the person behind an `actor`, or nobody.

Services take `actor` as whoever asked: a signed-in user, an AnonymousUser (a
page's visitor, a failed sign-in) or None (the worker, a command, a webhook).
These two are the one reading of it, for "by" columns and events' `actor_id`.
"""

from __future__ import annotations

from typing import Any


def actor_id_of(actor: Any) -> int | None:
    """The id of the person behind `actor`: None for the system, a script or a visitor."""
    pk = getattr(actor, "pk", None)
    return int(pk) if pk is not None else None


def actor_person(actor: Any) -> Any:
    """The person behind `actor`, to store in a "by" column; None for nobody."""
    return actor if getattr(actor, "pk", None) is not None else None
