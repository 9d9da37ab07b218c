"""The outbound message ledger: one row per message, keyed so a retry never makes a second.

A row moves queued → sending (under a lease) → sent / failed / unknown, or ends
`suppressed`; `procedo.messaging.services.sending` is the only code that moves it after
it is queued. See "Messaging" in docs/architecture.md for the guarantee.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")


class MessageKind(models.TextChoices):
    TRANSACTIONAL = "transactional", _("Transactional")
    MARKETING = "marketing", _("Marketing")


class MessageState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    # The server may or may not have it: the connection died between DATA and its reply.
    UNKNOWN = "unknown", _("Unknown")
    SUPPRESSED = "suppressed", _("Suppressed")


class Provider(models.TextChoices):
    SMTP = "smtp", _("SMTP server")
    OUTBOX = "outbox", _("Demo outbox")
    CONSOLE = "console", _("Console")
    TWILIO = "twilio", "Twilio"


class Message(models.Model):
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    kind = models.CharField(
        _("kind"), max_length=15, choices=MessageKind.choices, default=MessageKind.TRANSACTIONAL
    )
    recipient = models.CharField(_("to"), max_length=254)
    customer_id = models.BigIntegerField(null=True, blank=True)
    template_key = models.CharField(max_length=80, blank=True, default="")
    from_email = models.CharField(_("from"), max_length=254, blank=True, default="")
    subject = models.CharField(_("subject"), max_length=300, blank=True, default="")
    body = models.TextField(_("body"))
    body_html = models.TextField(_("HTML body"), blank=True, default="")
    # Generated once when queued: a re-send after `unknown` carries the same one,
    # so the receiver (and the person) can tell it is the same message.
    message_id = models.CharField(_("Message-ID"), max_length=250, blank=True, default="")
    state = models.CharField(
        _("state"), max_length=10, choices=MessageState.choices, default=MessageState.QUEUED
    )
    # Not before this time: a retry's backoff, quiet hours, a frequency cap.
    deferred_until = models.DateTimeField(_("deferred until"), null=True, blank=True)
    # The sender holding the row (`claim_token`) owns it until `claimed_until`.
    claim_token = models.CharField(max_length=32, blank=True, default="")
    claimed_until = models.DateTimeField(null=True, blank=True)
    # Set just before the message goes to the server: an expired lease with it set
    # means the server may have the message (unknown); without it, it never left.
    handed_over_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # The server's last answer ("250 2.0.0 Ok", "550 5.1.1 No such user") or the error.
    answer = models.TextField(_("server answer"), blank=True, default="")
    reason = models.CharField(_("reason"), max_length=200, blank=True, default="")
    # SMS: the provider's id for the message (Twilio's SM…), and what its delivery
    # callbacks last said (queued, sent, delivered, undelivered, failed).
    provider_ref = models.CharField(max_length=64, blank=True, default="", db_index=True)
    delivery_status = models.CharField(_("delivery status"), max_length=20, blank=True, default="")
    # Who took it on the last attempt: "smtp", "outbox" (the embedded default,
    # PROCEDO_VAR/outbox), "console", "twilio". "sent" means something else for each.
    provider = models.CharField(
        _("provider"), max_length=20, choices=Provider.choices, blank=True, default=""
    )
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    # Where it came from, e.g. "sop_run:12" (shown in the message log).
    source = models.CharField(max_length=80, blank=True, default="")
    # "run:<id>:step:<key>:<iteration>" for an SOP step.
    idempotency_key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("message")
        indexes = [
            models.Index(fields=["customer_id", "id"], name="messaging_customer"),
            # Replies are matched by their In-Reply-To against these.
            models.Index(
                fields=["message_id"], name="messaging_message_id", condition=~Q(message_id="")
            ),
            # The sender's scans: due rows, and leases to recover. Terminal rows are most
            # of the table and never scanned, so the index leaves them out.
            models.Index(
                fields=["state", "deferred_until"],
                name="messaging_active",
                condition=Q(state__in=["queued", "sending", "unknown"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.recipient}"

    @property
    def is_marketing(self) -> bool:
        return self.kind == MessageKind.MARKETING


class Template(models.Model):
    """A message a store owner writes once (Jinja2, sandboxed) and SOP steps and campaigns use."""

    key = models.SlugField(_("key"), max_length=80, unique=True)
    name = models.CharField(_("name"), max_length=200)
    channel = models.CharField(
        _("channel"), max_length=10, choices=Channel.choices, default=Channel.EMAIL
    )
    kind = models.CharField(
        _("kind"), max_length=15, choices=MessageKind.choices, default=MessageKind.TRANSACTIONAL
    )
    subject = models.CharField(_("subject"), max_length=300, blank=True, default="")
    body_text = models.TextField(_("text"))
    body_html = models.TextField(_("HTML"), blank=True, default="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("template")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class InboundMessage(models.Model):
    """A message a customer sent us (an email reply, an SMS): stored raw before anything else.

    Matched to the outbound message it answers (email: In-Reply-To/References
    against our Message-IDs; SMS: the latest SMS we sent to that number), else to
    the customer by the sender's address or phone. `idempotency_key` makes a
    redelivery (a mail server's retry, Twilio's) the same row.
    """

    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    sender = models.CharField(_("from"), max_length=254)
    recipient = models.CharField(_("to"), max_length=254, blank=True, default="")
    subject = models.CharField(_("subject"), max_length=300, blank=True, default="")
    body = models.TextField(_("text"), blank=True, default="")
    # The whole message as it came (RFC 822 bytes; the webhook's form as JSON):
    # nothing a customer sent is lost, whatever the parser made of it.
    raw = models.BinaryField(_("raw"))
    # The email's own Message-ID, or the provider's id (Twilio's MessageSid).
    external_id = models.CharField(max_length=250, blank=True, default="")
    in_reply_to = models.ForeignKey(
        Message,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replies",
        verbose_name=_("in reply to"),
    )
    customer_id = models.BigIntegerField(null=True, blank=True)
    # A reply to a support-type message (source `ticket:…`/`support:…`): the support
    # area turns these into tickets.
    is_support_reply = models.BooleanField(_("reply to support"), default=False)
    idempotency_key = models.CharField(max_length=300, unique=True)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)

    class Meta:
        verbose_name = _("inbound message")
        indexes = [
            models.Index(fields=["customer_id", "id"], name="messaging_inbound_customer"),
            models.Index(
                fields=["is_support_reply", "id"],
                name="messaging_inbound_support",
                condition=Q(is_support_reply=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} from {self.sender}"
