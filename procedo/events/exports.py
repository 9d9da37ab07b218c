"""A list leaving as a file, recorded in the log: the one path every list's export takes.

Each list's page and API operation parse its own filters (the page's names), pick
the rows with its selector and call `export_stream`; the file itself is written by
`procedo.core.exports`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.http import HttpRequest, StreamingHttpResponse
from django.utils.translation import gettext_lazy

from procedo.core.exports import Column, export_response
from procedo.events.services import exports as export_services

# Every list that can leave as a file, with the name its files and events carry.
LISTS = {
    "customers": gettext_lazy("customers"),
    "orders": gettext_lazy("orders"),
    "products": gettext_lazy("products with stock"),
    "tasks": gettext_lazy("tasks"),
    "runs": gettext_lazy("SOP runs"),
    "messages": gettext_lazy("messages"),
    "events": gettext_lazy("the activity log"),
}


def export_stream(
    *,
    request: HttpRequest,
    actor: Any,
    list_name: str,
    fmt: str,
    filters: Mapping[str, Any],
    columns: Sequence[Column],
    rows: Iterable[Any],
) -> StreamingHttpResponse:
    """Record the export, then answer with the streamed file; its end is recorded too."""
    assert list_name in LISTS, f"add {list_name!r} to LISTS"
    plain_filters = {key: str(value) for key, value in filters.items()}
    export_id = export_services.list_export_started(
        actor=actor, list_name=list_name, fmt=fmt, filters=plain_filters
    )

    def finished(count: int, complete: bool) -> None:
        export_services.list_export_finished(
            actor=actor, list_name=list_name, export_id=export_id, rows=count, complete=complete
        )

    return export_response(
        request=request,
        name=list_name,
        fmt=fmt,
        columns=columns,
        rows=rows,
        finished=finished,
    )
