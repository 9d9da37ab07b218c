"""The reply address and headers that bring a customer's answer back to its conversation."""

from __future__ import annotations

import re

from django.conf import settings
from django.core import signing

from procedo.messaging.models import Channel, Message
from procedo.support.services._common import SOURCE_PREFIX

_THREAD_SALT = "support.thread"


_PLUS = re.compile(r"^[^@+]+\+(?P<token>[^@]+)@", re.IGNORECASE)


def thread_token(conversation_id: int) -> str:
    """The signed token a reply address carries (support+<token>@…): names one conversation."""
    return signing.Signer(salt=_THREAD_SALT, sep=".").sign(str(conversation_id))


def thread_of_address(address: str) -> int | None:
    """The conversation a plus-address names, if its token is ours and intact."""
    match = _PLUS.match(address.strip())
    if match is None:
        return None
    try:
        return int(signing.Signer(salt=_THREAD_SALT, sep=".").unsign(match["token"]))
    except (signing.BadSignature, ValueError):
        return None


def reply_address(conversation_id: int) -> str:
    """Where the customer's answer to our email goes: the inbox address, plus the thread."""
    sender = settings.DEFAULT_FROM_EMAIL.rsplit("<", 1)[-1].rstrip(">").strip()
    local, _at, domain = sender.partition("@")
    return f"{local.split('+')[0]}+{thread_token(conversation_id)}@{domain or 'localhost'}"


def reply_headers(message: Message) -> dict[str, str]:
    """messaging's header hook: our emails carry the thread in their Reply-To."""
    if message.channel != Channel.EMAIL or not message.source.startswith(SOURCE_PREFIX):
        return {}
    conversation_id = message.source[len(SOURCE_PREFIX) :].split(":")[0]
    if not conversation_id.isdigit():
        return {}
    return {"Reply-To": reply_address(int(conversation_id))}
