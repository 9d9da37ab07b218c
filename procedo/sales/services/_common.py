"""What several sales services share: the event, cleaning text, a source and an owner,
reading an uploaded CSV file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor
from procedo.accounts.models import User
from procedo.core.errors import DomainError, NotFound, TooLarge
from procedo.events.services.recording import event_record
from procedo.sales.models import SOURCE_MAX

NAME_MAX = 100


TEXT_MAX = 200


def _record(
    event_type: str,
    subject: Any,
    *,
    actor: Actor,
    payload: Mapping[str, Any] | None = None,
    customer_id: int | None = None,
    idempotency_key: str | None = None,
) -> None:
    event_record(
        event_type=event_type,
        subject=subject,
        customer_id=customer_id,
        actor=actor,
        payload=payload,
        idempotency_key=idempotency_key,
    )


def _text(field: str, raw: Any, limit: int, *, required: bool = False) -> str:
    """Trimmed text; too long is refused (never cut short), empty refused when required."""
    value = " ".join(str(raw or "").split()) if limit <= TEXT_MAX else str(raw or "").strip()
    if len(value) > limit:
        raise DomainError(
            field=field,
            code="too_large",
            message=_("At most %(n)d characters.") % {"n": limit},
        )
    if required and not value:
        raise DomainError(field=field, message=_("This field is required."))
    return value


def source_clean(raw: Any, *, field: str = "source") -> str:
    """A source as spend and leads share it: lower case, single spaces ("google ads")."""
    return _text(field, raw, SOURCE_MAX, required=True).casefold()


def _user(user_id: int | None, *, field: str = "owner_id") -> int | None:
    if user_id is None:
        return None
    if not User.objects.filter(pk=user_id, is_active=True).exists():
        raise NotFound(field=field, message=_("No active person with id %(id)s.") % {"id": user_id})
    return user_id


def _csv_rows(content: bytes, *, limit_bytes: int, limit_rows: int, needs: set[str]) -> list[dict]:
    if len(content) > limit_bytes:
        raise TooLarge(
            field="file",
            message=_("At most %(n)d MB.") % {"n": limit_bytes // (1024 * 1024)},
        )
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DomainError(field="file", message=_("The file is not UTF-8 text.")) from None
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or not needs <= set(rows[0]):
        raise DomainError(
            field="file",
            message=_("The file needs the columns %(columns)s.")
            % {"columns": ", ".join(sorted(needs))},
        )
    if len(rows) > limit_rows:
        raise TooLarge(field="file", message=_("At most %(n)d rows.") % {"n": limit_rows})
    return rows


def _line_error(line: int, exc: DomainError) -> DomainError:
    return DomainError(
        field="file",
        message=_("Line %(line)d, %(column)s: %(message)s")
        % {"line": line, "column": exc.field, "message": exc.message},
    )
