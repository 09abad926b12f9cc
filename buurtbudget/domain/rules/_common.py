"""Helpers shared by the rules: exact voter weights, utilities per ballot entry, formatting."""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from numbers import Rational

import numpy as np

from buurtbudget.domain.rules.model import Election

COST = "cost"
CARDINALITY = "cardinality"
UTILITIES = (COST, CARDINALITY)

# Float sums of integer weights are exact below 2**53; the rules rely on that for the group
# weights (see equal_shares), so finer weights are refused rather than silently rounded.
MAX_TOTAL_WEIGHT = 2**53


def to_fraction(value: object) -> Fraction:
    """A weight as an exact Fraction. Floats are read as the decimal they print as (0.1 -> 1/10),
    because a weight of 0.1 typed by a person means one tenth, not 0.1000000000000000055..."""
    if isinstance(value, bool):
        raise ValueError("a weight must be a number, not a bool")
    if isinstance(value, int | Rational):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"weight {value!r} is not finite")
        return Fraction(repr(value))
    if isinstance(value, Decimal | str):
        return Fraction(value)
    if isinstance(value, np.integer):
        return Fraction(int(value))
    if isinstance(value, np.floating):
        return to_fraction(float(value))
    raise ValueError(f"weight {value!r} is not a number")


def integer_weights(
    weights: Sequence[object] | np.ndarray | None, n: int
) -> tuple[np.ndarray, int]:
    """Scale voter weights to integers; returns ``(weights as int64, scale)``.

    All rules are invariant under multiplying every weight by the same factor, so scaling by the
    least common denominator keeps the result exact while the hot loops stay in integers.
    ``scale`` is that factor (1 when the weights are already integers, as for unweighted votes).
    """
    if weights is None:
        return np.ones(n, dtype=np.int64), 1
    if isinstance(weights, np.ndarray) and weights.dtype.kind in "iu":
        values = [int(v) for v in weights.tolist()]
        fractions = None
    else:
        fractions = [to_fraction(v) for v in weights]
        values = None
    count = len(values if values is not None else fractions)
    if count != n:
        raise ValueError(f"{count} weights given for {n} voters")
    scale = 1
    if fractions is not None:
        for weight in fractions:
            scale = math.lcm(scale, weight.denominator)
        values = [int(weight * scale) for weight in fractions]
    if any(v < 0 for v in values):
        raise ValueError("weights must not be negative")
    if sum(values) >= MAX_TOTAL_WEIGHT:
        raise ValueError("weights are too fine-grained: round them to fewer decimals")
    return np.array(values, dtype=np.int64), scale


def entry_utilities(election: Election, utility: str) -> np.ndarray:
    """Utility of each ballot entry (parallel to ``election.ballots.projects``), as int64.

    ``cost``: the project's cost times the points (1 for approval), i.e. a voter values a project
    at what it costs; ``cardinality``: the points (1 for approval), i.e. every approved project
    counts the same.
    """
    if utility not in UTILITIES:
        raise ValueError(f"unknown utility {utility!r}; use one of {', '.join(UTILITIES)}")
    ballots = election.ballots
    points = (
        ballots.points if ballots.points is not None else np.ones(len(ballots.projects), np.int64)
    )
    if utility == CARDINALITY:
        return points.astype(np.int64)
    costs = np.array([p.cost for p in election.projects], dtype=np.int64)
    return costs[ballots.projects] * points


def fmt_amount(value: int | Fraction | float) -> str:
    """1234567 -> '1,234,567'; non-integers get two decimals."""
    if isinstance(value, Fraction) and value.denominator == 1:
        value = int(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{float(value):,.2f}"


def fmt_votes(value: int, scale: int) -> str:
    """A (scaled) weighted vote count for humans."""
    return fmt_amount(Fraction(value, scale))
