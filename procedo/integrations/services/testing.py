"""Send a test: Procedo posts a signed sample of the connection's platform to its own hook
address and says what became of it."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor
from procedo.core.actors import actor_id_of
from procedo.core.errors import DomainError, NotFound
from procedo.events.models import Event
from procedo.events.services.recording import event_record
from procedo.integrations import samples
from procedo.integrations.models import Connection
from procedo.integrations.secrets import secret_decrypt

logger = logging.getLogger(__name__)

TEST_TIMEOUT = 10  # seconds the hook's address has to answer a test


class CheckOutcome(StrEnum):
    VERIFIED = "verified"  # received, and the signature checked
    REJECTED = "rejected"  # the signature did not check there (401)
    REFUSED = "refused"  # another answer: a paused connection, a proxy's error
    UNREACHABLE = "unreachable"  # nothing answered


@dataclass(frozen=True)
class ConnectionTest:
    """What became of one test Procedo sent itself, as its `connection.tested` event keeps it."""

    outcome: str  # a CheckOutcome
    status: int | None  # the hook's HTTP status; None when nothing answered
    detail: str  # the hook's own words, or why it could not be reached
    delivery_id: int | None  # the test delivery the hook kept
    sent_at: datetime

    @property
    def verified(self) -> bool:
        return self.outcome == CheckOutcome.VERIFIED

    @property
    def label(self) -> str:
        """The tag beside the sentence."""
        return _("Test passed") if self.verified else _("Test failed")

    @property
    def words(self) -> str:
        """The result in the reader's language."""
        if self.outcome == CheckOutcome.VERIFIED:
            return _(
                "Received and verified: the address answers and the signature checks. "
                "It is kept among the deliveries as a test and is not processed."
            )
        if self.outcome == CheckOutcome.REJECTED:
            return _("Rejected: signature. The address answered %(status)s: %(detail)s") % {
                "status": self.status,
                "detail": self.detail,
            }
        if self.outcome == CheckOutcome.REFUSED:
            return _("Not accepted: the address answered %(status)s: %(detail)s") % {
                "status": self.status,
                "detail": self.detail,
            }
        return _("Not reachable: %(detail)s") % {"detail": self.detail}


def connection_test_of(event: Any) -> ConnectionTest:
    payload = event.payload
    return ConnectionTest(
        outcome=str(payload.get("outcome", "")),
        status=payload.get("status"),
        detail=str(payload.get("detail", "")),
        delivery_id=payload.get("delivery_id"),
        sent_at=event.occurred_at,
    )


def _post_test(url: str, sample: samples.Sample) -> tuple[str, int | None, str, int | None]:
    """(outcome, status, detail, delivery id) of posting the sample to the hook's address."""
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked by the caller)
        url, data=sample.body, method="POST", headers=sample.headers
    )
    try:
        with urllib.request.urlopen(request, timeout=TEST_TIMEOUT) as answer:  # noqa: S310
            status, raw = int(answer.status), answer.read(64 * 1024)
    except urllib.error.HTTPError as refused:
        status, raw = int(refused.code), refused.read(64 * 1024)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return CheckOutcome.UNREACHABLE, None, str(reason)[:300], None
    try:
        answer_json = json.loads(raw)
    except ValueError:
        answer_json = None
    if not isinstance(answer_json, dict):
        # Something answered that is not Procedo's hook (a proxy's page, another site).
        answer_json = {"detail": _("The answer is not the hook's.")}
    detail = str(answer_json.get("detail") or "")[:300]
    delivery_id = answer_json.get("delivery_id")
    delivery_id = delivery_id if isinstance(delivery_id, int) else None
    if 200 <= status < 300 and delivery_id is not None:
        return CheckOutcome.VERIFIED, status, detail, delivery_id
    if status == 401:
        return CheckOutcome.REJECTED, status, detail, delivery_id
    return CheckOutcome.REFUSED, status, detail, delivery_id


def connection_test_send(
    *, connection_id: int, actor: Actor, hook_url: str, idempotency_key: str
) -> ConnectionTest:
    """Send the connection's own hook address a signed sample of its platform over HTTP, as
    the platform would, and say what became of it (kept as a `connection.tested` event).

    Called outside any transaction: the hook stores the sample while this waits for its
    answer (on SQLite a transaction held here would keep the hook from writing). The
    same key again answers the first result without sending again; two twins racing both
    send, and the first to record its result is the answer for both.
    """
    # Scoped to the caller and the connection: another's key, or another connection, is new.
    scope = f"integrations.test:{actor_id_of(actor) or 'system'}:{connection_id}"
    key = f"{scope}:{idempotency_key}"[:200]
    first = Event.objects.filter(idempotency_key=key).first()
    if first is not None:
        return connection_test_of(first)
    connection = Connection.objects.filter(pk=connection_id).first()
    if connection is None:
        raise NotFound(field="connection_id", message=_("No such connection."))
    if not hook_url.startswith(("http://", "https://")):
        raise DomainError(field="hook_url", message=_("Only http and https addresses are called."))
    secret = secret_decrypt(connection.secret_encrypted)
    if secret is None:
        raise DomainError(
            field="secret", message=_("The stored secret cannot be read; enter it again.")
        )
    sample = samples.sample(connection.platform, secret, f"procedo-test-{uuid.uuid4().hex}")
    if sample is None:
        raise DomainError(
            field="platform",
            message=_("%(platform)s sends no webhooks: there is nothing to test.")
            % {"platform": connection.get_platform_display()},
        )
    outcome, status, detail, delivery_id = _post_test(hook_url, sample)
    payload = {
        "outcome": str(outcome),
        "status": status,
        "detail": detail,
        "delivery_id": delivery_id,
    }
    try:
        with transaction.atomic():
            event_record(
                event_type="connection.tested",
                subject=connection,
                actor=actor,
                payload=payload,
                idempotency_key=key,
            )
    except IntegrityError:
        return connection_test_of(Event.objects.get(idempotency_key=key))  # a twin was first
    return ConnectionTest(str(outcome), status, detail, delivery_id, timezone.now())
