"""Who a service acts for, as a type, and the person behind it.

A service's `actor` is a signed-in person, a page's anonymous visitor (a failed
sign-in) or None (the worker, a command, a webhook). A service that needs a person
(taking a task, confirming a revision) takes `actor: User` instead.
"""

from __future__ import annotations

from typing import TypeAlias

from django.contrib.auth.models import AnonymousUser
from django.utils.translation import gettext as _

from procedo.accounts.models import User
from procedo.core.errors import PermissionDenied

Actor: TypeAlias = User | AnonymousUser | None


def actor_person(actor: Actor) -> User | None:
    """The person behind `actor`, to store in a "by" column; None for nobody."""
    return actor if isinstance(actor, User) else None


def actor_person_required(actor: Actor, *, field: str = "actor") -> User:
    """The person behind `actor`, for work only a person does (taking a task, confirming
    they read a revision); the system or a visitor is refused."""
    person = actor_person(actor)
    if person is None:
        raise PermissionDenied(field=field, message=_("Only a signed-in person can do this."))
    return person
