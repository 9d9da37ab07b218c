"""The base of every API input and output: text that PostgreSQL could not store is refused."""

from __future__ import annotations

from typing import Any, Literal

import ninja
from django.utils.translation import gettext as _
from pydantic import field_validator


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return False


class Schema(ninja.Schema):
    @field_validator("*", mode="before")
    @classmethod
    def _refuse_nul(cls, value: Any) -> Any:
        # A NUL byte breaks PostgreSQL's text; the 422 names the field it was in.
        if _has_nul(value):
            raise ValueError(_("Text cannot contain NUL characters."))
        return value


# A list as a file (procedo/core/exports.py): the `format` parameter and the documented answer.
ExportFormat = Literal["csv", "xlsx"]
EXPORT_RESPONSE: dict[str, Any] = {
    "responses": {
        200: {
            "description": "The file, streamed: CSV in UTF-8 with a BOM, or XLSX.",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                    "schema": {"type": "string", "format": "binary"}
                },
            },
        }
    }
}
