"""Every write to comments and notifications.

`notify` is what other apps call (overdue sweeps, escalation, hand-over,
SOP proposals): one set-based INSERT for all recipients, guarded by a UNIQUE
key per recipient, so a retry or a second sweep notifies nobody twice, and one
email per new notification through the messaging ledger (itself keyed).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.accounts.actors import Actor
from procedo.accounts.models import User
from procedo.accounts.permissions import permission_require, user_can
from procedo.collab.mentions import mention_user_ids, mentions_resolve
from procedo.collab.models import Comment, Notification, NotificationKind, NotificationSetting
from procedo.collab.subjects import CommentSubject, comment_subject_get
from procedo.core.actors import actor_id_of
from procedo.core.errors import DomainError, NotFound, PermissionDenied
from procedo.core.idempotency import idempotency_claim
from procedo.core.texts import LaterText
from procedo.events.services.recording import event_record

BODY_MAX = 10_000
REASON_MAX = 300
KEY_MAX = 160
TITLE_MAX = 200
EXCERPT = 500


def _subject_row(subject_type: str, subject_id: int) -> tuple[CommentSubject, Any]:
    subject = comment_subject_get(subject_type)
    if subject is None:
        raise DomainError(
            field="subject_type",
            message=_("Comments cannot be left on “%(type)s”.") % {"type": subject_type},
        )
    row = subject.model._default_manager.filter(pk=subject_id).first()
    if row is None:
        raise NotFound(
            field="subject_id",
            message=_("No %(type)s %(id)s.") % {"type": subject_type, "id": subject_id},
        )
    return subject, row


def comment_can_read(*, user: Any, subject_type: str) -> bool:
    subject = comment_subject_get(subject_type)
    return subject is not None and user_can(user, subject.permission)


def comment_can_write(*, user: Any, subject_type: str) -> bool:
    return comment_can_read(user=user, subject_type=subject_type) and user_can(
        user, "collab.comment"
    )


@transaction.atomic
def comment_create(
    *,
    subject_type: str,
    subject_id: int,
    body: str,
    actor: Actor,
    urgent: bool = False,
    urgent_reason: str = "",
    idempotency_key: str | None = None,
) -> Comment:
    """A comment on a subject; notifies the mentioned, the subject's followers and the thread.

    Urgent needs its reason (the chat standards: not everything is urgent). A
    known key returns the comment it made: a double click posts once.
    """
    subject = comment_subject_get(subject_type)
    if actor is not None:
        permission_require(actor, "collab.comment")
        if subject is not None:
            permission_require(actor, subject.permission)
    # After the permission check: a replay never shows what the caller may not see.
    claim = idempotency_claim(
        key=idempotency_key,
        actor=actor,
        operation="comment.create",
        request={
            "subject_type": subject_type,
            "subject_id": subject_id,
            "body": body,
            "urgent": urgent,
            "urgent_reason": urgent_reason,
        },
    )
    if claim.replay:
        return Comment.objects.get(pk=claim.result_id or 0)
    idempotency_key = claim.event_key
    text = body.strip()
    if not text:
        raise DomainError(field="body", message=_("Write something first."))
    if len(text) > BODY_MAX:
        raise DomainError(
            field="body",
            message=_("A comment is at most %(max)s characters.") % {"max": BODY_MAX},
        )
    reason = " ".join(urgent_reason.split()) if urgent else ""
    if urgent and not reason:
        raise DomainError(
            field="urgent_reason",
            message=_("An urgent comment needs its reason: say why it cannot wait."),
        )
    if len(reason) > REASON_MAX:
        raise DomainError(
            field="urgent_reason",
            message=_("The reason is at most %(max)s characters.") % {"max": REASON_MAX},
        )
    subject, row = _subject_row(subject_type, subject_id)
    mentions = mentions_resolve(text)
    comment = Comment(
        subject_type=subject_type,
        subject_id=subject_id,
        customer_id=subject.customer_id(row),
        author_id=actor_id_of(actor),
        body=text,
        mentions=[m.as_json() for m in mentions],
        urgent=urgent,
        urgent_reason=reason,
        idempotency_key=idempotency_key,
    )
    comment.save(force_insert=True)
    claim.done(result_id=comment.pk)
    mentioned = mention_user_ids(mentions)
    event_record(
        event_type="comment.created",
        subject=comment,
        customer_id=comment.customer_id,
        actor=actor,
        payload={
            "on": f"{subject_type}:{subject_id}",
            "mentions": sorted(mentioned),
            "urgent": urgent,
            **({"urgent_reason": reason} if urgent else {}),
        },
    )
    _comment_notify(comment, subject, row, mentioned=mentioned, actor=actor)
    return comment


def _comment_notify(
    comment: Comment, subject: CommentSubject, row: Any, *, mentioned: set[int], actor: Actor
) -> None:
    author: str | LaterText = (
        str(actor) if actor_id_of(actor) else LaterText(gettext_noop("Someone"))
    )
    label = subject.label(row)
    url = f"{subject.url(comment.subject_id)}#comment-{comment.pk}"
    body = comment.body if len(comment.body) <= EXCERPT else comment.body[: EXCERPT - 1] + "…"
    if comment.urgent:
        body = _("Urgent: %(reason)s") % {"reason": comment.urgent_reason} + "\n\n" + body
    common: dict[str, Any] = {
        "url": url,
        "subject_type": comment.subject_type,
        "subject_id": comment.subject_id,
        # One key for every notification of this comment: a person mentioned
        # and also following the subject hears of it once.
        "key": f"comment:{comment.pk}",
        "urgent": comment.urgent,
        "body": body,
    }
    skip = {actor_id_of(actor)}
    mentioned = mentioned - skip
    if mentioned:
        notify(
            recipient_ids=mentioned,
            kind=NotificationKind.MENTION,
            title=LaterText(
                gettext_noop("%(author)s mentioned you on %(subject)s"),
                {"author": author, "subject": label},
            ),
            **common,
        )
    skip |= mentioned
    for user_id, kind in subject.followers(row):
        if user_id in skip:
            continue
        skip.add(user_id)
        title = (
            gettext_noop("%(author)s commented on your %(subject)s")
            if kind == NotificationKind.COMMENT_ON_YOUR_TASK
            else gettext_noop("%(author)s commented on %(subject)s")
        )
        notify(
            recipient_ids=[user_id],
            kind=kind,
            title=LaterText(title, {"author": author, "subject": label}),
            **common,
        )
    earlier = set(
        Comment.objects.filter(
            subject_type=comment.subject_type,
            subject_id=comment.subject_id,
            author__isnull=False,
            deleted_at__isnull=True,
        )
        .exclude(pk=comment.pk)
        .values_list("author_id", flat=True)
        .distinct()
    )
    others = {user_id for user_id in earlier if user_id is not None} - skip
    if others:
        # The thread hears of a reply in the app; by email only when it is urgent.
        notify(
            recipient_ids=others,
            kind=NotificationKind.COMMENT,
            title=LaterText(
                gettext_noop("%(author)s replied on %(subject)s"),
                {"author": author, "subject": label},
            ),
            email=comment.urgent,
            **common,
        )


@transaction.atomic
def comment_delete(*, comment_id: int, actor: Actor) -> Comment:
    """The author (or a manager) deletes a comment: it stays as a stub in the thread."""
    comment = Comment.objects.filter(pk=comment_id).first()
    if comment is None:
        raise NotFound(field="comment_id", message=_("No comment %(id)s.") % {"id": comment_id})
    if comment.deleted_at is not None:
        return comment
    if actor is not None and not (
        comment.author_id == actor_id_of(actor) or user_can(actor, "accounts.manage")
    ):
        raise PermissionDenied(
            field="comment_id", message=_("Only its author or a manager may delete a comment.")
        )
    now = timezone.now()
    # Compare-and-set: two deletes at once record one event.
    changed = Comment.objects.filter(pk=comment.pk, deleted_at__isnull=True).update(
        deleted_at=now, deleted_by_id=actor_id_of(actor)
    )
    comment.refresh_from_db()
    if changed:
        event_record(
            event_type="comment.deleted",
            subject=comment,
            customer_id=comment.customer_id,
            actor=actor,
            payload={"on": f"{comment.subject_type}:{comment.subject_id}"},
        )
    return comment


def comments_move_to_customer(survivor_id: int, duplicate_id: int) -> int:
    """Merge participant: the duplicate's comments become the survivor's."""
    moved = Comment.objects.filter(customer_id=duplicate_id).update(customer_id=survivor_id)
    Comment.objects.filter(subject_type="customer", subject_id=duplicate_id).update(
        subject_id=survivor_id
    )
    return moved


def _absolute(url: str) -> str:
    return f"{settings.PROCEDO_BASE_URL}{url}" if url.startswith("/") else url


def _email_text(*, title: str, body: str, url: str) -> str:
    parts = [title]
    if body:
        parts.append(body)
    if url:
        parts.append(_("Open: %(url)s") % {"url": _absolute(url)})
    settings_url = _absolute(reverse("collab:notifications"))
    parts.append(
        "-- \n"
        + _("Procedo notifications. Turn these emails off on %(url)s") % {"url": settings_url}
    )
    return "\n\n".join(parts)


@transaction.atomic
def notify(
    *,
    recipient_ids: Iterable[int],
    kind: str,
    title: str | LaterText,
    url: str = "",
    subject_type: str = "",
    subject_id: int | None = None,
    key: str,
    urgent: bool = False,
    email: bool = True,
    body: str = "",
) -> int:
    """Notify each active recipient once per `key`; returns how many notifications are new.

    `key` names the occasion ("overdue:task:42:2026-11-24"); each recipient's
    row is keyed "<key>:<user id>", so calling again with the same key (a
    retry, a second sweep) adds nobody. With `email`, each new notification is
    also queued as one transactional email to a recipient who has an address
    and has not turned email off.
    """
    if not key or len(key) > KEY_MAX:
        raise DomainError(
            field="key",
            message=_("A notification key of 1 to %(max)s characters.") % {"max": KEY_MAX},
        )
    # The system's own sentences (LaterText) are read in each reader's language.
    title_text = title.stored() if isinstance(title, LaterText) else None
    written = title.render_in(settings.LANGUAGE_CODE) if isinstance(title, LaterText) else title
    clean_title = " ".join(written.split())[:TITLE_MAX]
    if not clean_title:
        raise DomainError(field="title", message=_("A notification needs a title."))
    if not kind or len(kind) > 40:
        raise DomainError(field="kind", message=_("A notification kind of 1 to 40 characters."))
    wanted = {int(pk) for pk in recipient_ids}
    if not wanted:
        return 0
    email_off = NotificationSetting.objects.filter(user=OuterRef("pk"), notify_by_email=False)
    recipients = list(
        User.objects.filter(pk__in=wanted, is_active=True)
        .annotate(email_off=Exists(email_off))
        .values_list("pk", "email", "email_off", "language")
    )
    keys = {pk: f"{key}:{pk}" for pk, _email, _off, _language in recipients}
    known = set(
        Notification.objects.filter(idempotency_key__in=keys.values()).values_list(
            "idempotency_key", flat=True
        )
    )
    now = timezone.now()
    new = [
        Notification(
            recipient_id=pk,
            kind=kind,
            title=clean_title,
            title_text=title_text,
            body=body,
            url=url[:500],
            subject_type=subject_type,
            subject_id=subject_id,
            urgent=urgent,
            created_at=now,
            idempotency_key=keys[pk],
        )
        for pk, _email, _off, _language in recipients
        if keys[pk] not in known
    ]
    if not new:
        return 0
    # A twin call racing past the check above inserts nothing here (ON CONFLICT DO NOTHING).
    Notification.objects.bulk_create(new, ignore_conflicts=True)
    if email:
        _notify_by_email(
            [
                (pk, address, language or settings.LANGUAGE_CODE)
                for pk, address, off, language in recipients
                if address and not off
            ],
            new_keys={row.idempotency_key for row in new},
            keys=keys,
            kind=kind,
            title=title if isinstance(title, LaterText) else clean_title,
            body=body,
            url=url,
            urgent=urgent,
        )
    event_record(
        event_type="notification.sent",
        subject_type=subject_type,
        subject_id=subject_id,
        payload={"kind": kind, "key": key, "recipients": sorted(row.recipient_id for row in new)},
    )
    return len(new)


def _notify_by_email(
    addresses: list[tuple[int, str, str]],
    *,
    new_keys: set[str],
    keys: dict[int, str],
    kind: str,
    title: str | LaterText,
    body: str,
    url: str,
    urgent: bool,
) -> None:
    from procedo.messaging.models import Channel, MessageKind
    from procedo.messaging.services.queueing import message_queue

    for pk, address, language in addresses:
        if keys[pk] not in new_keys:
            continue
        # Each email in its recipient's language, whoever's click caused it.
        with translation.override(language):
            written = title.render() if isinstance(title, LaterText) else title
            written = " ".join(written.split())[:TITLE_MAX]
            subject = f"[{_('Urgent')}] {written}" if urgent else written
            text = _email_text(title=written, body=body, url=url)
        # The ledger's own key: even a twin that inserted nothing above queues no second email.
        message_queue(
            channel=Channel.EMAIL,
            recipient=address,
            subject=subject,
            body=text,
            kind=MessageKind.TRANSACTIONAL,
            source=f"notification:{kind}"[:80],
            idempotency_key=f"notification:{keys[pk]}",
        )


@transaction.atomic
def notification_read(*, notification_id: int, user: Any) -> Notification:
    """Mark one of the user's notifications read (again is harmless)."""
    notification = Notification.objects.filter(pk=notification_id, recipient_id=user.pk).first()
    if notification is None:
        raise NotFound(
            field="notification_id",
            message=_("No notification %(id)s for you.") % {"id": notification_id},
        )
    if notification.read_at is None:
        now = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=now)
        notification.read_at = now
    return notification


@transaction.atomic
def notifications_read_all(*, user: Any, up_to_id: int | None = None) -> int:
    """Mark the user's unread notifications read; `up_to_id`: only those the page showed."""
    unread = Notification.objects.filter(recipient_id=user.pk, read_at__isnull=True)
    if up_to_id is not None:
        unread = unread.filter(pk__lte=up_to_id)
    return unread.update(read_at=timezone.now())


@transaction.atomic
def notification_setting_set(*, user: Any, notify_by_email: bool) -> NotificationSetting:
    setting, _created = NotificationSetting.objects.update_or_create(
        user_id=user.pk, defaults={"notify_by_email": notify_by_email}
    )
    event_record(
        event_type="notification_setting.changed",
        subject=user,
        actor=user,
        payload={"notify_by_email": notify_by_email},
    )
    return setting
