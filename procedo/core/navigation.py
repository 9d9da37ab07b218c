"""The staff navigation: each area adds its entry here, shown only to roles that may use it."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class NavEntry:
    url_name: str
    label: str | Promise
    permission: str


NAVIGATION: list[NavEntry] = [
    NavEntry("core:dashboard", _("Dashboard"), "dashboard.view"),
    NavEntry("events:log", _("Activity"), "events.view"),
    NavEntry("accounts:users", _("Team"), "accounts.manage"),
    NavEntry("core:business", _("Settings"), "business.change"),
]
