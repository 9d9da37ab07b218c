"""Importing customers from a CSV file, set-based: a batch of rows is a handful of queries.

The file is read as a stream, twice: a first pass checks it whole against the
limits (nothing is written from a file that is refused), the second writes a
batch at a time.

A row whose external ref, email or phone is already known is "already present"
and left as it is, so importing the same file twice changes nothing. A bad
email, phone, country or consent value rejects its row, with line and reason;
so does a second row of the file for the same email, phone or ref.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor
from procedo.core.countries import country_code
from procedo.core.errors import DomainError
from procedo.customers import normalise
from procedo.customers import selectors as customer_selectors
from procedo.customers.models import ConsentState
from procedo.customers.services.bulk import NewCustomer, customers_create_many
from procedo.imports.csvfiles import (
    Column,
    ReadLimits,
    Rejected,
    RejectedReport,
    RowError,
    cells_reader,
    read_csv,
)

CUSTOMER_COLUMNS = (
    Column("customer_ref", ("customerid", "customer_id", "id", "external_id")),
    Column("first_name", ("firstname", "given_name")),
    Column("last_name", ("lastname", "surname", "family_name")),
    Column("name", ("full_name", "customer_name")),
    Column("company", ("organisation", "organization")),
    Column("email", ("e_mail", "mail")),
    Column("phone", ("telephone", "mobile", "phone_number")),
    Column("country", ()),
    Column("city", ("town",)),
    Column("address", ("address1", "street", "line1")),
    Column("postcode", ("zip", "postal_code", "post_code")),
    Column("region", ("state", "province", "oblast")),
    Column("tags", ("tag", "labels")),
    Column("email_consent", ("accepts_marketing", "newsletter")),
    Column("sms_consent", ("accepts_sms",)),
)
_CELLS = tuple(column.name for column in CUSTOMER_COLUMNS)
BATCH = 1000
_CONSENT = {
    "": ConsentState.UNKNOWN,
    "unknown": ConsentState.UNKNOWN,
    "yes": ConsentState.GRANTED,
    "true": ConsentState.GRANTED,
    "1": ConsentState.GRANTED,
    "granted": ConsentState.GRANTED,
    "так": ConsentState.GRANTED,
    "no": ConsentState.DENIED,
    "false": ConsentState.DENIED,
    "0": ConsentState.DENIED,
    "denied": ConsentState.DENIED,
    "ні": ConsentState.DENIED,
}


@dataclass(frozen=True)
class _Person:
    line: int
    raw: list[str]
    ref: str | None
    first_name: str
    last_name: str
    company: str
    email: str
    phone: normalise.Phone | None
    country: str
    city: str
    address: str
    postcode: str
    region: str
    tags: tuple[str, ...]
    email_consent: str
    sms_consent: str


@dataclass
class CustomerImportResult:
    rows_total: int = 0
    created: int = 0
    existing: int = 0
    rows_rejected: int = 0


def _consent(value: str, name: str) -> str:
    state = _CONSENT.get(value.casefold())
    if state is None:
        raise RowError(
            _("%(field)s %(value)r: use yes, no or empty") % {"field": name, "value": value}
        )
    return state


def _parse(line: int, raw: list[str], values: tuple[str, ...], source: str) -> _Person:
    (
        ref,
        first,
        last,
        name,
        company,
        email,
        phone,
        country,
        city,
        address,
        postcode,
        region,
        tags,
        email_consent,
        sms_consent,
    ) = values
    if name and not (first or last):
        first, _sep, last = name.partition(" ")
    if not (first or last or company or email or phone):
        raise RowError(_("a customer needs a name, company, email or phone"))
    try:
        email = normalise.email_normalise(email) if email else ""
        parsed_phone = normalise.phone_normalise(phone) if phone else None
    except DomainError as exc:
        raise RowError(exc.message) from None
    code = country_code(country)
    if country and not code:
        raise RowError(_("country %(value)r is not a country") % {"value": country})
    if address and not city:
        raise RowError(_("an address needs a city"))
    return _Person(
        line=line,
        raw=raw,
        ref=f"{source}:{ref}" if ref else None,
        first_name=first[:150],
        last_name=last[:150],
        company=company[:200],
        email=email,
        phone=parsed_phone,
        country=code,
        city=city[:100],
        address=address[:200],
        postcode=postcode[:20],
        region=region[:100],
        tags=tuple(
            t
            for t in (" ".join(part.split())[:60] for part in tags.replace(",", ";").split(";"))
            if t
        ),
        email_consent=_consent(email_consent, "email_consent"),
        sms_consent=_consent(sms_consent, "sms_consent"),
    )


def import_customers(
    *,
    path: Path,
    source: str,
    report: RejectedReport,
    actor: Actor = None,
    progress: Callable[[int, int], None] | None = None,
    limits: ReadLimits | None = None,
) -> CustomerImportResult:
    limits = limits or ReadLimits.from_settings()
    result = CustomerImportResult()
    with read_csv(path, CUSTOMER_COLUMNS, limits) as (_mapping, data):
        result.rows_total = sum(1 for _row in data)
    people: list[_Person] = []
    # Each email, phone and ref of the file once: the line that had it first.
    seen: dict[str, int] = {}
    with read_csv(path, CUSTOMER_COLUMNS, limits) as (mapping, data):
        read_cells = cells_reader(mapping, _CELLS)
        for done, (line, raw) in enumerate(data, start=1):
            try:
                person = _parse(line, raw, read_cells(raw), source)
            except RowError as exc:
                report.add(Rejected(line=line, reason=str(exc), raw=raw))
                continue
            keys = [k for k in (person.ref, person.email, person.phone and person.phone.e164) if k]
            twin = next((seen[k] for k in keys if k in seen), None)
            if twin is not None:
                reason = _("the same customer as line %(line)s") % {"line": twin}
                report.add(Rejected(line=line, reason=reason, raw=raw))
                continue
            seen.update((k, line) for k in keys)
            people.append(person)
            if len(people) >= BATCH:
                _write(people, source=source, actor=actor, result=result)
                people = []
                if progress:
                    progress(done, result.rows_total)
    if people:
        _write(people, source=source, actor=actor, result=result)
    if progress:
        progress(result.rows_total, result.rows_total)
    result.rows_rejected = report.count
    return result


def _write(
    batch: list[_Person], *, source: str, actor: Actor, result: CustomerImportResult
) -> None:
    refs = [p.ref for p in batch if p.ref]
    values = [p.email for p in batch if p.email] + [p.phone.e164 for p in batch if p.phone]
    known = customer_selectors.identifiers_known(external_refs=refs, identity_values=values)
    fresh = [
        p
        for p in batch
        if not ({p.ref, p.email, p.phone.e164 if p.phone else None} - {None, ""}) & known
    ]
    result.existing += len(batch) - len(fresh)
    customers_create_many(
        people=[
            NewCustomer(
                first_name=p.first_name,
                last_name=p.last_name,
                company=p.company,
                country=p.country,
                external_ref=p.ref,
                email=p.email,
                email_consent=p.email_consent,
                phone=p.phone,
                sms_consent=p.sms_consent,
                address=p.address,
                city=p.city,
                region=p.region,
                postcode=p.postcode,
                tags=p.tags,
                facts={"line": p.line},
            )
            for p in fresh
        ],
        source=source,
        actor=actor,
    )
    result.created += len(fresh)
