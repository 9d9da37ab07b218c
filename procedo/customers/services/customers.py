"""Creating, finding or creating, and editing one customer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor
from procedo.core.errors import Conflict, DomainError
from procedo.core.idempotency import idempotent
from procedo.customers import normalise, selectors
from procedo.customers.models import ConsentState, Customer, Identity, IdentityKind
from procedo.customers.services._common import (
    CONSENT_SOURCE_MAX,
    _clean_external_ref,
    _clean_profile,
    _clean_text,
    _consent_apply,
    _consent_state,
    _identities_insert,
    _identity_owner,
    _live_customer,
    _new_identities,
    _NewIdentity,
    _record,
    _reindex,
    _taken,
)


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
    actor: Actor = None,
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
    actor: Actor = None,
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
    actor: Actor,
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
    actor: Actor,
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
