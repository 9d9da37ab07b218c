"""How the REST API knows who is calling: a bearer token or the browser's session."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth

from procedo.accounts.services import api_token_authenticate


class ApiTokenAuth(HttpBearer):
    openapi_description = "An API token from your profile page: `Authorization: Bearer pro_…`"

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        # Raises TokenRejected (401 with the reason) for a bad token, rather
        # than falling through to the session: a caller who sent a token
        # wants to hear what is wrong with it.
        user = api_token_authenticate(plaintext=token)
        request.user = user
        return user


class ActiveSessionAuth(SessionAuth):
    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        return user if user is not None and user.is_active else None


api_auth = [ApiTokenAuth(), ActiveSessionAuth()]
