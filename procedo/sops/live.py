"""Which revisions the engine runs now, and which of them a given subject gets.

Definitions of revisions out of draft never change, so each is parsed once per
process and kept. Pilot and holdout groups are a stable hash of (SOP,
subject): the same in Python (event batches) and in SQL (sweeps), so a
subject is in the same group whichever way it is reached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, models

from procedo.sops.definitions import Definition, definition_parse
from procedo.sops.models import LIVE_STATES, Revision, RevisionState, Sop

# Knuth's multiplicative hash: consecutive ids spread evenly over the buckets.
_MULTIPLIER = 2654435761
_MODULUS = 4294967296
_SALTS = {"holdout": 104729, "pilot": 7919}

# revision id → (its created_at, parsed definition). The created_at guards against
# an id used again after a rollback (SQLite hands out a rolled-back id again).
_definitions: dict[int, tuple[datetime, Definition]] = {}


def salt(sop_id: int, purpose: str) -> int:
    return (sop_id * 40503 + _SALTS[purpose]) % _MODULUS


def bucket(subject_id: int, salt_value: int) -> int:
    """0..99, stable for (subject, salt)."""
    return ((subject_id * _MULTIPLIER + salt_value) % _MODULUS) * 100 // _MODULUS


class Bucket(models.Expression):
    """`bucket()` in SQL (integer arithmetic, the same on SQLite and PostgreSQL)."""

    output_field = models.BigIntegerField()

    def __init__(self, expression: Any, salt_value: int) -> None:
        super().__init__()
        self.expression = models.F(expression) if isinstance(expression, str) else expression
        self.salt_value = int(salt_value)

    def get_source_expressions(self) -> list[Any]:
        return [self.expression]

    def set_source_expressions(self, exprs: Any) -> None:
        (self.expression,) = exprs

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        sql, params = compiler.compile(self.expression)
        return bucket_sql(sql, self.salt_value), params


def bucket_sql(column_sql: str, salt_value: int) -> str:
    """`bucket()` as SQL over an integer column. Only integer constants are formatted in;
    `%%` is the modulo operator once the statement's parameters are bound."""
    return (
        f"(((({column_sql}) * {_MULTIPLIER} + {int(salt_value)}) %% {_MODULUS}) * 100 / {_MODULUS})"
    )


def _cached(revision_id: int, created_at: datetime) -> Definition | None:
    entry = _definitions.get(revision_id)
    return entry[1] if entry is not None and entry[0] == created_at else None


def _load(wanted: dict[int, datetime]) -> dict[int, Definition]:
    """Definitions of these revisions, parsing (in one query) only those not cached."""
    found: dict[int, Definition] = {}
    missing = []
    for revision_id, created_at in wanted.items():
        hit = _cached(revision_id, created_at)
        if hit is None:
            missing.append(revision_id)
        else:
            found[revision_id] = hit
    if missing:
        rows = Revision.objects.filter(pk__in=missing).values_list(
            "id", "created_at", "state", "definition"
        )
        for revision_id, created_at, state, raw in rows:
            parsed = definition_parse(raw)
            if state != RevisionState.DRAFT:  # a draft may still change
                _definitions[revision_id] = (created_at, parsed)
            found[revision_id] = parsed
    return found


def definition_of(revision_id: int) -> Definition:
    """The parsed definition of a revision (cached once it is out of draft: it never changes)."""
    created_at = (
        Revision.objects.filter(pk=revision_id).values_list("created_at", flat=True).first()
    )
    if created_at is None:
        raise Revision.DoesNotExist(f"no revision {revision_id}")
    return _load({revision_id: created_at})[revision_id]


@dataclass(frozen=True)
class LiveRevision:
    id: int
    state: str
    definition: Definition
    pilot_percent: int | None
    live_since: datetime | None = None
    pilot_members: frozenset[int] = frozenset()
    backlog: str = ""  # models.Backlog: "start" reaches the subjects past the window too
    backlog_at: datetime | None = None

    @property
    def first_step(self) -> tuple[str, str]:
        """(key, kind) of the step a run starts with; ("", "") for a revision without steps."""
        steps = self.definition.steps
        return (steps[0].key, steps[0].kind) if steps else ("", "")


@dataclass
class LiveSop:
    id: int
    name: str
    subject_type: str
    owner_id: int
    holdout_percent: int
    live_since: datetime | None = None
    pace_limit: int | None = None
    pace_period: str = "hour"
    pace_per_assignee: bool = False
    published: LiveRevision | None = None
    pilot: LiveRevision | None = None
    revisions: list[LiveRevision] = field(default_factory=list)

    @property
    def event_types(self) -> set[str]:
        """Every event type a trigger of a live revision hears."""
        return {
            t.event_type
            for revision in self.revisions
            for t in revision.definition.triggers
            if t.kind == "event"
        }

    def revision_for(self, subject_id: int, actor_id: int | None) -> LiveRevision | None:
        """The pilot revision for its group (a team or a share of subjects); else the published."""
        pilot = self.pilot
        if pilot is not None:
            if (
                pilot.pilot_percent
                and bucket(subject_id, salt(self.id, "pilot")) < pilot.pilot_percent
            ):
                return pilot
            if actor_id is not None and actor_id in pilot.pilot_members:
                return pilot
        return self.published

    def held_out(self, subject_id: int) -> bool:
        return bool(self.holdout_percent) and (
            bucket(subject_id, salt(self.id, "holdout")) < self.holdout_percent
        )


# The last answers of live_sops / definitions_that_may_run, and the state of the
# SOP tables they were read at: an engine batch asks one cheap query instead of
# rebuilding them (every service that changes an SOP or a revision moves a time).
_cache: dict[str, tuple[tuple[Any, ...], Any]] = {}


def _fingerprint() -> tuple[Any, ...]:
    revisions = connection.ops.quote_name(Revision._meta.db_table)
    sops = connection.ops.quote_name(Sop._meta.db_table)
    with connection.cursor() as cursor:
        # Only quoted table names are formatted in.
        cursor.execute(
            f"SELECT (SELECT COUNT(*) FROM {revisions}),"  # noqa: S608
            f" (SELECT MAX(updated_at) FROM {revisions}),"
            f" (SELECT MAX(state_changed_at) FROM {revisions}),"
            f" (SELECT MAX(updated_at) FROM {sops})"
        )
        row = cursor.fetchone()
    return tuple(row) if row else ()


def _cached_call(name: str, build: Any) -> Any:
    fingerprint = _fingerprint()
    hit = _cache.get(name)
    if hit is not None and hit[0] == fingerprint:
        return hit[1]
    value = build()
    _cache[name] = (fingerprint, value)
    return value


def live_sops() -> list[LiveSop]:
    """Every SOP with a published or piloted revision (rebuilt only when an SOP changed)."""
    sops: list[LiveSop] = _cached_call("live", _live_sops)
    if any(sop.pilot is not None and sop.pilot.pilot_members for sop in sops):
        # A team's members may change without touching the SOP: read them afresh.
        sops = _live_sops()
    return sops


def _live_sops() -> list[LiveSop]:
    rows = list(
        Revision.objects.filter(state__in=LIVE_STATES)
        .select_related("sop")
        .only(
            "id",
            "state",
            "pilot_percent",
            "pilot_team_id",
            "state_changed_at",
            "created_at",
            "sop__id",
            "sop__name",
            "sop__subject_type",
            "sop__owner_id",
            "sop__holdout_percent",
            "sop__live_since",
            "sop__pace_limit",
            "sop__pace_period",
            "sop__pace_per_assignee",
            "backlog",
            "backlog_at",
        )
        .order_by("sop_id", "id")
    )
    definitions = _load({row.pk: row.created_at for row in rows})
    members: dict[int, set[int]] = {}
    team_ids = {row.pilot_team_id for row in rows if row.pilot_team_id}
    if team_ids:
        from procedo.accounts.models import Team

        for team_id, user_id in Team.members.through.objects.filter(
            team_id__in=team_ids
        ).values_list("team_id", "user_id"):
            members.setdefault(team_id, set()).add(user_id)
    sops: dict[int, LiveSop] = {}
    for row in rows:
        sop = sops.get(row.sop_id)
        if sop is None:
            sop = sops[row.sop_id] = LiveSop(
                id=row.sop.pk,
                name=row.sop.name,
                subject_type=row.sop.subject_type,
                owner_id=row.sop.owner_id,
                holdout_percent=row.sop.holdout_percent,
                live_since=row.sop.live_since,
                pace_limit=row.sop.pace_limit,
                pace_period=row.sop.pace_period,
                pace_per_assignee=row.sop.pace_per_assignee,
            )
        live = LiveRevision(
            id=row.pk,
            state=row.state,
            definition=definitions[row.pk],
            pilot_percent=row.pilot_percent,
            live_since=row.state_changed_at,
            pilot_members=frozenset(members.get(row.pilot_team_id or 0, ())),
            backlog=row.backlog,
            backlog_at=row.backlog_at,
        )
        sop.revisions.append(live)
        if row.state == RevisionState.PUBLISHED:
            sop.published = live
        else:
            sop.pilot = live
    return list(sops.values())


# Revisions that runs may be pinned to: the live ones and those that were live.
_RAN_STATES = (
    RevisionState.APPROVED,
    RevisionState.PILOT,
    RevisionState.PUBLISHED,
    RevisionState.RETIRED,
)


def definitions_that_may_run() -> dict[int, Definition]:
    """Definitions of every revision a run in flight may be pinned to (cached parses)."""

    def build() -> dict[int, Definition]:
        return _load(
            dict(Revision.objects.filter(state__in=_RAN_STATES).values_list("id", "created_at"))
        )

    return dict(_cached_call("may_run", build))
