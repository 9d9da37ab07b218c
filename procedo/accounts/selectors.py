from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Count, Max, Q, QuerySet, Sum
from django.utils import timezone

from procedo.accounts.models import ApiToken, Team, User


def api_tokens_of(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")


def users_all() -> QuerySet[User]:
    return User.objects.order_by("-is_active", "username")


def teams_all() -> QuerySet[Team]:
    return (
        Team.objects.select_related("lead")
        .annotate(member_count=Count("members"))
        .prefetch_related("members")
        .order_by("name")
    )


@dataclass(frozen=True)
class Lockout:
    kind: str  # "username" or "address"
    value: str
    failures: int
    until: datetime


LOCKOUTS_SHOWN = 50


def login_lockouts() -> list[Lockout]:
    """Usernames and addresses whose log-ins axes refuses now, the longest-locked first.

    Two grouped queries; at most LOCKOUTS_SHOWN of each kind (`procedo axes_reset`
    clears them all at once).
    """
    cool_off: timedelta = settings.AXES_COOLOFF_TIME
    recent = AccessAttempt.objects.filter(attempt_time__gte=timezone.now() - cool_off)
    lockouts: list[Lockout] = []
    for kind, column in (("username", "username"), ("address", "ip_address")):
        rows = (
            recent.exclude(**{f"{column}__isnull": True})
            .values(column)
            .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
            .filter(failures__gte=settings.AXES_FAILURE_LIMIT)
            .order_by("last")[:LOCKOUTS_SHOWN]
        )
        lockouts += [
            Lockout(kind, str(row[column]), row["failures"], row["last"] + cool_off) for row in rows
        ]
    return lockouts


def login_failures(*, username: str | None, address: str | None) -> dict[str, int]:
    """Recent failed log-ins counted as axes counts them: per username and per address."""
    cool_off: timedelta = settings.AXES_COOLOFF_TIME
    by_username = Q(username=username) if username is not None else Q(username__isnull=True)
    by_address = Q(ip_address=address) if address is not None else Q(ip_address__isnull=True)
    totals = AccessAttempt.objects.filter(
        by_username | by_address, attempt_time__gte=timezone.now() - cool_off
    ).aggregate(
        username=Sum("failures_since_start", filter=by_username, default=0),
        address=Sum("failures_since_start", filter=by_address, default=0),
    )
    return {"username": totals["username"], "address": totals["address"]}
