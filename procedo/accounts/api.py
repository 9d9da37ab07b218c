from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpResponse
from django.utils.cache import patch_cache_control
from ninja import Field, Router
from ninja.responses import Status

from procedo.accounts import selectors, services
from procedo.accounts.auth import ApiRequest, requires_api
from procedo.accounts.models import ApiToken, Team, User
from procedo.accounts.roles import ROLE_PERMISSIONS, Role
from procedo.core.bounds import MAX_ITEMS, Id, PathId
from procedo.core.schemas import Schema

router = Router(tags=["accounts"])


class MeOut(Schema):
    id: int
    username: str
    email: str
    full_name: str
    role: str
    # The interface language saved on the profile; empty: the browser's.
    language: str
    permissions: list[str]


class LanguageIn(Schema):
    language: str = Field(max_length=8)


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenIssuedOut(TokenOut):
    token: str = Field(description="The secret; shown only in this response.")


class UserOut(Schema):
    id: int
    username: str
    email: str
    full_name: str
    role: str
    is_active: bool


class UserIn(Schema):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=128)
    role: Role
    email: str = Field(default="", max_length=254)
    first_name: str = Field(default="", max_length=150)
    last_name: str = Field(default="", max_length=150)


class UserPatch(Schema):
    role: Role | None = Field(default=None, description="Not above your own role.")
    is_active: bool | None = Field(
        default=None, description="false signs the person out of the API: their tokens end."
    )


def _user_out(user: User) -> UserOut:
    return UserOut(
        id=user.pk,
        username=user.username,
        email=user.email,
        full_name=user.get_full_name(),
        role=user.role,
        is_active=user.is_active,
    )


@router.get("/me", response=MeOut)
def me(request: ApiRequest) -> MeOut:
    user = request.auth
    return MeOut(
        id=user.pk,
        username=user.username,
        email=user.email,
        full_name=user.get_full_name(),
        role=user.role,
        language=user.language,
        permissions=sorted(ROLE_PERMISSIONS.get(user.role, frozenset())),
    )


@router.put("/me/language", response=MeOut)
def me_language_set(request: ApiRequest, payload: LanguageIn) -> MeOut:
    """Save the caller's interface language (one of the codes in `LANGUAGES`: en, uk);
    pages open in it after their next log-in; 422 naming `language` for another code."""
    services.user_language_set(user=request.auth, language=payload.language)
    return me(request)


@router.get("/tokens", response=list[TokenOut])
def api_token_list(request: ApiRequest) -> list[ApiToken]:
    return list(selectors.api_tokens_of(user=request.auth))


@router.post("/tokens", response={201: TokenIssuedOut})
def api_token_issue(
    request: ApiRequest, payload: TokenIn, response: HttpResponse
) -> Status[TokenIssuedOut]:
    # The secret is in this body and nowhere else: no cache may keep a copy.
    patch_cache_control(response, no_store=True)
    issued = services.api_token_issue(
        user=request.auth,
        name=payload.name,
        expires_in_days=payload.expires_in_days,
        actor=request.auth,
    )
    out = TokenIssuedOut.model_validate(
        {**TokenOut.model_validate(issued.token).model_dump(), "token": issued.plaintext}
    )
    return Status(201, out)


@router.delete("/tokens/{int:token_id}", response=TokenOut)
def api_token_revoke(request: ApiRequest, token_id: PathId) -> ApiToken:
    return services.api_token_revoke(token_id=token_id, actor=request.auth)


@router.get("/users", response=list[UserOut], auth=requires_api("accounts.manage"))
def user_list(request: ApiRequest) -> list[UserOut]:
    return [_user_out(user) for user in selectors.users_all()]


@router.post("/users", response={201: UserOut}, auth=requires_api("accounts.manage"))
def user_create(request: ApiRequest, payload: UserIn) -> Status[UserOut]:
    user = services.user_create(**payload.dict(), actor=request.auth)
    return Status(201, _user_out(user))


@router.patch("/users/{int:user_id}", response=UserOut, auth=requires_api("accounts.manage"))
def user_update(request: ApiRequest, user_id: PathId, payload: UserPatch) -> UserOut:
    """Change a person's role or activation; only for people of your role or below."""
    user = services.user_update(
        user_id=user_id,
        role=payload.role,
        is_active=payload.is_active,
        actor=request.auth,
    )
    return _user_out(user)


class TeamOut(Schema):
    id: int
    name: str
    lead_id: int | None
    member_ids: list[int]
    created_at: datetime


class TeamIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    lead_id: Id | None = Field(default=None, description="An active user; made a member too.")


class TeamMembersIn(Schema):
    member_ids: list[Id] = Field(max_length=MAX_ITEMS, description="The whole membership.")


class LockoutOut(Schema):
    kind: Literal["username", "address"]
    value: str
    failures: int
    until: datetime


class LockReleaseIn(Schema):
    kind: Literal["username", "address"]
    value: str = Field(min_length=1, max_length=255)


class LockReleaseOut(Schema):
    attempts_cleared: int


def _team_out(team: Team) -> dict[str, Any]:
    return {
        "id": team.pk,
        "name": team.name,
        "lead_id": team.lead_id,
        "member_ids": sorted(member.pk for member in team.members.all()),
        "created_at": team.created_at,
    }


@router.get("/teams", response=list[TeamOut], auth=requires_api("accounts.manage"))
def team_list(request: ApiRequest) -> list[dict[str, Any]]:
    """Every team with its lead and members (the people page's teams)."""
    return [_team_out(team) for team in selectors.teams_all()]


@router.post("/teams", response={201: TeamOut}, auth=requires_api("accounts.manage"))
def team_create(request: ApiRequest, payload: TeamIn) -> Status[dict[str, Any]]:
    """A new team; 409 naming `name` if one has it already (any case)."""
    team = services.team_create(
        name=payload.name,
        lead_id=payload.lead_id,
        actor=request.auth,
    )
    return Status(201, _team_out(selectors.teams_all().get(pk=team.pk)))


@router.put("/teams/{int:team_id}/members", response=TeamOut, auth=requires_api("accounts.manage"))
def team_members_set(request: ApiRequest, team_id: PathId, payload: TeamMembersIn) -> Any:
    """Set the team's members to exactly these people; 422 naming `member_ids` for an unknown id."""
    services.team_set_members(
        team_id=team_id,
        member_ids=list(payload.member_ids),
        actor=request.auth,
    )
    return _team_out(selectors.teams_all().get(pk=team_id))


@router.get("/lockouts", response=list[LockoutOut], auth=requires_api("accounts.manage"))
def login_lockouts(request: ApiRequest) -> list[selectors.Lockout]:
    """Usernames and addresses refused at log-in now, after too many failed attempts."""
    return selectors.login_lockouts()


@router.post("/lockouts/release", response=LockReleaseOut, auth=requires_api("accounts.manage"))
def login_lock_release(request: ApiRequest, payload: LockReleaseIn) -> dict[str, int]:
    """Let a locked username or address log in again now; 404 naming `value` if not locked."""
    cleared = services.login_lock_release(
        kind=payload.kind,
        value=payload.value,
        actor=request.auth,
    )
    return {"attempts_cleared": cleared}
