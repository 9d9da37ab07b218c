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


# Who stands above whom: nobody gives a role above their own, nor changes, deactivates
# or revokes the tokens of someone above them; an owner is changed only by an owner.
RANK: dict[str, int] = {
    Role.OWNER: 100,
    Role.MANAGER: 50,
    Role.OPERATOR: 20,
    Role.SUPPORT: 20,
    Role.MARKETER: 20,
    Role.VIEWER: 10,
}


def role_rank(role: str) -> int:
    return RANK.get(role, 0)


# Every permission a check may name. Adding one here, and to the roles that
# have it, is all a new area needs; an unknown name is a programming error.
READ = {"dashboard.view", "events.view", "customers.view", "orders.view", "catalog.view"}
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(
        READ
        | {
            "business.change",
            "accounts.manage",
            "accounts.personal_data",
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
# SOPs and tasks (procedo/sops, procedo/automation, procedo/work): everyone sees
# them; owners and managers write, review and publish SOPs; operators and
# support start runs by hand and work their tasks.
# sops.feedback: leave feedback on a step and propose a change (everyone but viewers).
_SOP_LEADS = {
    "sops.author",
    "sops.review",
    "sops.run",
    "sops.feedback",
    "tasks.work",
    "tasks.manage",
}
_SOP_EXTRA: dict[str, set[str]] = {
    Role.OWNER: _SOP_LEADS,
    Role.MANAGER: _SOP_LEADS,
    Role.OPERATOR: {"sops.run", "tasks.work", "sops.feedback"},
    Role.SUPPORT: {"sops.run", "tasks.work", "sops.feedback"},
    Role.MARKETER: {"sops.feedback"},
}
ROLE_PERMISSIONS = {
    role: permissions | {"sops.view", "tasks.view"} | _SOP_EXTRA.get(role, set())
    for role, permissions in ROLE_PERMISSIONS.items()
}
# Messaging (procedo/messaging): everyone sees the message log; owners, managers
# and marketers write message templates.
_MESSAGING_EXTRA: dict[str, set[str]] = {
    Role.OWNER: {"messaging.templates"},
    Role.MANAGER: {"messaging.templates"},
    Role.MARKETER: {"messaging.templates"},
}
ROLE_PERMISSIONS = {
    role: permissions | {"messaging.view"} | _MESSAGING_EXTRA.get(role, set())
    for role, permissions in ROLE_PERMISSIONS.items()
}
# Comments and notifications (procedo/collab): everyone reads their own
# notifications and the comments on what they may see; every role but the
# read-only viewer writes comments.
ROLE_PERMISSIONS = {
    role: permissions
    | {"notifications.view"}
    | (set() if role == Role.VIEWER else {"collab.comment"})
    for role, permissions in ROLE_PERMISSIONS.items()
}
# The event log's failures (procedo/events): owners and managers see the events a
# consumer failed on, and retry or dismiss them.
ROLE_PERMISSIONS = {
    role: permissions | ({"events.failures"} if role in (Role.OWNER, Role.MANAGER) else set())
    for role, permissions in ROLE_PERMISSIONS.items()
}
# Analytics (procedo/analytics): the business's numbers (revenue among them) are for those
# who steer it and those who report on it, not for the people who process orders;
# goals are set by those who steer it.
ROLE_PERMISSIONS = {
    role: permissions
    | ({"analytics.view"} if role not in (Role.OPERATOR, Role.SUPPORT) else set())
    | ({"goals.manage"} if role in (Role.OWNER, Role.MANAGER) else set())
    for role, permissions in ROLE_PERMISSIONS.items()
}
# Outbound webhooks (procedo/outbound): where Procedo sends its events, with their
# secrets, is for those who run the business's integrations.
ROLE_PERMISSIONS = {
    role: permissions | ({"webhooks.manage"} if role in (Role.OWNER, Role.MANAGER) else set())
    for role, permissions in ROLE_PERMISSIONS.items()
}
# Loyalty and referrals (procedo/loyalty): everyone sees a customer's tier and referral
# code; those who steer the business and its marketing set the tiers and rewards.
ROLE_PERMISSIONS = {
    role: permissions
    | {"loyalty.view"}
    | ({"loyalty.manage"} if role in (Role.OWNER, Role.MANAGER, Role.MARKETER) else set())
    for role, permissions in ROLE_PERMISSIONS.items()
}
# Integrations (procedo/integrations): connections hold the platforms' secrets and
# bring orders in by themselves; owners and managers add and change them and replay
# what failed.
ROLE_PERMISSIONS = {
    role: permissions | ({"integrations.manage"} if role in (Role.OWNER, Role.MANAGER) else set())
    for role, permissions in ROLE_PERMISSIONS.items()
}
ALL_PERMISSIONS: frozenset[str] = frozenset().union(*ROLE_PERMISSIONS.values())
