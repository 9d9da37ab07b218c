"""How the REST API knows who is calling (a bearer token or the browser's session) and
whether they may: each operation names its permission in its `auth`, checked before
its input is read, so a role without the right gets 403 whatever it sent.

    @router.post("", response={201: CustomerOut}, auth=requires_api("customers.change"))

`api_auth` (the API's default) only says who is calling: operations open to every
signed-in person (their own profile, tokens, notifications) or checking rights that
depend on the object itself use it.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import ngettext
from ninja.security import HttpBearer, SessionAuth
from ninja.security.base import AuthBase

from procedo.accounts import throttle
from procedo.accounts.clients import client_address
from procedo.accounts.models import User
from procedo.accounts.permissions import permission_require
from procedo.accounts.services import TokenThrottled, TokenUnknown, api_token_authenticate


class ApiRequest(HttpRequest):
    """An API operation's request: `auth` is the person its auth returned (ninja sets it)."""

    auth: User


class ApiTokenAuth(HttpBearer):
    openapi_description = "An API token from your profile page: `Authorization: Bearer pro_…`"

    def __init__(self, permission: str | None = None) -> None:
        super().__init__()
        self.permission = permission

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        # Raises TokenRejected (401 with the reason) for a bad token, rather
        # than falling through to the session: a caller who sent a token
        # wants to hear what is wrong with it.
        address = client_address(request)
        wait = throttle.api_token_wait_seconds(address=address)
        if wait:
            minutes = -(-wait // 60)
            raise TokenThrottled(
                ngettext(
                    "Too many invalid API tokens from this address; try again in %(minutes)d"
                    " minute.",
                    "Too many invalid API tokens from this address; try again in %(minutes)d"
                    " minutes.",
                    minutes,
                )
                % {"minutes": minutes},
                retry_after=wait,
            )
        try:
            user = api_token_authenticate(plaintext=token)
        except TokenUnknown:
            throttle.api_token_failure_count(address=address)
            raise
        request.user = user
        if self.permission:
            permission_require(user, self.permission)  # 403 naming the permission
        return user


class ActiveSessionAuth(SessionAuth):
    def __init__(self, permission: str | None = None) -> None:
        super().__init__(csrf=True)
        self.permission = permission

    def _get_key(self, request: HttpRequest) -> str | None:
        # Nobody signed in: nothing a forged request could use, so no CSRF check; the
        # caller hears 401 (who are you?), not a CSRF 403.
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        if user is None or not user.is_active:
            return None
        if self.permission:
            permission_require(user, self.permission)
        return user


def requires_api(permission: str) -> list[AuthBase]:
    """The `auth` of an operation that needs `permission` (the same table as the pages)."""
    return [ApiTokenAuth(permission), ActiveSessionAuth(permission)]


def operation_permission(auth: Any) -> str | None:
    """The permission an operation's `auth` requires (None: any signed-in person)."""
    for callback in auth if isinstance(auth, list | tuple) else [auth]:
        permission = getattr(callback, "permission", None)
        if permission:
            return str(permission)
    return None


api_auth: list[AuthBase] = [ApiTokenAuth(), ActiveSessionAuth()]
