"""Comments and notifications in the REST API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _
from ninja import Field, Query, Router
from ninja.responses import Status

from procedo.accounts.auth import ApiRequest, requires_api
from procedo.accounts.permissions import permission_require
from procedo.collab import selectors, services
from procedo.collab.models import Comment, Notification
from procedo.collab.subjects import comment_subject_get
from procedo.core.bounds import PAGE_LIMIT_DEFAULT, Cursor, Id, PageLimit, PathId
from procedo.core.errors import DomainError
from procedo.core.idempotency import api_key, idempotency_header
from procedo.core.schemas import Schema

comments_router = Router(tags=["comments"])
notifications_router = Router(tags=["notifications"])


class CommentOut(Schema):
    id: int
    subject_type: str
    subject_id: int
    author_id: int | None
    body: str
    mentions: list[dict[str, Any]]
    urgent: bool
    urgent_reason: str
    created_at: datetime
    deleted_at: datetime | None

    @staticmethod
    def resolve_body(obj: Comment) -> str:
        return "" if obj.deleted_at else obj.body


class CommentPageOut(Schema):
    items: list[CommentOut]
    next_cursor: str | None


class CommentQuery(Schema):
    subject_type: str = Field(min_length=1, max_length=20)
    subject_id: Id
    cursor: Cursor | None = None
    limit: PageLimit = PAGE_LIMIT_DEFAULT


class CommentIn(Schema):
    subject_type: str = Field(min_length=1, max_length=20, examples=["order"])
    subject_id: Id
    body: str = Field(min_length=1, max_length=services.BODY_MAX)
    urgent: bool = False
    urgent_reason: str = Field(default="", max_length=services.REASON_MAX)


class NotificationOut(Schema):
    id: int
    kind: str
    title: str
    body: str
    url: str
    subject_type: str
    subject_id: int | None
    urgent: bool
    created_at: datetime
    read_at: datetime | None

    @staticmethod
    def resolve_title(notification: Notification) -> str:
        """In the caller's language (Accept-Language) where the system wrote it."""
        return notification.title_display


class NotificationPageOut(Schema):
    items: list[NotificationOut]
    next_cursor: str | None
    unread: int


class NotificationQuery(Schema):
    unread: bool = False
    cursor: Cursor | None = None
    limit: PageLimit = PAGE_LIMIT_DEFAULT


class ReadAllIn(Schema):
    up_to_id: Id | None = Field(default=None, description="Only notifications up to this id.")


class ReadAllOut(Schema):
    marked: int


def _require_read(user: Any, subject_type: str) -> None:
    subject = comment_subject_get(subject_type)
    if subject is None:
        raise DomainError(
            field="subject_type",
            message=_("Comments cannot be left on “%(type)s”.") % {"type": subject_type},
        )
    permission_require(user, subject.permission)


@comments_router.get("", response=CommentPageOut)
def comment_list(request: ApiRequest, filters: Query[CommentQuery]) -> dict[str, Any]:
    """The comments on a subject, oldest first; a deleted one keeps its place, without text."""
    _require_read(request.auth, filters.subject_type)
    page = selectors.comment_page(
        subject_type=filters.subject_type,
        subject_id=filters.subject_id,
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return {"items": page.items, "next_cursor": page.next_cursor}


@comments_router.post("", response={201: CommentOut})
def comment_create(
    request: ApiRequest,
    payload: CommentIn,
    idempotency_key: str | None = idempotency_header(),
) -> Status[Comment]:
    """Comment on a subject; @username and @team-name mention people, who are notified.

    `urgent` needs `urgent_reason`. The same Idempotency-Key posts one comment.
    """
    comment = services.comment_create(
        subject_type=payload.subject_type,
        subject_id=payload.subject_id,
        body=payload.body,
        urgent=payload.urgent,
        urgent_reason=payload.urgent_reason,
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )
    return Status(201, comment)


@comments_router.delete(
    "/{int:comment_id}", response=CommentOut, auth=requires_api("collab.comment")
)
def comment_delete(request: ApiRequest, comment_id: PathId) -> Comment:
    return services.comment_delete(comment_id=comment_id, actor=request.auth)


@notifications_router.get("", response=NotificationPageOut)
def notification_list(request: ApiRequest, filters: Query[NotificationQuery]) -> dict[str, Any]:
    """The caller's notifications, newest first, with the unread count the bell shows."""
    user = request.auth
    permission_require(user, "notifications.view")
    page = selectors.notifications_page(
        user=user, unread=filters.unread, cursor=filters.cursor, limit=filters.limit
    )
    unread = selectors.notifications_unread_counts(user=user).unread
    return {"items": page.items, "next_cursor": page.next_cursor, "unread": unread}


@notifications_router.post(
    "/{int:notification_id}/read", response=NotificationOut, auth=requires_api("notifications.view")
)
def notification_read(request: ApiRequest, notification_id: PathId) -> Notification:
    return services.notification_read(notification_id=notification_id, user=request.auth)


@notifications_router.post("/read", response=ReadAllOut, auth=requires_api("notifications.view"))
def notifications_read_all(request: ApiRequest, payload: ReadAllIn) -> dict[str, int]:
    marked = services.notifications_read_all(user=request.auth, up_to_id=payload.up_to_id)
    return {"marked": marked}


class NotificationSettingOut(Schema):
    notify_by_email: bool = Field(description="Also tell me by email (the bell always shows).")


@notifications_router.get(
    "/settings", response=NotificationSettingOut, auth=requires_api("notifications.view")
)
def notification_setting_get(request: ApiRequest) -> dict[str, bool]:
    return {"notify_by_email": selectors.notification_email_on(user=request.auth)}


@notifications_router.put(
    "/settings", response=NotificationSettingOut, auth=requires_api("notifications.view")
)
def notification_setting_set(
    request: ApiRequest, payload: NotificationSettingOut
) -> dict[str, bool]:
    """Whether the caller's notifications also come by email."""
    setting = services.notification_setting_set(
        user=request.auth, notify_by_email=payload.notify_by_email
    )
    return {"notify_by_email": setting.notify_by_email}
