"""The one permission check, used by pages and API endpoints alike."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from procedo.accounts.roles import ALL_PERMISSIONS, ROLE_PERMISSIONS
from procedo.core.errors import PermissionDenied


def user_can(user: Any, permission: str) -> bool:
    if permission not in ALL_PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return permission in ROLE_PERMISSIONS.get(user.role, frozenset())


def permission_require(user: Any, permission: str) -> None:
    if not user_can(user, permission):
        raise PermissionDenied(
            field="permission",
            message=_("Your role does not allow this (%(permission)s).")
            % {"permission": permission},
        )
