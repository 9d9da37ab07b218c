"""Countries as ISO 3166-1 alpha-2 codes, from whatever a shop or a file calls them."""

from __future__ import annotations

from functools import lru_cache

import pycountry

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
