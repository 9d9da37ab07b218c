"""Who did it: the person behind an `actor`, or nobody.

Services take `actor` as whoever asked: a signed-in user, an AnonymousUser (a
page's visitor, a failed sign-in) or None (the worker, a command, a webhook).
This is the one reading of its id, for events' `actor_id` and "by" columns; the
type and the person behind it are `procedo.accounts.actors`.
"""

from __future__ import annotations

from typing import Any


def actor_id_of(actor: Any) -> int | None:
    """The id of the person behind `actor`: None for the system, a script or a visitor."""
    pk = getattr(actor, "pk", None)
    return int(pk) if pk is not None else None
