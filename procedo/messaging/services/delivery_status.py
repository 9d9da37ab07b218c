"""SMS delivery callbacks: a provider's word on a message, checked by its signature and written
to the message's row with its event (the provider itself is `procedo.messaging.sms`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.core.errors import NotFound
from procedo.events.services.recording import event_record
from procedo.messaging.models import Message, MessageState
from procedo.messaging.sms import twilio_request_verify

FINAL_FAILURES = {"failed", "undelivered"}
# Twilio's statuses in the order a message goes through them; final ones last.
_RANK = {
    "accepted": 1,
    "scheduled": 1,
    "queued": 2,
    "sending": 3,
    "sent": 4,
    "delivered": 5,
    # A failure reported after "delivered" is kept: it must not be hidden.
    "undelivered": 6,
    "failed": 6,
    "read": 7,
}


@transaction.atomic
def sms_status_apply(*, url: str, params: Mapping[str, str], signature: str) -> Message:
    """A delivery callback: checked against the provider's signature, then written to the row."""
    twilio_request_verify(url=url, params=params, signature=signature)
    sid = params.get("MessageSid", "")
    status = params.get("MessageStatus", "")[:20]
    message = Message.objects.filter(provider_ref=sid).first() if sid else None
    if message is None:
        raise NotFound(field="MessageSid", message=_("No message %(sid)s.") % {"sid": sid})
    if _RANK.get(message.delivery_status, 0) >= _RANK.get(status, 0) and message.delivery_status:
        # A redelivered callback, or one overtaken by a later status (Twilio does
        # not promise order): "sent" after "delivered" must not move it back.
        return message
    fields: dict[str, Any] = {"delivery_status": status}
    if status in FINAL_FAILURES:
        fields.update(
            state=MessageState.FAILED,
            answer=f"{status} {params.get('ErrorCode', '')}".strip(),
        )
    Message.objects.filter(pk=message.pk).update(**fields)
    event_record(
        event_type="message.delivery_updated",
        subject=message,
        customer_id=message.customer_id,
        payload={"status": status, "error_code": params.get("ErrorCode", "")},
        occurred_at=timezone.now(),
    )
    message.refresh_from_db()
    return message
