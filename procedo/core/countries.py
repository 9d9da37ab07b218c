"""Countries as ISO 3166-1 alpha-2 codes, from whatever a shop or a file calls them."""

from __future__ import annotations

import gettext
from functools import lru_cache

import pycountry
from django.utils import translation

# Names seen in real shop exports that the ISO tables do not carry.
_ALIASES = {
    "eire": "IE",
    "rsa": "ZA",
    "uk": "GB",
    "great britain": "GB",
    "england": "GB",
    "korea": "KR",
    "south korea": "KR",
    "україна": "UA",
    "украина": "UA",
}


@lru_cache(maxsize=1024)
def country_code(raw: str) -> str:
    """ "United Kingdom", "GB", "GBR", "EIRE" -> "GB"/"IE"; "" when it names no one country."""
    value = raw.strip()
    if not value:
        return ""
    alias = _ALIASES.get(value.casefold())
    if alias:
        return alias
    try:
        return str(pycountry.countries.lookup(value).alpha_2)
    except LookupError:
        return ""


@lru_cache(maxsize=8)
def _names_in(language: str) -> gettext.NullTranslations:
    return gettext.translation(
        "iso3166-1", pycountry.LOCALES_DIR, languages=[language], fallback=True
    )


def country_name(code: str) -> str:
    """A code's country in the reader's language ("GB": "Велика Британія" in Ukrainian),
    from the ISO tables' own translations; the code itself when it names none."""
    country = pycountry.countries.get(alpha_2=code.upper()) if code else None
    if country is None:
        return code
    name = getattr(country, "common_name", None) or country.name
    return _names_in(translation.get_language() or "en").gettext(name)
