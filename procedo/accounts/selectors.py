from __future__ import annotations

from django.db.models import Count, QuerySet

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
