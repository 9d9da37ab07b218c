"""One inbox: conversations with customers on every channel, tickets with SLAs, CSAT.

A conversation is what one customer writes on one channel (an email thread, an
SMS number, a Telegram chat) and our answers. It may become a ticket, which has
a category, a priority, an order, due times from its SLA policy and, once
solved, the customer's rating. Writes go through `procedo.support.services`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from procedo.core.texts import stored_text_render

# Bounds of a target (minutes of working time): a year of working days at most.
TARGET_MAX_MINUTES = 60 * 24 * 366
BODY_MAX = 20_000


class SupportChannel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    TELEGRAM = "telegram", "Telegram"


class ConversationStatus(models.TextChoices):
    NEW = "new", _("New")
    OPEN = "open", _("Open")
    WAITING = "waiting", _("Waiting on customer")
    SOLVED = "solved", _("Solved")
    CLOSED = "closed", _("Closed")


# A conversation in these is someone's to answer; the others wait for nobody here.
ACTIVE = (ConversationStatus.NEW, ConversationStatus.OPEN)


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


class EntryKind(models.TextChoices):
    INBOUND = "inbound", _("From the customer")
    REPLY = "reply", _("Reply")
    NOTE = "note", _("Internal note")


class DeliveryState(models.TextChoices):
    """A Telegram reply's way out (email and SMS replies are messaging's `Message` rows)."""

    NONE = "", _("Not sent")
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    # The Bot API may or may not have it: the connection died after the request left.
    UNKNOWN = "unknown", _("Unknown")


class Conversation(models.Model):
    channel = models.CharField(_("channel"), max_length=10, choices=SupportChannel.choices)
    # The customer's address on the channel: an email, an E.164 phone, a Telegram chat id.
    address = models.CharField(_("address"), max_length=254)
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="conversations",
    )
    subject = models.CharField(_("subject"), max_length=300, blank=True, default="")
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=ConversationStatus.choices,
        default=ConversationStatus.NEW,
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("responsible"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="support_conversations",
    )
    team = models.ForeignKey(
        "accounts.Team",
        verbose_name=_("team queue"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="support_conversations",
    )
    created_at = models.DateTimeField(_("opened at"), default=timezone.now)
    last_message_at = models.DateTimeField(_("last message"), default=timezone.now)
    # The oldest message from the customer nobody has answered yet, and when the
    # response standard wants the answer by (working time); cleared by a reply.
    awaiting_since = models.DateTimeField(_("waiting since"), null=True, blank=True)
    reply_due_at = models.DateTimeField(_("answer due"), null=True, blank=True)
    # Set by the sweep when it raised `conversation.waiting` for this wait: once per wait.
    waiting_raised_at = models.DateTimeField(null=True, blank=True)
    # The first answer: when, by whom, and how many working minutes after the first message.
    first_response_at = models.DateTimeField(_("first answer"), null=True, blank=True)
    first_responder = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    first_response_minutes = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("conversation")
        indexes = [
            models.Index(fields=["status", "last_message_at"], name="support_conv_status"),
            models.Index(fields=["channel", "address", "id"], name="support_conv_address"),
            models.Index(
                fields=["reply_due_at"],
                name="support_conv_reply_due",
                condition=Q(waiting_raised_at__isnull=True, reply_due_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.subject or f"#{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE


class Entry(models.Model):
    """One message of a conversation: the customer's, our reply, or an internal note."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(_("kind"), max_length=10, choices=EntryKind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField(_("text"))
    # A text the system put in place of the customer's ("(a message without text)"), as its
    # original (procedo/core/texts.py), read in each reader's language. None: as written.
    body_text = models.JSONField(null=True, blank=True)
    # Email and SMS go both ways through messaging: what came in, what went out.
    inbound = models.OneToOneField(
        "messaging.InboundMessage",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="support_entry",
    )
    message = models.ForeignKey(
        "messaging.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Telegram: the message id in the chat (theirs on the way in, the Bot API's answer out).
    external_id = models.CharField(max_length=64, blank=True, default="")
    delivery = models.CharField(
        _("delivery"), max_length=10, choices=DeliveryState.choices, blank=True, default=""
    )
    delivery_answer = models.CharField(max_length=500, blank=True, default="")
    idempotency_key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("conversation message")
        indexes = [
            models.Index(fields=["conversation", "id"], name="support_entry_conv"),
            models.Index(
                fields=["delivery"], name="support_entry_due", condition=Q(delivery="queued")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"

    @property
    def body_display(self) -> str:
        return stored_text_render(self.body_text, self.body)


class TelegramChat(models.Model):
    """A Telegram chat with the bot, and whose it is (a customer has no Telegram identity)."""

    chat_id = models.BigIntegerField(unique=True)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="telegram_chats"
    )
    username = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return str(self.chat_id)


class TelegramUpdate(models.Model):
    """Every Update the webhook accepted, as sent: nothing a customer wrote is lost."""

    update_id = models.BigIntegerField(unique=True)
    raw = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return str(self.update_id)


class TicketCategory(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)

    class Meta:
        verbose_name = _("ticket category")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SlaPolicy(models.Model):
    """Targets in working minutes for tickets of a priority (and a category, or any)."""

    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices)
    category = models.ForeignKey(
        TicketCategory,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="policies",
    )
    first_response_minutes = models.PositiveIntegerField(_("first answer within (minutes)"))
    resolution_minutes = models.PositiveIntegerField(_("solved within (minutes)"))
    escalate_to = models.ForeignKey(
        "accounts.Team",
        verbose_name=_("escalate to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("SLA policy")
        ordering = ["priority", "category__name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["priority", "category"], name="support_sla_one_per_category"
            ),
            models.UniqueConstraint(
                fields=["priority"],
                condition=Q(category__isnull=True),
                name="support_sla_one_default",
            ),
            models.CheckConstraint(
                condition=Q(first_response_minutes__gte=0, resolution_minutes__gte=0),
                name="support_sla_targets_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.priority} / {self.category or '*'}"


class Ticket(models.Model):
    conversation = models.OneToOneField(
        Conversation, on_delete=models.CASCADE, related_name="ticket"
    )
    category = models.ForeignKey(
        TicketCategory,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tickets",
    )
    priority = models.CharField(
        _("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    order = models.ForeignKey(
        "orders.Order",
        verbose_name=_("order"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="support_tickets",
    )
    # The team's standard "urgent only with a reason": who made it urgent, when and why.
    urgent_reason = models.CharField(_("why urgent"), max_length=300, blank=True, default="")
    urgent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    urgent_at = models.DateTimeField(null=True, blank=True)
    policy = models.ForeignKey(
        SlaPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    opened_at = models.DateTimeField(_("opened at"), default=timezone.now)
    first_response_due_at = models.DateTimeField(_("first answer due"), null=True, blank=True)
    resolution_due_at = models.DateTimeField(_("solution due"), null=True, blank=True)
    first_responded_at = models.DateTimeField(_("first answer"), null=True, blank=True)
    solved_at = models.DateTimeField(_("solved at"), null=True, blank=True)
    # The SLA clock stops while we wait on the customer; the due times move on by
    # the working time it stood still when it starts again.
    paused_at = models.DateTimeField(_("clock paused at"), null=True, blank=True)
    first_response_breached_at = models.DateTimeField(null=True, blank=True)
    resolution_breached_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    csat_sent_at = models.DateTimeField(_("survey sent"), null=True, blank=True)
    csat_rating = models.PositiveSmallIntegerField(_("rating"), null=True, blank=True)
    csat_comment = models.TextField(_("comment"), blank=True, default="")
    csat_answered_at = models.DateTimeField(_("rated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("ticket")
        constraints = [
            models.CheckConstraint(
                condition=Q(csat_rating__isnull=True) | Q(csat_rating__gte=1, csat_rating__lte=5),
                name="support_csat_1_to_5",
            ),
        ]
        indexes = [
            models.Index(
                fields=["first_response_due_at"],
                name="support_ticket_fr_due",
                condition=Q(first_response_breached_at__isnull=True, solved_at__isnull=True),
            ),
            models.Index(
                fields=["resolution_due_at"],
                name="support_ticket_res_due",
                condition=Q(resolution_breached_at__isnull=True, solved_at__isnull=True),
            ),
            models.Index(
                fields=["csat_answered_at"],
                name="support_ticket_csat",
                condition=Q(csat_rating__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk}"


class SupportSettings(models.Model):
    """The team's response standard (one row): the first answer within N working minutes."""

    SINGLETON_ID = 1

    first_answer_minutes = models.PositiveIntegerField(
        _("first answer within (working minutes)"), default=60
    )
    default_team = models.ForeignKey(
        "accounts.Team",
        verbose_name=_("new conversations go to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("support settings")
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="support_settings_singleton"),
        ]

    def __str__(self) -> str:
        return "support settings"
