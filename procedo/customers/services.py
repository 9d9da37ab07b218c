"""Every write to customers: one transaction each, each recording its events.

Every event carries `customer_id`, so the customer's timeline shows it and a
merge carries it to the survivor. Bad input raises a DomainError naming the
field and writes nothing.

Creating versus finding: `customer_create` is strict (the person at the form
must learn that the email already belongs to Олена Коваленко, #17), while
`customer_find_or_create` is what an import or a shop webhook calls: it finds
by external ref, then email, then phone, fills blanks, and creates only when
nothing matches.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.core.actors import actor_id_of
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.core.idempotency import idempotent
from procedo.customers import normalise, selectors
from procedo.customers.models import (
    Address,
    AddressKind,
    ConsentState,
    Customer,
    CustomerSearchTerm,
    CustomerTag,
    DuplicateDismissal,
    Identity,
    IdentityKind,
    Note,
    Tag,
)
from procedo.customers.registry import merge_participants
from procedo.events.services import (
    NewEvent,
    event_record,
    events_move_to_customer,
    events_record_many,
)

PROFILE_LIMITS = {"first_name": 150, "last_name": 150, "company": 200, "source": 60}
ADDRESS_LIMITS = {"line1": 200, "line2": 200, "city": 100, "region": 100, "postcode": 20}
NOTE_MAX = 10_000
TAG_MAX = 60
EXTERNAL_REF_MAX = 100
CONSENT_SOURCE_MAX = 60
_REINDEX_CHUNK = 500


# ---------------------------------------------------------------- helpers


def _record(
    event_type: str,
    *,
    customer: Customer,
    actor: Any,
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
        index = normalise.search_index(
            first_name=customer.first_name,
            last_name=customer.last_name,
            company=customer.company,
            identities=identities[customer.pk],
        )
        customer.search_text = index.text
        customer.name_key = normalise.text_key(f"{customer.first_name} {customer.last_name}")
        if customer.merged_into_id is None:
            terms.extend(CustomerSearchTerm(customer_id=customer.pk, term=t) for t in index.terms)
    Customer.objects.bulk_update(customers, ["search_text", "name_key"])
    CustomerSearchTerm.objects.bulk_create(terms, batch_size=1000)


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


@transaction.atomic
def customers_create_many(*, people: Sequence[NewCustomer], source: str, actor: Any) -> list[int]:
    """Create customers nobody has yet, set-based: a few INSERTs for the whole batch, each with
    its "customer.imported" event. Returns their ids in the order given.

    The caller has made sure no ref, email or phone of the batch is known or repeated
    (an importer checks its whole batch with one query); a twin that slipped in between
    fails the batch on the unique index rather than making a second customer.
    """
    if not people:
        return []
    now = timezone.now()
    customers = Customer.objects.bulk_create(
        [
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
    customer_search_reindex(customer_ids=[c.pk for c in customers])
    events_record_many(
        NewEvent(
            event_type="customer.imported",
            subject_type="customer",
            subject_id=c.pk,
            customer_id=c.pk,
            actor_id=actor_id_of(actor),
            payload={"source": source, **(p.facts or {})},
            occurred_at=now,
        )
        for c, p in pairs
    )
    return [c.pk for c in customers]


# ---------------------------------------------------------------- customers


@idempotent("customer.create", replay=lambda pk: Customer.objects.get(pk=pk))
@transaction.atomic
def customer_create(
    *,
    first_name: str = "",
    last_name: str = "",
    company: str = "",
    country: str = "",
    source: str = "",
    external_ref: str | None = None,
    emails: Sequence[str] = (),
    phones: Sequence[str] = (),
    email_consent: str = ConsentState.UNKNOWN,
    phone_consent: str = ConsentState.UNKNOWN,
    consent_source: str = "",
    actor: Any = None,
    idempotency_key: str | None = None,
) -> Customer:
    """A new customer with its emails and phones.

    Strict: an email, phone or external ref that already belongs to a customer
    raises Conflict naming "email", "phone" or "external_ref". Use
    `customer_find_or_create` to reuse the customer an identity points at.
    """
    profile = _clean_profile(
        {
            "first_name": first_name,
            "last_name": last_name,
            "company": company,
            "country": country,
            "source": source,
        }
    )
    identities = _new_identities(
        emails=emails,
        phones=phones,
        email_consent=_consent_state(email_consent, field="email_consent"),
        phone_consent=_consent_state(phone_consent, field="phone_consent"),
    )
    consent_source = _clean_text("consent_source", consent_source, CONSENT_SOURCE_MAX)
    ref = _clean_external_ref(external_ref)
    if not (profile["first_name"] or profile["last_name"] or profile["company"] or identities):
        raise DomainError(
            field="first_name",
            message=_("Give the customer a name, a company, an email or a phone."),
        )
    for item in identities:
        owner = _identity_owner(item.kind, item.value)
        if owner is not None:
            raise _taken(owner)
    if ref is not None and Customer.objects.filter(external_ref=ref).exists():
        raise Conflict(
            field="external_ref",
            message=_("Another customer has the external ref %(ref)s.") % {"ref": ref},
        )
    try:
        with transaction.atomic():
            customer = Customer.objects.create(**profile, external_ref=ref)
    except IntegrityError as exc:  # the same ref, created by a twin request meanwhile
        raise Conflict(
            field="external_ref",
            message=_("Another customer has the external ref %(ref)s.") % {"ref": ref},
        ) from exc
    if identities:
        _identities_insert(customer, identities, consent_source=consent_source)
    _reindex([customer])
    _record(
        "customer.created",
        customer=customer,
        actor=actor,
        payload={
            "name": str(customer),
            "source": customer.source,
            "identities": [item.value for item in identities],
        },
        idempotency_key=idempotency_key,
    )
    return customer


@dataclass(frozen=True)
class CustomerMatch:
    customer: Customer
    created: bool


def customer_find_or_create(
    *,
    email: str = "",
    phone: str = "",
    external_ref: str | None = None,
    first_name: str = "",
    last_name: str = "",
    company: str = "",
    country: str = "",
    source: str = "",
    email_consent: str | None = None,
    phone_consent: str | None = None,
    consent_source: str = "",
    actor: Any = None,
) -> CustomerMatch:
    """The customer that `external_ref`, else `email`, else `phone` points at, or a new one.

    A found customer (followed to the survivor if it was merged) gets what it
    lacked: blank name, company, country and source fields, the external ref,
    and the email or phone, unless another customer holds that identity (the
    two then show on the duplicates page when their phones match). Consent
    given (not None) is applied to the matching identity. Nothing changed,
    nothing written: a repeated import records no events. Invalid email or
    phone raises DomainError naming it, so an importer can retry without it.
    """
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _find_or_create_once(
                    email=email,
                    phone=phone,
                    external_ref=external_ref,
                    profile={
                        "first_name": first_name,
                        "last_name": last_name,
                        "company": company,
                        "country": country,
                        "source": source,
                    },
                    email_consent=email_consent,
                    phone_consent=phone_consent,
                    consent_source=consent_source,
                    actor=actor,
                )
        except (IntegrityError, Conflict):
            # Two deliveries of one new customer raced; the loser finds the winner's row.
            if attempt:
                raise
    raise AssertionError("unreachable")


def _find_or_create_once(
    *,
    email: str,
    phone: str,
    external_ref: str | None,
    profile: dict[str, str | None],
    email_consent: str | None,
    phone_consent: str | None,
    consent_source: str,
    actor: Any,
) -> CustomerMatch:
    email_value = normalise.email_normalise(email) if email.strip() else ""
    phone_value = normalise.phone_normalise(phone) if phone.strip() else None
    ref = _clean_external_ref(external_ref)
    cleaned = _clean_profile(profile)
    for state, field in ((email_consent, "email_consent"), (phone_consent, "phone_consent")):
        if state is not None:
            _consent_state(state, field=field)
    consent_source = _clean_text("consent_source", consent_source, CONSENT_SOURCE_MAX)

    found = selectors.customer_find(
        external_ref=ref or "", email=email_value, phone=phone_value.e164 if phone_value else ""
    )
    if found is None:
        customer = customer_create(
            **cleaned,
            external_ref=ref,
            emails=[email_value] if email_value else [],
            phones=[phone_value.e164] if phone_value else [],
            email_consent=email_consent or ConsentState.UNKNOWN,
            phone_consent=phone_consent or ConsentState.UNKNOWN,
            consent_source=consent_source,
            actor=actor,
        )
        return CustomerMatch(customer=customer, created=True)

    customer = _live_customer(found.pk, lock=True)
    filled = {
        field: value for field, value in cleaned.items() if value and not getattr(customer, field)
    }
    if (
        ref
        and customer.external_ref is None
        and not Customer.objects.filter(external_ref=ref).exists()
    ):
        filled["external_ref"] = ref
    if filled:
        Customer.objects.filter(pk=customer.pk).update(**filled)
        for field, value in filled.items():
            setattr(customer, field, value)
        _record("customer.updated", customer=customer, actor=actor, payload={"filled": filled})
    wanted = [
        (IdentityKind.EMAIL, email_value, "", email_consent),
        (
            IdentityKind.PHONE,
            phone_value.e164 if phone_value else "",
            phone_value.tail if phone_value else "",
            phone_consent,
        ),
    ]
    added = False
    for kind, value, tail, consent in wanted:
        if not value:
            continue
        owner = _identity_owner(kind, value)
        if owner is None:
            item = _NewIdentity(kind, value, tail, consent or ConsentState.UNKNOWN)
            _identities_insert(customer, [item], consent_source=consent_source)
            _record(
                "customer.identity_added",
                customer=customer,
                actor=actor,
                payload={"kind": kind, "value": value},
            )
            added = True
        elif owner.customer_id == customer.pk and consent is not None:
            _consent_apply(owner, state=consent, source=consent_source, actor=actor, at=None)
    if added or {"first_name", "last_name", "company"} & filled.keys():
        _reindex([customer])
    return CustomerMatch(customer=customer, created=False)


@transaction.atomic
def customer_update(
    *,
    customer_id: int,
    actor: Any,
    first_name: str | None = None,
    last_name: str | None = None,
    company: str | None = None,
    country: str | None = None,
    source: str | None = None,
) -> Customer:
    """Change the given fields (None leaves a field as it is); records what changed, from and to."""
    customer = _live_customer(customer_id, lock=True)
    cleaned = _clean_profile(
        {
            "first_name": first_name,
            "last_name": last_name,
            "company": company,
            "country": country,
            "source": source,
        }
    )
    changes = {
        field: [getattr(customer, field), value]
        for field, value in cleaned.items()
        if getattr(customer, field) != value
    }
    if not changes:
        return customer
    for field, (_old, new) in changes.items():
        setattr(customer, field, new)
    nameless = not (customer.first_name or customer.last_name or customer.company)
    if nameless and not Identity.objects.filter(customer=customer).exists():
        raise DomainError(
            field="first_name",
            message=_("Give the customer a name, a company, an email or a phone."),
        )
    Customer.objects.filter(pk=customer.pk).update(**{f: new for f, (_o, new) in changes.items()})
    if {"first_name", "last_name", "company"} & changes.keys():
        _reindex([customer])
    _record("customer.updated", customer=customer, actor=actor, payload={"changes": changes})
    return customer


# ---------------------------------------------------------------- identities and consent


@transaction.atomic
def identity_add(
    *,
    customer_id: int,
    kind: str,
    value: str,
    actor: Any,
    marketing_consent: str = ConsentState.UNKNOWN,
    consent_source: str = "",
) -> Identity:
    """Add an email or phone. Already this customer's: returned as is. Another's: Conflict."""
    customer = _live_customer(customer_id)
    normalised, tail = normalise.identity_normalise(kind, value)
    consent = _consent_state(marketing_consent, field="marketing_consent")
    consent_source = _clean_text("consent_source", consent_source, CONSENT_SOURCE_MAX)
    owner = _identity_owner(kind, normalised)
    if owner is not None:
        if owner.customer_id == customer.pk:
            return owner
        raise _taken(owner)
    (identity,) = _identities_insert(
        customer, [_NewIdentity(kind, normalised, tail, consent)], consent_source=consent_source
    )
    _reindex([customer])
    _record(
        "customer.identity_added",
        customer=customer,
        actor=actor,
        payload={"kind": kind, "value": normalised},
    )
    return identity


def _identity_of(customer_id: int, identity_id: int) -> Identity:
    identity = Identity.objects.filter(pk=identity_id, customer_id=customer_id).first()
    if identity is None:
        raise NotFound(
            field="identity_id",
            message=_("Customer #%(customer)s has no identity %(id)s.")
            % {"customer": customer_id, "id": identity_id},
        )
    return identity


@transaction.atomic
def identity_remove(*, customer_id: int, identity_id: int, actor: Any) -> None:
    customer = _live_customer(customer_id)
    identity = _identity_of(customer_id, identity_id)
    nameless = not (customer.first_name or customer.last_name or customer.company)
    if nameless and not Identity.objects.filter(customer=customer).exclude(pk=identity.pk).exists():
        raise DomainError(
            field="identity_id",
            message=_("A customer without a name keeps at least one email or phone."),
        )
    identity.delete()
    _reindex([customer])
    _record(
        "customer.identity_removed",
        customer=customer,
        actor=actor,
        payload={"kind": identity.kind, "value": identity.value},
    )


@transaction.atomic
def consent_set(
    *,
    customer_id: int,
    identity_id: int,
    state: str,
    source: str,
    actor: Any,
    changed_at: datetime | None = None,
) -> Identity:
    """Marketing consent for the identity's channel (email for an email, SMS for a phone).

    `source` says where the answer came from ("checkout", "support call",
    "unsubscribe link"); `changed_at` is when the person gave it, if not now.
    Setting the state it already has writes nothing.
    """
    customer = _live_customer(customer_id)
    _consent_state(state, field="state")
    source = _clean_text("source", source, CONSENT_SOURCE_MAX)
    identity = _identity_of(customer.pk, identity_id)
    _consent_apply(identity, state=state, source=source, actor=actor, at=changed_at)
    return identity


def _consent_apply(
    identity: Identity, *, state: str, source: str, actor: Any, at: datetime | None
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


# ---------------------------------------------------------------- addresses


@idempotent("customer.address_add", replay=lambda pk: Address.objects.get(pk=pk))
@transaction.atomic
def address_add(
    *,
    customer_id: int,
    line1: str,
    city: str,
    actor: Any,
    kind: str = AddressKind.SHIPPING,
    line2: str = "",
    region: str = "",
    postcode: str = "",
    country: str = "",
    idempotency_key: str | None = None,
) -> Address:
    customer = _live_customer(customer_id)
    if kind not in AddressKind.values:
        raise DomainError(
            field="kind",
            message=_("An address is one of %(kinds)s.") % {"kinds": ", ".join(AddressKind.values)},
        )
    fields = {
        name: _clean_text(name, raw, ADDRESS_LIMITS[name])
        for name, raw in (
            ("line1", line1),
            ("line2", line2),
            ("city", city),
            ("region", region),
            ("postcode", postcode),
        )
    }
    for required in ("line1", "city"):
        if not fields[required]:
            raise DomainError(field=required, message=_("This field is required."))
    address = Address.objects.create(
        customer=customer,
        kind=kind,
        country=normalise.country_normalise(country),
        postcode_key=normalise.postcode_key(fields["postcode"]),
        place_key=normalise.place_key(fields["city"], fields["line1"]),
        **fields,
    )
    _record(
        "customer.address_added",
        customer=customer,
        actor=actor,
        payload={"address_id": address.pk, "kind": kind, "address": str(address)},
        idempotency_key=idempotency_key,
    )
    return address


@transaction.atomic
def address_remove(*, customer_id: int, address_id: int, actor: Any) -> None:
    customer = _live_customer(customer_id)
    address = Address.objects.filter(pk=address_id, customer_id=customer.pk).first()
    if address is None:
        raise NotFound(
            field="address_id",
            message=_("Customer #%(customer)s has no address %(id)s.")
            % {"customer": customer.pk, "id": address_id},
        )
    address.delete()
    _record(
        "customer.address_removed",
        customer=customer,
        actor=actor,
        payload={"address_id": address_id, "address": str(address)},
    )


# ---------------------------------------------------------------- tags and notes


def _tag_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not name:
        raise DomainError(field="tag", message=_("A tag needs a name."))
    if len(name) > TAG_MAX:
        raise DomainError(
            field="tag", message=_("At most %(limit)s characters.") % {"limit": TAG_MAX}
        )
    return name


@transaction.atomic
def tag_add(*, customer_id: int, name: str, actor: Any) -> Tag:
    """Tag the customer, creating the tag the first time any spelling of it is used."""
    customer = _live_customer(customer_id)
    clean = _tag_name(name)
    tag, _created = Tag.objects.get_or_create(
        name_key=normalise.text_key(clean), defaults={"name": clean}
    )
    _link, linked = CustomerTag.objects.get_or_create(customer=customer, tag=tag)
    if linked:
        _record("customer.tagged", customer=customer, actor=actor, payload={"tag": tag.name})
    return tag


@transaction.atomic
def tag_remove(*, customer_id: int, name: str, actor: Any) -> None:
    """Untag. A tag that does not exist is NotFound naming "tag"; one not on them is a no-op."""
    customer = _live_customer(customer_id)
    tag = Tag.objects.filter(name_key=normalise.text_key(_tag_name(name))).first()
    if tag is None:
        raise NotFound(field="tag", message=_("There is no tag %(name)s.") % {"name": name.strip()})
    removed, _detail = CustomerTag.objects.filter(customer=customer, tag=tag).delete()
    if removed:
        _record("customer.untagged", customer=customer, actor=actor, payload={"tag": tag.name})


@idempotent("customer.note_add", replay=lambda pk: Note.objects.get(pk=pk))
@transaction.atomic
def note_add(
    *, customer_id: int, body: str, actor: Any, idempotency_key: str | None = None
) -> Note:
    customer = _live_customer(customer_id)
    text = body.strip()
    if not text:
        raise DomainError(field="body", message=_("The note is empty."))
    if len(text) > NOTE_MAX:
        raise DomainError(
            field="body", message=_("At most %(limit)s characters.") % {"limit": NOTE_MAX}
        )
    author = actor if getattr(actor, "is_authenticated", False) else None
    note = Note.objects.create(customer=customer, author=author, body=text)
    _record(
        "customer.note_added",
        customer=customer,
        actor=actor,
        payload={"note_id": note.pk, "excerpt": text if len(text) <= 80 else text[:79] + "…"},
        idempotency_key=idempotency_key,
    )
    return note


# ---------------------------------------------------------------- duplicates and merging


@transaction.atomic
def customer_merge(*, survivor_id: int, duplicate_id: int, actor: Any) -> Customer:
    """Fold the duplicate into the survivor; the duplicate stays as a tombstone pointing at it.

    Moves identities, addresses, tags, notes and the events' customer_id, fills
    the survivor's blank fields, adds the duplicate's order aggregates to the
    survivor's (a participant may recompute them), then calls every merge
    participant (registry.merge_participant_register) in this same
    transaction. Merging the same pair again is a no-op.
    """
    if survivor_id == duplicate_id:
        raise DomainError(
            field="duplicate_id", message=_("A customer cannot be merged with itself.")
        )
    # Lock both rows in id order: two opposite merges of one pair cannot deadlock,
    # and the second sees the first's result instead of undoing it.
    rows = {
        c.pk: c
        for c in Customer.objects.select_for_update()
        .filter(pk__in=[survivor_id, duplicate_id])
        .order_by("pk")
    }
    survivor, duplicate = rows.get(survivor_id), rows.get(duplicate_id)
    if survivor is None:
        raise _no_customer(survivor_id, "survivor_id")
    if duplicate is None:
        raise _no_customer(duplicate_id, "duplicate_id")
    if duplicate.merged_into_id == survivor.pk:
        return survivor
    for field, customer in (("survivor_id", survivor), ("duplicate_id", duplicate)):
        if customer.merged_into_id is not None:
            raise Conflict(
                field=field,
                message=_("Customer #%(id)s was already merged into #%(into)s.")
                % {"id": customer.pk, "into": customer.merged_into_id},
            )

    moved: dict[str, int | None] = {
        "identities": Identity.objects.filter(customer=duplicate).update(customer=survivor),
        "addresses": Address.objects.filter(customer=duplicate).update(customer=survivor),
    }
    # The pair (customer, tag) is unique: drop the duplicate's copies of tags both have.
    CustomerTag.objects.filter(
        customer=duplicate,
        tag_id__in=CustomerTag.objects.filter(customer=survivor).values("tag_id"),
    ).delete()
    moved["tags"] = CustomerTag.objects.filter(customer=duplicate).update(customer=survivor)
    moved["notes"] = Note.objects.filter(customer=duplicate).update(customer=survivor)
    moved["events"] = events_move_to_customer(survivor_id=survivor.pk, duplicate_id=duplicate.pk)
    DuplicateDismissal.objects.filter(Q(customer_a=duplicate) | Q(customer_b=duplicate)).delete()
    # Flatten: whoever was merged into the duplicate now points at the survivor.
    Customer.objects.filter(merged_into=duplicate).update(merged_into=survivor)

    survivor_changes: dict[str, Any] = {
        field: getattr(duplicate, field)
        for field in ("first_name", "last_name", "company", "country", "source")
        if not getattr(survivor, field) and getattr(duplicate, field)
    }
    duplicate_changes: dict[str, Any] = {
        "merged_into": survivor,
        "merged_at": timezone.now(),
        "orders_count": 0,
        "lifetime_value": Decimal(0),
        "first_order_at": None,
        "last_order_at": None,
        "search_text": "",
    }
    if survivor.external_ref is None and duplicate.external_ref is not None:
        survivor_changes["external_ref"] = duplicate.external_ref
        duplicate_changes["external_ref"] = None  # unique: free it before the survivor takes it
    survivor_changes["orders_count"] = survivor.orders_count + duplicate.orders_count
    survivor_changes["lifetime_value"] = survivor.lifetime_value + duplicate.lifetime_value
    firsts = [d for d in (survivor.first_order_at, duplicate.first_order_at) if d is not None]
    lasts = [d for d in (survivor.last_order_at, duplicate.last_order_at) if d is not None]
    survivor_changes["first_order_at"] = min(firsts, default=None)
    survivor_changes["last_order_at"] = max(lasts, default=None)
    Customer.objects.filter(pk=duplicate.pk).update(**duplicate_changes)
    Customer.objects.filter(pk=survivor.pk).update(**survivor_changes)

    for name, participant in merge_participants().items():
        moved[name] = participant(survivor.pk, duplicate.pk)

    survivor.refresh_from_db()
    duplicate.refresh_from_db()
    _reindex([survivor, duplicate])
    _record(
        "customer.merged",
        customer=survivor,
        actor=actor,
        payload={
            "survivor_id": survivor.pk,
            "duplicate_id": duplicate.pk,
            "duplicate_name": str(duplicate),
            "moved": moved,
        },
    )
    return survivor


@transaction.atomic
def duplicate_dismiss(*, customer_id: int, other_id: int, actor: Any) -> None:
    """Two customers are different people: stop proposing them as duplicates."""
    if customer_id == other_id:
        raise DomainError(field="other_id", message=_("A customer cannot be merged with itself."))
    first, second = sorted((customer_id, other_id))
    found = set(Customer.objects.filter(pk__in=[first, second]).values_list("pk", flat=True))
    for field, pk in (("customer_id", customer_id), ("other_id", other_id)):
        if pk not in found:
            raise _no_customer(pk, field)
    author = actor if getattr(actor, "is_authenticated", False) else None
    _dismissal, created = DuplicateDismissal.objects.get_or_create(
        customer_a_id=first, customer_b_id=second, defaults={"dismissed_by": author}
    )
    if created:
        event_record(
            event_type="customer.duplicate_dismissed",
            subject_type="customer",
            subject_id=first,
            customer_id=first,
            actor=actor,
            payload={"other_id": second},
        )


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
