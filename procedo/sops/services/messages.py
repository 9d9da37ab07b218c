""" "Send me a test": an SOP step's message, written for a sample subject, to the reader's own
email address, through the message ledger (the outbox or the SMTP server, like any message)."""

from __future__ import annotations

import hashlib
import uuid

from django.db import transaction
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor
from procedo.core.errors import DomainError
from procedo.core.idempotency import idempotent
from procedo.events.services.recording import event_record
from procedo.messaging.models import Channel, Message, MessageKind
from procedo.messaging.services.queueing import message_queue
from procedo.sops.selectors import messages as message_selectors
from procedo.sops.selectors import sops as sop_selectors

# A test goes to a person, not a customer: the message log files it with staff mail.
SOURCE = "notification:sop_test:{sop_id}"


@idempotent("sop.message_test", replay=lambda pk: Message.objects.get(pk=pk))
@transaction.atomic
def message_test_send(
    *,
    revision_id: int,
    step_key: str,
    sample_id: int | None,
    actor: Actor,
    idempotency_key: str | None,
) -> Message:
    """Queue the step's message, as written for the sample, to `actor`'s own email address,
    marked as a test; the caller checked the permission. The key makes a double click or a
    retry the same message; without a key every call is a new test."""
    address = (getattr(actor, "email", "") or "").strip()
    if not address:
        raise DomainError(
            field="email",
            message=_("Your profile has no email address: add one to get a test."),
        )
    revision = sop_selectors.revision_get(revision_id=revision_id)
    sample, preview = message_selectors.message_preview_of(
        revision=revision, step_key=step_key, sample_id=sample_id
    )
    what = preview.subject or preview.title
    if preview.channel == Channel.SMS:
        what = _("SMS: %(title)s") % {"title": preview.title}
    message = message_queue(
        channel=Channel.EMAIL,
        recipient=address,
        subject=_("[Test] %(subject)s") % {"subject": what},
        body=preview.body,
        body_html=preview.body_html,
        # Now, not after quiet hours or the cap: it is for the person who asked.
        kind=MessageKind.TRANSACTIONAL,
        source=SOURCE.format(sop_id=revision.sop_id),
        # The ledger's own key, from the claim's (unique, but up to 200 characters itself).
        idempotency_key="sop_test:"
        + hashlib.sha256((idempotency_key or uuid.uuid4().hex).encode()).hexdigest(),
    )
    event_record(
        event_type="sop.message_tested",
        subject=revision.sop,
        actor=actor,
        payload={
            "sop_id": revision.sop_id,
            "number": revision.number,
            "step_key": step_key,
            "step_title": preview.title,
            "sample_id": sample.id,
            "message_id": message.pk,
        },
        idempotency_key=idempotency_key,
    )
    return message
