"""Writes of segments, RFM, campaigns and the ladder; each records its Event in its transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor, actor_person
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.core.idempotency import idempotent
from procedo.events.services.recording import event_record, events_insert_select
from procedo.marketing import rules, selectors
from procedo.marketing.models import (
    Campaign,
    CampaignRecipient,
    CampaignState,
    CustomerRfm,
    LadderStep,
    Match,
    Segment,
)

MAX_NAME = 200
MAX_HOLDOUT = 50
MAX_ATTRIBUTION_DAYS = 90
MAX_LADDER = 5


def _name_clean(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise DomainError(field="name", message=_("Give it a name."))
    if len(name) > MAX_NAME:
        raise DomainError(
            field="name", message=_("A name has at most %(n)s characters.") % {"n": MAX_NAME}
        )
    return name


def _match_clean(match: str) -> str:
    if match not in Match.values:
        raise DomainError(
            field="match", message=_("Match is “all” or “any”, not “%(m)s”.") % {"m": match[:20]}
        )
    return match


def _moment(value: datetime) -> Any:
    """A time as the ORM stores it, for a raw statement (SQLite keeps naive UTC text)."""
    return connection.ops.adapt_datetimefield_value(value)


# ---------------------------------------------------------------- segments


@idempotent("segment.create", replay=lambda pk: Segment.objects.get(pk=pk))
@transaction.atomic
def segment_create(
    *,
    name: str,
    match: str,
    rules_: Sequence[Mapping[str, Any]],
    actor: Actor,
    idempotency_key: str | None = None,
) -> Segment:
    segment = Segment.objects.create(
        name=_name_clean(name),
        match=_match_clean(match),
        rules=rules.rules_clean(rules_),
        created_by=actor_person(actor),
    )
    event_record(
        event_type="segment.created",
        subject=segment,
        actor=actor,
        payload={"name": segment.name, "rules": len(segment.rules)},
        idempotency_key=idempotency_key,
    )
    return segment


@transaction.atomic
def segment_update(
    *, segment_id: int, name: str, match: str, rules_: Sequence[Mapping[str, Any]], actor: Actor
) -> Segment:
    segment = selectors.segment_get(segment_id)
    segment.name, segment.match = _name_clean(name), _match_clean(match)
    segment.rules = rules.rules_clean(rules_)
    segment.updated_at = timezone.now()
    segment.save()
    event_record(
        event_type="segment.changed",
        subject=segment,
        actor=actor,
        payload={"name": segment.name, "rules": len(segment.rules)},
    )
    return segment


@transaction.atomic
def segment_delete(*, segment_id: int, actor: Actor) -> None:
    segment = selectors.segment_get(segment_id)
    if segment.campaigns.exists():
        raise Conflict(
            field="segment_id",
            message=_("Campaigns use the segment “%(name)s”; it is kept for their figures.")
            % {"name": segment.name},
        )
    event_record(
        event_type="segment.deleted", subject=segment, actor=actor, payload={"name": segment.name}
    )
    segment.delete()


# ---------------------------------------------------------------- RFM

# R, F, M are quintiles (5 best) by NTILE over every customer with an order; F and M
# give equal values the lowest tile among them (MIN … OVER PARTITION BY the value), so
# two customers with one order each never land in different tiles. The groups are the
# usual R×F grid.
_RFM_GROUP = """
CASE
  WHEN r = 5 AND f >= 4 THEN 'champions'
  WHEN r >= 3 AND f >= 4 THEN 'loyal'
  WHEN r >= 4 AND f >= 2 THEN 'potential_loyalist'
  WHEN r = 5 THEN 'new'
  WHEN r = 4 THEN 'promising'
  WHEN r = 3 AND f = 3 THEN 'need_attention'
  WHEN r = 3 THEN 'about_to_sleep'
  WHEN f = 5 THEN 'cant_lose'
  WHEN f >= 3 THEN 'at_risk'
  WHEN r = 1 AND f = 1 THEN 'lost'
  ELSE 'hibernating'
END"""


def _rfm_merges() -> bool:
    """Whether the refresh writes with MERGE (PostgreSQL 15 and later) rather than an upsert."""
    return connection.vendor == "postgresql" and connection.get_database_version() >= (15,)


def _rfm_sql() -> tuple[str, str]:
    from procedo.customers.models import Customer

    q = connection.ops.quote_name
    customers, rfm = q(Customer._meta.db_table), q(CustomerRfm._meta.db_table)
    group = q("group")
    scores = f"""
WITH base AS (
  SELECT id AS customer_id, last_order_at, orders_count AS frequency, lifetime_value AS monetary
  FROM {customers}
  WHERE merged_into_id IS NULL AND orders_count > 0 AND last_order_at IS NOT NULL
), tiled AS (
  SELECT customer_id, last_order_at, frequency, monetary,
    NTILE(5) OVER (ORDER BY last_order_at, customer_id) AS r,
    NTILE(5) OVER (ORDER BY frequency, customer_id) AS f0,
    NTILE(5) OVER (ORDER BY monetary, customer_id) AS m0
  FROM base
), scored AS (
  SELECT customer_id, last_order_at, frequency, monetary, r,
    MIN(f0) OVER (PARTITION BY frequency) AS f,
    MIN(m0) OVER (PARTITION BY monetary) AS m
  FROM tiled
), grouped AS (
  SELECT customer_id, last_order_at, frequency, monetary, r, f, m, {_RFM_GROUP} AS {group},
    %s AS computed_at
  FROM scored
)"""  # noqa: S608 (names from the models' meta, values as parameters)
    # The same SET and WHERE serve both forms: the new row is `excluded`, the kept one `t`.
    update = f"""
  last_order_at = excluded.last_order_at, frequency = excluded.frequency,
  monetary = excluded.monetary, r = excluded.r, f = excluded.f, m = excluded.m,
  {group} = excluded.{group}, computed_at = excluded.computed_at,
  previous_group = CASE WHEN t.{group} <> excluded.{group}
    THEN t.{group} ELSE t.previous_group END,
  group_since = CASE WHEN t.{group} <> excluded.{group}
    THEN excluded.computed_at ELSE t.group_since END"""
    moved = """
t.r <> excluded.r OR t.f <> excluded.f OR t.m <> excluded.m
  OR t.last_order_at <> excluded.last_order_at OR t.frequency <> excluded.frequency
  OR t.monetary <> excluded.monetary"""
    columns = f"""customer_id, last_order_at, frequency, monetary, r, f, m, {group},
  previous_group, group_since, computed_at"""
    if _rfm_merges():
        # MERGE inserts the new rows plainly and leaves the unchanged ones untouched;
        # the upsert tries each row's insert first and locks every row it then skips.
        write = f"""
MERGE INTO {rfm} AS t USING grouped AS excluded ON t.customer_id = excluded.customer_id
WHEN MATCHED AND ({moved}) THEN UPDATE SET {update}
WHEN NOT MATCHED THEN INSERT ({columns})
  VALUES (excluded.customer_id, excluded.last_order_at, excluded.frequency, excluded.monetary,
    excluded.r, excluded.f, excluded.m, excluded.{group}, '', excluded.computed_at,
    excluded.computed_at)"""  # noqa: S608
    else:
        write = f"""
INSERT INTO {rfm} AS t ({columns})
SELECT customer_id, last_order_at, frequency, monetary, r, f, m, {group}, '', computed_at,
  computed_at
FROM grouped WHERE true
ON CONFLICT (customer_id) DO UPDATE SET {update}
WHERE {moved}"""  # noqa: S608
    gone = f"""
DELETE FROM {rfm} WHERE NOT EXISTS (
  SELECT 1 FROM {customers} c WHERE c.id = {rfm}.customer_id AND c.merged_into_id IS NULL
  AND c.orders_count > 0 AND c.last_order_at IS NOT NULL)
"""  # noqa: S608
    return scores + write, gone


def _rfm_moves_sql() -> str:
    """One `rfm.group_changed` row per customer this refresh moved to another group (a
    customer scored for the first time has no group to move from, and no event)."""
    q = connection.ops.quote_name
    rfm, group = q(CustomerRfm._meta.db_table), q("group")
    json = "json_build_object" if connection.vendor == "postgresql" else "json_object"
    return f"""
SELECT 'rfm.group_changed' AS event_type, 'customer' AS subject_type,
  customer_id AS subject_id, customer_id,
  {json}('from_group', previous_group, 'to_group', {group}) AS payload,
  %s || CAST(customer_id AS TEXT) AS idempotency_key
FROM {rfm} WHERE group_since = %s AND previous_group <> ''
"""  # noqa: S608 (names from the models' meta, values as parameters)


@transaction.atomic
def rfm_refresh(*, now: datetime | None = None) -> dict[str, int]:
    """Score every customer with an order in two statements (a MERGE or an upsert, and a
    delete), and record a `rfm.group_changed` per customer moved to another group in a third.

    Only rows whose scores or inputs moved are written, so a refresh when little
    changed writes little; the quintiles themselves need the whole population. The
    moves are read back from the rows stamped with this refresh's time, so the events
    are one INSERT … SELECT and commit or vanish with the scores.
    """
    now = now or timezone.now()
    write, gone = _rfm_sql()
    with connection.cursor() as cursor:
        if _rfm_merges():
            # Unlike the upsert, MERGE fails on a row another refresh inserted meanwhile:
            # refreshes take turns (readers are not held up).
            table = connection.ops.quote_name(CustomerRfm._meta.db_table)
            cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute(write, [_moment(now)])
        cursor.execute(gone)
        removed = max(cursor.rowcount, 0)
    moved = events_insert_select(
        _rfm_moves_sql(),
        [f"rfm:{now:%Y%m%dT%H%M%S%f}:", _moment(now)],
        occurred_at=now,
    )
    # sqlite3 reports no rowcount for a statement that starts with WITH; the rows this
    # refresh wrote are those stamped with its time (both counts in one pass).
    counts = CustomerRfm.objects.aggregate(
        scored=Count("pk"), changed=Count("pk", filter=Q(computed_at=now))
    )
    result = {**counts, "removed": removed, "moved": moved}
    event_record(event_type="rfm.refreshed", subject_type="business", subject_id=1, payload=result)
    return result


def rfm_move_to_customer(survivor_id: int, duplicate_id: int) -> int:
    """Merge participant: the duplicate's score goes; the next refresh scores the survivor."""
    deleted, _counts = CustomerRfm.objects.filter(customer_id=duplicate_id).delete()
    return deleted


# ---------------------------------------------------------------- campaigns


def _campaign_values_clean(
    *, segment_id: int, template_id: int, holdout_percent: int, attribution_days: int
) -> tuple[Segment, Any]:
    from procedo.messaging.models import Template

    segment = selectors.segment_get(segment_id)
    template = Template.objects.filter(pk=template_id).first()
    if template is None:
        raise NotFound(field="template_id", message=_("No template %(id)s.") % {"id": template_id})
    if not 0 <= holdout_percent <= MAX_HOLDOUT:
        raise DomainError(
            field="holdout_percent",
            message=_("Hold out from 0 to %(n)s %% of the audience.") % {"n": MAX_HOLDOUT},
        )
    if not 1 <= attribution_days <= MAX_ATTRIBUTION_DAYS:
        raise DomainError(
            field="attribution_days",
            message=_("Attribute orders within 1 to %(n)s days.") % {"n": MAX_ATTRIBUTION_DAYS},
        )
    return segment, template


def _audience_check(segment: Segment, channel: str) -> int:
    """The number who would get it; a refusal naming the segment when nobody would."""
    audience = selectors.segment_customers(segment)
    if not audience.exists():
        raise DomainError(
            field="segment_id",
            message=_("The segment “%(name)s” has no customers: nothing to send.")
            % {"name": segment.name},
        )
    reachable = selectors.consented(audience, channel).count()
    if not reachable:
        raise DomainError(
            field="segment_id",
            message=_(
                "No customer of the segment “%(name)s” has given marketing consent for "
                "%(channel)s: nothing to send."
            )
            % {"name": segment.name, "channel": channel},
        )
    return reachable


@idempotent("campaign.create", replay=lambda pk: Campaign.objects.get(pk=pk))
@transaction.atomic
def campaign_create(
    *,
    name: str,
    segment_id: int,
    template_id: int,
    scheduled_at: datetime | None,
    holdout_percent: int,
    attribution_days: int,
    actor: Actor,
    idempotency_key: str | None = None,
) -> Campaign:
    """A draft (or, with `scheduled_at`, a scheduled) campaign; refused if nobody would get it."""
    segment, template = _campaign_values_clean(
        segment_id=segment_id,
        template_id=template_id,
        holdout_percent=holdout_percent,
        attribution_days=attribution_days,
    )
    _audience_check(segment, template.channel)
    if scheduled_at is not None and scheduled_at < timezone.now():
        raise DomainError(field="scheduled_at", message=_("Schedule it in the future."))
    campaign = Campaign.objects.create(
        name=_name_clean(name),
        segment=segment,
        template=template,
        scheduled_at=scheduled_at,
        holdout_percent=holdout_percent,
        attribution_days=attribution_days,
        state=CampaignState.SCHEDULED if scheduled_at else CampaignState.DRAFT,
        created_by=actor_person(actor),
    )
    event_record(
        event_type="campaign.created",
        subject=campaign,
        actor=actor,
        payload={"name": campaign.name, "segment_id": segment.pk, "state": campaign.state},
        idempotency_key=idempotency_key,
    )
    return campaign


# Holdout: a stable hash of (customer, campaign) into 0..99, in integer arithmetic that
# SQLite and PostgreSQL compute alike, so a resend after a crash holds out the same people.
# The multiplier is about 0.618 of the modulus, so neighbouring ids land far apart.
_MODULUS, _MULTIPLIER = 1_000_003, 618_034


def _salt(campaign_id: int) -> int:
    return (campaign_id * 40503 + 17) % _MODULUS


def holdout_bucket(customer_id: int, campaign_id: int) -> int:
    """0..99; the customer is held out of the campaign when it is below its holdout share."""
    return (customer_id * _MULTIPLIER + _salt(campaign_id)) % _MODULUS * 100 // _MODULUS


def _bucket(campaign_id: int) -> Any:
    """`holdout_bucket` in SQL, over the customers' ids."""
    return (F("pk") * _MULTIPLIER + _salt(campaign_id)) % _MODULUS * 100 / _MODULUS


def _recipients_insert(campaign: Campaign, now: datetime) -> None:
    """The audience as it is now, in one INSERT … SELECT; a repeat adds nobody twice."""
    audience = selectors.consented(
        selectors.segment_customers(campaign.segment, now=now), campaign.template.channel
    )
    sql, params = (
        audience.annotate(c_id=F("pk"), c_bucket=_bucket(campaign.pk))
        .values("c_id", "c_bucket")
        .query.sql_with_params()
    )
    q = connection.ops.quote_name
    table = q(CampaignRecipient._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (campaign_id, customer_id, held_out, created_at) "  # noqa: S608
            f"SELECT %s, src.c_id, src.c_bucket < %s, %s FROM ({sql}) src WHERE true "
            "ON CONFLICT (campaign_id, customer_id) DO NOTHING",
            [campaign.pk, int(campaign.holdout_percent), _moment(now), *params],
        )


def _outgoing(campaign: Campaign) -> list[Any]:
    from procedo.customers.models import Identity
    from procedo.messaging.services.queueing import Outgoing

    kind = "email" if campaign.template.channel == "email" else "phone"
    address = (
        Identity.objects.filter(
            customer_id=OuterRef("customer_id"), kind=kind, marketing_consent="granted"
        )
        .order_by("id")
        .values("value")[:1]
    )
    rows = (
        CampaignRecipient.objects.filter(campaign=campaign, held_out=False)
        .annotate(address=Subquery(address))
        .exclude(address=None)
        .order_by("customer_id")
        .values_list("customer_id", "address")
    )
    return [
        Outgoing(
            recipient=to,
            # The ledger's own key: a retried send finds the row and queues nothing.
            idempotency_key=f"{campaign.source}:customer:{customer_id}",
            customer_id=customer_id,
        )
        for customer_id, to in rows
    ]


@idempotent("campaign.send", replay=lambda pk: Campaign.objects.get(pk=pk))
@transaction.atomic
def campaign_send(
    *,
    campaign_id: int,
    actor: Actor,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Campaign:
    """Choose the audience, hold out its share and queue one message per reachable customer.

    One transaction: a crash leaves the campaign as it was, and a retry does it all
    again; the messages' keys (`campaign:<id>:customer:<id>`) make a message queued
    twice impossible anyway. Consent, quiet hours and the frequency cap are applied
    by the sender when each message goes out (procedo.messaging.unsubscribe).
    """
    from procedo.messaging.models import MessageKind
    from procedo.messaging.services.queueing import messages_queue_many

    now = now or timezone.now()
    campaign = selectors.campaign_get(campaign_id)
    if campaign.state == CampaignState.SENT:
        return campaign
    if campaign.state == CampaignState.CANCELLED:
        raise Conflict(field="state", message=_("The campaign was cancelled."))
    _audience_check(campaign.segment, campaign.template.channel)
    moved = Campaign.objects.filter(
        pk=campaign.pk, state__in=[CampaignState.DRAFT, CampaignState.SCHEDULED]
    ).update(state=CampaignState.SENDING, started_at=now)
    if moved != 1:
        raise Conflict(field="state", message=_("The campaign is being sent already."))
    campaign.started_at = now
    _recipients_insert(campaign, now)
    queued = messages_queue_many(
        channel=campaign.template.channel,
        kind=MessageKind.MARKETING,
        items=_outgoing(campaign),
        source=campaign.source,
        template_key=campaign.template.key,
    )
    held = CampaignRecipient.objects.filter(campaign=campaign, held_out=True).count()
    Campaign.objects.filter(pk=campaign.pk).update(state=CampaignState.SENT)
    campaign.state = CampaignState.SENT
    event_record(
        event_type="campaign.sent",
        subject=campaign,
        actor=actor,
        payload={"queued": queued, "held_out": held},
        idempotency_key=idempotency_key or f"{campaign.source}:sent",
    )
    return campaign


@transaction.atomic
def campaign_cancel(*, campaign_id: int, actor: Actor) -> Campaign:
    campaign = selectors.campaign_get(campaign_id)
    moved = Campaign.objects.filter(
        pk=campaign.pk, state__in=[CampaignState.DRAFT, CampaignState.SCHEDULED]
    ).update(state=CampaignState.CANCELLED)
    if moved != 1:
        raise Conflict(field="state", message=_("Only a campaign not sent yet can be cancelled."))
    campaign.state = CampaignState.CANCELLED
    event_record(event_type="campaign.cancelled", subject=campaign, actor=actor)
    return campaign


def campaigns_send_due(*, now: datetime | None = None) -> int:
    """Send the scheduled campaigns whose time has come; one refused is left for a person."""
    now = now or timezone.now()
    sent = 0
    due = Campaign.objects.filter(state=CampaignState.SCHEDULED, scheduled_at__lte=now)
    for campaign_id in due.values_list("pk", flat=True)[:20]:
        try:
            campaign_send(
                campaign_id=campaign_id,
                actor=None,
                idempotency_key=f"campaign:{campaign_id}:scheduled",
                now=now,
            )
            sent += 1
        except DomainError as exc:
            with transaction.atomic():
                Campaign.objects.filter(pk=campaign_id, state=CampaignState.SCHEDULED).update(
                    state=CampaignState.DRAFT
                )
                event_record(
                    event_type="campaign.refused",
                    subject_type="campaign",
                    subject_id=campaign_id,
                    payload={"field": exc.field, "reason": exc.message},
                )
    return sent


# ---------------------------------------------------------------- the product ladder


def _ladder_statements(now: datetime) -> list[tuple[str, list[Any]]]:
    """The ladder as statements over temporary tables, none of them sorting every line pair.

    Orders average twenty-odd lines, so consecutive orders make hundreds of product pairs
    each (ten million over the retail file). So: each customer's orders are paired with
    their next once (a window over orders, not over lines); each order's products are made
    distinct and indexed once; the pairs are counted per (product, next product) in one
    GROUP BY, keeping only those that can still be in their product's top MAX_LADDER; and
    only those few are read again for their median days (the one sort by days).
    """
    from procedo.catalog.models import Sku
    from procedo.orders.models import Order, OrderLine, OrderStatus

    q = connection.ops.quote_name
    orders, lines = q(Order._meta.db_table), q(OrderLine._meta.db_table)
    skus, statuses = q(Sku._meta.db_table), q(OrderStatus._meta.db_table)
    ladder = q(LadderStep._meta.db_table)
    if connection.vendor == "postgresql":
        days = "CAST(FLOOR(EXTRACT(EPOCH FROM (s.next_at - s.placed_at)) / 86400) AS INTEGER)"
    else:
        days = "CAST(julianday(s.next_at) - julianday(s.placed_at) AS INTEGER)"
    # Each customer's orders that bought a product, one row per order and the one after it.
    steps = f"""
CREATE TEMPORARY TABLE ladder_next AS
SELECT s.customer_id, s.order_id, s.next_order, {days} AS days
FROM (
  SELECT o.customer_id, o.id AS order_id, o.placed_at,
    LEAD(o.id) OVER w AS next_order, LEAD(o.placed_at) OVER w AS next_at
  FROM {orders} o
  JOIN {statuses} st ON st.code = o.status
  WHERE o.customer_id IS NOT NULL AND o.kind = 'sale' AND st.category <> 'cancelled'
    AND EXISTS (SELECT 1 FROM {lines} l JOIN {skus} k ON k.id = l.sku_id WHERE l.order_id = o.id)
  WINDOW w AS (PARTITION BY o.customer_id ORDER BY o.placed_at, o.id)
) s
WHERE s.next_order IS NOT NULL
"""  # noqa: S608 (names from the models' meta)
    bought = f"""
CREATE TEMPORARY TABLE ladder_bought AS
SELECT DISTINCT l.order_id, k.product_id
FROM {lines} l JOIN {skus} k ON k.id = l.sku_id
WHERE l.order_id IN (SELECT order_id FROM ladder_next UNION SELECT next_order FROM ladder_next)
"""  # noqa: S608 (names from the models' meta)
    # Per (product, next product) its customers, and its rank among the product's next
    # products: a rank of MAX_LADDER or better is all that can still make the top (ties
    # share a rank; the median days decide among them below).
    candidates = """
CREATE TEMPORARY TABLE ladder_candidates AS
SELECT product_id, next_product_id, customers
FROM (
  SELECT a.product_id, b.product_id AS next_product_id,
    COUNT(DISTINCT t.customer_id) AS customers,
    RANK() OVER (
      PARTITION BY a.product_id ORDER BY COUNT(DISTINCT t.customer_id) DESC
    ) AS ranking
  FROM ladder_next t
  JOIN ladder_bought a ON a.order_id = t.order_id
  JOIN ladder_bought b ON b.order_id = t.next_order
  WHERE a.product_id <> b.product_id
  GROUP BY a.product_id, b.product_id
) counted
WHERE ranking <= %s
"""
    # The candidates' (customer, days) once each, for their median days.
    pairs = """
CREATE TEMPORARY TABLE ladder_pairs AS
SELECT DISTINCT c.product_id, c.next_product_id, t.customer_id, t.days
FROM ladder_candidates c
JOIN ladder_bought a ON a.product_id = c.product_id
JOIN ladder_next t ON t.order_id = a.order_id
JOIN ladder_bought b ON b.order_id = t.next_order AND b.product_id = c.next_product_id
"""
    medians = """
CREATE TEMPORARY TABLE ladder_medians AS
WITH ordered AS (
  SELECT product_id, next_product_id, days,
    ROW_NUMBER() OVER (PARTITION BY product_id, next_product_id ORDER BY days) AS n,
    COUNT(*) OVER (PARTITION BY product_id, next_product_id) AS pairs
  FROM ladder_pairs
)
SELECT product_id, next_product_id, CAST(ROUND(AVG(days)) AS INTEGER) AS median_days
FROM ordered
WHERE n IN ((pairs + 1) / 2, (pairs + 2) / 2)
GROUP BY product_id, next_product_id
"""
    insert = f"""
WITH ranked AS (
  SELECT c.product_id, c.next_product_id, c.customers, m.median_days,
    ROW_NUMBER() OVER (
      PARTITION BY c.product_id ORDER BY c.customers DESC, m.median_days, c.next_product_id
    ) AS position
  FROM ladder_candidates c
  JOIN ladder_medians m ON m.product_id = c.product_id AND m.next_product_id = c.next_product_id
)
INSERT INTO {ladder}
  (product_id, next_product_id, position, manual, customers, median_days, computed_at)
SELECT product_id, next_product_id, position, %s, customers, median_days, %s
FROM ranked WHERE position <= %s
"""  # noqa: S608 (names from the models' meta, values as parameters)
    return [
        (steps, []),
        (bought, []),
        ("CREATE INDEX ladder_bought_order ON ladder_bought (order_id, product_id)", []),
        ("CREATE INDEX ladder_bought_product ON ladder_bought (product_id)", []),
        ("CREATE INDEX ladder_next_order ON ladder_next (order_id)", []),
        # Temporary tables have no statistics until asked (PostgreSQL's autovacuum skips
        # them): without them the planner loops over the pairs instead of hashing them.
        ("ANALYZE ladder_next", []),
        ("ANALYZE ladder_bought", []),
        (candidates, [MAX_LADDER]),
        ("ANALYZE ladder_candidates", []),
        (pairs, []),
        (medians, []),
        ("CREATE INDEX ladder_medians_pair ON ladder_medians (product_id, next_product_id)", []),
        (insert, [False, _moment(now), MAX_LADDER]),
    ]


_LADDER_TABLES = (
    "ladder_next",
    "ladder_bought",
    "ladder_candidates",
    "ladder_pairs",
    "ladder_medians",
)


@transaction.atomic
def ladder_compute(*, now: datetime | None = None) -> int:
    """Replace the computed ladder from the order history, set-based over temporary tables."""
    now = now or timezone.now()
    LadderStep.objects.filter(manual=False).delete()
    with connection.cursor() as cursor:
        for table in _LADDER_TABLES:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        for statement, params in _ladder_statements(now):
            cursor.execute(statement, params or None)
        for table in _LADDER_TABLES:
            cursor.execute(f"DROP TABLE {table}")
    written = LadderStep.objects.filter(manual=False).count()
    event_record(
        event_type="ladder.computed",
        subject_type="business",
        subject_id=1,
        payload={"steps": written},
    )
    return written


@transaction.atomic
def ladder_set(
    *, product_id: int, next_product_ids: Sequence[int], actor: Actor
) -> list[LadderStep]:
    """A manager's ladder for a product (an empty list returns it to the computed one)."""
    from procedo.catalog.models import Product

    if not Product.objects.filter(pk=product_id).exists():
        raise NotFound(field="product_id", message=_("No product %(id)s.") % {"id": product_id})
    wanted = list(dict.fromkeys(int(pk) for pk in next_product_ids))
    if len(wanted) > MAX_LADDER:
        raise DomainError(
            field="next_product_ids",
            message=_("A ladder has at most %(n)s steps.") % {"n": MAX_LADDER},
        )
    if product_id in wanted:
        raise DomainError(
            field="next_product_ids", message=_("A product cannot be its own next step.")
        )
    known = set(Product.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    missing = [pk for pk in wanted if pk not in known]
    if missing:
        raise NotFound(
            field="next_product_ids", message=_("No product %(id)s.") % {"id": missing[0]}
        )
    LadderStep.objects.filter(product_id=product_id, manual=True).delete()
    steps = LadderStep.objects.bulk_create(
        LadderStep(product_id=product_id, next_product_id=pk, position=n, manual=True)
        for n, pk in enumerate(wanted, start=1)
    )
    event_record(
        event_type="ladder.set",
        subject_type="product",
        subject_id=product_id,
        actor=actor,
        payload={"next_product_ids": wanted},
    )
    return steps
