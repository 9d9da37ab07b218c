"""Connection secrets, encrypted at rest with Fernet (PyCA `cryptography`).

Fernet is authenticated encryption (AES-128-CBC with an HMAC-SHA256 tag): a token
changed in the database fails to decrypt instead of giving a wrong secret. Its key
is derived with HKDF from Django's SECRET_KEY, so an installation has no second
secret to keep; a copy of the database alone does not reveal the platforms'
secrets. Changing SECRET_KEY makes stored secrets unreadable: the connections'
secrets are then entered again (the page says a secret cannot be read).
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

_INFO = b"procedo.integrations.connection-secret"


@functools.lru_cache(maxsize=4)
def _fernet_of(secret_key: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def _fernet() -> Fernet:
    return _fernet_of(settings.SECRET_KEY)


def secret_encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def secret_decrypt(token: str) -> str | None:
    """The secret, or None when it was encrypted under another SECRET_KEY (or altered)."""
    return _decrypted(settings.SECRET_KEY, token)


# Every webhook delivery reads its connection's secret: decrypting it once per process
# (per token and key, so a changed secret or SECRET_KEY is read afresh) keeps the
# key derivation and the decryption out of the hook's path (make bench, B1).
@functools.lru_cache(maxsize=256)
def _decrypted(secret_key: str, token: str) -> str | None:
    try:
        return _fernet_of(secret_key).decrypt(token.encode()).decode()
    except InvalidToken:
        return None


def secret_hint(plain: str) -> str:
    """What the page shows of a secret: its last four characters, never more."""
    return f"…{plain[-4:]}" if len(plain) >= 12 else "…"
