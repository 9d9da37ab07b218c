"""An objection-handling protocol's structure, checked the same way for the page and the API."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from procedo.core.errors import DomainError
from procedo.knowledge.models import Technique


class Protocol(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # The objection as the customer says it: "It's too expensive".
    objection: str = Field(min_length=1, max_length=200)
    technique: Technique
    script: str = Field(min_length=1, max_length=5000)
    follow_up: list[Annotated[str, Field(min_length=1, max_length=300)]] = Field(
        default_factory=list, max_length=10
    )
    next_step: str = Field(default="", max_length=1000)


def protocol_clean(raw: Any) -> dict[str, Any]:
    """The stored form of a protocol, or a DomainError naming the bad part (protocol.script)."""
    if not isinstance(raw, dict):
        raise DomainError(field="protocol", message="protocol: an object is expected")
    try:
        return Protocol.model_validate(raw).model_dump(mode="json")
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(["protocol", *(str(part) for part in first["loc"])])
        raise DomainError(field=field, message=f"{field}: {first['msg']}") from None
