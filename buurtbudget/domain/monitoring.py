"""Signals that an area lags behind: the measurable rules of the municipality overview.

Every rule compares a figure with a threshold the municipality configures (see config.py,
``MONITORING_*``), so the overview can say *why* an area is flagged:

* **low turnout**: the area's turnout is below ``low_turnout_percent`` % of the median turnout
  of the municipality's areas that held a vote (default 50 %: half the median);
* **unspent money**: more than ``unspent_percent`` % of the year's budget is still available
  (neither committed nor paid) after month ``unspent_after_month`` (default: more than 50 %
  after the end of September); a past year is judged as a whole;
* **late report**: the area report (wijkverslag) of the year before was not published by the
  deadline ``report_deadline`` (month, day) of this year (default 1 April);
* **too few meetings**: the area council held fewer public meetings than its budget model
  requires (Zaanstad: 4 a year), pro rata for the months of the year that have passed.

Pure Python: figures in, booleans out.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from fractions import Fraction


@dataclass(frozen=True)
class LagThresholds:
    low_turnout_percent: int = 50
    unspent_percent: int = 50
    unspent_after_month: int = 9
    report_deadline: tuple[int, int] = (4, 1)

    def __post_init__(self) -> None:
        if not 0 <= self.low_turnout_percent <= 100 or not 0 <= self.unspent_percent <= 100:
            raise ValueError("thresholds are percentages")
        if not 0 <= self.unspent_after_month <= 12:
            raise ValueError("the month is 0 (from January) to 12 (after the year)")
        date(2001, *self.report_deadline)  # raises ValueError for an impossible date


def parse_month_day(text: str) -> tuple[int, int]:
    """'04-01' -> (4, 1); raises ValueError for anything that is not a real month-day."""
    month_text, _, day_text = text.strip().partition("-")
    month_day = (int(month_text), int(day_text))
    date(2001, *month_day)
    return month_day


def median_turnout(turnouts: Iterable[Fraction | None]) -> Fraction | None:
    """The median over the areas that voted (None: no area voted)."""
    known = [t for t in turnouts if t is not None]
    return Fraction(statistics.median(known)) if known else None


def low_turnout(turnout: Fraction | None, median: Fraction | None, percent: int) -> bool:
    if turnout is None or not median:
        return False
    return turnout < median * Fraction(percent, 100)


def months_passed(year: int, today: date) -> int:
    """Whole months of ``year`` that have ended by ``today`` (0 to 12)."""
    if year < today.year:
        return 12
    if year > today.year:
        return 0
    return today.month - 1


def too_much_unspent(
    budget_cents: int, available_cents: int, year: int, today: date, thresholds: LagThresholds
) -> bool:
    if budget_cents <= 0 or months_passed(year, today) < thresholds.unspent_after_month:
        return False
    return available_cents * 100 > budget_cents * thresholds.unspent_percent


def report_deadline(report_year: int, thresholds: LagThresholds) -> date:
    """When the area report of ``report_year`` must be published (in the next year)."""
    return date(report_year + 1, *thresholds.report_deadline)


def report_late(
    report_year: int, published_on: date | None, today: date, thresholds: LagThresholds
) -> bool:
    """Published after the deadline, or not published while the deadline has passed."""
    deadline = report_deadline(report_year, thresholds)
    if published_on is not None:
        return published_on > deadline
    return today > deadline


def meetings_expected(minimum_per_year: int, year: int, today: date) -> int:
    """The meetings that should have taken place by ``today``: the yearly minimum pro rata."""
    return minimum_per_year * months_passed(year, today) // 12


def too_few_meetings_so_far(held: int, minimum_per_year: int, year: int, today: date) -> bool:
    return minimum_per_year > 0 and held < meetings_expected(minimum_per_year, year, today)


def per_inhabitant_cents(amount_cents: int, inhabitants: int | None) -> int | None:
    """Cents per inhabitant, rounded half up (None without population figures)."""
    if not inhabitants:
        return None
    return (2 * amount_cents + inhabitants) // (2 * inhabitants)


def percent(fraction: Fraction | None, decimals: int = 1) -> float | None:
    """A share as a percentage for display, rounded to ``decimals``."""
    return None if fraction is None else round(float(fraction) * 100, decimals)
