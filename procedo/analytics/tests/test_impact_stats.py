"""The comparison itself, over many simulated stores: a 95 % interval must cover the true
difference about 95 times in 100, and a small sample must never get a verdict."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from procedo.analytics.impact import BINARY, MIN_GROUP, SPEND, Group, compare, verdict
from procedo.analytics.kpis import KPIS

SEEDS = 400
# With 400 simulations a true 95 % coverage lands in this band 99.7 times in 100.
BAND = (0.917, 0.983)


def _binary(rng: random.Random, n: int, p: float) -> Group:
    hits = sum(rng.random() < p for _ in range(n))
    return Group(subjects=n, total=float(hits))


def _spend(rng: random.Random, n: int, mean_cents: float) -> Group:
    # Skewed, as spend is: most spend little, a few a lot.
    values = [rng.expovariate(1 / mean_cents) for _ in range(n)]
    return Group(subjects=n, total=sum(values), squares=sum(v * v for v in values))


@pytest.mark.parametrize("planted", [0.0, 0.05])
def test_a_rate_interval_covers_the_planted_difference_95_times_in_100(planted: float) -> None:
    kpi = KPIS["reactivation_rate"]
    covered = 0
    for seed in range(SEEDS):
        rng = random.Random(seed)
        effect = compare(kpi, BINARY, _binary(rng, 800, 0.12 + planted), _binary(rng, 200, 0.12))
        assert effect.low is not None and effect.high is not None
        covered += effect.low <= Decimal(str(planted * 100)) <= effect.high
    rate = covered / SEEDS
    print(f"rate, planted {planted * 100:.0f} points: covered in {rate:.1%} of {SEEDS}")
    assert BAND[0] <= rate <= BAND[1]


@pytest.mark.parametrize("planted", [0.0, 1500.0])
def test_a_spend_interval_covers_the_planted_difference_95_times_in_100(planted: float) -> None:
    kpi = KPIS["first_month_spend"]
    covered = 0
    for seed in range(SEEDS):
        rng = random.Random(seed)
        effect = compare(kpi, SPEND, _spend(rng, 800, 10_000 + planted), _spend(rng, 200, 10_000))
        assert effect.low is not None and effect.high is not None
        covered += effect.low <= Decimal(str(planted / 100)) <= effect.high
    rate = covered / SEEDS
    print(f"spend, planted {planted / 100:.2f}: covered in {rate:.1%} of {SEEDS}")
    assert BAND[0] <= rate <= BAND[1]


def test_a_small_shop_gets_not_enough_data_never_a_verdict() -> None:
    kpi = KPIS["repeat_purchase_rate"]
    effect = compare(kpi, BINARY, Group(400, 200.0), Group(MIN_GROUP - 1, 0.0))
    assert not effect.enough and effect.difference is None and not effect.measured
    text = verdict(effect, currency="UAH", per_day=3)
    assert text.startswith("Not enough data yet") and "29 held out" in text


def test_a_clear_effect_is_named_with_its_interval_in_words() -> None:
    kpi = KPIS["repeat_purchase_rate"]
    effect = compare(kpi, BINARY, Group(2000, 500.0), Group(500, 75.0))
    assert effect.measured and effect.good
    text = verdict(effect, currency="UAH", per_day=3)
    assert text.startswith("Raised Repeat-purchase rate within N days by 10.0 points (95 % CI +")


def test_no_effect_yet_says_how_many_more_subjects_and_how_long() -> None:
    kpi = KPIS["repeat_purchase_rate"]
    effect = compare(kpi, BINARY, Group(300, 45.0), Group(60, 7.0))
    assert not effect.measured and effect.more_needed and effect.more_needed > 0
    text = verdict(effect, currency="UAH", per_day=10)
    assert "more subjects are needed" in text and "days at the current rate" in text
