"""What the marketing writes share: the bounds of their input, and how a raw statement
takes a time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection
from django.utils.translation import gettext as _

from procedo.core.errors import DomainError
from procedo.marketing.models import (
    Match,
)

MAX_NAME = 200
MAX_HOLDOUT = 50
MAX_ATTRIBUTION_DAYS = 90
MAX_LADDER = 5


def _name_clean(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise DomainError(field="name", message=_("Give it a name."))
    if len(name) > MAX_NAME:
        raise DomainError(
            field="name", message=_("A name has at most %(n)s characters.") % {"n": MAX_NAME}
        )
    return name


def _match_clean(match: str) -> str:
    if match not in Match.values:
        raise DomainError(
            field="match", message=_("Match is “all” or “any”, not “%(m)s”.") % {"m": match[:20]}
        )
    return match


def _moment(value: datetime) -> Any:
    """A time as the ORM stores it, for a raw statement (SQLite keeps naive UTC text)."""
    return connection.ops.adapt_datetimefield_value(value)
