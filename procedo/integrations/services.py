"""Connections (managed by people) and deliveries (stored first, processed by the worker)."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import secrets as token_source
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone
from django.utils.datastructures import CaseInsensitiveMapping
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.accounts.actors import Actor
from procedo.core.actors import actor_id_of
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.core.idempotency import idempotency_claim
from procedo.core.texts import LaterText, later_text_read
from procedo.events import wakeups
from procedo.events.models import Event
from procedo.events.services.recording import event_record
from procedo.integrations import samples, signatures
from procedo.integrations.models import Connection, Delivery, DeliveryState, Platform
from procedo.integrations.platforms import PLATFORMS
from procedo.integrations.secrets import secret_decrypt, secret_encrypt, secret_hint

logger = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # bytes; Shopify's and Stripe's largest payloads are well under this
SECRET_MAX = 500
# A failed delivery is tried again after 1, 2, 4 … minutes, up to about a day in all;
# then it waits for a person's replay. A delivery that waits for another (a refund for
# its order) is also tried again as soon as one of the same connection is processed.
MAX_ATTEMPTS = 12
# Headers that say who sent the request to us, not what the platform sent: not kept.
_HEADERS_DROPPED = frozenset({"Cookie", "Authorization"})


# ---------------------------------------------------------------- connections


def _clean(name: str, account: str, secret: str | None) -> tuple[str, str]:
    name, account = " ".join(name.split()), account.strip()
    if not name or len(name) > 100:
        raise DomainError(
            field="name", message=_("Give the connection a name (up to 100 characters).")
        )
    if len(account) > 200:
        raise DomainError(field="account", code="too_large", message=_("At most 200 characters."))
    if secret is not None and not (1 <= len(secret.strip()) <= SECRET_MAX):
        raise DomainError(
            field="secret",
            message=_("Paste the secret or key from the platform (up to 500 characters)."),
        )
    return name, account


def _api_key(api_key: str | None) -> dict[str, str]:
    """The encrypted API key and its hint; an empty key removes the stored one."""
    if api_key is None:
        return {}
    api_key = api_key.strip()
    if len(api_key) > SECRET_MAX:
        raise DomainError(field="api_key", code="too_large", message=_("At most 500 characters."))
    if not api_key:
        return {"api_key_encrypted": "", "api_key_hint": ""}
    return {"api_key_encrypted": secret_encrypt(api_key), "api_key_hint": secret_hint(api_key)}


@transaction.atomic
def connection_create(
    *, platform: str, name: str, account: str, secret: str, actor: Actor, api_key: str = ""
) -> Connection:
    if platform not in Platform.values:
        raise DomainError(field="platform", message=_("Unknown platform %(p)s.") % {"p": platform})
    name, account = _clean(name, account, secret)
    secret = secret.strip()
    connection = Connection.objects.create(
        platform=platform,
        name=name,
        account=account,
        key=token_source.token_urlsafe(16),
        secret_encrypted=secret_encrypt(secret),
        secret_hint=secret_hint(secret),
        **_api_key(api_key),
        created_by_id=actor_id_of(actor),
    )
    event_record(
        event_type="connection.created",
        subject=connection,
        actor=actor,
        payload={"platform": platform, "name": name},
    )
    return connection


@transaction.atomic
def connection_update(
    *,
    connection_id: int,
    actor: Actor,
    name: str | None = None,
    account: str | None = None,
    secret: str | None = None,
    api_key: str | None = None,
    active: bool | None = None,
) -> Connection:
    """Change what is given; a new secret replaces the old one (which is never shown)."""
    connection = Connection.objects.select_for_update().filter(pk=connection_id).first()
    if connection is None:
        raise NotFound(field="connection_id", message=_("No such connection."))
    secret = secret.strip() if secret else None
    new_name, new_account = _clean(
        connection.name if name is None else name,
        connection.account if account is None else account,
        secret,
    )
    changed: list[str] = []
    for attribute, value in (("name", new_name), ("account", new_account), ("active", active)):
        if value is not None and getattr(connection, attribute) != value:
            setattr(connection, attribute, value)
            changed.append(attribute)
    if secret:
        connection.secret_encrypted, connection.secret_hint = (
            secret_encrypt(secret),
            secret_hint(secret),
        )
        changed.append("secret")
    if api_key:
        for name, value in _api_key(api_key).items():
            setattr(connection, name, value)
        changed.append("api_key")
    if not changed:
        return connection
    connection.save()
    event_record(
        event_type="connection.updated",
        subject=connection,
        actor=actor,
        payload={"changed": changed},
    )
    return connection


# ---------------------------------------------------------------- receiving


@dataclass(frozen=True)
class Receipt:
    """What the hook answers: the status code and a short reason for the platform's log."""

    status: int
    detail: str
    field: str = ""
    delivery_id: int | None = None


@dataclass(frozen=True)
class _Known:
    """A connection as the hook needs it: its id, its secret's token and the secret."""

    connection_id: int
    secret_encrypted: str
    secret: str | None  # None: encrypted under another SECRET_KEY


# Every delivery needs its connection's id and secret: read once per process and kept.
# A kept entry is never trusted to store: the INSERT itself re-checks that the connection
# is active with this very secret (`_store`), so a paused connection or a new secret
# takes effect at once; a miss there drops the entry and reads the row again.
_KNOWN_MAX = 256
_known: dict[tuple[str, str, str], _Known] = {}  # by SECRET_KEY, platform and key


def _known_connection(platform: str, key: str) -> _Known | None:
    known = _known.get((settings.SECRET_KEY, platform, key))
    if known is not None:
        return known
    found = (
        Connection.objects.filter(key=key, platform=platform, active=True)
        .order_by()
        .values_list("pk", "secret_encrypted")
        .first()
    )
    if found is None:
        return None
    if len(_known) >= _KNOWN_MAX:
        _known.clear()
    known = _known[(settings.SECRET_KEY, platform, key)] = _Known(
        found[0], found[1], secret_decrypt(found[1])
    )
    return known


def _kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: value[:2000] for name, value in headers.items() if name not in _HEADERS_DROPPED}


_STORED_COLUMNS = (
    "received_at", "topic", "event_id", "headers", "body", "state", "error", "error_field",
    "error_text", "attempts",
)  # fmt: skip


@functools.cache
def _insert() -> tuple[str, tuple[models.Field[Any, Any], ...]]:
    """The INSERT of `_store` and the fields whose values it takes, built once."""
    fields = tuple(
        cast("models.Field[Any, Any]", Delivery._meta.get_field(name)) for name in _STORED_COLUMNS
    )
    q = connection.ops.quote_name  # the same on SQLite and PostgreSQL
    columns = ", ".join(q(field.column) for field in fields)
    sql = (
        f"INSERT INTO {q(Delivery._meta.db_table)} ({q('connection_id')}, {columns})"  # noqa: S608 (names are the models')
        f" SELECT {q('id')}, {', '.join(['%s'] * len(fields))} FROM {q(Connection._meta.db_table)}"
        f" WHERE {q('id')} = %s AND {q('active')} = %s AND {q('secret_encrypted')} = %s"
        f" RETURNING {q('id')}"
    )
    return sql, fields


def _store(known: _Known, **values: Any) -> int | None:
    """INSERT one delivery in one statement (autocommit: no BEGIN and COMMIT around it) if
    its connection is still active with the secret it was checked with; its id, or None.

    Building the ORM's create() cost more than running its statement (make bench, B1):
    the row is written by hand, each value prepared by its model field for the backend."""
    values = {"received_at": timezone.now(), "attempts": 0, "error_text": None, **values}
    sql, fields = _insert()
    params = [field.get_db_prep_save(values[field.name], connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, known.connection_id, True, known.secret_encrypted])
        row = cursor.fetchone()
    return int(row[0]) if row else None


def _peek(spec: Any, body: bytes) -> Any:
    """The payload as far as the hook needs it (is it readable, its ids); the worker decodes
    it again with exact numbers. JSON without Decimal here: describe() reads no amounts."""
    if spec.content_type != "application/json":
        return spec.decode(body)
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return None


def delivery_receive(
    *, platform: str, key: str, headers: Mapping[str, str], body: bytes, content_type: str
) -> Receipt:
    """Verify and store one delivery, in this order: what cannot be tied to a connection is
    refused with nothing kept; a bad signature is kept as rejected (for diagnosis) and is a
    401; a signed body is kept before anything else is said about it, so whatever the
    answer, nothing signed is lost. Processing is the worker's (delivery_process).

    One indexed read of the connection per process (then none), one INSERT per delivery,
    and a wake-up of the worker coalesced across deliveries (make bench, B1)."""
    if platform not in PLATFORMS:
        return Receipt(404, _("No active connection at this address."), "connection")
    spec = PLATFORMS[platform]
    headers = CaseInsensitiveMapping(headers)  # X-WC-Webhook-… arrives as X-Wc-Webhook-…
    kept = _kept_headers(headers)
    key = key[:32]
    for _attempt in range(2):
        known = _known_connection(platform, key)
        if known is None:
            return Receipt(404, _("No active connection at this address."), "connection")
        receipt = _receive(platform, known, spec, headers, kept, body, content_type)
        if receipt is not None:
            return receipt
        # Paused or given a new secret since it was read: read it again.
        _known.pop((settings.SECRET_KEY, platform, key), None)
    return Receipt(404, _("No active connection at this address."), "connection")


def _receive(
    platform: str,
    known: _Known,
    spec: Any,
    headers: Mapping[str, str],
    kept: dict[str, str],
    body: bytes,
    content_type: str,
) -> Receipt | None:
    """One try at storing with what is known of the connection; None if it changed."""
    if known.secret is None:
        verdict = signatures.Verdict(
            False, gettext_noop("The stored secret cannot be read; enter it again.")
        )
    else:
        verdict = signatures.verify(platform, known.secret, headers, body)
    # Procedo's own test ("send a test"): kept as a test when its mark is right, refused
    # when it is not, so neither a stray mark nor a stripped one turns a sample into an order.
    test_mark = headers.get(samples.TEST_HEADER)
    if verdict.ok and test_mark is not None and known.secret is not None:
        expected = signatures.test_mark(known.secret, body)
        verdict = signatures.judged(signatures.same(test_mark, expected), samples.TEST_HEADER)
    if not verdict.ok:
        # What the headers alone say (Shopify's topic and webhook id), for the diagnosis.
        topic, event_id = spec.describe(headers, None)
        rejected = _store(
            known,
            headers=kept,
            body=body,
            topic=topic[:100],
            event_id=event_id[:200],
            state=DeliveryState.REJECTED,
            error=verdict.text.render_in("en"),
            error_field="signature",
            error_text=verdict.text.stored(),
        )
        if rejected is None:
            return None
        return Receipt(401, _("The signature does not match."), "signature", rejected)
    payload = _peek(spec, body)
    topic, event_id = spec.describe(headers, payload) if payload is not None else ("", "")
    wrong_type = content_type.split(";")[0].strip().lower() != spec.content_type
    readable = payload is not None and not wrong_type
    unreadable = LaterText(gettext_noop("The body is not %(type)s."), {"type": spec.content_type})
    delivery_id = _store(
        known,
        headers=kept,
        body=body,
        topic=topic[:100],
        # No id from the platform: the body's digest still finds a byte-identical repeat.
        event_id=(event_id or "sha256:" + hashlib.sha256(body).hexdigest())[:200],
        state=(DeliveryState.TEST if test_mark else DeliveryState.RECEIVED)
        if readable
        else DeliveryState.FAILED,
        error="" if readable else unreadable.render_in("en"),
        error_text=None if readable else unreadable.stored(),
        error_field="" if readable else ("Content-Type" if wrong_type else "body"),
    )
    if delivery_id is None:
        return None
    if readable and test_mark:
        return Receipt(
            202, _("A test: received and verified; it is not processed."), "", delivery_id
        )
    if readable:
        transaction.on_commit(_wake_soon)  # at once, unless inside a caller's transaction
        return Receipt(202, _("Stored; it will be processed shortly."), "", delivery_id)
    field = "Content-Type" if wrong_type else "body"
    return Receipt(415 if wrong_type else 400, unreadable.render(), field, delivery_id)


def _wake() -> None:
    from procedo.integrations.tasks import deliveries_process

    try:
        wakeups.wake(deliveries_process)
    except Exception:
        # The delivery is stored; the minute's sweep (deliveries_tick) takes it up.
        logger.exception("could not wake the worker for deliveries")


class _Coalescer:
    """The worker woken after deliveries are stored, at most once per WINDOW per process.

    Each wake-up is a write to Huey's store (its SQLite file or Redis); one per delivery
    was a third of the hook's time at 8 concurrent posts (make bench, B1). A thread of
    this process wakes the worker as soon as it is asked, then waits WINDOW before it
    wakes it again for whatever was stored meanwhile: every stored delivery is followed by
    a wake-up that starts after its commit, none waits more than WINDOW for it. A process
    killed in between leaves its deliveries to the minute's sweep (deliveries_tick).
    """

    WINDOW = 0.1  # seconds

    def __init__(self) -> None:
        self._asked = threading.Condition()
        self._pending = False
        self._pid = 0  # the process whose thread runs: a forked child starts its own

    def ask(self) -> None:
        from huey.contrib.djhuey import HUEY

        if HUEY.immediate:  # tests: the task runs in the caller, as it did before
            _wake()
            return
        with self._asked:
            self._pending = True
            if self._pid != os.getpid():
                self._pid = os.getpid()
                threading.Thread(
                    target=self._run, name="procedo-deliveries-wake", daemon=True
                ).start()
            self._asked.notify()

    def _run(self) -> None:
        while True:
            with self._asked:
                while not self._pending:
                    self._asked.wait()
                self._pending = False
            _wake()
            time.sleep(self.WINDOW)


_coalescer = _Coalescer()


def _wake_soon() -> None:
    _coalescer.ask()


# ---------------------------------------------------------------- processing


def _retry_at(attempts: int, now: datetime) -> datetime | None:
    if attempts >= MAX_ATTEMPTS:
        return None
    return now + timedelta(minutes=2 ** (attempts - 1))


def _finish(delivery: Delivery, **fields: Any) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(**fields)
    for name, value in fields.items():
        setattr(delivery, name, value)


def delivery_process(*, delivery_id: int) -> Delivery:
    """Apply one stored delivery through the orders, customers and catalog services.

    The same platform event twice is processed once: the first processed delivery with
    its id is found (for ever), and the idempotency claim on it is the guard while two
    workers race. A refusal leaves nothing behind and marks the delivery failed with the
    reason; it is tried again later (a refund that came before its payment succeeds then).
    """
    delivery = Delivery.objects.select_related("connection").get(pk=delivery_id)
    if delivery.state in (DeliveryState.PROCESSED, DeliveryState.REJECTED):
        return delivery
    connection, now = delivery.connection, timezone.now()
    spec = PLATFORMS[connection.platform]
    payload = spec.decode(bytes(delivery.body))
    if payload is None:
        _finish(delivery, state=DeliveryState.FAILED, next_attempt_at=None)
        return delivery
    first = (
        Delivery.objects.filter(
            connection=connection, event_id=delivery.event_id, state=DeliveryState.PROCESSED
        )
        .exclude(pk=delivery.pk)
        .order_by("id")
        .first()
    )
    if first is not None:
        _finish(
            delivery,
            state=DeliveryState.PROCESSED,
            duplicate_of=first,
            error="",
            processed_at=now,
            next_attempt_at=None,
        )
        return delivery
    try:
        with transaction.atomic():
            claim = idempotency_claim(
                key=f"hook:{connection.pk}:{delivery.event_id}"[:200],
                actor=None,
                operation="integrations.delivery",
                request={"connection": connection.pk, "event_id": delivery.event_id},
            )
            if claim.replay and claim.result_id == delivery.pk:
                # Another worker processed this very delivery meanwhile: both read it as
                # received before either committed (R1 found it: it named itself its twin).
                delivery.refresh_from_db()
                return delivery
            if claim.replay:
                duplicate_of: int | None = claim.result_id
                note: dict[str, Any] | None = None
            else:
                note = spec.handle(connection, delivery.topic, payload).stored()
                claim.done(result_id=delivery.pk)
                duplicate_of = None
            _finish(
                delivery,
                state=DeliveryState.PROCESSED,
                duplicate_of_id=duplicate_of,
                error=later_text_read(note).render_in("en")[:1000] if note else "",
                error_field="",
                error_text=note,
                processed_at=now,
                attempts=delivery.attempts + 1,
                next_attempt_at=None,
            )
    except DomainError as exc:
        attempts = delivery.attempts + 1
        _finish(
            delivery,
            state=DeliveryState.FAILED,
            error=exc.message[:1000],
            error_field=exc.field[:100],
            error_text=later.stored() if (later := getattr(exc, "later", None)) else None,
            attempts=attempts,
            next_attempt_at=_retry_at(attempts, now),
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        # A payload the mapping did not expect: kept failed with the reason, never retried
        # blindly (the same bytes fail the same way); a person replays it after a fix.
        _finish(
            delivery,
            state=DeliveryState.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:1000],
            error_field="body",
            error_text=None,
            attempts=delivery.attempts + 1,
            next_attempt_at=None,
        )
    return delivery


def deliveries_process_pending(
    *, connection_id: int | None = None, now: datetime | None = None
) -> int:
    """Process what is waiting, oldest first; each failure stays with its delivery, so it
    never holds up the ones after it. After any success the deliveries that failed for want
    of something (NotYet) are tried once more, until a pass changes nothing."""
    now = now or timezone.now()
    processed = 0
    waiting = Delivery.objects.filter(state=DeliveryState.RECEIVED)
    due = Delivery.objects.filter(state=DeliveryState.FAILED, next_attempt_at__lte=now)
    if connection_id is not None:
        waiting, due = (
            waiting.filter(connection_id=connection_id),
            due.filter(connection_id=connection_id),
        )
    queue = sorted(
        {*waiting.values_list("id", flat=True)[:500], *due.values_list("id", flat=True)[:500]}
    )
    while queue:
        progressed = False
        connections: set[int] = set()
        for delivery_id in queue:
            delivery = delivery_process(delivery_id=delivery_id)
            if delivery.state == DeliveryState.PROCESSED:
                processed += 1
                progressed = True
                connections.add(delivery.connection_id)
        if not progressed:
            break
        # What failed may have waited for what just went in (a refund for its order).
        queue = list(
            Delivery.objects.filter(
                state=DeliveryState.FAILED,
                connection_id__in=connections,
                next_attempt_at__isnull=False,
            )
            .order_by("id")
            .values_list("id", flat=True)[:500]
        )
    return processed


@transaction.atomic
def delivery_replay(*, delivery_id: int, actor: Actor) -> Delivery:
    """A person asks for a failed delivery to be processed again now (after fixing the
    reason: a missing status in the pipeline, a currency)."""
    delivery = Delivery.objects.select_for_update().filter(pk=delivery_id).first()
    if delivery is None:
        raise NotFound(field="delivery_id", message=_("No such delivery."))
    if delivery.state != DeliveryState.FAILED:
        raise Conflict(field="state", message=_("Only a failed delivery can be replayed."))
    Delivery.objects.filter(pk=delivery.pk).update(
        state=DeliveryState.RECEIVED, next_attempt_at=None
    )
    event_record(
        event_type="delivery.replayed",
        subject=delivery.connection,
        actor=actor,
        payload={"delivery_id": delivery.pk, "error": delivery.error[:300]},
    )
    transaction.on_commit(_wake)
    delivery.state = DeliveryState.RECEIVED
    return delivery


# ---------------------------------------------------------------- send a test

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
                "Kept as test delivery %(id)s; it is not processed."
            ) % {"id": self.delivery_id}
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
