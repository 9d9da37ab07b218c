from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import timedelta

from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.accounts import selectors
from procedo.accounts.actors import Actor, actor_person
from procedo.accounts.models import ApiToken, Team, User
from procedo.accounts.permissions import user_can
from procedo.accounts.roles import Role, role_rank
from procedo.core.errors import Conflict, DomainError, NotFound, PermissionDenied
from procedo.events.services.recording import event_record

TOKEN_PREFIX = "pro_"
# A token is used on every API call; writing last_used_at each time would make
# every read a write. Once a minute is precise enough to see dead tokens.
LAST_USED_PRECISION = timedelta(minutes=1)


def _rank(actor: Actor) -> int | None:
    """The actor's rank; None for the system (a command, the worker): it may do anything."""
    person = actor_person(actor)
    return None if person is None else role_rank(person.role)


def _role_may_give(actor: Actor, role: str) -> None:
    rank = _rank(actor)
    if rank is not None and role_rank(role) > rank:
        raise PermissionDenied(
            field="role",
            code="role_too_high",
            message=_("You cannot give a role above your own."),
        )


def _may_act_on(actor: Actor, user: User, *, field: str = "user_id") -> None:
    """A person acts on staff of their own rank or below; an owner only by an owner."""
    person = actor_person(actor)
    if person is None or person.pk == user.pk:
        return
    rank = role_rank(person.role)
    if rank < role_rank(user.role) or (user.role == Role.OWNER and person.role != Role.OWNER):
        raise PermissionDenied(
            field=field,
            code="role_too_high",
            message=_("Only someone of the same role or above may change this person."),
        )


def _hash_secret(secret: str) -> str:
    # The secret is 256 random bits, so a fast hash is safe here: a slow
    # password hash guards against guessing, and there is nothing to guess.
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    role: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    actor: Actor = None,
) -> User:
    username = username.strip()
    if not username:
        raise DomainError(field="username", message=_("A username is required."))
    if role not in Role.values:
        raise DomainError(field="role", message=_("Unknown role %(role)s.") % {"role": role})
    _role_may_give(actor, role)
    if email:
        try:
            validate_email(email)
        except ValidationError as exc:
            raise DomainError(field="email", message=exc.messages[0]) from exc
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict(field="username", message=_("This username is taken."))
    user = User(
        username=username,
        email=email.strip().lower(),
        first_name=first_name,
        last_name=last_name,
        role=role,
    )
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise DomainError(field="password", message=" ".join(exc.messages)) from exc
    user.set_password(password)
    user.save()
    event_record(
        event_type="user.created",
        subject=user,
        actor=actor,
        payload={"username": user.username, "role": role},
    )
    return user


@transaction.atomic
def user_change_role(*, user_id: int, role: str, actor: Actor) -> User:
    if role not in Role.values:
        raise DomainError(field="role", message=_("Unknown role %(role)s.") % {"role": role})
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound(field="user_id", message=_("No such user."))
    _may_act_on(actor, user)
    _role_may_give(actor, role)
    if user.role == Role.OWNER and role != Role.OWNER and not _another_active_owner(user):
        raise Conflict(field="role", message=_("The business must keep at least one owner."))
    previous = user.role
    User.objects.filter(pk=user.pk).update(role=role)
    user.role = role
    event_record(
        event_type="user.role_changed",
        subject=user,
        actor=actor,
        payload={"from": previous, "to": role},
    )
    return user


def _another_active_owner(user: User) -> bool:
    return User.objects.filter(role=Role.OWNER, is_active=True).exclude(pk=user.pk).exists()


@transaction.atomic
def user_set_active(*, user_id: int, active: bool, actor: Actor) -> User:
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound(field="user_id", message=_("No such user."))
    _may_act_on(actor, user)
    if not active and user.role == Role.OWNER and not _another_active_owner(user):
        raise Conflict(field="is_active", message=_("The last owner cannot be deactivated."))
    if user.is_active == active:
        return user
    User.objects.filter(pk=user.pk).update(is_active=active)
    user.is_active = active
    if not active:
        # A deactivated person's tokens must stop working at once.
        ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
    event_record(
        event_type="user.activated" if active else "user.deactivated",
        subject=user,
        actor=actor,
    )
    return user


@transaction.atomic
def user_update(
    *, user_id: int, actor: Actor, role: str | None = None, is_active: bool | None = None
) -> User:
    """Role and activation in one step: both change, or neither."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound(field="user_id", message=_("No such user."))
    _may_act_on(actor, user)
    if role is not None:
        user = user_change_role(user_id=user_id, role=role, actor=actor)
    if is_active is not None:
        user = user_set_active(user_id=user_id, active=is_active, actor=actor)
    return user


@transaction.atomic
def user_language_set(*, user: User, language: str) -> User:
    """The interface language a person chose: remembered on their profile, so the next
    log-in (on any browser) opens in it. Only the person themselves sets it."""
    if language not in dict(settings.LANGUAGES):
        raise DomainError(field="language", message=_("Choose one of the offered languages."))
    if user.language != language:
        previous = user.language
        user.language = language
        user.save(update_fields=["language"])
        event_record(
            event_type="user.language_changed",
            subject=user,
            actor=user,
            payload={"from": previous, "to": language},
        )
    return user


@transaction.atomic
def user_password_changed(*, user: User) -> None:
    """Records a password change made through Django's own form (which saves the hash)."""
    event_record(event_type="user.password_changed", subject=user, actor=user)


@transaction.atomic
def user_logged_in(*, user: User, ip: str | None) -> None:
    event_record(event_type="user.logged_in", subject=user, actor=user, payload={"ip": ip})


def _lockout_key(kind: str, value: str | None) -> str:
    # Hashed: a username is whatever was typed into the form.
    return f"login-lockout:{kind}:" + hashlib.sha256((value or "").encode()).hexdigest()[:32]


@transaction.atomic
def user_locked_out(*, username: str | None, address: str | None) -> bool:
    """Records `user.locked_out` once per lockout; True if this call recorded it.

    axes reports every refused attempt while a username or an address is locked;
    a cache key per locked username and per locked address (living as long as the
    cool-off) keeps that to one event, and a guesser who keeps going past the
    cool-off gets another. The key is written in this transaction (the cache is a
    table of this database), so it commits or vanishes with the event.
    """
    failures = selectors.login_failures(username=username, address=address)
    cool_off = int(settings.AXES_COOLOFF_TIME.total_seconds())
    values = {"username": username, "address": address}
    locked = [
        kind
        for kind, count in failures.items()
        if count >= settings.AXES_FAILURE_LIMIT
        and cache.add(_lockout_key(kind, values[kind]), 1, timeout=cool_off)
    ]
    if not locked:
        return False
    user = User.objects.filter(username=username).first() if username else None
    event_record(
        event_type="user.locked_out",
        subject=user,
        actor_label=address or "",
        payload={
            "username": username or "",
            "address": address or "",
            "locked": locked,
            "failures": max(failures.values()),
        },
    )
    return True


@transaction.atomic
def login_lock_release(*, kind: str, value: str, actor: Actor) -> int:
    """Lets a locked username or address log in again now; the number of records cleared."""
    value = value.strip()
    if kind == "address":
        try:
            value = str(ipaddress.ip_address(value))
        except ValueError:
            raise DomainError(field="value", message=_("Not an IP address.")) from None
        attempts = AccessAttempt.objects.filter(ip_address=value)
    elif kind == "username":
        if not value:
            raise DomainError(field="value", message=_("A username is required."))
        attempts = AccessAttempt.objects.filter(username=value)
    else:
        raise DomainError(field="kind", message=_("Unlock a username or an address."))
    pairs = list(attempts.values_list("username", "ip_address").distinct())
    if not pairs:
        raise NotFound(field="value", message=_("%(value)s is not locked.") % {"value": value})
    # Its attempts also counted towards the other side of each pair: forget those
    # lockout notes too, so a new lockout there is recorded again.
    cache.delete_many(
        [_lockout_key("username", username) for username, _ip in pairs]
        + [_lockout_key("address", ip) for _username, ip in pairs]
    )
    if kind == "address":
        cleared = AxesProxyHandler.reset_attempts(ip_address=value)
    else:
        cleared = AxesProxyHandler.reset_attempts(username=value)
    user = User.objects.filter(username=value).first() if kind == "username" else None
    event_record(
        event_type="user.unlocked",
        subject=user,
        actor=actor,
        payload={kind: value, "attempts_cleared": cleared},
    )
    return cleared


@transaction.atomic
def team_create(*, name: str, lead_id: int | None, actor: Actor) -> Team:
    name = name.strip()
    if not name:
        raise DomainError(field="name", message=_("A team needs a name."))
    if Team.objects.filter(name__iexact=name).exists():
        raise Conflict(field="name", message=_("A team with this name exists."))
    if lead_id is not None and not User.objects.filter(pk=lead_id, is_active=True).exists():
        raise DomainError(field="lead_id", message=_("The team lead must be an active user."))
    team = Team.objects.create(name=name, lead_id=lead_id)
    if lead_id is not None:
        team.members.add(lead_id)
    event_record(event_type="team.created", subject=team, actor=actor, payload={"name": name})
    return team


@transaction.atomic
def team_set_members(*, team_id: int, member_ids: list[int], actor: Actor) -> Team:
    team = Team.objects.filter(pk=team_id).first()
    if team is None:
        raise NotFound(field="team_id", message=_("No such team."))
    found = set(User.objects.filter(pk__in=member_ids).values_list("pk", flat=True))
    missing = sorted(set(member_ids) - found)
    if missing:
        raise DomainError(
            field="member_ids", message=_("No user with id %(ids)s.") % {"ids": missing}
        )
    before = set(team.members.values_list("pk", flat=True))
    team.members.set(found)
    event_record(
        event_type="team.members_changed",
        subject=team,
        actor=actor,
        payload={"added": sorted(found - before), "removed": sorted(before - found)},
    )
    return team


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    plaintext: str  # shown once, never stored


@transaction.atomic
def api_token_issue(
    *, user: User, name: str, expires_in_days: int | None, actor: Actor
) -> IssuedToken:
    name = name.strip()
    if not name:
        raise DomainError(field="name", message=_("Name the token after what will use it."))
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise DomainError(
            field="expires_in_days", message=_("Expiry must be between 1 and 3650 days.")
        )
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=prefix,
        secret_hash=_hash_secret(secret),
        expires_at=(timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None),
    )
    event_record(
        event_type="api_token.issued",
        subject=token,
        actor=actor,
        payload={"name": name, "prefix": prefix, "user_id": user.pk},
    )
    return IssuedToken(token=token, plaintext=f"{TOKEN_PREFIX}{prefix}_{secret}")


@transaction.atomic
def api_token_revoke(*, token_id: int, actor: User) -> ApiToken:
    token = ApiToken.objects.select_related("user").filter(pk=token_id).first()
    if token is None or (token.user_id != actor.pk and not user_can(actor, "accounts.manage")):
        raise NotFound(field="token_id", message=_("No such token."))
    if token.user_id != actor.pk and role_rank(token.user.role) >= role_rank(actor.role):
        # Another person's tokens only when you outrank them.
        raise PermissionDenied(
            field="token_id",
            code="role_too_high",
            message=_("Only someone above this person's role may revoke their tokens."),
        )
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        ApiToken.objects.filter(pk=token.pk).update(revoked_at=token.revoked_at)
        event_record(
            event_type="api_token.revoked",
            subject=token,
            actor=actor,
            payload={"prefix": token.prefix},
        )
    return token


class TokenRejected(Exception):
    """The bearer token is malformed, unknown, revoked or expired (HTTP 401)."""

    status_code = 401
    retry_after: int | None = None


class TokenUnknown(TokenRejected):
    """Malformed, or no such token: what guessing looks like, so it is counted per address."""


class TokenThrottled(TokenRejected):
    """Too many unknown tokens from this address lately (HTTP 429, Retry-After)."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def api_token_authenticate(*, plaintext: str) -> User:
    """The active user a bearer token belongs to, or TokenRejected saying why."""
    if not plaintext.startswith(TOKEN_PREFIX) or plaintext.count("_") < 2:
        raise TokenUnknown(_("Malformed API token."))
    prefix, _sep, secret = plaintext[len(TOKEN_PREFIX) :].partition("_")
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    if token is None or not hmac.compare_digest(token.secret_hash, _hash_secret(secret)):
        raise TokenUnknown(_("Invalid API token."))
    if token.revoked_at is not None:
        raise TokenRejected(_("This API token was revoked."))
    now = timezone.now()
    if token.expires_at is not None and token.expires_at <= now:
        raise TokenRejected(_("This API token has expired."))
    if not token.user.is_active:
        raise TokenRejected(_("The user of this API token is deactivated."))
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
