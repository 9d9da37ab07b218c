"""Roles and what each may do: one table, read by views and API alike."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    MANAGER = "manager", _("Manager")
    OPERATOR = "operator", _("Operator")
    SUPPORT = "support", _("Support")
    MARKETER = "marketer", _("Marketer")
    VIEWER = "viewer", _("Viewer")


# Every permission a check may name. Adding one here, and to the roles that
# have it, is all a new area needs; an unknown name is a programming error.
READ = {"dashboard.view", "events.view", "customers.view", "orders.view", "catalog.view"}
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(
        READ
        | {
            "business.change",
            "accounts.manage",
            "customers.change",
            "orders.change",
            "catalog.change",
            "imports.run",
        }
    ),
    Role.MANAGER: frozenset(
        READ
        | {"accounts.manage", "customers.change", "orders.change", "catalog.change", "imports.run"}
    ),
    Role.OPERATOR: frozenset(READ | {"customers.change", "orders.change"}),
    Role.SUPPORT: frozenset(READ | {"customers.change"}),
    Role.MARKETER: frozenset(READ),
    Role.VIEWER: frozenset(READ),
}
ALL_PERMISSIONS: frozenset[str] = frozenset().union(*ROLE_PERMISSIONS.values())
