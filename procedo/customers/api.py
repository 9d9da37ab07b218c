"""Customers over REST: what the pages do, for programs. Thin: services and selectors decide.

Errors are `{"detail", "field", "code"}`: 422 bad input, 404 unknown id, 409 a conflict
(the email belongs to another customer, the customer was merged), 403 a role
without `customers.view` / `customers.change`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from django.http import StreamingHttpResponse
from ninja import Field, Query, Router
from ninja.responses import Status

from procedo.accounts.auth import ApiRequest, requires_api
from procedo.business.selectors import business_get
from procedo.core.bounds import (
    PAGE_LIMIT_DEFAULT,
    Cursor,
    Day,
    EmailText,
    Id,
    Moment,
    PageLimit,
    PathId,
    PhoneText,
    ShortText,
)
from procedo.core.exports import filters_known
from procedo.core.idempotency import api_key, idempotency_header
from procedo.core.schemas import EXPORT_RESPONSE, ExportFormat, Schema
from procedo.customers import selectors
from procedo.customers.models import Address, Customer, Identity, IdentityKind, Note, Tag
from procedo.customers.services import customers as customer_services
from procedo.customers.services import details as detail_services
from procedo.customers.services import identities as identity_services
from procedo.customers.services import merging as merge_services
from procedo.events.exports import export_stream
from procedo.events.schemas import EventPageOut, PageQuery, event_page
from procedo.events.selectors import timeline_for_customer

router = Router(tags=["customers"])

Consent = Literal["granted", "denied", "unknown"]


class IdentityOut(Schema):
    id: int
    kind: Literal["email", "phone"]
    value: str = Field(description="A lower-case email, or a phone in E.164 (+380671234567).")
    marketing_consent: Consent = Field(
        description="Consent to marketing on this channel: email for an email, SMS for a phone."
    )
    consent_changed_at: datetime | None
    consent_source: str = Field(description="Where the answer came from, e.g. 'checkout'.")


class AddressOut(Schema):
    id: int
    kind: Literal["shipping", "billing"]
    line1: str
    line2: str
    city: str
    region: str
    postcode: str
    country: str = Field(description="ISO 3166-1 alpha-2, or empty.")


class NoteOut(Schema):
    id: int
    body: str
    author: str | None
    created_at: datetime


class CustomerOut(Schema):
    id: int
    first_name: str
    last_name: str
    company: str
    country: str = Field(description="ISO 3166-1 alpha-2, or empty.")
    source: str
    external_ref: str | None = Field(description="The customer's id in a shop or an import.")
    created_at: datetime
    orders_count: int
    lifetime_value: Decimal = Field(description="Sum of the customer's orders, in `currency`.")
    currency: str = Field(description="The business currency (ISO 4217).")
    first_order_at: datetime | None
    last_order_at: datetime | None
    merged_into_id: int | None = Field(
        description="Set when this record was merged into another customer: use that one."
    )
    emails: list[str]
    phones: list[str]
    tags: list[str]


class CustomerDetailOut(CustomerOut):
    identities: list[IdentityOut]
    addresses: list[AddressOut]
    notes: list[NoteOut] = Field(description="The newest notes first (up to 50).")


class CustomerPageOut(Schema):
    items: list[CustomerOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` (with the same filters) for the next page; null at the end."
    )


class CustomerFilters(Schema):
    """The customers page's filters, by the page's names."""

    q: str = Field(
        default="",
        max_length=100,
        description="Prefix of a name, company, email or phone (any format: 0671234567, +380…).",
    )
    search: str = Field(
        default="",
        max_length=100,
        description="The former name of `q`.",
        json_schema_extra={"deprecated": True},
    )
    tag: str = Field(default="", max_length=60, description="Only customers with this tag.")
    has_orders: bool | None = Field(default=None, description="true: with orders; false: none.")
    last_order_after: Day | None = Field(default=None, description="Last order on or after.")
    last_order_before: Day | None = Field(default=None, description="Last order before.")
    country: str = Field(default="", max_length=2)
    sort: Literal["newest", "value"] = Field(
        default="newest", description="newest: created last first; value: highest lifetime value."
    )

    def selection(self) -> dict[str, Any]:
        """The selector's keyword arguments."""
        chosen = self.dict(exclude={"q", "search", "cursor", "limit", "format"})
        return {**chosen, "search": self.q or self.search}


class CustomerListQuery(CustomerFilters):
    cursor: Cursor | None = None
    limit: PageLimit = PAGE_LIMIT_DEFAULT


class CustomerExportQuery(CustomerFilters):
    format: ExportFormat = "csv"


class CustomerIn(Schema):
    first_name: str = Field(default="", max_length=150)
    last_name: str = Field(default="", max_length=150)
    company: str = Field(default="", max_length=200)
    country: str = Field(default="", max_length=2)
    source: str = Field(default="", max_length=60)
    external_ref: str | None = Field(default=None, max_length=100)
    emails: list[EmailText] = Field(
        default_factory=list, max_length=20, description="Written any case."
    )
    phones: list[PhoneText] = Field(
        max_length=20,
        default_factory=list,
        description="Written any way; local ones in the business's region.",
    )
    email_consent: Consent = "unknown"
    phone_consent: Consent = "unknown"
    consent_source: str = Field(default="", max_length=60)


class CustomerFindOrCreateIn(Schema):
    email: str = Field(default="", max_length=254)
    phone: str = Field(default="", max_length=40)
    external_ref: str | None = Field(default=None, max_length=100)
    first_name: str = Field(default="", max_length=150)
    last_name: str = Field(default="", max_length=150)
    company: str = Field(default="", max_length=200)
    country: str = Field(default="", max_length=2)
    source: str = Field(default="", max_length=60)
    email_consent: Consent | None = None
    phone_consent: Consent | None = None
    consent_source: str = Field(default="", max_length=60)


class CustomerMatchOut(Schema):
    created: bool
    customer: CustomerDetailOut


class CustomerPatchIn(Schema):
    """Only the fields sent change."""

    first_name: str | None = Field(default=None, max_length=150)
    last_name: str | None = Field(default=None, max_length=150)
    company: str | None = Field(default=None, max_length=200)
    country: str | None = Field(default=None, max_length=2)
    source: str | None = Field(default=None, max_length=60)


class IdentityIn(Schema):
    kind: Literal["email", "phone"]
    value: str = Field(min_length=1, max_length=254)
    marketing_consent: Consent = "unknown"
    consent_source: str = Field(default="", max_length=60)


class ConsentIn(Schema):
    state: Consent
    source: str = Field(min_length=1, max_length=60, description="e.g. 'checkout', 'phone call'.")
    changed_at: Moment | None = Field(default=None, description="When they said so; now if absent.")


class AddressIn(Schema):
    kind: Literal["shipping", "billing"] = "shipping"
    line1: str = Field(min_length=1, max_length=200)
    line2: str = Field(default="", max_length=200)
    city: str = Field(min_length=1, max_length=100)
    region: str = Field(default="", max_length=100)
    postcode: str = Field(default="", max_length=20)
    country: str = Field(default="", max_length=2)


class TagIn(Schema):
    name: str = Field(min_length=1, max_length=60)


class NoteIn(Schema):
    body: str = Field(min_length=1, max_length=detail_services.NOTE_MAX)


class MergeIn(Schema):
    duplicate_id: Id = Field(ge=1, description="The customer folded into this one and retired.")


class DuplicatePairOut(Schema):
    older: CustomerOut
    newer: CustomerOut
    same_phone: bool
    same_name_and_address: bool


class DuplicatePageOut(Schema):
    items: list[DuplicatePairOut]
    next_cursor: str | None


_FIELDS = (
    "id",
    "first_name",
    "last_name",
    "company",
    "country",
    "source",
    "external_ref",
    "created_at",
    "orders_count",
    "lifetime_value",
    "first_order_at",
    "last_order_at",
    "merged_into_id",
)


def _customer_out(
    customer: Customer, currency: str, *, identities: list[Identity], tags: list[Tag]
) -> dict[str, Any]:
    return {
        **{field: getattr(customer, field) for field in _FIELDS},
        "currency": currency,
        "emails": [i.value for i in identities if i.kind == IdentityKind.EMAIL],
        "phones": [i.value for i in identities if i.kind == IdentityKind.PHONE],
        "tags": [tag.name for tag in tags],
    }


def _listed(customer: Customer, currency: str) -> dict[str, Any]:
    """A customer from a list selector, which prefetched identities and tags."""
    return _customer_out(
        customer,
        currency,
        identities=list(customer.identities.all()),
        tags=list(customer.tags.all()),
    )


def _list_row(customer: selectors.ListedCustomer, currency: str) -> dict[str, Any]:
    """A customer from the list selector, which read its contacts and tag names."""
    return {
        **{field: getattr(customer, field) for field in _FIELDS},
        "currency": currency,
        "emails": customer.emails,
        "phones": customer.phones,
        "tags": customer.tags,
    }


def _note_out(note: Note) -> dict[str, Any]:
    return {
        "id": note.pk,
        "body": note.body,
        "author": str(note.author) if note.author else None,
        "created_at": note.created_at,
    }


def _detail(customer_id: int) -> dict[str, Any]:
    card = selectors.customer_card(customer_id=customer_id)
    return {
        **_customer_out(
            card.customer, business_get().currency, identities=card.identities, tags=card.tags
        ),
        "identities": card.identities,
        "addresses": card.addresses,
        "notes": [_note_out(note) for note in card.notes],
    }


@router.get("", response=CustomerPageOut, auth=requires_api("customers.view"))
def customer_list(request: ApiRequest, filters: Query[CustomerListQuery]) -> dict[str, Any]:
    """Live customers (merged ones left out), one keyset page at a time."""
    page = selectors.customer_list(
        **filters.selection(), cursor=filters.cursor, limit=filters.limit
    )
    currency = business_get().currency
    return {
        "items": [_list_row(customer, currency) for customer in page.items],
        "next_cursor": page.next_cursor,
    }


@router.get(
    "/export",
    auth=requires_api("customers.view"),
    openapi_extra=EXPORT_RESPONSE,
)
def customer_export(
    request: ApiRequest, filters: Query[CustomerExportQuery]
) -> StreamingHttpResponse:
    """The customers as a CSV (UTF-8 with a BOM) or XLSX file, with the list's filters.

    Streamed; recorded in the log (`list.exported`) since it carries personal data.
    An unknown filter is a 422 naming it.
    """
    return export_stream(
        request=request,
        actor=request.auth,
        list_name="customers",
        fmt=filters.format,
        filters=filters_known(request.GET, CustomerExportQuery.model_fields),
        columns=selectors.CUSTOMER_COLUMNS,
        rows=selectors.customer_export_rows(**filters.selection()),
    )


@router.post("", response={201: CustomerDetailOut}, auth=requires_api("customers.change"))
def customer_create(
    request: ApiRequest,
    payload: CustomerIn,
    idempotency_key: str | None = idempotency_header(),
) -> Status[dict[str, Any]]:
    """A new customer. 409 naming `email`/`phone` if one belongs to another customer already."""
    customer = customer_services.customer_create(
        **payload.dict(),
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )
    return Status(201, _detail(customer.pk))


@router.post(
    "/find-or-create",
    response={200: CustomerMatchOut, 201: CustomerMatchOut},
    auth=requires_api("customers.change"),
)
def customer_find_or_create(
    request: ApiRequest, payload: CustomerFindOrCreateIn
) -> Status[dict[str, Any]]:
    """The customer this external ref, email or phone belongs to (201 if it had to be created).

    A found customer gets what it lacked (blank names, the identity, the ref).
    """
    match = customer_services.customer_find_or_create(**payload.dict(), actor=request.auth)
    body = {"created": match.created, "customer": _detail(match.customer.pk)}
    return Status(201 if match.created else 200, body)


@router.get("/duplicates", response=DuplicatePageOut, auth=requires_api("customers.view"))
def customer_duplicates(request: ApiRequest, cursor: Cursor | None = None) -> dict[str, Any]:
    """Pairs of customers that are probably one person, newest record first."""
    page = selectors.customer_duplicates(cursor=cursor)
    currency = business_get().currency
    items = [
        {
            "older": _listed(pair.older, currency),
            "newer": _listed(pair.newer, currency),
            "same_phone": pair.same_phone,
            "same_name_and_address": pair.same_name_and_address,
        }
        for pair in page.pairs
    ]
    return {"items": items, "next_cursor": page.next_cursor}


class DuplicateDismissIn(Schema):
    customer_id: Id
    other_id: Id = Field(description="The other customer of the pair.")


@router.post("/duplicates/dismiss", response={204: None}, auth=requires_api("customers.change"))
def duplicate_dismiss(request: ApiRequest, payload: DuplicateDismissIn) -> Status[None]:
    """The two are different people: the pair is not proposed again (a repeat changes nothing)."""
    merge_services.duplicate_dismiss(
        customer_id=payload.customer_id, other_id=payload.other_id, actor=request.auth
    )
    return Status(204, None)


@router.get("/{int:customer_id}", response=CustomerDetailOut, auth=requires_api("customers.view"))
def customer_get(request: ApiRequest, customer_id: PathId) -> dict[str, Any]:
    """One customer. A merged record answers with `merged_into_id` set."""
    return _detail(customer_id)


@router.patch(
    "/{int:customer_id}", response=CustomerDetailOut, auth=requires_api("customers.change")
)
def customer_update(
    request: ApiRequest, customer_id: PathId, payload: CustomerPatchIn
) -> dict[str, Any]:
    customer_services.customer_update(
        customer_id=customer_id, actor=request.auth, **payload.dict(exclude_unset=True)
    )
    return _detail(customer_id)


@router.get(
    "/{int:customer_id}/timeline", response=EventPageOut, auth=requires_api("customers.view")
)
def customer_timeline(
    request: ApiRequest, customer_id: PathId, page: Query[PageQuery]
) -> dict[str, Any]:
    """Everything that happened to the customer (their orders too), newest first."""
    timeline = timeline_for_customer(
        customer_id=customer_id, before=page.before_id(), limit=page.limit
    )
    return event_page(timeline.events, timeline.next_before)


@router.post(
    "/{int:customer_id}/identities",
    response={201: IdentityOut},
    auth=requires_api("customers.change"),
)
def identity_add(request: ApiRequest, customer_id: PathId, payload: IdentityIn) -> Status[Identity]:
    """Add an email or phone; 422 names `email`/`phone` when malformed, 409 when another's."""
    identity = identity_services.identity_add(
        customer_id=customer_id, actor=request.auth, **payload.dict()
    )
    return Status(201, identity)


@router.delete(
    "/{int:customer_id}/identities/{int:identity_id}",
    response={204: None},
    auth=requires_api("customers.change"),
)
def identity_remove(request: ApiRequest, customer_id: PathId, identity_id: PathId) -> Status[None]:
    identity_services.identity_remove(
        customer_id=customer_id, identity_id=identity_id, actor=request.auth
    )
    return Status(204, None)


@router.put(
    "/{int:customer_id}/identities/{int:identity_id}/consent",
    response=IdentityOut,
    auth=requires_api("customers.change"),
)
def consent_set(
    request: ApiRequest, customer_id: PathId, identity_id: PathId, payload: ConsentIn
) -> Identity:
    """Marketing consent for this identity's channel (email, or SMS for a phone)."""
    return identity_services.consent_set(
        customer_id=customer_id, identity_id=identity_id, actor=request.auth, **payload.dict()
    )


@router.post(
    "/{int:customer_id}/addresses",
    response={201: AddressOut},
    auth=requires_api("customers.change"),
)
def address_add(
    request: ApiRequest,
    customer_id: PathId,
    payload: AddressIn,
    idempotency_key: str | None = idempotency_header(),
) -> Status[Address]:
    address = detail_services.address_add(
        customer_id=customer_id,
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
        **payload.dict(),
    )
    return Status(201, address)


@router.delete(
    "/{int:customer_id}/addresses/{int:address_id}",
    response={204: None},
    auth=requires_api("customers.change"),
)
def address_remove(request: ApiRequest, customer_id: PathId, address_id: PathId) -> Status[None]:
    detail_services.address_remove(
        customer_id=customer_id, address_id=address_id, actor=request.auth
    )
    return Status(204, None)


@router.post("/{int:customer_id}/tags", response=list[str], auth=requires_api("customers.change"))
def tag_add(request: ApiRequest, customer_id: PathId, payload: TagIn) -> list[str]:
    """Tag the customer (the tag is made the first time); answers the customer's tags."""
    detail_services.tag_add(customer_id=customer_id, name=payload.name, actor=request.auth)
    return [tag.name for tag in selectors.customer_card(customer_id=customer_id).tags]


@router.delete("/{int:customer_id}/tags", response=list[str], auth=requires_api("customers.change"))
def tag_remove(request: ApiRequest, customer_id: PathId, name: ShortText) -> list[str]:
    """Untag (`?name=VIP`); 404 naming `tag` if no customer ever had it."""
    detail_services.tag_remove(customer_id=customer_id, name=name, actor=request.auth)
    return [tag.name for tag in selectors.customer_card(customer_id=customer_id).tags]


@router.post(
    "/{int:customer_id}/notes", response={201: NoteOut}, auth=requires_api("customers.change")
)
def note_add(
    request: ApiRequest,
    customer_id: PathId,
    payload: NoteIn,
    idempotency_key: str | None = idempotency_header(),
) -> Status[dict[str, Any]]:
    note = detail_services.note_add(
        customer_id=customer_id,
        body=payload.body,
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )
    return Status(201, _note_out(note))


@router.post(
    "/{int:customer_id}/merge", response=CustomerDetailOut, auth=requires_api("customers.change")
)
def customer_merge(request: ApiRequest, customer_id: PathId, payload: MergeIn) -> dict[str, Any]:
    """Fold `duplicate_id` into this customer: its identities, addresses, tags, notes,
    orders and history move here, and it keeps only `merged_into_id`. Cannot be undone."""
    survivor = merge_services.customer_merge(
        survivor_id=customer_id, duplicate_id=payload.duplicate_id, actor=request.auth
    )
    return _detail(survivor.pk)
