"""The lag rules of the municipality overview (pure Python)."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest

from buurtbudget.domain import monitoring as rules

LIMITS = rules.LagThresholds()


def test_low_turnout_is_below_a_share_of_the_median():
    median = rules.median_turnout([Fraction(1, 10), None, Fraction(3, 10), Fraction(2, 10)])
    assert median == Fraction(2, 10)
    assert rules.low_turnout(Fraction(9, 100), median, 50)
    assert not rules.low_turnout(Fraction(10, 100), median, 50)
    assert not rules.low_turnout(None, median, 50)
    assert rules.median_turnout([None]) is None


def test_unspent_money_counts_after_the_configured_month():
    assert rules.months_passed(2025, date(2026, 2, 1)) == 12
    assert rules.months_passed(2026, date(2026, 10, 3)) == 9
    assert rules.months_passed(2027, date(2026, 10, 3)) == 0
    assert not rules.too_much_unspent(1000, 900, 2026, date(2026, 9, 30), LIMITS)
    assert rules.too_much_unspent(1000, 501, 2026, date(2026, 10, 1), LIMITS)
    assert not rules.too_much_unspent(1000, 500, 2026, date(2026, 10, 1), LIMITS)
    assert not rules.too_much_unspent(0, 0, 2020, date(2026, 10, 1), LIMITS)


def test_report_deadline_and_meetings_pro_rata():
    assert rules.report_deadline(2025, LIMITS) == date(2026, 4, 1)
    assert not rules.report_late(2025, None, date(2026, 4, 1), LIMITS)
    assert rules.report_late(2025, None, date(2026, 4, 2), LIMITS)
    assert rules.report_late(2025, date(2026, 4, 2), date(2026, 4, 2), LIMITS)
    assert not rules.report_late(2025, date(2026, 3, 31), date(2027, 1, 1), LIMITS)
    assert rules.meetings_expected(4, 2026, date(2026, 7, 1)) == 2
    assert rules.too_few_meetings_so_far(1, 4, 2026, date(2026, 7, 1))
    assert not rules.too_few_meetings_so_far(0, 4, 2026, date(2026, 3, 1))
    assert not rules.too_few_meetings_so_far(0, 0, 2025, date(2026, 3, 1))


def test_thresholds_are_checked():
    assert rules.parse_month_day("04-01") == (4, 1)
    for bad in ("13-01", "02-30", "april"):
        with pytest.raises(ValueError):
            rules.parse_month_day(bad)
    with pytest.raises(ValueError):
        rules.LagThresholds(unspent_percent=101)
    assert rules.per_inhabitant_cents(1_000, 3) == 333
    assert rules.per_inhabitant_cents(1_001, 2) == 501
    assert rules.per_inhabitant_cents(5, None) is None
    assert rules.percent(Fraction(1, 3)) == 33.3
