"""A delivery received: verified and stored before anything is said about it, in one
INSERT, and the worker woken for it (coalesced across deliveries; make bench, B1)."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.db import OperationalError, connection, models, transaction
from django.utils import timezone
from django.utils.datastructures import CaseInsensitiveMapping
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.core import rows
from procedo.core.texts import LaterText
from procedo.integrations import samples, signatures
from procedo.integrations.models import Connection, Delivery, DeliveryState
from procedo.integrations.platforms import PLATFORMS
from procedo.integrations.secrets import secret_decrypt
from procedo.integrations.services import spooling, waking
from procedo.integrations.services._common import _HEADERS_DROPPED
from procedo.integrations.spool import SpoolError

logger = logging.getLogger(__name__)


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
    read_at: float  # time.monotonic()


# Every delivery needs its connection's id and secret: read once per process and kept for
# KNOWN_FOR seconds. Stored directly, a kept entry is never trusted: the INSERT itself
# re-checks that the connection is active with this very secret (`_store`), so a paused
# connection or a new secret takes effect at once, and a miss there drops the entry and
# reads the row again. Through the spool nothing re-checks it: a pause or a new secret
# takes effect within KNOWN_FOR.
KNOWN_FOR = 1.0
_KNOWN_MAX = 256
_known: dict[tuple[str, str, str], _Known] = {}  # by SECRET_KEY, platform and key


def _known_connection(platform: str, key: str) -> _Known | None:
    known = _known.get((settings.SECRET_KEY, platform, key))
    if known is not None and time.monotonic() - known.read_at < KNOWN_FOR:
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
        found[0], found[1], secret_decrypt(found[1]), time.monotonic()
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


@dataclass(frozen=True)
class _Stored:
    delivery_id: int | None  # None: in the spool, a row once it is moved


def _store(known: _Known, **values: Any) -> _Stored | None:
    """Keep one delivery: in this process's spool when there is one (a platform's, outside
    a caller's transaction), else by `_insert_one`; None if its connection was found
    paused or with a new secret. A spool that cannot take it (the disk full, its backlog
    at its bound) leaves it to the INSERT."""
    values = {"received_at": timezone.now(), "attempts": 0, "error_text": None, **values}
    directory = spooling.spool_directory()
    # Procedo's own test waits on its row to say what became of it: not spooled.
    if directory and values["state"] != DeliveryState.TEST and not connection.in_atomic_block:
        try:
            spooling.delivery_spool(directory, known.connection_id, values)
            return _Stored(None)
        except SpoolError:
            logger.exception("spool: a delivery stored directly instead")
    delivery_id = _insert_one(known, values)
    return None if delivery_id is None else _Stored(delivery_id)


def _insert_one(known: _Known, values: dict[str, Any]) -> int | None:
    """INSERT one delivery in one statement (autocommit: no BEGIN and COMMIT around it) if
    its connection is still active with the secret it was checked with; its id, or None.

    Building the ORM's create() cost more than running its statement (make bench, B1):
    the row is written by hand, each value prepared by its model field for the backend."""
    sql, fields = _insert()
    params = [field.get_db_prep_save(values[field.name], connection) for field in fields]
    with _one_insert_at_a_time(), rows.bound_cursor(prepared=True) as cursor:
        cursor.execute(sql, [*params, known.connection_id, True, known.secret_encrypted])
        row = cursor.fetchone()
    return int(row[0]) if row else None


# SQLite lets one writer in at a time, and a writer that finds it taken sleeps in its busy
# handler (1, 2, 5, 10 … 100 ms) while others come and go ahead of it: B1's p99 on SQLite
# was 50–75 ms. So hook INSERTs queue instead, within a process (a lock) and between the
# web processes (flock on a file beside the database), each starting as the last ends
# (make bench, B1: p99 about halved, more stored per second). Bounded as the busy timeout
# is: after PROCEDO_DB_LOCK_WAIT in the queue, "database is locked", a 503. Other writers
# (the worker, pages) do not queue here; they meet the busy handler as before.
_queue = threading.Lock()
# The queue's file of each database, by process: a forked child opens its own.
_queue_files: dict[tuple[int, str], int] = {}


@contextlib.contextmanager
def _one_insert_at_a_time() -> Iterator[None]:
    if connection.vendor != "sqlite":  # PostgreSQL: rows are inserted side by side
        yield
        return
    wait = settings.PROCEDO_DB_LOCK_WAIT
    deadline = time.monotonic() + wait
    if not _queue.acquire(timeout=wait):
        raise OperationalError("database is locked (deliveries queued to be stored)")
    try:
        file = _queue_file_locked(deadline)
        try:
            yield
        finally:
            if file is not None:
                fcntl.flock(file, fcntl.LOCK_UN)
    finally:
        _queue.release()


def _queue_file_locked(deadline: float) -> int | None:
    """The queue's file, locked for this process; None for a database in memory."""
    if connection.is_in_memory_db():  # type: ignore[attr-defined]  # SQLite has it
        return None
    key = (os.getpid(), str(connection.settings_dict["NAME"]))
    file = _queue_files.get(key)
    if file is None:  # kept open: the lock is the open file's
        file = _queue_files[key] = os.open(f"{key[1]}.hooks-lock", os.O_WRONLY | os.O_CREAT, 0o600)
    while True:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return file
        except BlockingIOError:
            # Another process's INSERT, about a tenth of a millisecond: look again soon.
            if time.monotonic() > deadline:
                raise OperationalError(
                    "database is locked (deliveries queued to be stored)"
                ) from None
            time.sleep(0.0005)


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
    if not isinstance(headers, CaseInsensitiveMapping):  # request.headers already is one
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
        return Receipt(401, _("The signature does not match."), "signature", rejected.delivery_id)
    payload = _peek(spec, body)
    topic, event_id = spec.describe(headers, payload) if payload is not None else ("", "")
    wrong_type = content_type.split(";")[0].strip().lower() != spec.content_type
    readable = payload is not None and not wrong_type
    unreadable = LaterText(gettext_noop("The body is not %(type)s."), {"type": spec.content_type})
    stored = _store(
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
    if stored is None:
        return None
    if readable and test_mark:
        return Receipt(
            202, _("A test: received and verified; it is not processed."), "", stored.delivery_id
        )
    if readable:
        # A row now: the worker woken at once (unless inside a caller's transaction). A
        # spooled one (no id yet) is its mover's to wake the worker for.
        if stored.delivery_id is not None:
            transaction.on_commit(waking.deliveries_wake_soon)
        return Receipt(202, _("Stored; it will be processed shortly."), "", stored.delivery_id)
    field = "Content-Type" if wrong_type else "body"
    return Receipt(415 if wrong_type else 400, unreadable.render(), field, stored.delivery_id)
