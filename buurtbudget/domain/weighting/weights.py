"""Voter weights: post-stratification, raking (iterative proportional fitting) and trimming.

Conventions
    Weights are float64 and normalised to mean 1 (they sum to the number of voters ``n``), so a
    voter of weight w counts as w voters. Population figures are only used as *shares*: each
    margin (or the cell table) is rescaled to sum to ``n``, so margins from different sources
    (e.g. age from one table, sex from another) need not have the same total.

Post-stratification
    Every voter in cell c gets ``w_c = n * (N_c / N) / n_c``: the weighted number of voters in a
    cell equals the cell's population share times ``n``.

Raking
    Iterative proportional fitting on one-way margins (e.g. area, age band, sex): in each sweep,
    for every margin in turn, the weights of the voters in each category are multiplied by
    ``target / current weighted count``. Sweeps repeat until every category is within ``tol``
    (relative) of its target. This is the classic Deming-Stephan raking; the tests check it
    against the ``ipfn`` library.

Unknown values (raking)
    A voter whose value for a margin is missing (``None`` or ``""``, e.g. 32 Warsaw voters
    without an age) is not dropped: the unknown voters of that margin form an extra category
    whose target is their own unweighted share of ``n``, and the known categories share the rest
    in population proportions. So unknown voters are neither corrected nor distorted on that
    margin.

Empty cells
    A voter in a cell (category) whose population is zero or absent is always an error
    (:class:`WeightingError`): it means the population figures or the voter data are wrong.
    A populated cell without any voter cannot be represented. ``empty_cells="error"`` (the
    default) raises :class:`EmptyCellsError` naming the cells, so a coordinator can collapse
    them (e.g. merge two age bands) before weighting; ``empty_cells="spread"`` drops them and
    spreads their population share proportionally over the other cells, and lists them in the
    diagnostics (``spread_cells``).

Trimming (``cap``)
    ``cap`` is the largest allowed weight as a multiple of the mean weight (mean is 1, so it is
    also the absolute cap); it must be at least 1. Post-stratification: weights above the cap are
    set to the cap and the excess is redistributed over the uncapped voters proportionally to
    their weights, repeated until no weight exceeds the cap; capped cells are then deliberately
    under-represented. Raking: after raking converges, voters above the cap are fixed at the cap
    and the other voters are raked again to the margins minus what the fixed voters contribute;
    repeated until no free voter exceeds the cap (the fixed set only grows, so this ends). If the
    margins cannot be met with the cap (e.g. a category where everyone is capped), the weights
    are returned trimmed, ``converged`` is False and ``max_margin_error`` says how far off they
    are.

Diagnostics
    Kish's effective sample size ``n_eff = (sum w)^2 / sum w^2`` and the design effect
    ``deff = n / n_eff`` (1 for equal weights; 2 means the weighted vote is about as precise as
    an unweighted vote of half as many voters).

Floats and exact ranks
    Weights are floats (raking is numerical). Before they are used to count votes they are
    rounded to ``decimals`` places (:func:`scaled_weights` as integers, :func:`exact_weights` as
    Fractions for the voting rules); the rules and
    :func:`~buurtbudget.domain.weighting.ranking.rank_projects` then count exactly, so float noise
    can never reorder projects with equal support.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from numbers import Real

import numpy as np

ERROR = "error"
SPREAD = "spread"
_EMPTY_CELL_POLICIES = (ERROR, SPREAD)
MISSING_VALUES = (None, "")
WEIGHT_DECIMALS = 6


class WeightingError(ValueError):
    """Weights cannot be computed from these voters and population figures."""


class EmptyCellsError(WeightingError):
    """Populated cells without voters; ``cells`` names them (per margin for raking)."""

    def __init__(self, message: str, cells: Sequence[object]):
        super().__init__(message)
        self.cells = tuple(cells)


@dataclass(frozen=True)
class WeightDiagnostics:
    """What a statistician (or a curious resident) wants to know about a set of weights."""

    n: int
    effective_sample_size: float
    design_effect: float
    min_weight: float
    max_weight: float
    cap: float | None = None
    trimmed: int = 0  # voters whose weight was cut to the cap
    iterations: int = 0  # raking sweeps in total (0 for post-stratification)
    converged: bool = True
    max_margin_error: float = 0.0  # largest relative gap between weighted count and target
    spread_cells: tuple[object, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "effective_sample_size": self.effective_sample_size,
            "design_effect": self.design_effect,
            "min_weight": self.min_weight,
            "max_weight": self.max_weight,
            "cap": self.cap,
            "trimmed": self.trimmed,
            "iterations": self.iterations,
            "converged": self.converged,
            "max_margin_error": self.max_margin_error,
            "spread_cells": [repr(cell) for cell in self.spread_cells],
        }


@dataclass(frozen=True, eq=False)
class WeightingResult:
    """Weights (mean 1, read-only array in voter order) and their diagnostics."""

    weights: np.ndarray
    diagnostics: WeightDiagnostics = field(repr=False)

    def scaled_weights(self, decimals: int = WEIGHT_DECIMALS) -> np.ndarray:
        return scaled_weights(self.weights, decimals)

    def exact_weights(self, decimals: int = WEIGHT_DECIMALS) -> list[Fraction]:
        return exact_weights(self.weights, decimals)


def effective_sample_size(weights: Sequence[float] | np.ndarray) -> float:
    """Kish: ``(sum w)^2 / sum w^2``; equals n for equal weights."""
    w = np.asarray(weights, dtype=np.float64)
    square_sum = float(np.dot(w, w))
    return float(w.sum()) ** 2 / square_sum if square_sum else 0.0


def design_effect(weights: Sequence[float] | np.ndarray) -> float:
    """Kish's design effect due to weighting: ``n / n_eff`` (>= 1)."""
    n_eff = effective_sample_size(weights)
    return len(weights) / n_eff if n_eff else float("inf")


def scaled_weights(
    weights: Sequence[float] | np.ndarray, decimals: int = WEIGHT_DECIMALS
) -> np.ndarray:
    """Weights rounded to ``decimals`` places and scaled to int64 (``round(w * 10**decimals)``).

    The ranking counts weighted votes with these integers, exactly. Do not pass them to the
    voting rules: their vote threshold and Add1 increment are per unit of weight, so give the
    rules :func:`exact_weights` (the same values as Fractions) instead.
    """
    w = np.asarray(weights, dtype=np.float64)
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise WeightingError("weights must be finite and not negative")
    scaled = np.rint(w * 10**decimals).astype(np.int64)
    scaled.flags.writeable = False
    return scaled


def exact_weights(
    weights: Sequence[float] | np.ndarray, decimals: int = WEIGHT_DECIMALS
) -> list[Fraction]:
    """The same rounded weights as :func:`scaled_weights`, as Fractions (``k / 10**decimals``).

    Pass these to the voting rules (``greedy``, ``equal_shares``): a weight of 1 then means one
    voter, which matters for Equal Shares' Add1 completion (it adds ``increment`` per unit of
    weight; with the scaled integers of :func:`scaled_weights` one voter would get a million).
    """
    scale = 10**decimals
    return [Fraction(value, scale) for value in scaled_weights(weights, decimals).tolist()]


def _diagnostics(w: np.ndarray, **extra: object) -> WeightDiagnostics:
    return WeightDiagnostics(
        n=len(w),
        effective_sample_size=effective_sample_size(w),
        design_effect=design_effect(w),
        min_weight=float(w.min()),
        max_weight=float(w.max()),
        **extra,  # type: ignore[arg-type]
    )


def _frozen(w: np.ndarray) -> np.ndarray:
    w = np.array(w, dtype=np.float64)
    w.flags.writeable = False
    return w


def _check_cap(cap: float | None) -> float | None:
    if cap is None:
        return None
    if isinstance(cap, bool) or not isinstance(cap, Real) or not np.isfinite(float(cap)):
        raise WeightingError(f"cap must be a number, got {cap!r}")
    if cap < 1:
        raise WeightingError("cap is a multiple of the mean weight and must be at least 1")
    return float(cap)


def _population_number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise WeightingError(f"population of {where} must be a number, got {value!r}")
    if not np.isfinite(float(value)) or value < 0:
        raise WeightingError(f"population of {where} must be finite and not negative")
    return float(value)


def trim_weights(weights: Sequence[float] | np.ndarray, cap: float) -> tuple[np.ndarray, int]:
    """Cut weights above ``cap`` (times the mean) and redistribute the excess proportionally.

    Keeps the total; returns ``(weights, number of voters at the cap)``.
    """
    cap_value = _check_cap(cap)
    w = np.array(weights, dtype=np.float64)
    total = float(w.sum())
    limit = cap_value * total / len(w)
    capped = np.zeros(len(w), dtype=bool)
    while True:
        over = ~capped & (w > limit)
        if not over.any():
            break
        capped |= over
        w[capped] = limit
        free_total = float(w[~capped].sum())
        if free_total == 0:  # cap == 1 with all weights equal: nothing left to scale
            break
        w[~capped] *= (total - limit * capped.sum()) / free_total
    return w, int(capped.sum())


def post_stratification_weights(
    voter_cells: Sequence[Hashable],
    population_per_cell: Mapping[Hashable, Real],
    *,
    cap: float | None = None,
    empty_cells: str = ERROR,
) -> WeightingResult:
    """Weights that make every cell's weighted voter count proportional to its population.

    ``voter_cells[i]`` is voter i's cell, e.g. an area id or an ``(area, age_band)`` tuple.
    """
    cap = _check_cap(cap)
    if empty_cells not in _EMPTY_CELL_POLICIES:
        raise WeightingError(f"empty_cells must be one of {', '.join(_EMPTY_CELL_POLICIES)}")
    n = len(voter_cells)
    if n == 0:
        raise WeightingError("there are no voters to weight")
    counts = Counter(voter_cells)
    population = {
        cell: _population_number(value, repr(cell)) for cell, value in population_per_cell.items()
    }
    unknown = sorted((repr(c) for c in counts if population.get(c, 0) == 0), key=lambda text: text)
    if unknown:
        raise WeightingError(
            f"voters in cells without population: {', '.join(unknown)}; "
            "check the population figures or the voters' cells"
        )
    empty = [cell for cell, size in population.items() if size > 0 and counts[cell] == 0]
    if empty and empty_cells == ERROR:
        raise EmptyCellsError(
            f"cells with population but no voters: {', '.join(map(repr, empty))}; "
            "collapse them with a neighbouring cell or use empty_cells='spread'",
            empty,
        )
    represented = sum(size for cell, size in population.items() if counts[cell] > 0)
    cell_weight = {cell: n * population[cell] / represented / counts[cell] for cell in counts}
    w = np.array([cell_weight[cell] for cell in voter_cells], dtype=np.float64)
    trimmed = 0
    if cap is not None:
        w, trimmed = trim_weights(w, cap)
    w *= n / w.sum()  # mean exactly 1 up to rounding
    return WeightingResult(
        _frozen(w),
        _diagnostics(w, cap=cap, trimmed=trimmed, spread_cells=tuple(empty)),
    )


@dataclass
class _Margin:
    name: str
    codes: np.ndarray  # category index per voter
    labels: list[object]
    targets: np.ndarray  # weighted count wanted per category (sums to n)


def _build_margin(
    name: str,
    values: Sequence[Hashable],
    population: Mapping[Hashable, Real],
    n: int,
    empty_cells: str,
    spread: list[object],
) -> _Margin:
    if len(values) != n:
        raise WeightingError(f"margin {name!r}: {len(values)} values for {n} voters")
    sizes = {cat: _population_number(v, f"{name}={cat!r}") for cat, v in population.items()}
    counts = Counter(values)
    unknown_voters = sum(counts.pop(missing, 0) for missing in MISSING_VALUES)
    without_population = sorted(repr(c) for c in counts if sizes.get(c, 0) == 0)
    if without_population:
        raise WeightingError(
            f"margin {name!r}: voters in categories without population: "
            f"{', '.join(without_population)}"
        )
    empty = [cat for cat, size in sizes.items() if size > 0 and counts[cat] == 0]
    if empty and empty_cells == ERROR:
        raise EmptyCellsError(
            f"margin {name!r}: categories with population but no voters: "
            f"{', '.join(map(repr, empty))}; collapse them or use empty_cells='spread'",
            [(name, cat) for cat in empty],
        )
    spread.extend((name, cat) for cat in empty)
    labels: list[object] = [cat for cat in sizes if counts[cat] > 0]
    represented = sum(sizes[cat] for cat in labels)
    targets = [(n - unknown_voters) * sizes[cat] / represented for cat in labels]
    index = {cat: i for i, cat in enumerate(labels)}
    if unknown_voters:
        labels.append(None)
        targets.append(float(unknown_voters))
        unknown_code = len(labels) - 1
        codes = [unknown_code if v in MISSING_VALUES else index[v] for v in values]
    else:
        codes = [index[v] for v in values]
    return _Margin(name, np.array(codes, dtype=np.int64), labels, np.array(targets))


def _margin_error(w: np.ndarray, margins: list[_Margin]) -> float:
    worst = 0.0
    for margin in margins:
        sums = np.bincount(margin.codes, weights=w, minlength=len(margin.targets))
        worst = max(worst, float(np.max(np.abs(sums - margin.targets) / margin.targets)))
    return worst


def _ipf(
    w: np.ndarray, fixed: np.ndarray, margins: list[_Margin], max_iter: int, tol: float
) -> tuple[int, bool]:
    """Rake the free voters' weights in place; returns (sweeps, converged)."""
    free = ~fixed
    for sweep in range(1, max_iter + 1):
        for margin in margins:
            size = len(margin.targets)
            free_sum = np.bincount(margin.codes[free], weights=w[free], minlength=size)
            fixed_sum = np.bincount(margin.codes[fixed], weights=w[fixed], minlength=size)
            wanted = margin.targets - fixed_sum
            with np.errstate(divide="ignore", invalid="ignore"):
                factor = np.where(free_sum > 0, wanted / free_sum, 1.0)
            if np.any(factor < 0) or np.any((free_sum == 0) & (wanted > tol * margin.targets)):
                return sweep, False  # the fixed (capped) voters cannot meet a target
            w[free] *= factor[margin.codes[free]]
        if _margin_error(w, margins) <= tol:
            return sweep, True
    return max_iter, False


def rake(
    voter_attributes: Mapping[str, Sequence[Hashable]],
    margins: Mapping[str, Mapping[Hashable, Real]],
    *,
    cap: float | None = None,
    max_iter: int = 1000,
    tol: float = 1e-10,
    empty_cells: str = ERROR,
) -> WeightingResult:
    """Rake to one-way population margins (see the module doc for unknowns, caps, empty cells).

    ``voter_attributes[name][i]`` is voter i's category for margin ``name``;
    ``margins[name]`` maps each category to its population.
    """
    cap = _check_cap(cap)
    if empty_cells not in _EMPTY_CELL_POLICIES:
        raise WeightingError(f"empty_cells must be one of {', '.join(_EMPTY_CELL_POLICIES)}")
    if not margins:
        raise WeightingError("raking needs at least one margin")
    if max_iter < 1 or not tol > 0:
        raise WeightingError("max_iter must be positive and tol greater than 0")
    missing = [name for name in margins if name not in voter_attributes]
    if missing:
        raise WeightingError(f"voters have no attribute {', '.join(map(repr, missing))}")
    n = len(next(iter(voter_attributes[name] for name in margins)))
    if n == 0:
        raise WeightingError("there are no voters to weight")
    spread: list[object] = []
    built = [
        _build_margin(name, voter_attributes[name], population, n, empty_cells, spread)
        for name, population in margins.items()
    ]
    w = np.ones(n, dtype=np.float64)
    fixed = np.zeros(n, dtype=bool)
    iterations, converged = _ipf(w, fixed, built, max_iter, tol)
    if cap is not None:
        while converged:
            over = ~fixed & (w > cap)
            if not over.any():
                break
            fixed |= over
            w[fixed] = cap
            sweeps, converged = _ipf(w, fixed, built, max_iter, tol)
            iterations += sweeps
        if not converged:
            w, _ = trim_weights(w * (n / w.sum()), cap)
    w *= n / w.sum()  # mean 1 (raking already gets within tol of it)
    return WeightingResult(
        _frozen(w),
        _diagnostics(
            w,
            cap=cap,
            trimmed=int(np.count_nonzero(w >= cap * (1 - 1e-12))) if cap is not None else 0,
            iterations=iterations,
            converged=converged,
            max_margin_error=_margin_error(w, built),
            spread_cells=tuple(spread),
        ),
    )


def cell_shares(
    voter_cells: Sequence[Hashable], weights: Sequence[float] | np.ndarray | None = None
) -> dict[Hashable, float]:
    """Each cell's share of the (weighted) voters; for checking weights against population."""
    w = np.ones(len(voter_cells)) if weights is None else np.asarray(weights, dtype=np.float64)
    totals: dict[Hashable, float] = {}
    for cell, weight in zip(voter_cells, w.tolist(), strict=True):
        totals[cell] = totals.get(cell, 0.0) + weight
    whole = sum(totals.values())
    return {cell: total / whole for cell, total in totals.items()}
