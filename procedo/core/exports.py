"""Every list leaves Procedo the same way: a CSV or an XLSX file, streamed row by row.

A list declares its columns once, beside its selector (`Column`: the header in the
reader's language and a function of one row), and hands this module an iterator of
rows that reads the database in keyset batches (`procedo.core.paging.keyset_all`).
Nothing holds the whole list: the CSV goes out 64 KB at a time; the XLSX is written
by XlsxWriter in its `constant_memory` mode, which flushes each row to a temporary
file as the next one starts, and is sent from that file once the workbook is closed
(an XLSX is a zip whose directory comes last, so its bytes cannot leave before its
last row is written). Memory stays flat at a million rows
(`procedo/core/tests/test_export_memory.py`).

- CSV is UTF-8 with a byte order mark, so a spreadsheet opens Cyrillic right.
- Times are written in the business's time zone; money as numbers.
- A cell is never a formula: text that a spreadsheet would run (`=`, `@`, or `+`/`-`
  followed by something other than a number) gets a leading apostrophe in CSV, and
  XLSX cells are written as text, never as formulas (OWASP's "CSV injection").
- The caller records who exported what (`procedo.events.exports`): `started` runs
  before the response is returned, `finished` when the last row has gone or the
  reader went away, with the number of rows.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.http import HttpRequest, QueryDict, StreamingHttpResponse
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from procedo.core.errors import DomainError

FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
BOM = "\ufeff"
CHUNK = 64 * 1024
XLSX_SHEET_ROWS = 1_048_576  # Excel's rows per sheet, the header included
_RUNS_IN_A_SPREADSHEET = re.compile(r"^(?:[=@\t\r]|[+-](?![\d\s.,]*$))")


@dataclass(frozen=True)
class Column:
    """One column of an exported list: its header and how to read it from a row."""

    header: str | Promise
    value: Callable[[Any], Any]


Finished = Callable[[int, bool], None]


def export_format(raw: str | None) -> str:
    value = (raw or "csv").lower()
    if value not in FORMATS:
        raise DomainError(
            field="format",
            message=_("Export as %(formats)s.") % {"formats": " or ".join(FORMATS)},
        )
    return value


def filters_known(query: QueryDict, allowed: Iterable[str]) -> dict[str, str]:
    """The query's filters, refusing any name the list does not have (a 422 naming it).

    An export must never quietly ignore a filter: the file would hold more people's
    data than the person asked for.
    """
    allowed = set(allowed)
    for name in query:
        if name not in allowed and name != "format":
            raise DomainError(
                field=name,
                message=_("%(name)s is not a filter of this list; its filters: %(known)s.")
                % {"name": name, "known": ", ".join(sorted(allowed)) or "-"},
            )
    return {name: str(query[name]) for name in query if name != "format" and query[name] != ""}


def _plain(value: Any, zone: tzinfo) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value, zone)
        return value.replace(tzinfo=None, microsecond=0)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Promise):
        return str(value)
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return value


def _csv_text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    text = str(value)
    return "'" + text if _RUNS_IN_A_SPREADSHEET.match(text) else text


def _csv_chunks(
    headers: Sequence[str], columns: Sequence[Column], rows: Iterable[Any], zone: tzinfo
) -> Iterator[bytes | int]:
    """The file's bytes; before each chunk, the number of rows it ends with (an int)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(BOM)
    writer.writerow(headers)
    count = 0
    for row in rows:
        writer.writerow([_csv_text(_plain(column.value(row), zone)) for column in columns])
        count += 1
        if buffer.tell() >= CHUNK:
            yield count
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield count
    yield buffer.getvalue().encode("utf-8")


def _xlsx_chunks(
    headers: Sequence[str], columns: Sequence[Column], rows: Iterable[Any], zone: tzinfo
) -> Iterator[bytes | int]:
    import xlsxwriter

    with tempfile.TemporaryDirectory(prefix="procedo-export-") as folder:
        path = Path(folder) / "export.xlsx"
        workbook = xlsxwriter.Workbook(
            str(path),
            {
                "constant_memory": True,  # one row in memory; the rest on disk
                "tmpdir": folder,
                "strings_to_formulas": False,
                "strings_to_numbers": False,
                "strings_to_urls": False,
            },
        )
        bold = workbook.add_format({"bold": True})
        moment = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        day = workbook.add_format({"num_format": "yyyy-mm-dd"})
        count, sheet, line = 0, None, XLSX_SHEET_ROWS
        for row in rows:
            if line == XLSX_SHEET_ROWS:  # a sheet is full: the next one, with the header again
                sheet = workbook.add_worksheet(str(len(workbook.worksheets()) + 1))
                sheet.write_row(0, 0, headers, bold)
                line = 1
            assert sheet is not None
            for index, column in enumerate(columns):
                value = _plain(column.value(row), zone)
                if isinstance(value, bool | str):
                    sheet.write_string(line, index, str(value))
                elif isinstance(value, int | float | Decimal):
                    sheet.write_number(line, index, float(value))
                elif isinstance(value, datetime):
                    sheet.write_datetime(line, index, value, moment)
                elif isinstance(value, date):
                    sheet.write_datetime(line, index, value, day)
                else:
                    sheet.write_string(line, index, str(value))
            line += 1
            count += 1
        if sheet is None:  # an empty list is still a file with its header
            sheet = workbook.add_worksheet("1")
            sheet.write_row(0, 0, headers, bold)
        workbook.close()
        yield count
        with path.open("rb") as built:
            while chunk := built.read(CHUNK):
                yield chunk


def export_response(
    *,
    request: HttpRequest,
    name: str,
    fmt: str,
    columns: Sequence[Column],
    rows: Iterable[Any],
    finished: Finished,
) -> StreamingHttpResponse:
    """A streamed file of `rows`; `finished(rows written, complete)` is called at its end.

    The headers are translated and the business's time zone read now, in the request:
    the rows are read later, while the server sends the file, after the middleware
    has let go of the language and the zone.
    """
    headers = [str(column.header) for column in columns]
    zone = timezone.get_current_timezone()
    language = translation.get_language()
    chunks = _csv_chunks if fmt == "csv" else _xlsx_chunks

    def stream() -> Iterator[bytes]:
        written, complete = 0, False
        try:
            with translation.override(language):
                for piece in chunks(headers, columns, rows, zone):
                    if isinstance(piece, int):
                        written = piece
                    else:
                        yield piece
            complete = True
        finally:
            # Also when the reader goes away (the server closes this generator):
            # the log then says how many rows were handed to the server before that.
            finished(written, complete)

    stamp = timezone.localdate(timezone=zone).isoformat()
    response = StreamingHttpResponse(stream(), content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.{fmt}"'
    response["Cache-Control"] = "no-store"  # personal data: no cache keeps a copy
    return response
