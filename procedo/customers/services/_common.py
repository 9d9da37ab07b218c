"""What several customer services share: the event, fetching and cleaning,
identities, consent and the search index.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.customers import normalise
from procedo.customers.models import (
    ConsentState,
    Customer,
    CustomerSearchTerm,
    Identity,
    IdentityKind,
)
from procedo.events.services.recording import event_record

PROFILE_LIMITS = {"first_name": 150, "last_name": 150, "company": 200, "source": 60}


EXTERNAL_REF_MAX = 100


CONSENT_SOURCE_MAX = 60


_REINDEX_CHUNK = 500


def _record(
    event_type: str,
    *,
    customer: Customer,
    actor: Actor,
    payload: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> None:
    event_record(
        event_type=event_type,
        subject=customer,
        customer_id=customer.pk,
        actor=actor,
        payload=payload or {},
        idempotency_key=idempotency_key,
    )


def _no_customer(customer_id: int, field: str = "customer_id") -> NotFound:
    return NotFound(field=field, message=_("No customer with id %(id)s.") % {"id": customer_id})


def _live_customer(customer_id: int, *, lock: bool = False) -> Customer:
    queryset = Customer.objects.select_for_update() if lock else Customer.objects.all()
    customer = queryset.filter(pk=customer_id).first()
    if customer is None:
        raise _no_customer(customer_id)
    if customer.merged_into_id is not None:
        raise Conflict(
            field="customer_id",
            message=_("Customer #%(id)s was merged into #%(into)s; change that one instead.")
            % {"id": customer_id, "into": customer.merged_into_id},
        )
    return customer


def _clean_text(field: str, raw: str, limit: int) -> str:
    value = " ".join(raw.split())
    if len(value) > limit:
        raise DomainError(
            field=field, message=_("At most %(limit)s characters.") % {"limit": limit}
        )
    return value


def _clean_profile(values: dict[str, str | None]) -> dict[str, str]:
    cleaned: dict[str, str] = {}
    for field, raw in values.items():
        if raw is None:
            continue
        if field == "country":
            cleaned[field] = normalise.country_normalise(raw)
        else:
            cleaned[field] = _clean_text(field, raw, PROFILE_LIMITS[field])
    return cleaned


def _clean_external_ref(raw: str | None) -> str | None:
    value = (raw or "").strip()
    if len(value) > EXTERNAL_REF_MAX:
        raise DomainError(
            field="external_ref",
            message=_("At most %(limit)s characters.") % {"limit": EXTERNAL_REF_MAX},
        )
    return value or None


def _consent_state(state: str, *, field: str) -> str:
    if state not in ConsentState.values:
        raise DomainError(
            field=field,
            message=_("Consent is one of %(states)s.") % {"states": ", ".join(ConsentState.values)},
        )
    return state


def _identity_owner(kind: str, value: str) -> Identity | None:
    return Identity.objects.select_related("customer").filter(kind=kind, value=value).first()


def _taken(identity: Identity) -> Conflict:
    return Conflict(
        field=identity.kind,
        message=_("%(value)s already belongs to %(customer)s (#%(id)s).")
        % {"value": identity.value, "customer": identity.customer, "id": identity.customer_id},
    )


@dataclass(frozen=True)
class _NewIdentity:
    kind: str
    value: str
    phone_tail: str
    consent: str


def _new_identities(
    *,
    emails: Sequence[str],
    phones: Sequence[str],
    email_consent: str,
    phone_consent: str,
) -> list[_NewIdentity]:
    found: dict[tuple[str, str], _NewIdentity] = {}
    for kind, raws, consent in (
        (IdentityKind.EMAIL, emails, email_consent),
        (IdentityKind.PHONE, phones, phone_consent),
    ):
        for raw in raws:
            if raw.strip():
                value, tail = normalise.identity_normalise(kind, raw)
                found.setdefault((kind, value), _NewIdentity(kind, value, tail, consent))
    return list(found.values())


def _identities_insert(
    customer: Customer, identities: Sequence[_NewIdentity], *, consent_source: str
) -> list[Identity]:
    now = timezone.now()
    rows = [
        Identity(
            customer=customer,
            kind=item.kind,
            value=item.value,
            phone_tail=item.phone_tail,
            marketing_consent=item.consent,
            consent_changed_at=None if item.consent == ConsentState.UNKNOWN else now,
            consent_source="" if item.consent == ConsentState.UNKNOWN else consent_source,
            created_at=now,
        )
        for item in identities
    ]
    try:
        # A savepoint: a twin request may have taken the value since we looked.
        with transaction.atomic():
            Identity.objects.bulk_create(rows)
    except IntegrityError as exc:
        raise Conflict(
            field=identities[0].kind,
            message=_("This email or phone was just given to another customer; reload and retry."),
        ) from exc
    return rows


def _index_fill(customer: Customer, identities: Sequence[tuple[str, str]]) -> list[str]:
    """Set the customer's search_text and name_key from its names and identities (kind,
    value); the search terms it is found by."""
    index = normalise.search_index(
        first_name=customer.first_name,
        last_name=customer.last_name,
        company=customer.company,
        identities=identities,
    )
    customer.search_text = index.text
    customer.name_key = normalise.text_key(f"{customer.first_name} {customer.last_name}")
    return list(index.terms)


def _reindex(customers: Sequence[Customer]) -> None:
    """Recompute search terms, search_text and name_key; merged customers keep no terms."""
    ids = [customer.pk for customer in customers]
    identities: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for customer_id, kind, value in Identity.objects.filter(customer_id__in=ids).values_list(
        "customer_id", "kind", "value"
    ):
        identities[customer_id].append((kind, value))
    CustomerSearchTerm.objects.filter(customer_id__in=ids).delete()
    terms: list[CustomerSearchTerm] = []
    for customer in customers:
        found_by = _index_fill(customer, identities[customer.pk])
        if customer.merged_into_id is None:
            terms.extend(CustomerSearchTerm(customer_id=customer.pk, term=t) for t in found_by)
    Customer.objects.bulk_update(customers, ["search_text", "name_key"])
    CustomerSearchTerm.objects.bulk_create(terms, batch_size=1000)


def _consent_apply(
    identity: Identity, *, state: str, source: str, actor: Actor, at: datetime | None
) -> None:
    previous = identity.marketing_consent
    if previous == state:
        return
    at = at or timezone.now()
    # Compare-and-set: a concurrent answer shows as 0 rows instead of being overwritten unseen.
    changed = Identity.objects.filter(pk=identity.pk, marketing_consent=previous).update(
        marketing_consent=state, consent_changed_at=at, consent_source=source
    )
    if changed != 1:
        raise Conflict(field="state", message=_("The consent changed meanwhile; reload it."))
    identity.marketing_consent, identity.consent_changed_at = state, at
    identity.consent_source = source
    event_record(
        event_type="customer.consent_changed",
        subject_type="customer",
        subject_id=identity.customer_id,
        customer_id=identity.customer_id,
        actor=actor,
        payload={
            "channel": "email" if identity.kind == IdentityKind.EMAIL else "sms",
            "value": identity.value,
            "from": previous,
            "to": state,
            "source": source,
        },
    )
