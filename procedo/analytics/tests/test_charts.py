"""A chart's value axis: money written as the figures beside it are, with room for it."""

from __future__ import annotations

from decimal import Decimal

from django.utils import translation

from procedo.analytics.formatting import kpi_axis_label
from procedo.analytics.kpis import Unit
from procedo.core.charts import LABEL_CHARACTER, LEFT, bar_chart
from procedo.core.money import money_format


def test_money_on_an_axis_is_grouped_as_money_is_and_drops_only_zero_cents() -> None:
    label = kpi_axis_label(Unit.MONEY, "UAH")
    assert label(600000.0) == "600\u202f000\xa0₴" == money_format(600000, "UAH", zero_cents=False)
    assert label(2.5) == "2.50\xa0₴"
    with translation.override("uk"):
        assert label(1200000.0) == "1\u202f200\u202f000\xa0₴"
        assert label(2.5) == "2,50\xa0₴"
    assert money_format(Decimal("1500"), "UAH") == "1\u202f500.00\xa0₴"  # the figures keep theirs


def test_the_axis_takes_the_room_its_longest_label_needs() -> None:
    days: list[tuple[str, Decimal | int, str]] = [
        (str(n), Decimal(n * 40000), "") for n in range(1, 31)
    ]  # up to 1 200 000 ₴
    label = kpi_axis_label(Unit.MONEY, "UAH")
    wide = bar_chart(days, value_label=label)
    longest = max(len(tick.label) for tick in wide.ticks)
    assert longest == len("1\u202f200\u202f000\xa0₴")
    assert wide.left >= longest * LABEL_CHARACTER
    assert wide.bars[0].x > wide.left  # the bars start right of the labels
    small = bar_chart([("1", Decimal(3), "")], value_label=label)
    assert small.left == LEFT
