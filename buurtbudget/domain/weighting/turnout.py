"""Turnout per cell (area, or area x age band) and how representative the voters are.

Representativeness score (what residents see)
    ``score = 1 - D`` with the dissimilarity index ``D = 1/2 * sum_c |v_c/V - N_c/N|``: half the
    sum of the gaps between each cell's share of the voters and its share of the population.
    ``D`` is the fraction of voters that would have to come from other cells for the voters to
    look like the population, so the score is in [0, 1]: 1 when every cell votes at the same
    rate, lower the more some cells dominate. Computed exactly (Fractions).

R-indicator (for statisticians, Schouten et al. 2009)
    ``R = 1 - 2 * S`` with ``S`` the population-weighted standard deviation of the cell turnouts
    ``rho_c = v_c / N_c`` around the overall turnout. In [0, 1] while no cell's turnout exceeds
    100 %; clipped to 0 otherwise (stale population figures).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from buurtbudget.domain.numbers import is_ascii_digits
from buurtbudget.domain.weighting.weights import WeightingError

DEFAULT_AGE_BANDS: tuple[tuple[int, int | None], ...] = (
    (0, 17),
    (18, 24),
    (25, 34),
    (35, 44),
    (45, 54),
    (55, 64),
    (65, None),
)
"""The CBS-style bands used by default: 0-17, 18-24, ..., 55-64, 65+ (``None``: no upper end)."""


def band_label(band: tuple[int, int | None]) -> str:
    low, high = band
    return f"{low}+" if high is None else f"{low}-{high}"


def age_band(
    age: int | str | None, bands: Sequence[tuple[int, int | None]] = DEFAULT_AGE_BANDS
) -> str | None:
    """The label of the band holding ``age`` ("25-34", "65+"), or None when unknown.

    Accepts the text of a pabulib ``age`` column; empty or non-numeric text means unknown.
    """
    if age is None or isinstance(age, bool):
        return None
    if isinstance(age, str):
        text = age.strip()
        if not is_ascii_digits(text):
            return None
        age = int(text)
    for band in bands:
        low, high = band
        if age >= low and (high is None or age <= high):
            return band_label(band)
    return None


def count_cells(voter_cells: Iterable[Hashable]) -> dict[Hashable, int]:
    """Voters per cell, e.g. from one cell key per ballot."""
    return dict(Counter(voter_cells))


@dataclass(frozen=True)
class CellTurnout:
    cell: Hashable
    voters: int
    population: int
    turnout: Fraction  # voters / population
    voter_share: Fraction
    population_share: Fraction


@dataclass(frozen=True)
class TurnoutReport:
    """Turnout per cell (in the order of the population figures) and the overall scores."""

    cells: tuple[CellTurnout, ...]
    voters: int
    population: int
    turnout: Fraction
    dissimilarity: Fraction
    representativeness: Fraction  # 1 - dissimilarity
    r_indicator: float

    def cell(self, key: Hashable) -> CellTurnout:
        for cell in self.cells:
            if cell.cell == key:
                return cell
        raise KeyError(key)


def _whole(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise WeightingError(f"{what} must be a whole number, not negative; got {value!r}")
    return value


def turnout(
    voters_per_cell: Mapping[Hashable, int], population_per_cell: Mapping[Hashable, int]
) -> TurnoutReport:
    """Turnout per cell and overall, the representativeness score and the R-indicator."""
    voters = {cell: _whole(v, f"voters of {cell!r}") for cell, v in voters_per_cell.items()}
    population = {
        cell: _whole(v, f"population of {cell!r}") for cell, v in population_per_cell.items()
    }
    orphans = sorted(repr(c) for c, v in voters.items() if v and not population.get(c))
    if orphans:
        raise WeightingError(f"voters in cells without population: {', '.join(orphans)}")
    total_voters = sum(voters.values())
    total_population = sum(population.values())
    if total_population == 0:
        raise WeightingError("the population figures are empty")
    cells = []
    for cell, size in population.items():
        count = voters.get(cell, 0)
        cells.append(
            CellTurnout(
                cell=cell,
                voters=count,
                population=size,
                turnout=Fraction(count, size) if size else Fraction(0),
                voter_share=Fraction(count, total_voters) if total_voters else Fraction(0),
                population_share=Fraction(size, total_population),
            )
        )
    overall = Fraction(total_voters, total_population)
    if total_voters == 0:
        dissimilarity = Fraction(1)
    else:
        dissimilarity = (
            sum((abs(c.voter_share - c.population_share) for c in cells), Fraction(0)) / 2
        )
    variance = sum(
        (float(c.population_share) * float(c.turnout - overall) ** 2 for c in cells), 0.0
    )
    r_indicator = max(0.0, 1.0 - 2.0 * math.sqrt(variance))
    return TurnoutReport(
        cells=tuple(cells),
        voters=total_voters,
        population=total_population,
        turnout=overall,
        dissimilarity=dissimilarity,
        representativeness=1 - dissimilarity,
        r_indicator=r_indicator,
    )


def representativeness(
    voters_per_cell: Mapping[Hashable, int], population_per_cell: Mapping[Hashable, int]
) -> Fraction:
    """``1 - D`` (see the module doc): 1 when the voters mirror the population."""
    return turnout(voters_per_cell, population_per_cell).representativeness
