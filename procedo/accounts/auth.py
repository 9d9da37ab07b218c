"""How the REST API knows who is calling: a bearer token or the browser's session."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import ngettext
from ninja.security import HttpBearer, SessionAuth

from procedo.accounts import throttle
from procedo.accounts.clients import client_address
from procedo.accounts.services import TokenThrottled, TokenUnknown, api_token_authenticate


class ApiTokenAuth(HttpBearer):
    openapi_description = "An API token from your profile page: `Authorization: Bearer pro_…`"

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
        return user


class ActiveSessionAuth(SessionAuth):
    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        return user if user is not None and user.is_active else None


api_auth = [ApiTokenAuth(), ActiveSessionAuth()]
