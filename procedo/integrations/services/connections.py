"""Connections, managed by people: a platform, a name, an account and a secret kept encrypted."""

from __future__ import annotations

import logging
import secrets as token_source

from django.db import transaction
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor
from procedo.core.actors import actor_id_of
from procedo.core.errors import DomainError, NotFound
from procedo.events.services.recording import event_record
from procedo.integrations.models import Connection, Platform
from procedo.integrations.secrets import secret_encrypt, secret_hint
from procedo.integrations.services._common import SECRET_MAX

logger = logging.getLogger(__name__)


def _clean(name: str, account: str, secret: str | None) -> tuple[str, str]:
    name, account = " ".join(name.split()), account.strip()
    if not name or len(name) > 100:
        raise DomainError(
            field="name", message=_("Give the connection a name (up to 100 characters).")
        )
    if len(account) > 200:
        raise DomainError(field="account", code="too_large", message=_("At most 200 characters."))
    if secret is not None and not (1 <= len(secret.strip()) <= SECRET_MAX):
        raise DomainError(
            field="secret",
            message=_("Paste the secret or key from the platform (up to 500 characters)."),
        )
    return name, account


def _api_key(api_key: str | None) -> dict[str, str]:
    """The encrypted API key and its hint; an empty key removes the stored one."""
    if api_key is None:
        return {}
    api_key = api_key.strip()
    if len(api_key) > SECRET_MAX:
        raise DomainError(field="api_key", code="too_large", message=_("At most 500 characters."))
    if not api_key:
        return {"api_key_encrypted": "", "api_key_hint": ""}
    return {"api_key_encrypted": secret_encrypt(api_key), "api_key_hint": secret_hint(api_key)}


@transaction.atomic
def connection_create(
    *, platform: str, name: str, account: str, secret: str, actor: Actor, api_key: str = ""
) -> Connection:
    if platform not in Platform.values:
        raise DomainError(field="platform", message=_("Unknown platform %(p)s.") % {"p": platform})
    name, account = _clean(name, account, secret)
    secret = secret.strip()
    connection = Connection.objects.create(
        platform=platform,
        name=name,
        account=account,
        key=token_source.token_urlsafe(16),
        secret_encrypted=secret_encrypt(secret),
        secret_hint=secret_hint(secret),
        **_api_key(api_key),
        created_by_id=actor_id_of(actor),
    )
    event_record(
        event_type="connection.created",
        subject=connection,
        actor=actor,
        payload={"platform": platform, "name": name},
    )
    return connection


@transaction.atomic
def connection_update(
    *,
    connection_id: int,
    actor: Actor,
    name: str | None = None,
    account: str | None = None,
    secret: str | None = None,
    api_key: str | None = None,
    active: bool | None = None,
) -> Connection:
    """Change what is given; a new secret replaces the old one (which is never shown)."""
    connection = Connection.objects.select_for_update().filter(pk=connection_id).first()
    if connection is None:
        raise NotFound(field="connection_id", message=_("No such connection."))
    secret = secret.strip() if secret else None
    new_name, new_account = _clean(
        connection.name if name is None else name,
        connection.account if account is None else account,
        secret,
    )
    changed: list[str] = []
    for attribute, value in (("name", new_name), ("account", new_account), ("active", active)):
        if value is not None and getattr(connection, attribute) != value:
            setattr(connection, attribute, value)
            changed.append(attribute)
    if secret:
        connection.secret_encrypted, connection.secret_hint = (
            secret_encrypt(secret),
            secret_hint(secret),
        )
        changed.append("secret")
    if api_key:
        for name, value in _api_key(api_key).items():
            setattr(connection, name, value)
        changed.append("api_key")
    if not changed:
        return connection
    connection.save()
    event_record(
        event_type="connection.updated",
        subject=connection,
        actor=actor,
        payload={"changed": changed},
    )
    return connection
