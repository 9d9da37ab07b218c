"""How Procedo writes an email, a phone, a name or a search query the one same way.

Pure functions, no database: services call them before writing, selectors
before reading, so "067 123 45 67" and "+380671234567" meet in the middle.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from procedo.core.errors import DomainError
from procedo.customers.models import IdentityKind

PHONE_TAIL_DIGITS = 9
# A phone is found by its last digits ("2245") through a term holding its tail reversed
# behind this mark ("~765432176"): "ends with" becomes a prefix range, which an index seeks.
PHONE_SUFFIX_MARK = "~"
PHONE_SUFFIX_MIN = 4
TERM_MAX = 100
SEARCH_TEXT_MAX = 500
_SPACES = re.compile(r"\s+")
_PHONE_LIKE = re.compile(r"^[\d\s()+\-./]+$")


def text_key(value: str) -> str:
    """Casefolded, whitespace runs made one space: "  ОЛЕНА  Коваленко" -> "олена коваленко"."""
    return _SPACES.sub(" ", value).strip().casefold()


def phone_region() -> str:
    """Where a number written without "+country" is from (PROCEDO_PHONE_REGION, default UA)."""
    return str(getattr(settings, "PROCEDO_PHONE_REGION", "UA") or "UA").upper()


def email_normalise(raw: str) -> str:
    value = raw.strip().lower()
    try:
        validate_email(value)
    except ValidationError as exc:
        raise DomainError(
            field="email", message=_("%(value)s is not a valid email.") % {"value": raw.strip()}
        ) from exc
    return value


@dataclass(frozen=True)
class Phone:
    e164: str  # +380671234567
    national_digits: str  # 0671234567 (with the trunk prefix a local writes)
    significant_digits: str  # 671234567

    @property
    def tail(self) -> str:
        return self.significant_digits[-PHONE_TAIL_DIGITS:]


def phone_normalise(raw: str) -> Phone:
    """Parse a phone written any way ("(067)1234567", "+380 67 123 4567") into E.164."""
    invalid = DomainError(
        field="phone", message=_("%(value)s is not a valid phone number.") % {"value": raw.strip()}
    )
    try:
        number = phonenumbers.parse(raw, phone_region())
    except phonenumbers.NumberParseException as exc:
        raise invalid from exc
    if not phonenumbers.is_valid_number(number):
        raise invalid
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return Phone(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        national_digits=_digits(national),
        significant_digits=phonenumbers.national_significant_number(number),
    )


def identity_normalise(kind: str, raw: str) -> tuple[str, str]:
    """(value, phone_tail) as stored; DomainError naming `kind` ("email"/"phone") if malformed."""
    if kind == IdentityKind.EMAIL:
        return email_normalise(raw), ""
    if kind == IdentityKind.PHONE:
        phone = phone_normalise(raw)
        return phone.e164, phone.tail
    raise DomainError(field="kind", message=_("Unknown identity kind %(kind)s.") % {"kind": kind})


def country_normalise(raw: str, *, field: str = "country") -> str:
    value = raw.strip().upper()
    if value and value not in phonenumbers.SUPPORTED_REGIONS:
        raise DomainError(
            field=field,
            message=_("%(value)s is not a two-letter ISO country code.") % {"value": raw.strip()},
        )
    return value


def postcode_key(postcode: str) -> str:
    return re.sub(r"[\s\-]", "", postcode).upper()


def place_key(city: str, line1: str) -> str:
    city_key, line_key = text_key(city), text_key(line1)
    return f"{city_key}|{line_key}" if city_key and line_key else ""


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


@dataclass(frozen=True)
class SearchIndex:
    text: str
    terms: set[str]


def search_index(
    *, first_name: str, last_name: str, company: str, identities: Iterable[tuple[str, str]]
) -> SearchIndex:
    """What a customer is found by: every name word, full name both ways round,
    company, each email, and each phone in its international, national and
    significant digits (so any way of typing the number is a prefix of one)."""
    terms: set[str] = set()
    full = text_key(f"{first_name} {last_name}")
    reversed_full = text_key(f"{last_name} {first_name}")
    company_key = text_key(company)
    for phrase in (full, reversed_full, company_key):
        if phrase:
            terms.add(phrase)
            terms.update(phrase.split(" "))
    haystack = [full, company_key]
    for kind, value in identities:
        if kind == IdentityKind.EMAIL:
            terms.add(value.casefold())
            haystack.append(value.casefold())
        elif kind == IdentityKind.PHONE:
            try:
                phone = phone_normalise(value)
            except DomainError:  # stored before a metadata update made it invalid
                forms = [_digits(value)]
                tail = forms[0][-PHONE_TAIL_DIGITS:]
            else:
                forms = [_digits(phone.e164), phone.national_digits, phone.significant_digits]
                tail = phone.tail
            terms.update(forms)
            if tail:
                terms.add(phone_suffix_term(tail))
            haystack.extend(dict.fromkeys(forms))
    text = " ".join(part for part in haystack if part)[:SEARCH_TEXT_MAX]
    return SearchIndex(text=text, terms={term[:TERM_MAX] for term in terms if term})


def phone_suffix_term(digits: str) -> str:
    """The term a phone ending in `digits` holds, or a query for such phones seeks."""
    return PHONE_SUFFIX_MARK + digits[::-1]


def search_suffix(query: str) -> str:
    """For a query of 4 to 9 digits written like a phone ("2245", "22 45"): the prefix of the
    reversed-tail terms of the phones ending in them; else ""."""
    key = text_key(query)
    digits = _digits(key)
    if _PHONE_LIKE.match(key) and PHONE_SUFFIX_MIN <= len(digits) <= PHONE_TAIL_DIGITS:
        return phone_suffix_term(digits)
    return ""


def search_prefix(query: str) -> str:
    """The term prefix a query seeks: digits only when it looks like a phone, else casefolded."""
    key = text_key(query)
    if _PHONE_LIKE.match(key) and sum(ch.isdigit() for ch in key) >= 3:
        return _digits(key)
    return key[:TERM_MAX]


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string above every string that starts with `prefix`, in code-point order."""
    last = ord(prefix[-1])
    if last >= 0x10FFFF:
        return None
    following = 0xE000 if last == 0xD7FF else last + 1  # skip the surrogates UTF-8 cannot hold
    return prefix[:-1] + chr(following)
