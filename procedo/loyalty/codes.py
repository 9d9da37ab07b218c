"""Referral codes: what they are made of and how a typed one is read back."""

from __future__ import annotations

import re
import secrets

# No 0/O, 1/I/L or U: a code read aloud or copied by hand comes back as it was given.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
# 30**8 ≈ 6.6e11 codes: guessing one of a store's few thousand takes billions of tries.
LENGTH = 8
MAX_TYPED = 40  # what a person may paste (spaces, dashes, "ref=" and all) before it is read

_SEPARATORS = re.compile(r"[\s\-_]+")
# A referral code inside an order's source: "ref:K7M2QX9P", "?ref=k7m2qx9p&utm=…".
SOURCE_CODE = re.compile(r"(?:^|[?&\s;,/])ref\s*[:=]\s*([A-Za-z0-9\-]{4,20})", re.IGNORECASE)


def code_generate() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def code_normalise(typed: str) -> str | None:
    """The stored form of a typed code (upper-case, no separators), or None if it cannot be
    one: codes are matched case-insensitively and never by a prefix."""
    text = _SEPARATORS.sub("", (typed or "")[:MAX_TYPED]).upper()
    if len(text) != LENGTH or any(char not in ALPHABET for char in text):
        return None
    return text


def code_in_source(source: str) -> str | None:
    """The code an order's source carries, as typed; None when it carries none."""
    found = SOURCE_CODE.search(source or "")
    return found.group(1) if found else None
