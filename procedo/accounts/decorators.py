from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import render

from procedo.accounts.permissions import user_can


def requires(
    permission: str,
) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    """Log in first; then a role without `permission` gets a 403 page that says which."""

    def decorator(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not user_can(request.user, permission):
                return render(
                    request, "accounts/forbidden.html", {"permission": permission}, status=403
                )
            return view(request, *args, **kwargs)

        # Read by the role × page test (procedo/accounts/tests/test_role_matrix.py).
        wrapper.required_permission = permission  # type: ignore[attr-defined]
        return login_required(wrapper)

    return decorator
