"""Reading comment threads and a person's notifications."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q

from procedo.collab.models import Comment, Notification, NotificationSetting
from procedo.core.paging import Page, keyset_page

THREAD_LIMIT = 100


@dataclass(frozen=True)
class Thread:
    comments: list[Comment]  # oldest first
    older: int  # comments before the first shown


def comments_of_subject(*, subject_type: str, subject_id: int, limit: int = THREAD_LIMIT) -> Thread:
    """The last `limit` comments on a subject, oldest first (a thread reads downwards)."""
    rows = list(
        Comment.objects.filter(subject_type=subject_type, subject_id=subject_id)
        .select_related("author")
        .order_by("-id")[: limit + 1]
    )
    older = 0
    if len(rows) > limit:
        rows = rows[:limit]
        older = Comment.objects.filter(
            subject_type=subject_type, subject_id=subject_id, pk__lt=rows[-1].pk
        ).count()
    rows.reverse()
    return Thread(comments=rows, older=older)


def comment_page(
    *, subject_type: str, subject_id: int, cursor: str | None = None, limit: int = 50
) -> Page[Comment]:
    """For the API: oldest first, keyset paged."""
    comments = Comment.objects.filter(subject_type=subject_type, subject_id=subject_id)
    return keyset_page(comments.select_related("author"), order=["id"], cursor=cursor, limit=limit)


def notifications_page(
    *, user: Any, unread: bool = False, cursor: str | None = None, limit: int = 50
) -> Page[Notification]:
    """Newest first, keyset paged."""
    rows = Notification.objects.filter(recipient_id=user.pk)
    if unread:
        rows = rows.filter(read_at__isnull=True)
    return keyset_page(rows, order=["-id"], cursor=cursor, limit=limit)


@dataclass(frozen=True)
class UnreadCounts:
    unread: int
    urgent: int


def notifications_unread_counts(*, user: Any) -> UnreadCounts:
    """What the bell shows, in one query on the partial index of unread rows."""
    if not getattr(user, "is_authenticated", False):
        return UnreadCounts(0, 0)
    counts = Notification.objects.filter(recipient_id=user.pk, read_at__isnull=True).aggregate(
        unread=Count("id"), urgent=Count("id", filter=Q(urgent=True))
    )
    return UnreadCounts(counts["unread"], counts["urgent"])


def notification_email_on(*, user: Any) -> bool:
    return not NotificationSetting.objects.filter(user_id=user.pk, notify_by_email=False).exists()
