"""Connections and their deliveries over REST: the same services as the pages.

A connection's secret goes in once (create, or update with a new one) and never comes
back: the API shows its last four characters, as the page does.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any, Literal

from django.utils.translation import gettext as _
from ninja import Field, Query, Router
from ninja.responses import Status

from procedo.accounts.auth import ApiRequest, requires_api
from procedo.core.bounds import PathId
from procedo.core.errors import NotFound
from procedo.core.idempotency import api_key, idempotency_header
from procedo.core.schemas import Schema
from procedo.integrations import selectors
from procedo.integrations.models import Connection, Delivery
from procedo.integrations.services import connections as connections_services
from procedo.integrations.services import processing as processing_services
from procedo.integrations.services import testing as testing_services
from procedo.integrations.services._common import SECRET_MAX

router = Router(tags=["integrations"])
AUTH = requires_api("integrations.manage")
PlatformName = Literal["shopify", "woocommerce", "stripe", "easypost", "liqpay", "novaposhta"]
StateName = Literal["received", "processed", "failed", "rejected", "test"]


class ConnectionIn(Schema):
    platform: PlatformName
    name: str = Field(min_length=1, max_length=100)
    account: str = Field(default="", max_length=200)
    secret: str = Field(min_length=1, max_length=SECRET_MAX, description="Never returned.")
    api_key: str = Field(
        default="",
        max_length=SECRET_MAX,
        description="Stripe's sk_… or a Shopify Admin API token, to fetch what webhooks missed.",
    )


class ConnectionPatch(Schema):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    account: str | None = Field(default=None, max_length=200)
    secret: str | None = Field(default=None, min_length=1, max_length=SECRET_MAX)
    api_key: str | None = Field(default=None, min_length=1, max_length=SECRET_MAX)
    active: bool | None = None


class ConnectionOut(Schema):
    id: int
    platform: str
    name: str
    account: str
    active: bool
    secret_hint: str = Field(description="The secret's last four characters, never more.")
    api_key_hint: str = Field(description="The API key's last four characters, or empty.")
    reconciled_until: datetime | None = Field(description="Fetched from the platform up to here.")
    reconcile_error: str = Field(description="Why the last fetch failed, if it did.")
    hook_url: str = Field(description="The address to paste into the platform.")
    created_at: datetime


class DeliveryOut(Schema):
    id: int
    received_at: datetime
    topic: str
    event_id: str
    state: str = Field(description="received, processed, failed, rejected or test.")
    error: str = Field(description="Why it failed or was rejected; for processed, what it did.")
    error_field: str = Field(description="What the error names (a payload field, `signature`).")
    duplicate_of: int | None = Field(description="The delivery of the same event processed first.")
    attempts: int
    next_attempt_at: datetime | None
    processed_at: datetime | None


class ConnectionTestOut(Schema):
    outcome: Literal["verified", "rejected", "refused", "unreachable"] = Field(
        description="verified: received and the signature checked; rejected: the signature "
        "did not; refused: another answer (a paused connection); unreachable: no answer."
    )
    status: int | None = Field(description="The hook's HTTP status; null when nothing answered.")
    detail: str = Field(description="The hook's own words, or why it could not be reached.")
    delivery_id: int | None = Field(description="The test delivery kept (never processed).")
    sent_at: datetime
    message: str = Field(description="The result in words, as the connection's page shows it.")


class DeliveryPageOut(Schema):
    items: list[DeliveryOut]
    next_before: int | None = Field(description="Pass as `before` for the next (older) page.")


class DeliveryQuery(Schema):
    state: StateName | None = None
    before: int | None = Field(default=None, ge=1, le=2**62)


def _out(request: ApiRequest, connection: Connection) -> dict[str, Any]:
    return {
        **{
            name: getattr(connection, name)
            for name in ConnectionOut.model_fields
            if name != "hook_url"
        },
        "hook_url": request.build_absolute_uri(selectors.hook_path(connection)),
    }


def _delivery_out(delivery: Delivery) -> dict[str, Any]:
    return {
        **{
            name: getattr(delivery, name)
            for name in DeliveryOut.model_fields
            if name != "duplicate_of"
        },
        "duplicate_of": delivery.duplicate_of_id,
    }


def _connection(connection_id: int) -> Connection:
    connection = selectors.connection_get(connection_id=connection_id)
    if connection is None:
        raise NotFound(field="connection_id", message=_("No such connection."))
    return connection


@router.get("/connections", response=list[ConnectionOut], auth=AUTH)
def connection_list(request: ApiRequest) -> list[dict[str, Any]]:
    return [_out(request, c) for c in selectors.connections_list()]


@router.post("/connections", response={201: ConnectionOut}, auth=AUTH)
def connection_create(request: ApiRequest, payload: ConnectionIn) -> Status[dict[str, Any]]:
    connection = connections_services.connection_create(**payload.model_dump(), actor=request.auth)
    return Status(201, _out(request, connection))


@router.get("/connections/{int:connection_id}", response=ConnectionOut, auth=AUTH)
def connection_get(request: ApiRequest, connection_id: PathId) -> dict[str, Any]:
    return _out(request, _connection(connection_id))


@router.patch("/connections/{int:connection_id}", response=ConnectionOut, auth=AUTH)
def connection_update(
    request: ApiRequest, connection_id: PathId, payload: ConnectionPatch
) -> dict[str, Any]:
    _connection(connection_id)
    connection = connections_services.connection_update(
        connection_id=connection_id,
        actor=request.auth,
        **payload.model_dump(),
    )
    return _out(request, connection)


@router.get("/connections/{int:connection_id}/deliveries", response=DeliveryPageOut, auth=AUTH)
def delivery_list(
    request: ApiRequest, connection_id: PathId, query: Query[DeliveryQuery]
) -> dict[str, Any]:
    """The connection's deliveries, newest first, 50 a page."""
    _connection(connection_id)
    page = selectors.deliveries_page(
        connection_id=connection_id, state=query.state or "", before=query.before
    )
    return {"items": [_delivery_out(d) for d in page.items], "next_before": page.next_before}


@router.post("/deliveries/{int:delivery_id}/replay", response={202: DeliveryOut}, auth=AUTH)
def delivery_replay(request: ApiRequest, delivery_id: PathId) -> Status[dict[str, Any]]:
    """Process a failed delivery again (409-style 422 naming `state` when it did not fail)."""
    delivery = processing_services.delivery_replay(delivery_id=delivery_id, actor=request.auth)
    return Status(202, _delivery_out(delivery))


@router.post("/connections/{int:connection_id}/test", response=ConnectionTestOut, auth=AUTH)
def connection_test(
    request: ApiRequest, connection_id: PathId, idempotency_key: str | None = idempotency_header()
) -> dict[str, Any]:
    """Procedo posts a signed sample of the connection's platform to its own hook address over
    HTTP, as the platform would, and says what became of it. The same Idempotency-Key
    answers the first result without sending again."""
    connection = _connection(connection_id)
    tested = testing_services.connection_test_send(
        connection_id=connection_id,
        actor=request.auth,
        hook_url=request.build_absolute_uri(selectors.hook_path(connection)),
        idempotency_key=api_key(idempotency_key) or f"api-once:{uuid.uuid4()}",
    )
    return {**dataclasses.asdict(tested), "message": tested.words}
