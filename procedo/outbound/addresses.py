"""Where a webhook may post: http(s) only, bounded, and not into the network Procedo runs in.

A webhook address is typed by a person but called by the worker, from inside the
server's network: without this check it could reach the database, a cloud metadata
endpoint or an admin page on loopback (SSRF). The host is resolved when the address
is saved and again before every attempt (a name may point elsewhere later), and
redirects are never followed. `PROCEDO_WEBHOOKS_ALLOW_PRIVATE` lets a private
installation (and the tests' receiver on loopback) post to such addresses.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from procedo.core.errors import DomainError
from procedo.outbound.models import URL_MAX


def _refuse(message: str) -> DomainError:
    return DomainError(field="url", message=message)


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def url_check(url: str, *, resolve: bool = True) -> str:
    """The address, stripped, or a DomainError on field `url` that says what is wrong."""
    url = url.strip()
    if not url:
        raise _refuse(_("Enter the address to send events to."))
    if len(url) > URL_MAX:
        raise _refuse(_("An address has at most %(max)s characters.") % {"max": URL_MAX})
    try:
        parts = urlsplit(url)
    except ValueError:  # "http://[::1": a bracket left open
        raise _refuse(_("This is not a web address.")) from None
    if parts.scheme not in ("http", "https"):
        raise _refuse(_("The address must start with https:// or http://."))
    host = parts.hostname
    if not host:
        raise _refuse(_("The address has no host name."))
    if parts.username or parts.password:
        raise _refuse(_("Put no user name or password in the address; events are signed."))
    try:
        port = parts.port
    except ValueError:
        raise _refuse(_("The address has a port that is not a number.")) from None
    if not resolve or getattr(settings, "PROCEDO_WEBHOOKS_ALLOW_PRIVATE", False):
        return url
    try:
        found = socket.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise _refuse(_("No server answers to the name %(host)s.") % {"host": host}) from None
    for _family, _type, _proto, _name, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if not _public(address):
            raise _refuse(
                _(
                    "%(host)s is a private or local address; Procedo sends events only to "
                    "servers on the internet."
                )
                % {"host": host}
            )
    return url
