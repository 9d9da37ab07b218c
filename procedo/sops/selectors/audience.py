"""Who runs a revision: the people its steps name, who read it, and what each has to read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max, Q, QuerySet

from procedo.accounts.models import Team, User
from procedo.sops.describe import definition_lines
from procedo.sops.models import (
    Acknowledgement,
    Revision,
    RevisionState,
    Sop,
)
from procedo.sops.selectors.sops import DiffLine, lines_diff


@dataclass(frozen=True)
class Audience:
    """The roles, teams and people a revision's steps hand work to."""

    roles: frozenset[str]
    team_ids: frozenset[int]
    user_ids: frozenset[int]

    def includes(self, *, role: str, team_ids: set[int], user_id: int) -> bool:
        return role in self.roles or bool(self.team_ids & team_ids) or user_id in self.user_ids


def audience_of(revision: Revision) -> Audience:
    """Read from the steps' assignees: a role, a team, a person, or the SOP's owner.

    The people asked to read a revision are those who may be handed one of its
    steps: everyone with a role a step names, every member of a team a step
    names, every person a step names, and the SOP's owner only when a step goes
    to "the SOP's owner" (owners who merely wrote it are not asked).
    """
    roles: set[str] = set()
    teams: set[int] = set()
    users: set[int] = set()
    for step in (revision.definition or {}).get("steps", []):
        assignee = step.get("assignee") if isinstance(step, dict) else None
        if not isinstance(assignee, dict):
            continue
        kind = assignee.get("kind")
        if kind == "role" and assignee.get("role"):
            roles.add(str(assignee["role"]))
        elif kind == "team" and assignee.get("team_id"):
            teams.add(int(assignee["team_id"]))
        elif kind == "user" and assignee.get("user_id"):
            users.add(int(assignee["user_id"]))
        elif kind == "sop_owner":
            users.add(revision.sop.owner_id)
    return Audience(frozenset(roles), frozenset(teams), frozenset(users))


def revision_audience(*, revision: Revision) -> QuerySet[User]:
    """Active people who run this revision (see audience_of): one query, no duplicates."""
    audience = audience_of(revision)
    members = Team.members.through.objects.filter(team_id__in=audience.team_ids).values("user_id")
    return User.objects.filter(is_active=True).filter(
        Q(role__in=audience.roles) | Q(pk__in=audience.user_ids) | Q(pk__in=members)
    )


def acknowledgement_pending(*, revision: Revision) -> QuerySet[User]:
    """Who runs this revision and has not confirmed it yet."""
    confirmed = Acknowledgement.objects.filter(revision=revision).values("user_id")
    return revision_audience(revision=revision).exclude(pk__in=confirmed)


@dataclass(frozen=True)
class AckRow:
    user: User
    last_number: int | None  # the latest revision of this SOP they confirmed
    confirmed_at: datetime | None


@dataclass
class AckBoard:
    revision: Revision | None  # what is to be read: the published revision (else the pilot)
    rows: list[AckRow]
    others: list[Acknowledgement]  # confirmed it without being asked

    @property
    def pending(self) -> list[AckRow]:
        number = self.revision.number if self.revision else None
        return [row for row in self.rows if row.last_number != number]

    @property
    def confirmed(self) -> list[AckRow]:
        number = self.revision.number if self.revision else None
        return [row for row in self.rows if row.last_number == number]


def acknowledgement_board(*, sop: Sop) -> AckBoard:
    """Who has read the live revision, who read an older one, who none: two queries."""
    revision = (
        Revision.objects.select_related("sop")
        .filter(sop=sop, state__in=(RevisionState.PUBLISHED, RevisionState.PILOT))
        .order_by("-number")
        .first()
    )
    if revision is None:
        return AckBoard(revision=None, rows=[], others=[])
    of_sop = Q(sop_acknowledgements__revision__sop_id=sop.pk)
    people = (
        User.objects.filter(pk__in=revision_audience(revision=revision).values("pk"))
        .annotate(
            last_number=Max("sop_acknowledgements__revision__number", filter=of_sop),
            confirmed_at=Max("sop_acknowledgements__confirmed_at", filter=of_sop),
        )
        .order_by("first_name", "last_name", "username")
    )
    rows = [AckRow(user, user.last_number, user.confirmed_at) for user in people]
    asked = {row.user.pk for row in rows}
    others = [
        ack
        for ack in Acknowledgement.objects.filter(revision=revision)
        .select_related("user")
        .order_by("confirmed_at")
        if ack.user_id not in asked
    ]
    return AckBoard(revision=revision, rows=rows, others=others)


@dataclass
class OnboardingItem:
    sop: Sop
    revision: Revision  # the published revision, to read and confirm
    confirmed_number: int | None  # the latest revision of it they confirmed
    confirmed_at: datetime | None
    lines: list[str]  # the SOP in words
    changes: list[DiffLine]  # what changed since the revision they confirmed

    @property
    def confirmed(self) -> bool:
        return self.confirmed_number == self.revision.number


def onboarding_list(*, user: User) -> list[OnboardingItem]:
    """The published SOPs whose steps go to this person's role, teams or to them.

    Not yet confirmed first. For one they confirmed an older revision of, the
    diff since that revision (in words, as the revision page shows it).
    """
    team_ids = set(user.teams.values_list("pk", flat=True))
    published = Revision.objects.filter(state=RevisionState.PUBLISHED).select_related(
        "sop", "sop__owner"
    )
    mine = [
        revision
        for revision in published
        if audience_of(revision).includes(role=user.role, team_ids=team_ids, user_id=user.pk)
    ]
    latest: dict[int, tuple[int | None, datetime | None, int | None]] = {}
    for sop_id, seen_number, seen_at, seen_id in Acknowledgement.objects.filter(
        user=user, revision__sop_id__in=[revision.sop_id for revision in mine]
    ).values_list("revision__sop_id", "revision__number", "confirmed_at", "revision_id"):
        if sop_id not in latest or seen_number > (latest[sop_id][0] or 0):
            latest[sop_id] = (seen_number, seen_at, seen_id)
    before = {
        revision.pk: revision
        for revision in Revision.objects.filter(
            pk__in=[item[2] for item in latest.values()]
        ).select_related("sop")
    }
    items = []
    for revision in mine:
        number, confirmed_at, confirmed_id = latest.get(revision.sop_id, (None, None, None))
        changes: list[DiffLine] = []
        if confirmed_id is not None and confirmed_id != revision.pk:
            changes = [
                line for line in lines_diff(before[confirmed_id], revision) if line.op != " "
            ]
        items.append(
            OnboardingItem(
                sop=revision.sop,
                revision=revision,
                confirmed_number=number,
                confirmed_at=confirmed_at,
                lines=definition_lines(revision.definition, subject_type=revision.sop.subject_type),
                changes=changes,
            )
        )
    items.sort(key=lambda item: (item.confirmed, item.sop.name.lower()))
    return items
