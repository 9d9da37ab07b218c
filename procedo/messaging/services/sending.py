"""The email sender: claims due ledger rows and hands them to the SMTP server, in batches.

The server is the configured transport (EMAIL_URL): SMTP, or out of the box the
outbox, a directory the Messages page reads.

Runs in the Huey worker only (`tasks.py`), never in a web request. Every state
move is a compare-and-set UPDATE on (id, claim_token, state), so two senders at
once never hold one row, and a sender that lost its lease cannot overwrite the
row's fate. The transports (SMTP, console, outbox) are in procedo/messaging/transports.py.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Q, Subquery
from django.utils import timezone

from procedo.events.services.recording import (
    NewEvent,
    event_record,
    events_record_many,
    subject_ref,
)
from procedo.messaging.models import Channel, Message, MessageKind, MessageState
from procedo.messaging.transports import (
    Outcome,
    Transport,
    TransportDown,
    message_mime,
    transport_from_settings,
)

logger = logging.getLogger(__name__)


BATCH_SIZE = 100


# A row claimed but not yet handed over is only ours this long; handing one over
# renews it. Far above the SMTP timeout, so only a dead or frozen sender loses it.
LEASE = timedelta(minutes=5)


MAX_ATTEMPTS = 8


CONNECT_RETRY = timedelta(seconds=30)


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 … minutes after each transient failure, at most an hour."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))


@dataclass
class SendReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    unknown: int = 0
    released: int = 0
    recovered: dict[str, int] = field(default_factory=dict)

    @property
    def handled(self) -> int:
        return self.sent + self.retrying + self.failed + self.unknown


# The rows in `unknown` that recovery queues again by itself: transactional email,
# which carries the same Message-ID every time, so a receiver (or its mail client)
# can tell a second copy for what it is. An SMS has nothing of the kind, and a
# promotion twice is spam: those stay `unknown` for a person to decide
# (`services.message_mark_sent` / `message_resend`).
RESENT_AUTOMATICALLY = Q(
    channel=Channel.EMAIL, kind=MessageKind.TRANSACTIONAL, attempts__lt=MAX_ATTEMPTS
)


def resent_automatically(message: Message) -> bool:
    """RESENT_AUTOMATICALLY, for a row in hand."""
    return (
        message.channel == Channel.EMAIL
        and message.kind == MessageKind.TRANSACTIONAL
        and message.attempts < MAX_ATTEMPTS
    )


def messages_recover(*, now: datetime) -> dict[str, int]:
    """Leases of dead senders, and transactional email whose fate is unknown.

    A row claimed but never handed over goes back to the queue: the server never
    saw it. A row handed over becomes `unknown`. Transactional email in `unknown`
    is queued again with its Message-ID (a receipt twice beats none); marketing
    email and every SMS stay `unknown` (see RESENT_AUTOMATICALLY).
    """
    expired = Q(state=MessageState.SENDING, claimed_until__lt=now)
    released = Message.objects.filter(expired, handed_over_at__isnull=True).update(
        state=MessageState.QUEUED, claim_token="", claimed_until=None
    )
    unknown = _recover_move(
        Message.objects.filter(expired, handed_over_at__isnull=False),
        event_type="message.unknown",
        reason="the sender stopped after handing it to the server",
        fields={
            "state": MessageState.UNKNOWN,
            "claim_token": "",
            "claimed_until": None,
            "deferred_until": None,
        },
    )
    resend = _recover_move(
        Message.objects.filter(RESENT_AUTOMATICALLY, state=MessageState.UNKNOWN).filter(
            Q(deferred_until__isnull=True) | Q(deferred_until__lte=now)
        ),
        event_type="message.requeued",
        reason="re-sent with the same Message-ID after an unknown outcome",
        fields={"state": MessageState.QUEUED, "handed_over_at": None},
    )
    return {"released": released, "unknown": unknown, "resent": resend}


def _recover_move(rows: Any, *, event_type: str, reason: str, fields: dict[str, Any]) -> int:
    """Move the rows recovery found, each with its event, in one transaction.

    The rows are locked first (`FOR UPDATE` on PostgreSQL; SQLite's IMMEDIATE
    transaction serialises): a second sender recovering at once waits, then no
    longer finds them, so each move and its event happen once.
    """
    if not rows.exists():  # the usual case: no write lock taken
        return 0
    with transaction.atomic():
        found = list(rows.select_for_update().values_list("pk", "customer_id"))
        if not found:
            return 0
        moved = Message.objects.filter(pk__in=[pk for pk, _ in found]).update(
            reason=reason, **fields
        )
        events_record_many(
            NewEvent(
                event_type=event_type,
                subject_type="message",
                subject_id=pk,
                customer_id=customer_id,
                payload={"reason": reason},
            )
            for pk, customer_id in found
        )
    return moved


def messages_claim(*, now: datetime, limit: int = BATCH_SIZE, channel: str = Channel.EMAIL):
    """Compare-and-set claim of up to `limit` due rows; returns (token, rows)."""
    token = uuid.uuid4().hex
    due = (
        Message.objects.filter(state=MessageState.QUEUED, channel=channel)
        .filter(Q(deferred_until__isnull=True) | Q(deferred_until__lte=now))
        .order_by("id")
        .values("pk")[:limit]
    )
    # `state=queued` is re-checked on the row itself: on PostgreSQL a second sender
    # waiting on our row lock sees it `sending` after we commit and skips it.
    Message.objects.filter(pk__in=Subquery(due), state=MessageState.QUEUED).update(
        state=MessageState.SENDING, claim_token=token, claimed_until=now + LEASE
    )
    rows = list(
        Message.objects.filter(claim_token=token, state=MessageState.SENDING).order_by("id")
    )
    return token, rows


def _row_update(pk: int, token: str, fields: dict[str, Any]) -> bool:
    """`UPDATE … WHERE id=? AND claim_token=? AND state='sending'`: the compare-and-set.

    Raw SQL because it runs twice per message on the hot path, where building the
    ORM's UPDATE cost more than the database took to run it (B6).
    """
    ops = connection.ops
    columns, params = [], []
    for name, value in fields.items():
        columns.append(f"{ops.quote_name(name)} = %s")
        params.append(
            ops.adapt_datetimefield_value(value) if isinstance(value, datetime) else value
        )
    sql = (
        f"UPDATE {ops.quote_name(Message._meta.db_table)} SET {', '.join(columns)}"  # noqa: S608
        " WHERE id = %s AND claim_token = %s AND state = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, pk, token, MessageState.SENDING])
        return cursor.rowcount == 1


def _lease_until(now: datetime) -> datetime:
    # From the real clock when the batch's `now` lags it: a long batch must not
    # hand rows over with a lease that is already running out.
    return max(now, timezone.now()) + LEASE


def _hand_over(message: Message, token: str, now: datetime) -> bool:
    return _row_update(
        message.pk,
        token,
        {
            "handed_over_at": now,
            "claimed_until": _lease_until(now),
            "attempts": message.attempts + 1,
        },
    )


def _finish(
    message: Message,
    token: str,
    outcome: Outcome,
    now: datetime,
    *,
    provider: str = "",
    hand_over_next: Message | None = None,
) -> tuple[str, bool]:
    """Store one outcome; with `hand_over_next`, hand the next row over in the same commit.

    Returns (the state stored or "lost", whether the next row is ours to send).
    One commit per message instead of two: the hand-over must still be durable
    before the next message goes to the server, and it is.
    """
    attempts = message.attempts + 1
    state = outcome.state
    fields: dict[str, Any] = {
        "answer": outcome.answer[:2000],
        "provider_ref": outcome.provider_ref[:64] or message.provider_ref,
        "provider": provider or message.provider,
        "claim_token": "",
        "claimed_until": None,
    }
    if state == MessageState.QUEUED:
        if attempts >= MAX_ATTEMPTS:
            state = MessageState.FAILED
            fields["reason"] = f"gave up after {attempts} attempts"
        else:
            fields.update(handed_over_at=None, deferred_until=now + backoff(attempts))
    if state == MessageState.UNKNOWN:
        # Transactional email is re-sent after a pause (recovery); the rest stays
        # here for a person, with nothing to wait for.
        later = now + backoff(attempts)
        fields["deferred_until"] = later if resent_automatically(message) else None
    if state == MessageState.SENT:
        fields["sent_at"] = now
    fields["state"] = state
    with transaction.atomic():
        if not _row_update(message.pk, token, fields):
            # Our lease expired and another sender's recovery took the row: its fate
            # is theirs now. Only a sender frozen for longer than LEASE gets here.
            logger.warning("message %s: lease lost before its outcome was stored", message.pk)
            state = "lost"
        # `message.sent` is written per batch (`_sent_events`): an event per message
        # would cost a commit-time wake-up per message, most of a campaign's time.
        elif state not in (MessageState.QUEUED, MessageState.SENT):
            event_record(
                event_type=f"message.{state}",
                subject=message,
                customer_id=message.customer_id,
                payload={"answer": fields["answer"][:200], "attempts": attempts},
            )
        next_ours = hand_over_next is not None and _hand_over(hand_over_next, token, now)
    return state, next_ours


def _release(rows: list[Message], token: str, *, now: datetime, answer: str) -> int:
    return Message.objects.filter(
        pk__in=[m.pk for m in rows], claim_token=token, state=MessageState.SENDING
    ).update(
        state=MessageState.QUEUED,
        claim_token="",
        claimed_until=None,
        handed_over_at=None,
        deferred_until=now + CONNECT_RETRY,
        answer=answer[:2000],
    )


@contextmanager
def _transport(factory: Callable[[], Transport]) -> Iterator[Transport]:
    transport = factory()
    try:
        yield transport
    finally:
        transport.close()


Prepare = Callable[[list[Message], str, datetime], set[int]]


# Checks run on a claimed batch before it is sent (consent, quiet hours, the cap):
# `hook(rows, claim_token, now)` moves the rows it stops itself (a set-based UPDATE)
# and returns their ids; the sender skips them.
_prepare_hooks: list[Prepare] = []


def prepare_hook_register(hook: Prepare) -> None:
    if hook not in _prepare_hooks:
        _prepare_hooks.append(hook)


def _sms_transport() -> Transport:
    from procedo.messaging.sms import SmsTransport, provider_from_settings

    provider = provider_from_settings()
    if provider is None:
        raise TransportDown("no SMS provider configured (SMS_URL)")
    return SmsTransport(provider)


def messages_send_batch(
    *,
    now: datetime | None = None,
    limit: int = BATCH_SIZE,
    channel: str = Channel.EMAIL,
    transport_factory: Callable[[], Transport] | None = None,
) -> SendReport:
    """Recover leases, claim one batch of due messages of a channel and send them.

    Email goes over one SMTP connection per batch; SMS one provider request each.
    """
    now = now or timezone.now()
    report = SendReport(recovered=messages_recover(now=now))
    if channel == Channel.SMS and transport_factory is None:
        from procedo.messaging.sms import provider_from_settings

        if provider_from_settings() is None:
            return report  # SMS waits queued until a provider is configured
    token, rows = messages_claim(now=now, limit=limit, channel=channel)
    if not rows:
        return report
    default_factory = transport_from_settings if channel == Channel.EMAIL else _sms_transport
    sent: list[Message] = []
    try:
        _send_rows(rows, token, channel, now, report, sent, transport_factory or default_factory)
    finally:
        _sent_events(sent, now)
    return report


def _sent_events(sent: list[Message], now: datetime) -> None:
    """One `message.sent` event per message, written once per batch.

    The ledger row is the record of sending; a sender killed mid-batch leaves its
    rows `sent` without these events (the timeline misses them, nothing resends).
    """
    if not sent:
        return
    with transaction.atomic():
        events_record_many(
            NewEvent(
                event_type="message.sent",
                subject_type=subject_ref(message)[0],
                subject_id=message.pk,
                customer_id=message.customer_id,
                payload={"channel": message.channel, "kind": message.kind},
                occurred_at=now,
            )
            for message in sent
        )


def _send_rows(
    rows: list[Message],
    token: str,
    channel: str,
    now: datetime,
    report: SendReport,
    sent: list[Message],
    factory: Callable[[], Transport],
) -> None:
    ready: list[tuple[Message, bytes]] = []
    for hook in _prepare_hooks:
        moved = hook(rows, token, now)
        if moved:
            rows = [m for m in rows if m.pk not in moved]  # suppressed or deferred
    for message in rows:
        try:
            payload = message_mime(message) if channel == Channel.EMAIL else b""
        except Exception as exc:  # a message that cannot be built will never send
            _finish(message, token, Outcome(MessageState.FAILED, f"cannot build: {exc}"), now)
            report.failed += 1
            continue
        ready.append((message, payload))
    if not ready:
        return
    ours = _hand_over(ready[0][0], token, now)
    with _transport(factory) as transport:
        for index, (message, payload) in enumerate(ready):
            following = ready[index + 1][0] if index + 1 < len(ready) else None
            if not ours:
                ours = following is not None and _hand_over(following, token, now)
                continue
            try:
                outcome = transport.send(message, payload)
            except TransportDown as exc:
                # Nothing reached the server: this row and the rest wait, uncounted.
                Message.objects.filter(pk=message.pk, claim_token=token).update(
                    attempts=message.attempts
                )
                rest = [m for m, _ in ready[index:]]
                report.released += _release(rest, token, now=now, answer=str(exc))
                return
            state, ours = _finish(
                message, token, outcome, now, provider=transport.name, hand_over_next=following
            )
            if state == MessageState.SENT:
                report.sent += 1
                sent.append(message)
            elif state == MessageState.QUEUED:
                report.retrying += 1
            elif state == MessageState.FAILED:
                report.failed += 1
            elif state == MessageState.UNKNOWN:
                report.unknown += 1


def messages_send_due(
    *,
    now: datetime | None = None,
    budget: timedelta = timedelta(seconds=50),
    transport_factory: Callable[[], Transport] | None = None,
    channels: tuple[str, ...] = (Channel.EMAIL, Channel.SMS),
) -> SendReport:
    """Per channel, batches until nothing is due or the time budget is spent."""
    total = SendReport()
    for channel in channels:
        _send_channel(total, channel, now, budget, transport_factory)
    return total


def _send_channel(
    total: SendReport,
    channel: str,
    now: datetime | None,
    budget: timedelta,
    transport_factory: Callable[[], Transport] | None,
) -> None:
    started = timezone.now()
    while True:
        report = messages_send_batch(now=now, channel=channel, transport_factory=transport_factory)
        for name in ("sent", "retrying", "failed", "unknown", "released"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        for key, value in report.recovered.items():
            total.recovered[key] = total.recovered.get(key, 0) + value
        if report.handled == 0 or report.released or timezone.now() - started > budget:
            return
