"""Who is on the other end of a request: the address that lockouts and the audit trail name."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid(address: str) -> str | None:
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str | None:
    """The client's IP address, or None when the connection has none (a unix socket).

    Behind PROCEDO_PROXY_COUNT reverse proxies, each appends the address it was
    reached from to X-Forwarded-For, so the client is the entry that many places from
    the right; anything left of it was written by the client and may be forged. A
    header with fewer entries did not come through all the proxies: the
    connection's own address is used then, never a value the client chose.
    """
    remote = _valid(request.META.get("REMOTE_ADDR") or "")
    proxies: int = settings.PROCEDO_PROXY_COUNT
    if proxies == 0:
        return remote
    # Bounded before splitting: the header is the client's text.
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")[:1000].split(",")
    if len(forwarded) < proxies:
        return remote
    return _valid(forwarded[-proxies]) or remote
