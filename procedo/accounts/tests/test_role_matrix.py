"""Every API operation and every page, for every role and for nobody, against the one table.

The table is `procedo.accounts.roles.ROLE_PERMISSIONS`; each operation names its
permission in its `auth` (`requires_api`), each page in `@requires`. So a new
endpoint or page is in this matrix the day it is written, and one that forgets to
name a permission fails here unless it is listed below as open on purpose.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from procedo.accounts import services as account_services
from procedo.accounts.auth import operation_permission
from procedo.accounts.roles import ROLE_PERMISSIONS, Role
from procedo.events.models import Event
from procedo.testing import logged_in

pytestmark = pytest.mark.django_db

# Operations any signed-in person may call: their own profile and tokens, their
# notifications, and those whose right depends on the object (checked inside, 403/404).
API_SIGNED_IN = {
    "me",
    "me_language_set",
    "api_token_list",
    "api_token_issue",
    "api_token_revoke",
    "comment_list",
    "comment_create",
    "notification_list",
    "feedback_resolve",
    "proposal_accept",
    "proposal_decline",
    "acknowledgement_confirm",
}
# Pages open to everyone: signing in, provider callbacks checked by signature,
# the unsubscribe link checked by its signature, the language switch.
WEB_PUBLIC = {
    "accounts:login",
    "accounts:logout",
    "messaging:sms-status",
    "messaging:sms-inbound",
    "messaging:unsubscribe",
    "hooks:receive",
    ":set_language",
    "accounts:language",
}
# Pages for any signed-in person: their own password, profile, tokens and bell.
WEB_SIGNED_IN = {
    "accounts:password_change",
    "accounts:profile",
    "accounts:token_revoke",
    "collab:bell",
}


def _concrete(path: str) -> str:
    """A path with every parameter filled in (an id that does not exist)."""
    path = re.sub(r"\{(int:)?[a-z_]+\}", "999999", path)
    path = re.sub(r"<int:[a-z_]+>", "999999", path)
    return re.sub(r"<([a-z]+:)?[a-z_]+>", "nothing-here", path)


def _api_operations() -> Iterator[tuple[str, str, str, str | None]]:
    from config.api import api

    for prefix, router in api._routers:
        for path, view in router.path_operations.items():
            for operation in view.operations:
                name = operation.view_func.__name__
                permission = operation_permission(operation.auth_callbacks)
                for method in operation.methods:
                    yield method, f"/api{prefix}{path}", name, permission


def _pages() -> Iterator[tuple[str, str, str | None]]:
    def walk(patterns: Any, prefix: str = "", namespace: str = "") -> Iterator[Any]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(
                    pattern.url_patterns,
                    prefix + str(pattern.pattern),
                    pattern.namespace or namespace,
                )
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern), f"{namespace}:{pattern.name}", pattern

    for path, name, pattern in walk(get_resolver().url_patterns):
        if path.startswith("api/"):
            continue
        yield "/" + path, name, getattr(pattern.callback, "required_permission", None)


def _tokens(make_user: Any) -> dict[str, str]:
    tokens = {}
    for role in Role.values:
        user = make_user(role)
        issued = account_services.api_token_issue(
            user=user, name="matrix", expires_in_days=None, actor=user
        )
        tokens[role] = issued.plaintext
    return tokens


def _send(client: Client, method: str, url: str, **headers: str) -> Any:
    call = getattr(client, method.lower())
    if method in ("GET", "DELETE"):
        return call(url, headers=headers)
    return call(url, {}, content_type="application/json", headers=headers)


def test_every_operation_names_its_permission_or_is_open_on_purpose() -> None:
    unnamed = {name for _m, _p, name, permission in _api_operations() if permission is None}
    assert unnamed == API_SIGNED_IN
    pages = {name for _p, name, permission in _pages() if permission is None}
    assert pages == WEB_PUBLIC | WEB_SIGNED_IN


def test_every_api_operation_for_every_role_and_for_nobody(make_user: Any) -> None:
    tokens = _tokens(make_user)
    anonymous = Client(enforce_csrf_checks=True)
    events_before = Event.objects.count()
    cells = 0
    wrong: list[str] = []
    for method, path, _name, permission in _api_operations():
        url = _concrete(path)
        response = _send(anonymous, method, url)
        cells += 1
        if response.status_code != 401:  # never a CSRF 403 for nobody's write
            wrong.append(f"nobody {method} {path}: {response.status_code}")
        for role, token in tokens.items():
            response = _send(Client(), method, url, Authorization=f"Bearer {token}")
            cells += 1
            allowed = permission is None or permission in ROLE_PERMISSIONS[role]
            if allowed and response.status_code in (401, 403):
                if permission is None and response.status_code == 403:
                    continue  # an object-level check said no: fine, it is not the role's
                wrong.append(f"{role} {method} {path}: {response.status_code}, may ({permission})")
            if not allowed and (
                response.status_code != 403 or response.json()["field"] != "permission"
            ):
                wrong.append(f"{role} {method} {path}: {response.status_code}, may not")
            if response.status_code >= 500:
                wrong.append(f"{role} {method} {path}: {response.status_code}")
    assert not wrong, "\n".join(wrong)
    assert cells > 600
    # Refusals wrote nothing (the tokens' own events were written before); what was
    # allowed and read a list out as a file is recorded, since it carries personal data.
    written = Event.objects.exclude(event_type__startswith="list.export")
    assert written.count() == events_before


def test_every_page_for_every_role_and_for_nobody(make_user: Any) -> None:
    clients = {role: logged_in(make_user(role)) for role in Role.values}
    anonymous = Client()
    wrong: list[str] = []
    for path, name, permission in _pages():
        if permission is None:
            continue
        url = _concrete(path)
        for method in ("GET", "POST"):
            response = getattr(anonymous, method.lower())(url)
            if response.status_code not in (302, 405) or (
                response.status_code == 302 and "/accounts/login/" not in response["Location"]
            ):
                wrong.append(f"nobody {method} {name}: {response.status_code}")
            for role, client in clients.items():
                response = getattr(client, method.lower())(url)
                allowed = permission in ROLE_PERMISSIONS[role]
                if allowed and response.status_code == 403:
                    wrong.append(f"{role} {method} {name}: 403 though it may ({permission})")
                if not allowed and response.status_code not in (403, 405):
                    wrong.append(f"{role} {method} {name}: {response.status_code}, may not")
                if response.status_code >= 500:
                    wrong.append(f"{role} {method} {name}: {response.status_code}")
    assert not wrong, "\n".join(wrong)
