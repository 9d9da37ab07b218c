"""The hook's spool: each web process appends the deliveries it answers to a file of its
own, flushed to the disk before the answer, and moves them into the delivery table in
batches (services/spooling.py).

Why: storing each delivery by its own INSERT cost the web server more than everything
else the hook does (make bench, B1: with the INSERT, 0.53–0.59 of a hello-world's rate on
PostgreSQL and 0.38 on SQLite; without it, 1.0). Appending to a file is a few
microseconds; the fdatasync that makes it durable is shared by every thread of the
process waiting at the same moment (group commit, as a database does its log); the
database then gets one transaction for many rows.

A file is `<host>-<pid>-<nanoseconds>.spool` in the spool directory. Its writer holds an
exclusive flock on it from creation until every record in it has been moved: a file whose
lock can be taken was left behind by a process that ended, and whoever takes the lock
moves what is left (services/spooling.py). A record:

    length (4 bytes) | CRC-32 of the rest (4 bytes) | meta's length (4) | meta (JSON) | body

A record torn by a crash while it was written has no valid CRC: it was never answered, so
it is skipped, and so is everything after it in that file (nothing is written after it).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUFFIX = ".spool"
# A file is closed for new records past this size, and deleted once all of it is moved.
ROTATE_BYTES = 32 * 1024 * 1024
# Records written but not yet moved, per process, past which the hook stores directly (and
# the database, if it is what is down, answers 503): the disk is not filled without end.
BACKLOG_MAX = 256 * 1024 * 1024

_HEAD = struct.Struct(">II")  # the payload's length, its CRC-32
_META = struct.Struct(">I")  # the meta's length


def record_encode(meta: dict[str, Any], body: bytes) -> bytes:
    meta_bytes = json.dumps(meta, separators=(",", ":")).encode()
    payload = _META.pack(len(meta_bytes)) + meta_bytes + body
    return _HEAD.pack(len(payload), zlib.crc32(payload)) + payload


@dataclass(frozen=True)
class Record:
    end: int  # the file offset just after it: where the next one starts
    meta: dict[str, Any]
    body: bytes


def records_decode(data: bytes, start: int = 0) -> Iterator[Record]:
    """The whole, intact records of `data` (a file's bytes from offset `start`), in order;
    it stops at the first one that is incomplete or whose CRC does not match."""
    position = 0
    while position + _HEAD.size <= len(data):
        length, crc = _HEAD.unpack_from(data, position)
        payload_at = position + _HEAD.size
        payload = data[payload_at : payload_at + length]
        if len(payload) < length or zlib.crc32(payload) != crc or length < _META.size:
            return
        (meta_length,) = _META.unpack_from(payload)
        meta = json.loads(payload[_META.size : _META.size + meta_length])
        position = payload_at + length
        yield Record(start + position, meta, payload[_META.size + meta_length :])


def spool_files(directory: Path) -> list[Path]:
    """The spool files in `directory`, oldest first (by their names' nanoseconds)."""
    try:
        found = [path for path in directory.iterdir() if path.name.endswith(SUFFIX)]
    except FileNotFoundError:
        return []
    return sorted(found, key=_started)


def _started(path: Path) -> tuple[int, str]:
    stamp = path.name.removesuffix(SUFFIX).rsplit("-", 1)[-1]
    return (int(stamp) if stamp.isdigit() else 0, path.name)


def lock_if_left(path: Path) -> int | None:
    """An open descriptor of `path` holding its lock, if no living process holds it (its
    writer ended); None while its writer (or another mover) has it, or if it is gone."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # Another mover may have finished and deleted it between our open and our lock.
        if os.fstat(fd).st_ino != os.stat(path).st_ino:
            raise FileNotFoundError(path)
    except (BlockingIOError, FileNotFoundError):
        os.close(fd)
        return None
    return fd


@dataclass
class SpoolFile:
    """One of this process's files: its descriptor holds the lock until it is moved."""

    path: Path
    fd: int
    size: int = 0  # bytes written whole
    moved: int = 0  # … of which in the table


class SpoolError(OSError):
    """The record could not be made durable: the caller stores it another way."""


class Spool:
    """This process's spool in one directory (a forked child opens files of its own).

    `flush`: each record is flushed to the disk (fdatasync) before append() returns. The
    spool stands in for the database and is as durable as it: it flushes when the database
    flushes each commit (spooling.database_flushes_commits). Unflushed, a record written
    survives the process killed, as a commit does on SQLite's WAL with synchronous=NORMAL
    or on PostgreSQL with fsync off; neither survives the machine losing power."""

    def __init__(self, directory: Path, *, flush: bool) -> None:
        self.directory = directory
        self.flush = flush
        self._pid = 0
        self._appending = threading.Lock()
        self._synced = threading.Condition()
        self._syncing = False
        self._current: SpoolFile | None = None
        self._closed: list[SpoolFile] = []  # rotated, not yet all moved
        self._written = 0  # bytes appended, over all files
        self._durable = 0  # … of which flushed to the disk
        self._moved = 0  # … of which moved into the table (told by the mover)

    @property
    def backlog(self) -> int:
        return self._written - self._moved

    def append(self, record: bytes) -> None:
        """Write one record and return once it is on the disk; SpoolError if it cannot be."""
        if self.backlog + len(record) > BACKLOG_MAX:
            raise SpoolError("the spool's backlog is full")
        with self._appending:
            try:
                current = self._file_for(len(record))
            except OSError as exc:
                raise SpoolError(str(exc)) from exc
            try:
                _write_all(current.fd, record)
            except OSError as exc:
                self._cut_back(current)
                raise SpoolError(str(exc)) from exc
            current.size += len(record)
            self._written += len(record)
            end = self._written
        if self.flush:
            self._sync_to(end)

    def _cut_back(self, current: SpoolFile) -> None:
        """A record written in part (the disk full): cut off, or the records appended after
        it would sit behind bytes that end the file for its readers; if it cannot be cut,
        the file takes no more records."""
        try:
            os.ftruncate(current.fd, current.size)
        except OSError:
            self._closed.append(current)
            self._current = None

    @property
    def current(self) -> SpoolFile | None:
        """The file records are appended to; the others are full and wait to be moved."""
        return self._current if self._pid == os.getpid() else None

    def files(self) -> list[SpoolFile]:
        """This process's files, oldest first (for the mover: each one's size is what has
        been written to it)."""
        with self._appending:
            if self._pid != os.getpid():
                return []
            return [*self._closed, *([self._current] if self._current else [])]

    def moved(self, spool_file: SpoolFile, end: int) -> None:
        """The mover moved `spool_file` up to byte `end`."""
        with self._appending:
            self._moved += end - spool_file.moved
            spool_file.moved = end

    def finished(self, spool_file: SpoolFile) -> None:
        """A full file all moved, and deleted (spooling.spool_file_finished): its lock let go."""
        with self._appending:
            self._closed.remove(spool_file)
            with self._synced:  # a flush begun before it was closed to new records ends first
                while self._syncing:
                    self._synced.wait()
                os.close(spool_file.fd)  # its lock with it

    def _file_for(self, size: int) -> SpoolFile:
        if self._pid != os.getpid():  # a forked child: its parent's files are its parent's
            self._pid, self._current, self._closed = os.getpid(), None, []
            self._written = self._durable = self._moved = 0
        current = self._current
        if current is not None and current.size + size <= ROTATE_BYTES:
            return current
        if current is not None:  # full: flushed now, then closed to new records
            if self.flush:
                self._sync_to(self._written)
            self._closed.append(current)
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{socket.gethostname()}-{os.getpid()}-{time.time_ns()}{SUFFIX}"
        path = self.directory / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # new and ours: never waits
        if self.flush:
            _fsync_directory(self.directory)  # the file's name survives a crash too
        self._current = SpoolFile(path, fd)
        return self._current

    def _sync_to(self, end: int) -> None:
        """Group commit: the first thread to find its bytes not yet durable flushes
        everything written so far; those that come meanwhile wait for it, then find theirs
        flushed (or flush the rest themselves)."""
        while True:
            with self._synced:
                while self._syncing and self._durable < end:
                    self._synced.wait()
                if self._durable >= end:
                    return
                self._syncing = True
                target, current = self._written, self._current
            error: OSError | None = None
            try:
                if current is not None:
                    os.fdatasync(current.fd)
            except OSError as exc:
                error = exc
            with self._synced:
                self._syncing = False
                if error is None:
                    self._durable = max(self._durable, target)
                self._synced.notify_all()
            if error is not None:
                raise SpoolError(str(error)) from error


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
