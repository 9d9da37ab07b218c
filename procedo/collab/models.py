"""Comments on any subject (task, customer, order, SOP…) and the notifications people get.

A comment points at its subject the way tasks and events do (subject_type +
subject_id), so this app needs no foreign key into the apps it serves. A
notification is one row per recipient; its idempotency key is UNIQUE, so a
retried sweep or a double-clicked form never notifies anyone twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from procedo.core.texts import stored_text_render


class Comment(models.Model):
    subject_type = models.CharField(_("subject type"), max_length=20)
    subject_id = models.BigIntegerField(_("subject"))
    # The customer the subject concerns (a customer, an order's buyer): the
    # customer timeline shows the comment and a merge of duplicates moves it.
    customer_id = models.BigIntegerField(null=True, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="comments",
    )
    body = models.TextField(_("comment"))
    # What the @mentions resolved to when the comment was written:
    # [{"text": "@olena", "user_id": 3}, {"text": "@warehouse", "team_id": 1}].
    mentions = models.JSONField(default=list, blank=True)
    # Urgency is rare by rule: it carries its reason, or it is not urgent.
    urgent = models.BooleanField(_("urgent"), default=False)
    urgent_reason = models.CharField(_("why urgent"), max_length=300, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # Soft delete: the row (and its events) stay for the record; the thread shows a stub.
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # "ui:<form token>" / "api:<Idempotency-Key>": a double click posts one comment.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True, unique=True)

    class Meta:
        verbose_name = _("comment")
        indexes = [
            models.Index(
                fields=["subject_type", "subject_id", "id"], name="collab_comment_subject"
            ),
            models.Index(fields=["customer_id"], name="collab_comment_customer"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(urgent=False) | ~Q(urgent_reason=""),
                name="collab_comment_urgent_has_reason",
            )
        ]

    def __str__(self) -> str:
        return f"comment {self.pk} on {self.subject_type}:{self.subject_id}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class NotificationKind:
    """Known kinds; the column is an open string so another app can add its own."""

    MENTION = "mention"
    COMMENT = "comment"
    COMMENT_ON_YOUR_TASK = "comment_on_your_task"
    ASSIGNED = "assigned"
    OVERDUE = "overdue"
    ESCALATED = "escalated"
    HANDOVER = "handover"
    PROPOSAL = "proposal"
    ACKNOWLEDGEMENT_REQUESTED = "acknowledgement_requested"


class Notification(models.Model):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    kind = models.CharField(_("kind"), max_length=40)
    # As written, in English for what the system writes; `title_text` keeps the system's
    # sentence as its original and parameters, so each reader gets it in their language.
    title = models.CharField(_("title"), max_length=200)
    title_text = models.JSONField(null=True, blank=True)
    body = models.TextField(_("text"), blank=True, default="")
    url = models.CharField(_("link"), max_length=500, blank=True, default="")
    subject_type = models.CharField(max_length=20, blank=True, default="")
    subject_id = models.BigIntegerField(null=True, blank=True)
    urgent = models.BooleanField(_("urgent"), default=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    # "<caller's key>:<recipient id>": the caller's retry finds the row it made.
    idempotency_key = models.CharField(max_length=220, unique=True)

    class Meta:
        verbose_name = _("notification")
        indexes = [
            models.Index(fields=["recipient", "-id"], name="collab_notification_inbox"),
            # The bell counts these on every page: unread rows are few, read rows are most.
            models.Index(
                fields=["recipient"],
                name="collab_notification_unread",
                condition=Q(read_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id}: {self.title}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None

    @property
    def title_display(self) -> str:
        """The title in the reader's language."""
        return stored_text_render(self.title_text, self.title)[:200]


class NotificationSetting(models.Model):
    """A person's choices about notifications; no row means the defaults (email on)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="notification_setting",
    )
    notify_by_email = models.BooleanField(_("also by email"), default=True)

    class Meta:
        verbose_name = _("notification setting")

    def __str__(self) -> str:
        return f"notifications of {self.user_id}"
