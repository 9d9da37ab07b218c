"""Customers by the thousand: created from an import in a few INSERTs, reindexed for
search, and the order figures the orders app keeps on them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from procedo.accounts.actors import Actor
from procedo.core.actors import actor_id_of
from procedo.core.rows import rows_insert
from procedo.customers import normalise
from procedo.customers.models import (
    Address,
    ConsentState,
    Customer,
    CustomerSearchTerm,
    CustomerTag,
    Identity,
    IdentityKind,
    Tag,
)
from procedo.customers.services._common import _REINDEX_CHUNK, _index_fill, _reindex
from procedo.events.services.recording import NewEvent, events_record_many


@transaction.atomic
def customer_search_reindex(*, customer_ids: Sequence[int]) -> int:
    """Rebuild what these customers are found by; for importers that insert rows in bulk."""
    done = 0
    ids = list(customer_ids)
    for start in range(0, len(ids), _REINDEX_CHUNK):
        chunk = list(
            Customer.objects.filter(pk__in=ids[start : start + _REINDEX_CHUNK]).only(
                "id", "first_name", "last_name", "company", "merged_into_id"
            )
        )
        _reindex(chunk)
        done += len(chunk)
    return done


@dataclass(frozen=True)
class NewCustomer:
    """A customer a bulk writer brings (an import file's row, a shop's past orders), already
    parsed and normalised by the caller; `facts` are what its event says besides the source."""

    first_name: str = ""
    last_name: str = ""
    company: str = ""
    country: str = ""
    external_ref: str | None = None
    email: str = ""
    email_consent: str = ConsentState.UNKNOWN
    phone: normalise.Phone | None = None
    sms_consent: str = ConsentState.UNKNOWN
    address: str = ""
    city: str = ""
    region: str = ""
    postcode: str = ""
    tags: tuple[str, ...] = ()
    created_at: datetime | None = None
    facts: Mapping[str, Any] | None = None


def _identity_row(
    customer_id: int, kind: str, value: str, tail: str, consent: str, source: str, now: datetime
) -> Identity:
    known = consent != ConsentState.UNKNOWN
    return Identity(
        customer_id=customer_id,
        kind=kind,
        value=value,
        phone_tail=tail,
        marketing_consent=consent,
        consent_source=source if known else "",
        consent_changed_at=now if known else None,
        created_at=now,
    )


def _identities_of(person: NewCustomer) -> list[tuple[str, str]]:
    """(kind, value) of the person's email and phone, emails first as they are inserted."""
    found: list[tuple[str, str]] = [(IdentityKind.EMAIL, person.email)] if person.email else []
    if person.phone is not None:
        found.append((IdentityKind.PHONE, person.phone.e164))
    return found


@transaction.atomic
def customers_create_many(
    *, people: Sequence[NewCustomer], source: str, actor: Actor, arriving: bool = False
) -> list[int]:
    """Create customers nobody has yet, set-based: a few INSERTs for the whole batch, each with
    its "customer.imported" event. Returns their ids in the order given.

    `arriving`: people who come now (a shop's new buyers, not a file of the past), each
    recorded as "customer.created" with what `customer_create` records, so the SOPs that
    greet a new customer start for them.

    The caller has made sure no ref, email or phone of the batch is known or repeated
    (an importer checks its whole batch with one query); a twin that slipped in between
    fails the batch on the unique index rather than making a second customer.
    """
    if not people:
        return []
    now = timezone.now()
    made = [
        Customer(
            first_name=p.first_name,
            last_name=p.last_name,
            company=p.company,
            country=p.country,
            source=source,
            external_ref=p.external_ref,
            created_at=p.created_at or now,
        )
        for p in people
    ]
    # Indexed for search as they are written (customer_search_reindex's rules), rather
    # than rewritten after: the UPDATE of every row cost as much as the INSERTs.
    found_by = [
        _index_fill(customer, _identities_of(p)) for customer, p in zip(made, people, strict=True)
    ]
    customers = Customer.objects.bulk_create(made)
    rows_insert(
        CustomerSearchTerm,
        ("customer_id", "term"),
        [
            (customer.pk, term)
            for customer, terms in zip(customers, found_by, strict=True)
            for term in terms
        ],
    )
    pairs = list(zip(customers, people, strict=True))
    Identity.objects.bulk_create(
        [
            _identity_row(c.pk, IdentityKind.EMAIL, p.email, "", p.email_consent, source, now)
            for c, p in pairs
            if p.email
        ]
        + [
            _identity_row(
                c.pk, IdentityKind.PHONE, p.phone.e164, p.phone.tail, p.sms_consent, source, now
            )
            for c, p in pairs
            if p.phone
        ]
    )
    Address.objects.bulk_create(
        [
            Address(
                customer_id=c.pk,
                line1=p.address,
                city=p.city,
                region=p.region,
                postcode=p.postcode,
                country=p.country,
                postcode_key=normalise.postcode_key(p.postcode),
                place_key=normalise.place_key(p.city, p.address),
                created_at=now,
            )
            for c, p in pairs
            if p.address
        ]
    )
    names = {normalise.text_key(tag): tag for _c, p in pairs for tag in p.tags}
    if names:
        Tag.objects.bulk_create(
            [Tag(name=name, name_key=key) for key, name in names.items()], ignore_conflicts=True
        )
        tag_ids = dict(Tag.objects.filter(name_key__in=list(names)).values_list("name_key", "id"))
        CustomerTag.objects.bulk_create(
            [
                CustomerTag(
                    customer_id=c.pk, tag_id=tag_ids[normalise.text_key(tag)], created_at=now
                )
                for c, p in pairs
                for tag in dict.fromkeys(p.tags)
            ],
            ignore_conflicts=True,
        )
    events_record_many(
        NewEvent(
            event_type="customer.created" if arriving else "customer.imported",
            subject_type="customer",
            subject_id=c.pk,
            customer_id=c.pk,
            actor_id=actor_id_of(actor),
            payload={
                "name": str(c),
                "source": source,
                "identities": [value for _kind, value in _identities_of(p)],
            }
            if arriving
            else {"source": source, **(p.facts or {})},
            occurred_at=now,
        )
        for c, p in pairs
    )
    return [c.pk for c in customers]


FIGURES = frozenset({"orders_count", "lifetime_value", "first_order_at", "last_order_at"})


FIGURES_CHUNK = 5000


def customer_figures_set(*, customer_ids: Sequence[int] | None, figures: Mapping[str, Any]) -> int:
    """Write the figures the orders give a customer (count, lifetime value, first and last
    order), as SQL expressions evaluated per row: one UPDATE per 5,000 customers, or one for
    all (`customer_ids=None`). Figures only: no event, they follow from the orders' events."""
    unknown = set(figures) - FIGURES
    if unknown:
        raise ValueError(f"not a customer figure: {sorted(unknown)}")
    live = Customer.objects.all()
    if customer_ids is None:
        return live.update(**figures)
    updated = 0
    for start in range(0, len(customer_ids), FIGURES_CHUNK):
        chunk = list(customer_ids[start : start + FIGURES_CHUNK])
        updated += live.filter(pk__in=chunk).update(**figures)
    return updated
