"""How the log tells what happened to staff, teams and API tokens."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from procedo.accounts.models import ApiToken, Team, User
from procedo.accounts.roles import Role
from procedo.events.models import Event
from procedo.events.timeline import HIDDEN, Names, sentence_register, subject_register


def _people(ids: Sequence[int]) -> Mapping[int, str]:
    return {user.pk: str(user) for user in User.objects.filter(pk__in=ids)}


def _teams(ids: Sequence[int]) -> Mapping[int, str]:
    return dict(Team.objects.filter(pk__in=ids).values_list("pk", "name"))


def _tokens(ids: Sequence[int]) -> Mapping[int, str]:
    return dict(ApiToken.objects.filter(pk__in=ids).values_list("pk", "name"))


def _role(code: Any) -> str:
    try:
        return str(Role(code).label)
    except ValueError:
        return str(code)


def _roles(event: Event, _names: Names) -> dict[str, Any]:
    payload = event.payload or {}
    return {"from": _role(payload.get("from")), "to": _role(payload.get("to"))}


def _created(event: Event, _names: Names) -> dict[str, Any]:
    return {"role": _role((event.payload or {}).get("role"))}


def _locked(event: Event, _names: Names) -> dict[str, Any]:
    payload = event.payload or {}
    return {"who": payload.get("username") or payload.get("address") or _("an address")}


def _members(event: Event, _names: Names) -> dict[str, Any]:
    payload = event.payload or {}
    return {"added": len(payload.get("added") or []), "removed": len(payload.get("removed") or [])}


def _signed_in_words(event: Event) -> Any:
    # The address only for readers who may see staff's personal data (home/privacy.py).
    shown = (event.payload or {}).get("ip") not in (None, "", HIDDEN)
    return (
        gettext_lazy("%(subject)s signed in from %(ip)s")
        if shown
        else gettext_lazy("%(subject)s signed in")
    )


def _signed_in(event: Event, _names: Names) -> dict[str, Any]:
    return {"ip": (event.payload or {}).get("ip", "")}


def _language(event: Event, _names: Names) -> dict[str, Any]:
    code = (event.payload or {}).get("to", "")
    names = dict(settings.LANGUAGES)
    return {"language": str(names[code]) if code in names else code}


def timeline_register() -> None:
    subject_register("user", names=_people, url_name="accounts:users")
    subject_register("team", names=_teams, url_name="accounts:users")
    subject_register("apitoken", names=_tokens, url_name="accounts:profile")
    sentence_register(
        "user.created", gettext_lazy("%(actor)s added %(subject)s as %(role)s"), _created
    )
    sentence_register(
        "user.role_changed",
        gettext_lazy("%(actor)s changed %(subject)s's role from %(from)s to %(to)s"),
        _roles,
    )
    sentence_register("user.activated", gettext_lazy("%(actor)s let %(subject)s sign in again"))
    sentence_register(
        "user.deactivated", gettext_lazy("%(actor)s stopped %(subject)s from signing in")
    )
    sentence_register("user.logged_in", _signed_in_words, _signed_in)
    sentence_register("user.password_changed", gettext_lazy("%(subject)s changed their password"))
    sentence_register(
        "user.language_changed",
        gettext_lazy("%(subject)s chose %(language)s for the interface"),
        _language,
    )
    sentence_register(
        "user.locked_out",
        gettext_lazy("Sign-in for %(who)s locked after too many wrong passwords"),
        _locked,
    )
    sentence_register("user.unlocked", gettext_lazy("%(actor)s unlocked sign-in for %(subject)s"))
    sentence_register("team.created", gettext_lazy("%(actor)s created the team %(subject)s"))
    sentence_register(
        "team.members_changed",
        gettext_lazy("%(actor)s changed the team %(subject)s: %(added)s in, %(removed)s out"),
        _members,
    )
    sentence_register(
        "api_token.issued", gettext_lazy("%(actor)s issued the API token %(subject)s")
    )
    sentence_register(
        "api_token.revoked", gettext_lazy("%(actor)s revoked the API token %(subject)s")
    )
