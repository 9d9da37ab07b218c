"""Deliveries through the spool (procedo/integrations/spool.py): appended by the hook,
moved into the delivery table in batches by a thread of the same web process, and, from a
process that ended first, by whichever process finds its file left (another web process,
or the worker's minute sweep).

A move is one transaction: the rows (COPY on PostgreSQL) and the file's progress
(SpoolProgress). Killed before its commit, nothing of it happened; after, the next mover
starts where it ended. So every record is moved once, whoever moves it and whenever.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import (
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    transaction,
)
from django.utils import timezone
from django.utils.translation import gettext_noop

from procedo.core import rows
from procedo.core.texts import LaterText
from procedo.integrations.models import Connection, Delivery, DeliveryState, SpoolProgress
from procedo.integrations.services import waking
from procedo.integrations.spool import (
    Record,
    Spool,
    lock_if_left,
    record_encode,
    records_decode,
    spool_files,
)

logger = logging.getLogger(__name__)

# A move reads at most this much of a file: a batch of ~1,000 deliveries of Shopify's size.
MOVE_BYTES = 8 * 1024 * 1024

_COLUMNS = (
    "connection_id", "received_at", "topic", "event_id", "headers", "body", "state", "error",
    "error_field", "error_text", "attempts",
)  # fmt: skip
# What a record's meta holds: the row but its body (the record's tail) and its attempts (0).
_META = tuple(name for name in _COLUMNS if name not in {"body", "attempts"})


def spool_directory() -> Path | None:
    directory: Path | None = settings.PROCEDO_HOOK_SPOOL
    return directory


def delivery_spool(directory: Path, connection_id: int, values: dict[str, Any]) -> None:
    """Append one delivery (the columns `_store` writes) to this process's spool and return
    once it is on the disk; SpoolError if it cannot be. Its mover is asked to move it."""
    meta = {**{name: values.get(name) for name in _META}, "connection_id": connection_id}
    meta["received_at"] = values["received_at"].isoformat()
    mover = _mover_for(directory)
    mover.spool.append(record_encode(meta, values["body"]))
    mover.ask()


@dataclass(frozen=True)
class Moved:
    bytes: int
    deliveries: int
    end: int  # the file's progress after it


def spool_file_move(path: Path, *, size: int | None = None) -> Moved:
    """Move the next batch of `path`'s records past its progress (no further than `size`
    bytes, what its writer says is whole) into the delivery table, with the progress, in
    one transaction. The caller holds the file (its writer, or its lock)."""
    with transaction.atomic():
        start = _progress(path)
        limit = MOVE_BYTES if size is None else min(MOVE_BYTES, size - start)
        if limit <= 0:
            return Moved(0, 0, start)
        with path.open("rb") as file:
            file.seek(start)
            # A record is at most MAX_BODY and its headers: several fit in MOVE_BYTES.
            records = list(records_decode(file.read(limit), start))
        if not records:
            return Moved(0, 0, start)
        # A connection deleted since (its deliveries went with it): its records go too.
        wanted = {record.meta["connection_id"] for record in records}
        existing = set(Connection.objects.filter(pk__in=wanted).values_list("pk", flat=True))
        found = [_row(record) for record in records if record.meta["connection_id"] in existing]
        if len(found) < len(records):
            logger.warning(
                "%s deliveries in %s were for connections deleted since; not kept",
                len(records) - len(found),
                path.name,
            )
        try:
            with transaction.atomic():  # a savepoint: a row refused leaves the rest to keep
                rows.rows_insert(Delivery, _COLUMNS, found)
        except (DataError, IntegrityError):
            logger.exception("spool: a batch of %s refused; its rows one by one", path.name)
            found = _rows_one_by_one(found)
        SpoolProgress.objects.update_or_create(name=path.name, defaults={"moved": records[-1].end})
        if any(row[_COLUMNS.index("state")] == DeliveryState.RECEIVED for row in found):
            transaction.on_commit(waking.deliveries_wake_soon)
    return Moved(records[-1].end - start, len(found), records[-1].end)


def _progress(path: Path) -> int:
    """How many bytes of the file are in the table (0 for a file none of which is)."""
    moved = SpoolProgress.objects.filter(name=path.name).values_list("moved", flat=True).first()
    return moved or 0


def _row(record: Record) -> tuple[Any, ...]:
    values = {**record.meta, "body": record.body, "attempts": 0}
    try:
        values["received_at"] = datetime.fromisoformat(record.meta["received_at"])
    except (KeyError, TypeError, ValueError):
        values["received_at"] = timezone.now()
    return tuple(values.get(name) for name in _COLUMNS)


def _rows_one_by_one(found: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Each row alone; one the database still refuses is kept as a failed delivery with its
    body as it came (replayable from its page), so one bad record neither holds up the
    file nor is lost. The rows kept."""
    kept = []
    for row in found:
        for candidate in (row, _as_failed(row)):
            try:
                with transaction.atomic():
                    rows.rows_insert(Delivery, _COLUMNS, [candidate])
            except (DataError, IntegrityError):
                logger.exception("spool: a delivery refused: %r", row[: _COLUMNS.index("body")])
                continue
            kept.append(candidate)
            break
    return kept


def _as_failed(row: tuple[Any, ...]) -> tuple[Any, ...]:
    values = dict(zip(_COLUMNS, row, strict=True))
    reason = LaterText(
        gettext_noop("The database refused this delivery's headers or ids as they came.")
    )
    values.update(
        topic=_text(values["topic"], 100),
        event_id=_text(values["event_id"], 200),
        headers={},
        state=DeliveryState.FAILED,
        error=reason.render_in("en"),
        error_field="headers",
        error_text=reason.stored(),
    )
    return tuple(values[name] for name in _COLUMNS)


def _text(value: Any, limit: int) -> str:
    return str(value or "").replace("\x00", "")[:limit]


def spool_file_finished(path: Path) -> None:
    """A file all moved: deleted, then its progress (a crash between leaves a row, never
    a file whose progress is lost and would be moved again)."""
    path.unlink(missing_ok=True)
    SpoolProgress.objects.filter(name=path.name).delete()


def spool_adopt_left(directory: Path) -> int:
    """Move every file in `directory` whose writer has ended (its lock free), then delete
    it; the deliveries moved. A torn last record (the writer killed while writing it) was
    never answered: it is left out."""
    moved = 0
    for path in spool_files(directory):
        fd = lock_if_left(path)
        if fd is None:
            continue  # its writer lives (this process's own files too), or another moves it
        try:
            while (batch := spool_file_move(path)).bytes:
                moved += batch.deliveries
            left = os.fstat(fd).st_size - _progress(path)
            if left:
                logger.warning("%s: %s bytes after its last whole record left out", path, left)
            spool_file_finished(path)
        finally:
            os.close(fd)  # the lock with it
    return moved


def spool_move_own(spool: Spool) -> int:
    """Move what this process's files hold beyond what was moved, and delete those it no
    longer writes to once all of each is moved; the deliveries moved. Nothing new: no
    query at all."""
    moved = 0
    for spool_file in spool.files():
        size = spool_file.size  # read once: a record appended meanwhile waits for the next
        while spool_file.moved < size:
            batch = spool_file_move(spool_file.path, size=size)
            if not batch.bytes:
                break
            moved += batch.deliveries
            spool.moved(spool_file, batch.end)
        # Closed to new records (now, perhaps after `size` was read): its size is final.
        if spool_file is not spool.current and spool_file.moved >= spool_file.size:
            spool_file_finished(spool_file.path)  # deleted while its lock is still held
            spool.finished(spool_file)
    return moved


def database_flushes_commits() -> bool:
    """Whether the database flushes each commit to the disk before it answers: the spool,
    which stands in for it, does as it does (spool.Spool)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA synchronous")  # 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA
            return bool(cursor.fetchone()[0] >= 2)
        cursor.execute(
            "SELECT current_setting('fsync') = 'on'"
            " AND current_setting('synchronous_commit') <> 'off'"
        )
        return bool(cursor.fetchone()[0])


class _Mover:
    """The thread that moves this process's spool: woken by each append, it waits WINDOW
    for more to come, then moves them in one transaction; every ADOPT_EVERY it also moves
    the files of processes that ended. The database away: it tries again, less often."""

    WINDOW = 0.02  # seconds: a batch, not a transaction per delivery
    ADOPT_EVERY = 2.0
    RETRY_MAX = 5.0

    def __init__(self, directory: Path) -> None:
        self.spool = Spool(directory, flush=database_flushes_commits())
        self._adopted_at = 0.0  # time.monotonic() of the last look for files left
        self._asked = threading.Condition()
        self._pending = False
        self._working = False
        self._pid = 0

    def ask(self) -> None:
        with self._asked:
            self._pending = True
            if self._pid != os.getpid():  # a forked child starts its own
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="procedo-spool-mover", daemon=True).start()
            self._asked.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Whether it has done all it was asked (its worker's wake-ups too) within `timeout`."""
        with self._asked:
            return self._asked.wait_for(lambda: not (self._pending or self._working), timeout)

    def _run(self) -> None:
        retry = 0.0
        while True:
            with self._asked:
                if not self._pending:
                    self._asked.wait(self.ADOPT_EVERY)
                self._pending, self._working = False, True
            time.sleep(self.WINDOW)
            try:
                retry = self._round(retry)
            finally:
                with self._asked:
                    self._working = False
                    self._pending = self._pending or bool(retry)
                    self._asked.notify_all()

    def _round(self, retry: float) -> float:
        """One batch (and the left files, when it is time): the next retry's wait, or 0."""
        try:
            close_old_connections()
            moved = spool_move_own(self.spool)
            if time.monotonic() - self._adopted_at >= self.ADOPT_EVERY:
                moved += spool_adopt_left(self.spool.directory)
                self._adopted_at = time.monotonic()
            if not moved:
                connection.close()  # idle: no server connection kept for nothing
            return 0.0
        except Exception as exc:  # the thread must not end: what is not moved waits for it
            retry = min(self.RETRY_MAX, retry * 2 or 0.25)
            if isinstance(exc, (OperationalError, InterfaceError)):  # the database away
                logger.warning("spool: cannot move deliveries (%s); again in %s s", exc, retry)
            else:
                logger.exception("spool: could not move deliveries; again in %s s", retry)
            connection.close()  # a new one next time, whatever this one's state
            time.sleep(retry)
            return retry


_movers: dict[Path, _Mover] = {}
_movers_lock = threading.Lock()


def _mover_for(directory: Path) -> _Mover:
    mover = _movers.get(directory)
    if mover is None:
        with _movers_lock:
            mover = _movers.setdefault(directory, _Mover(directory))
    return mover


def spool_movers_wait(timeout: float = 10) -> bool:
    """Whether this process's movers have done all they were asked within `timeout` (the
    tests, before the database is emptied under them)."""
    deadline = time.monotonic() + timeout
    return all(mover.wait_idle(max(0.0, deadline - time.monotonic())) for mover in _movers.values())


def spool_left_moved() -> int:
    """The worker's part: what web processes that ended left in the configured spool."""
    directory = spool_directory()
    return 0 if directory is None else spool_adopt_left(directory)


def spool_backlog(directory: Path) -> int:
    """Bytes in `directory`'s files not yet moved, whoever wrote them (make bench waits for
    0; a page could show it)."""
    files = spool_files(directory)
    progress = dict(
        SpoolProgress.objects.filter(name__in=[path.name for path in files]).values_list(
            "name", "moved"
        )
    )
    total = 0
    for path in files:
        try:
            total += path.stat().st_size - progress.get(path.name, 0)
        except FileNotFoundError:
            continue
    return total
