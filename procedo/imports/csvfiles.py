"""Reading an import file: header mapping and per-row validation, no database.

A file is refused whole only when its header cannot be understood (an unknown
or missing column); otherwise every row is judged on its own and a bad row is
reported with its line number and reason while the good rows go in.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from pathlib import Path
from typing import IO

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


def open_text(path: Path) -> IO[str]:
    """A CSV file, gzip-compressed or not, as UTF-8 text (a BOM from Excel is dropped)."""
    raw = path.open("rb")
    head = raw.read(2)
    raw.seek(0)
    # The returned wrapper owns (and closes) both streams.
    stream = gzip.open(raw) if head == b"\x1f\x8b" else raw  # noqa: SIM115
    return io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")


def rows(handle: IO[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields), numbering physical lines as an editor shows them (header = 1)."""
    reader = csv.reader(handle)
    for fields in reader:
        yield reader.line_num, fields


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


def rejected_report(rejected: list[Rejected], path: Path) -> None:
    """The rejected rows as CSV: line number, reason, then the row as it was in the file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", "reason", "row"])
        for item in rejected:
            writer.writerow([item.line, item.reason, *item.raw])
