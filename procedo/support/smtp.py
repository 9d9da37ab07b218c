"""The inbox's own mail server: an aiosmtpd handler that takes each message into support.

A mail server (or DNS MX) points the support address here, or `procedo
support-smtp` runs it on a port. Each message is stored raw by messaging
(`inbound_email_receive`: the same de-duplication by Message-ID as its pipe),
then put into its conversation before the 250 goes back: a message the server
accepted is in the inbox. A message messaging refuses (no From, empty) gets a
5xx naming why, so the sending server bounces it instead of it vanishing.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connections, transaction

from procedo.core.errors import DomainError
from procedo.messaging.services.inbound import inbound_email_receive
from procedo.support.services.intake import inbound_take

logger = logging.getLogger(__name__)


def inbound_email_deliver(*, raw: bytes, recipients: list[str]) -> int:
    """One message from the SMTP server into the inbox; returns the conversation's id."""
    with transaction.atomic():
        inbound = inbound_email_receive(raw=raw)
        entry = inbound_take(inbound_id=inbound.pk, recipients=recipients)
        assert entry is not None
        return entry.conversation_id


def _deliver(raw: bytes, recipients: list[str]) -> str:
    try:
        inbound_email_deliver(raw=raw, recipients=recipients)
    except DomainError as exc:
        return f"550 5.6.0 {exc.field}: {exc.message}"[:500]
    except Exception:
        logger.exception("an inbound email could not be stored")
        return "451 4.3.0 Could not store the message now; try again later"
    finally:
        # A pool thread's connection, one per message: none is left open between
        # messages for the database to time out (or a test database to wait on).
        connections.close_all()
    return "250 2.0.0 Ok: in the support inbox"


class InboxHandler:
    """aiosmtpd's handler: DATA is stored synchronously (the ORM), off the event loop."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        return await sync_to_async(_deliver, thread_sensitive=False)(
            bytes(raw), [str(r) for r in envelope.rcpt_tos]
        )
