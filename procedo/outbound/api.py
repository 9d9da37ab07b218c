"""Webhooks in the API: the same services, permission and errors as the pages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from ninja import Field, Query, Router
from ninja.responses import Status

from procedo.accounts.auth import ApiRequest, requires_api
from procedo.core.bounds import PathId
from procedo.core.idempotency import api_key, idempotency_header
from procedo.core.schemas import Schema
from procedo.events.schemas import IdPaging
from procedo.outbound import selectors, services
from procedo.outbound.catalog import EVENT_TYPES
from procedo.outbound.models import NAME_MAX, URL_MAX, Delivery, Subscription

router = Router(tags=["webhooks"])
PERMISSION = "webhooks.manage"


# Checked against the catalog by the service, which names the field when it is unknown.
EventTypeKey = Annotated[str, Field(min_length=1, max_length=80)]


class EventTypeOut(Schema):
    key: str
    label: str


class SubscriptionOut(Schema):
    id: int
    name: str
    url: str
    event_types: list[str] = Field(description="Keys from `GET /api/webhooks/event-types`.")
    state: Literal["active", "paused"]
    paused_reason: str = Field(description="Why it is paused, in words; empty when active.")
    secret_hint: str = Field(description="The secret's last characters, to tell it apart.")
    owner_id: int | None
    created_at: datetime

    @staticmethod
    def resolve_paused_reason(obj: Subscription) -> str:
        return obj.pause_reason


class SubscriptionCreatedOut(SubscriptionOut):
    secret: str = Field(
        description="Signs every delivery (docs: webhooks). Shown only in this answer."
    )


class SubscriptionIn(Schema):
    name: str = Field(min_length=1, max_length=NAME_MAX)
    url: str = Field(
        min_length=1,
        max_length=URL_MAX,
        description="http(s) address of a server on the internet; no redirects are followed.",
    )
    event_types: list[EventTypeKey] = Field(
        min_length=1, max_length=len(EVENT_TYPES), description="Keys of the events to send."
    )


class PauseIn(Schema):
    reason: str = Field(default="", max_length=services.REASON_MAX)


class WebhookDeliveryOut(Schema):
    id: int
    uid: UUID = Field(description="The delivery's id, sent as `Procedo-Delivery-Id`.")
    subscription_id: int
    event_id: int = Field(description="Sent as `Procedo-Event-Id`: deduplicate on it.")
    event_type: str
    event_label: str
    subject_type: str
    subject_id: int | None
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    response_code: int | None
    error: str = Field(
        description="What went wrong with the last attempt, in words; empty if nothing."
    )
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime

    @staticmethod
    def resolve_error(obj: Delivery) -> str:
        return obj.problem


class WebhookDeliveryPageOut(Schema):
    items: list[WebhookDeliveryOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class WebhookDeliveryQuery(IdPaging):
    state: Literal["", "pending", "delivered", "failed"] = ""


@router.get("/event-types", response=list[EventTypeOut], auth=requires_api(PERMISSION))
def webhook_event_types(request: ApiRequest) -> list[dict[str, str]]:
    """The events a webhook can be sent, with their names in the reader's language."""
    return [{"key": key, "label": str(label)} for key, label in EVENT_TYPES.items()]


@router.get("", response=list[SubscriptionOut], auth=requires_api(PERMISSION))
def webhook_list(request: ApiRequest) -> list[Subscription]:
    return selectors.subscriptions_all()


@router.post("", response={201: SubscriptionCreatedOut}, auth=requires_api(PERMISSION))
def webhook_create(
    request: ApiRequest,
    payload: SubscriptionIn,
    idempotency_key: str | None = idempotency_header(),
) -> Status:
    """A new webhook, active at once. The answer holds its `secret`, shown this once."""
    subscription = services.subscription_create(
        name=payload.name,
        url=payload.url,
        event_types=payload.event_types,
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )
    return Status(201, subscription)


@router.get("/{int:subscription_id}", response=SubscriptionOut, auth=requires_api(PERMISSION))
def webhook_get(request: ApiRequest, subscription_id: PathId) -> Subscription:
    return selectors.subscription_get(subscription_id=subscription_id)


@router.put("/{int:subscription_id}", response=SubscriptionOut, auth=requires_api(PERMISSION))
def webhook_update(
    request: ApiRequest, subscription_id: PathId, payload: SubscriptionIn
) -> Subscription:
    return services.subscription_update(
        subscription_id=subscription_id,
        name=payload.name,
        url=payload.url,
        event_types=payload.event_types,
        actor=request.auth,
    )


@router.post(
    "/{int:subscription_id}/pause", response=SubscriptionOut, auth=requires_api(PERMISSION)
)
def webhook_pause(request: ApiRequest, subscription_id: PathId, payload: PauseIn) -> Subscription:
    """Stop sending. Events go on being queued and are sent after a resume."""
    return services.subscription_pause(
        subscription_id=subscription_id, actor=request.auth, reason=payload.reason
    )


@router.post(
    "/{int:subscription_id}/resume", response=SubscriptionOut, auth=requires_api(PERMISSION)
)
def webhook_resume(request: ApiRequest, subscription_id: PathId) -> Subscription:
    """Send again, queued events first, each with a fresh retry period."""
    return services.subscription_resume(subscription_id=subscription_id, actor=request.auth)


@router.post(
    "/{int:subscription_id}/test", response={201: WebhookDeliveryOut}, auth=requires_api(PERMISSION)
)
def webhook_send_test(
    request: ApiRequest,
    subscription_id: PathId,
    idempotency_key: str | None = idempotency_header(),
) -> Status:
    """Send a test event (`webhook.test`) to this webhook; read its delivery for the answer."""
    delivery = services.subscription_send_test(
        subscription_id=subscription_id,
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )
    return Status(201, delivery)


@router.get(
    "/{int:subscription_id}/deliveries",
    response=WebhookDeliveryPageOut,
    auth=requires_api(PERMISSION),
)
def webhook_deliveries(
    request: ApiRequest, subscription_id: PathId, page: Query[WebhookDeliveryQuery]
) -> dict[str, Any]:
    """The webhook's deliveries, newest first, with state, response code and error."""
    selectors.subscription_get(subscription_id=subscription_id)
    found = selectors.deliveries_of(
        subscription_id=subscription_id,
        state=page.state,
        before=page.before_id(),
        limit=page.limit,
    )
    cursor = str(found.next_before) if found.next_before else None
    return {"items": found.deliveries, "next_cursor": cursor}


@router.post(
    "/deliveries/{int:delivery_id}/redeliver",
    response=WebhookDeliveryOut,
    auth=requires_api(PERMISSION),
)
def delivery_redeliver(request: ApiRequest, delivery_id: PathId) -> Delivery:
    """Send a delivery again, with the same id and body. One still waiting stays as it is."""
    return services.delivery_redeliver(delivery_id=delivery_id, actor=request.auth)
