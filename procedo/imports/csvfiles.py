"""Reading an import file: header mapping and per-row validation, no database.

A file is refused whole when its header cannot be understood (an unknown or
missing column) or when it is larger than the stated limits; otherwise every
row is judged on its own and a bad row is reported with its line number and
reason while the good rows go in.

Files are read as a stream, line by line, with every size bounded: the bytes
after decompression, the characters of one line and the number of rows
(`ReadLimits`, from settings). A 400 KB gzip that inflates to gigabytes is
refused at the limit, having held one line at a time.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from pathlib import Path
from typing import IO

from django.conf import settings
from django.utils.translation import gettext as _

from procedo.core.errors import DomainError


def _key(header: str) -> str:
    return "".join(ch for ch in header.strip().lower() if ch.isalnum())


@dataclass(frozen=True)
class Column:
    name: str
    aliases: tuple[str, ...]
    required: bool = False


def header_map(header: list[str], columns: tuple[Column, ...]) -> dict[str, int]:
    """Column name -> index; refuses unknown or missing columns, naming them."""
    by_alias = {
        _key(alias): column.name for column in columns for alias in (column.name, *column.aliases)
    }
    mapping: dict[str, int] = {}
    unknown = []
    for index, raw in enumerate(header):
        name = by_alias.get(_key(raw))
        if name is None:
            if raw.strip():
                unknown.append(raw.strip())
            continue
        if name in mapping:
            raise DomainError(
                field="file", message=_("Column %(name)s appears twice.") % {"name": raw.strip()}
            )
        mapping[name] = index
    if unknown:
        accepted = ", ".join(column.name for column in columns)
        raise DomainError(
            field="file",
            message=_("Unknown columns: %(unknown)s. Accepted columns: %(accepted)s.")
            % {"unknown": ", ".join(unknown), "accepted": accepted},
        )
    missing = [column.name for column in columns if column.required and column.name not in mapping]
    if missing:
        raise DomainError(
            field="file",
            message=_("Missing required columns: %(missing)s.") % {"missing": ", ".join(missing)},
        )
    return mapping


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str
    raw: list[str]


class RowError(ValueError):
    """One field of one row is unusable; the message says which and why."""


@dataclass(frozen=True)
class ReadLimits:
    max_bytes: int  # after decompression
    max_rows: int
    max_line: int  # characters of one physical line

    @classmethod
    def from_settings(cls) -> ReadLimits:
        return cls(
            max_bytes=settings.PROCEDO_IMPORT_MAX_BYTES,
            max_rows=settings.PROCEDO_IMPORT_MAX_ROWS,
            max_line=IMPORT_MAX_LINE,
        )


# A line of a shop export is well under a kilobyte; csv's own field limit is 128 KB.
IMPORT_MAX_LINE = 1024 * 1024


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g}"


class _Bounded(io.RawIOBase):
    """The decompressed bytes of a file, refused past `limit` before they are read."""

    def __init__(self, inner: io.BufferedIOBase | IO[bytes], limit: int) -> None:
        super().__init__()
        self._inner, self._limit, self.count = inner, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer)
        # Never more than one byte past the limit: enough to know it was passed.
        room = self._limit + 1 - self.count
        try:
            data = self._inner.read(max(0, min(len(view), room)))
        except (OSError, EOFError, zlib.error) as exc:  # a truncated or corrupt gzip
            raise DomainError(
                field="file", message=_("The file cannot be uncompressed (%(e)s).") % {"e": exc}
            ) from None
        view[: len(data)] = data
        self.count += len(data)
        if self.count > self._limit:
            raise DomainError(
                field="file",
                message=_(
                    "The file is larger than %(limit)s MB once uncompressed "
                    "(the limit, PROCEDO_IMPORT_MAX_MB)."
                )
                % {"limit": _megabytes(self._limit)},
            )
        return len(data)


@contextmanager
def open_text(path: Path, limits: ReadLimits | None = None) -> Iterator[IO[str]]:
    """A CSV file, gzip-compressed or not, as UTF-8 text (a BOM from Excel is dropped).

    Every stream opened here is closed here: GzipFile does not close a file
    object it was given, so the raw file is closed by the `with`, not by the wrapper.
    """
    limits = limits or ReadLimits.from_settings()
    with path.open("rb") as raw, ExitStack() as opened:
        compressed = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        plain: io.BufferedIOBase | IO[bytes] = raw
        if compressed:
            plain = opened.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))
        bounded = io.BufferedReader(_Bounded(plain, limits.max_bytes))
        yield opened.enter_context(io.TextIOWrapper(bounded, encoding="utf-8-sig", newline=""))


def _lines(handle: IO[str], limit: int) -> Iterator[str]:
    """The file's physical lines, none longer than `limit` characters (one is held at a time)."""
    number = 0
    while line := handle.readline(limit + 1):
        number += 1
        if len(line) > limit:
            raise DomainError(
                field="file",
                message=_("Line %(line)s is longer than %(limit)s characters; is this a CSV file?")
                % {"line": number, "limit": limit},
            )
        yield line


def rows(handle: IO[str], limits: ReadLimits | None = None) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields), numbering physical lines as an editor shows them (header = 1)."""
    limits = limits or ReadLimits.from_settings()
    reader = csv.reader(_lines(handle, limits.max_line))
    for count, fields in enumerate(reader):
        # The header is row 0: `max_rows` counts data rows.
        if count > limits.max_rows:
            raise DomainError(
                field="file",
                message=_(
                    "The file has more than %(limit)s rows (the limit, PROCEDO_IMPORT_MAX_ROWS)."
                )
                % {"limit": limits.max_rows},
            )
        yield reader.line_num, fields


@contextmanager
def read_csv(
    path: Path, columns: tuple[Column, ...], limits: ReadLimits | None = None
) -> Iterator[tuple[dict[str, int], Iterator[tuple[int, list[str]]]]]:
    """The header's column map and the non-blank data rows, read as a stream.

    An unreadable header refuses the file; so does unreadable text further on,
    naming the last line read. Used twice per import: a first pass that checks
    the whole file against the limits before anything is written, then the import.
    """
    with open_text(path, limits) as handle:
        reader = rows(handle, limits)
        try:
            _first_line, header = next(reader)
        except StopIteration:
            raise DomainError(field="file", message=_("The file is empty.")) from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DomainError(
                field="file", message=_("Not a UTF-8 CSV file (%(e)s).") % {"e": exc}
            ) from None
        yield header_map(header, columns), _data_rows(reader)


def _data_rows(reader: Iterator[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str]]]:
    line = 1
    while True:
        try:
            line, fields = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DomainError(
                field="file",
                message=_("The file cannot be read past line %(line)s (%(e)s).")
                % {"line": line, "e": exc},
            ) from None
        if "".join(fields).strip():
            yield line, fields


def cell(fields: list[str], mapping: Mapping[str, int], name: str) -> str:
    index = mapping.get(name)
    if index is None or index >= len(fields):
        return ""
    return fields[index].strip()


def cells_reader(
    mapping: Mapping[str, int], names: tuple[str, ...]
) -> Callable[[list[str]], tuple[str, ...]]:
    """A function giving a row's stripped values for `names`, "" for absent columns or cells.

    Half a million rows: one itemgetter per row instead of a lookup per cell.
    """
    width = max(mapping.values(), default=-1) + 1
    missing = width  # the padding cell, always ""
    pick = itemgetter(*(mapping.get(name, missing) for name in names))
    padding = [""] * (width + 1)

    def read(fields: list[str]) -> tuple[str, ...]:
        padded = fields + padding[len(fields) :] if len(fields) <= width else [*fields[:width], ""]
        values = pick(padded)
        if len(names) == 1:
            values = (values,)
        return tuple(value.strip() for value in values)

    return read


def parse_decimal(value: str, *, field: str) -> Decimal:
    try:
        number = Decimal(value.replace(",", "."))
    except InvalidOperation:
        raise RowError(
            _("%(field)s %(value)r is not a number") % {"field": field, "value": value}
        ) from None
    if not number.is_finite():
        raise RowError(_("%(field)s %(value)r is not a number") % {"field": field, "value": value})
    return number


def parse_int(value: str, field: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise RowError(
            _("%(field)s %(value)r is not a whole number") % {"field": field, "value": value}
        ) from None


_DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
)


def parse_datetime(value: str, *, field: str, zone: tzinfo) -> datetime:
    """ISO 8601 with an offset, or a wall-clock time in `zone` (the file's or the business's)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
        for pattern in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(value, pattern)
                break
            except ValueError:
                continue
    if parsed is None:
        raise RowError(_("%(field)s %(value)r is not a date") % {"field": field, "value": value})
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


class RejectedReport:
    """The rejected rows as CSV (line, reason, then the row as it was), written as they are found.

    However many rows a file gets wrong, none of them waits in memory.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.count = 0
        self._handle = path.open("w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._handle)
        self._writer.writerow(["line", "reason", "row"])

    def add(self, item: Rejected) -> None:
        self._writer.writerow([item.line, item.reason, *item.raw])
        self.count += 1

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> RejectedReport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
