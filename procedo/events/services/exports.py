"""A list leaving as a file: its start and its end, each an event (`procedo.events.exports`
is the one path every list's export takes).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from django.db import (
    transaction,
)

from procedo.events.services.recording import event_record

logger = logging.getLogger(__name__)


@transaction.atomic
def list_export_started(*, actor: Any, list_name: str, fmt: str, filters: Mapping[str, Any]) -> str:
    """Record that `actor` takes `list_name` out as a file, before its first byte leaves.

    An export carries personal data: the log says who took which list with which
    filters. Its row count is known only at the end of the stream, so the end is a
    second event (`list_export_finished`) under the same export id. Returns that id.
    """
    export_id = uuid.uuid4().hex[:16]
    event_record(
        event_type="list.exported",
        actor=actor,
        payload={"list": list_name, "format": fmt, "filters": dict(filters), "export": export_id},
    )
    return export_id


@transaction.atomic
def list_export_finished(
    *, actor: Any, list_name: str, export_id: str, rows: int, complete: bool
) -> None:
    """The end of an export: how many rows were written, and whether the reader got them all."""
    event_record(
        event_type="list.export_finished",
        actor=actor,
        payload={"list": list_name, "export": export_id, "rows": rows, "complete": complete},
    )
