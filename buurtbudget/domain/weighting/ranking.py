"""Ranking projects by a configurable score, shown next to the plain vote ranking.

Factors (each normalised to [0, 1], so the factor weights say how much each may matter)
    ``support``                 approvals (unweighted votes), divided by the highest among the
                                projects.
    ``weighted_support``        votes counted with the voter weights (a voter of weight w counts
                                as w voters), divided by the highest.
    ``relative_contribution``   the own contribution judged within its area (see
                                :func:`relative_own_contribution`), divided by the highest.
    ``own_contribution``        the absolute own contribution (hours, or euros), divided by the
                                highest. This is what Venray did; it rewards areas that are large
                                and well organised. Kept to show the difference, not recommended.
    ``need``                    the published need index of the project's area, divided by the
                                highest need among the projects' areas.

Score
    ``score = sum over factors of weight_f * normalised_f``; each factor's share of the score is
    ``weight_f * normalised_f / score``. Residents see both ranks: the *raw rank* (plain votes,
    what a "buurtbegroting" without correction would do) and the *corrected rank* (by score).

Exactness and ties
    Voter weights are rounded to 6 decimals and scaled to integers
    (:func:`~buurtbudget.domain.weighting.weights.scaled_weights`), so weighted support is an exact
    integer sum; all factor values, normalisations and scores are Fractions. Equal scores are
    therefore really equal, and are ordered by project id as a string, ascending (the same
    tie-break as the voting rules). The raw rank orders by votes, then project id.

Area balance (``area_balance=True``; why: a single score funded greedily is majoritarian)
    Going down one list of scores, the largest areas' favourites come first and small areas get
    less than their share, whatever the weights (the weights only make each area's support
    proportional to its inhabitants). With area balance every area is *entitled* to a share of
    the budget: its voters' share of the total voter weight (with area post-stratification: its
    share of the inhabitants; unweighted: its share of the turnout, which is what went wrong in
    Venray), multiplied by ``1 + need weight * normalised need`` when ``need`` has a weight, and
    rescaled over the areas that have projects. The corrected order is then built one project
    at a time: within an area projects keep their score order; the next project comes from the
    area with the lowest ``(money already listed + half the next project's cost) / entitlement``
    (Sainte-Lague's rule applied to money; ties by area name). Areas with projects but without
    voters come last. Exact (Fractions).

Funding (:func:`fund_in_order`)
    Go down a ranking and fund every project that still fits in the budget, skipping those that
    no longer fit ("most first, skip what does not fit"), like the greedy rule.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from numbers import Rational, Real

import numpy as np

from buurtbudget.domain.weighting.weights import WEIGHT_DECIMALS, scaled_weights

SUPPORT = "support"
WEIGHTED_SUPPORT = "weighted_support"
RELATIVE_CONTRIBUTION = "relative_contribution"
OWN_CONTRIBUTION = "own_contribution"
NEED = "need"
FACTORS = (SUPPORT, WEIGHTED_SUPPORT, RELATIVE_CONTRIBUTION, OWN_CONTRIBUTION, NEED)

AREA_PERCENTILE = "area_percentile"
PER_1000_INHABITANTS = "per_1000_inhabitants"
CONTRIBUTION_MEASURES = (AREA_PERCENTILE, PER_1000_INHABITANTS)

NO_WEIGHTING = "none"
POST_STRATIFICATION = "post_stratification"
RAKING = "raking"
WEIGHTING_METHODS = (NO_WEIGHTING, POST_STRATIFICATION, RAKING)

MAX_DECIMALS = 6


class RankingConfigError(ValueError):
    """An invalid ranking configuration (e.g. read back from a round's JSON)."""


def _decimal(value: object, what: str) -> Fraction:
    """A non-negative number with at most 6 decimals, exactly (floats read as they print)."""
    if isinstance(value, bool):
        raise RankingConfigError(f"{what} must be a number")
    try:
        if isinstance(value, Rational):
            number = Fraction(value)
        elif isinstance(value, float):
            number = Fraction(repr(value))
        elif isinstance(value, str):
            number = Fraction(Decimal(value.strip()))
        else:
            raise RankingConfigError(f"{what} must be a number, got {value!r}")
    except (ValueError, ArithmeticError):
        raise RankingConfigError(f"{what} must be a number, got {value!r}") from None
    if number < 0:
        raise RankingConfigError(f"{what} must not be negative")
    if (number * 10**MAX_DECIMALS).denominator != 1:
        raise RankingConfigError(f"{what} may have at most {MAX_DECIMALS} decimals")
    return number


def _decimal_text(value: Fraction) -> str:
    text = format(Decimal(value.numerator) / Decimal(value.denominator), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class RankingConfig:
    """How a round ranks its projects; stored with the round as JSON (:meth:`to_dict`).

    ``weighting`` says how voter weights are made (``none``, ``post_stratification`` over the
    cells formed by ``weighting_dimensions``, or ``raking`` to each dimension's margin), and
    ``weight_cap`` caps them (multiple of the mean weight). The integration computes the weights
    with :mod:`~buurtbudget.domain.weighting.weights` accordingly and passes them to
    :func:`rank_projects` and to the weighted voting rules.
    """

    factor_weights: Mapping[str, Fraction]
    contribution_measure: str = AREA_PERCENTILE
    weighting: str = NO_WEIGHTING
    weighting_dimensions: tuple[str, ...] = ()
    weight_cap: Fraction | None = None
    area_balance: bool = False

    def __post_init__(self) -> None:
        weights = {}
        for name, value in dict(self.factor_weights).items():
            if name not in FACTORS:
                raise RankingConfigError(
                    f"unknown factor {name!r}; use one of {', '.join(FACTORS)}"
                )
            weights[name] = _decimal(value, f"weight of {name}")
        if not any(weights.values()):
            raise RankingConfigError("at least one factor needs a weight above 0")
        if self.contribution_measure not in CONTRIBUTION_MEASURES:
            raise RankingConfigError(
                f"contribution_measure must be one of {', '.join(CONTRIBUTION_MEASURES)}"
            )
        if self.weighting not in WEIGHTING_METHODS:
            raise RankingConfigError(f"weighting must be one of {', '.join(WEIGHTING_METHODS)}")
        dimensions = tuple(self.weighting_dimensions)
        if any(not isinstance(d, str) or not d for d in dimensions) or len(set(dimensions)) != len(
            dimensions
        ):
            raise RankingConfigError("weighting_dimensions must be distinct names")
        if (self.weighting == NO_WEIGHTING) != (not dimensions):
            raise RankingConfigError(
                "weighting_dimensions are needed with weighting, and only with it"
            )
        cap = None
        if self.weight_cap is not None:
            cap = _decimal(self.weight_cap, "weight_cap")
            if cap < 1:
                raise RankingConfigError("weight_cap is a multiple of the mean and must be >= 1")
        if not isinstance(self.area_balance, bool):
            raise RankingConfigError("area_balance must be true or false")
        # Factors in a fixed order, zero weights dropped: equal configs compare equal.
        ordered = {name: weights[name] for name in FACTORS if weights.get(name)}
        object.__setattr__(self, "factor_weights", ordered)
        object.__setattr__(self, "weighting_dimensions", dimensions)
        object.__setattr__(self, "weight_cap", cap)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready; numbers as decimal strings so they read back exactly."""
        return {
            "factor_weights": {k: _decimal_text(v) for k, v in self.factor_weights.items()},
            "contribution_measure": self.contribution_measure,
            "weighting": self.weighting,
            "weighting_dimensions": list(self.weighting_dimensions),
            "weight_cap": None if self.weight_cap is None else _decimal_text(self.weight_cap),
            "area_balance": self.area_balance,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> RankingConfig:
        if not isinstance(data, Mapping):
            raise RankingConfigError("a ranking configuration must be an object")
        unknown = set(data) - {
            "factor_weights",
            "contribution_measure",
            "weighting",
            "weighting_dimensions",
            "weight_cap",
            "area_balance",
        }
        if unknown:
            raise RankingConfigError(f"unknown keys: {', '.join(sorted(unknown))}")
        factor_weights = data.get("factor_weights")
        if not isinstance(factor_weights, Mapping):
            raise RankingConfigError("factor_weights must be an object")
        dimensions = data.get("weighting_dimensions", [])
        if not isinstance(dimensions, list | tuple):
            raise RankingConfigError("weighting_dimensions must be a list")
        return cls(
            factor_weights=dict(factor_weights),
            contribution_measure=str(data.get("contribution_measure", AREA_PERCENTILE)),
            weighting=str(data.get("weighting", NO_WEIGHTING)),
            weighting_dimensions=tuple(dimensions),
            weight_cap=data.get("weight_cap"),  # type: ignore[arg-type]
            area_balance=data.get("area_balance", False),  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class ProjectInfo:
    """What the ranking needs to know about a project. Money in cents; ``own_contribution``
    in one unit for the whole round (volunteer hours, or euros of co-funding and in-kind)."""

    id: str
    area: Hashable
    cost: int
    own_contribution: int | Fraction = 0

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError("project id must be a non-empty string")
        if isinstance(self.cost, bool) or not isinstance(self.cost, int) or self.cost < 0:
            raise ValueError(f"project {self.id!r}: cost must be a whole number >= 0")
        contribution = self.own_contribution
        if isinstance(contribution, bool) or not isinstance(contribution, Rational):
            raise ValueError(
                f"project {self.id!r}: own contribution must be a whole or exact number"
            )
        if contribution < 0:
            raise ValueError(f"project {self.id!r}: own contribution must not be negative")


def _area_population(
    projects: Sequence[ProjectInfo], area_population: Mapping[Hashable, int] | None
) -> Mapping[Hashable, int]:
    population = area_population or {}
    missing = sorted({repr(p.area) for p in projects if not population.get(p.area)})
    if missing:
        raise ValueError(f"no population for area {', '.join(missing)}")
    return population


def relative_own_contribution(
    projects: Sequence[ProjectInfo],
    measure: str = AREA_PERCENTILE,
    area_population: Mapping[Hashable, int] | None = None,
) -> dict[str, Fraction]:
    """The own contribution judged relative to the project's area, per project id.

    ``per_1000_inhabitants``: contribution * 1000 / inhabitants of the area (corrects for size,
    not for how well an area organises itself).
    ``area_percentile``: how the contribution compares with the other projects *of the same
    area*: (number with a smaller contribution + half the number with an equal one) / number of
    other projects, in [0, 1]. A project without contribution gets 0; a project alone in its
    area gets 1 if it offers any. Only projects compete with their own area, so a village where
    everyone volunteers does not outscore a district where few can (corrects for organisation).
    """
    if measure == PER_1000_INHABITANTS:
        population = _area_population(projects, area_population)
        return {p.id: Fraction(p.own_contribution) * 1000 / population[p.area] for p in projects}
    if measure != AREA_PERCENTILE:
        raise ValueError(
            f"unknown measure {measure!r}; use one of {', '.join(CONTRIBUTION_MEASURES)}"
        )
    by_area: dict[Hashable, list[Fraction]] = {}
    for p in projects:
        by_area.setdefault(p.area, []).append(Fraction(p.own_contribution))
    result = {}
    for p in projects:
        own = Fraction(p.own_contribution)
        others = len(by_area[p.area]) - 1
        if own == 0:
            result[p.id] = Fraction(0)
        elif others == 0:
            result[p.id] = Fraction(1)
        else:
            smaller = sum(1 for c in by_area[p.area] if c < own)
            equal = sum(1 for c in by_area[p.area] if c == own) - 1
            result[p.id] = Fraction(2 * smaller + equal, 2 * others)
    return result


@dataclass(frozen=True)
class FactorScore:
    name: str
    value: Fraction  # before normalisation (votes, hours per 1,000, percentile, need index)
    normalised: Fraction  # value / highest value among the projects, in [0, 1]
    weight: Fraction
    points: Fraction  # weight * normalised
    share: Fraction  # points / score (0 when the score is 0)


@dataclass(frozen=True)
class RankedProject:
    project_id: str
    area: Hashable
    cost: int
    raw_support: int
    weighted_support: Fraction
    score: Fraction
    factors: tuple[FactorScore, ...]
    raw_rank: int  # 1 = most votes
    corrected_rank: int  # 1 = highest score (or first in the area-balanced order)
    area_entitlement: Fraction | None = None  # the area's share of the budget (area balance)

    def factor(self, name: str) -> FactorScore:
        for factor in self.factors:
            if factor.name == name:
                return factor
        raise KeyError(name)

    def to_dict(self) -> dict[str, object]:
        """For templates and JSON: floats for display, ranks as integers."""
        return {
            "project_id": self.project_id,
            "area": self.area,
            "cost": self.cost,
            "raw_support": self.raw_support,
            "weighted_support": float(self.weighted_support),
            "score": float(self.score),
            "raw_rank": self.raw_rank,
            "corrected_rank": self.corrected_rank,
            "area_entitlement": None
            if self.area_entitlement is None
            else float(self.area_entitlement),
            "factors": [
                {
                    "name": f.name,
                    "value": float(f.value),
                    "normalised": float(f.normalised),
                    "weight": float(f.weight),
                    "share": float(f.share),
                }
                for f in self.factors
            ],
        }


@dataclass(frozen=True)
class Ranking:
    """Projects in corrected order (``entries``) with the configuration that ranked them."""

    entries: tuple[RankedProject, ...]
    config: RankingConfig = field(repr=False)

    def by_id(self, project_id: str) -> RankedProject:
        for entry in self.entries:
            if entry.project_id == project_id:
                return entry
        raise KeyError(project_id)

    def raw_order(self) -> tuple[RankedProject, ...]:
        return tuple(sorted(self.entries, key=lambda e: e.raw_rank))


def _integer_weights(
    voter_weights: Sequence[float] | np.ndarray | None, n: int
) -> tuple[list[int], int]:
    """The voter weights as exact integers and their scale (see :func:`scaled_weights`)."""
    if voter_weights is None:
        return [1] * n, 1
    if len(voter_weights) != n:
        raise ValueError(f"{len(voter_weights)} weights given for {n} ballots")
    return scaled_weights(voter_weights).tolist(), 10**WEIGHT_DECIMALS


def _support_counts(
    projects: Sequence[ProjectInfo],
    ballots: Sequence[Collection[str]],
    int_weights: Sequence[int],
    scale: int,
) -> tuple[dict[str, int], dict[str, Fraction]]:
    index = {p.id: i for i, p in enumerate(projects)}
    raw = [0] * len(projects)
    weighted = [0] * len(projects)
    for voter, ballot in enumerate(ballots):
        chosen = list(ballot)
        if len(set(chosen)) != len(chosen):
            raise ValueError(f"ballot {voter} names a project twice")
        for project_id in chosen:
            i = index.get(project_id)
            if i is None:
                raise ValueError(f"ballot {voter} names unknown project {project_id!r}")
            raw[i] += 1
            weighted[i] += int_weights[voter]
    return (
        {p.id: raw[i] for i, p in enumerate(projects)},
        {p.id: Fraction(weighted[i], scale) for i, p in enumerate(projects)},
    )


def _normalised(values: Mapping[str, Fraction]) -> dict[str, Fraction]:
    top = max(values.values(), default=Fraction(0))
    return {k: (v / top if top else Fraction(0)) for k, v in values.items()}


def _need_values(
    projects: Sequence[ProjectInfo], need_index: Mapping[Hashable, Real] | None
) -> dict[str, Fraction]:
    need = need_index or {}
    missing = sorted({repr(p.area) for p in projects if p.area not in need})
    if missing:
        raise ValueError(f"no need index for area {', '.join(missing)}")
    needs = {}
    for p in projects:
        value = need[p.area]
        if isinstance(value, bool) or not isinstance(value, Real) or value < 0:
            raise ValueError(f"need index of area {p.area!r} must be a number >= 0")
        needs[p.id] = Fraction(repr(value)) if isinstance(value, float) else Fraction(value)
    return needs


def _factor_values(
    projects: Sequence[ProjectInfo],
    config: RankingConfig,
    raw: Mapping[str, int],
    weighted: Mapping[str, Fraction],
    area_population: Mapping[Hashable, int] | None,
    need_index: Mapping[Hashable, Real] | None,
) -> dict[str, dict[str, Fraction]]:
    values: dict[str, dict[str, Fraction]] = {}
    for name in config.factor_weights:
        if name == SUPPORT:
            values[name] = {k: Fraction(v) for k, v in raw.items()}
        elif name == WEIGHTED_SUPPORT:
            values[name] = dict(weighted)
        elif name == OWN_CONTRIBUTION:
            values[name] = {p.id: Fraction(p.own_contribution) for p in projects}
        elif name == RELATIVE_CONTRIBUTION:
            values[name] = relative_own_contribution(
                projects, config.contribution_measure, area_population
            )
        else:  # NEED
            values[name] = _need_values(projects, need_index)
    return values


def area_entitlements(
    projects: Sequence[ProjectInfo],
    voter_areas: Sequence[Hashable],
    int_weights: Sequence[int],
    need_multiplier: Mapping[Hashable, Fraction] | None = None,
) -> dict[Hashable, Fraction]:
    """Each project area's share of the budget under area balance (see the module doc)."""
    if len(voter_areas) != len(int_weights):
        raise ValueError(f"{len(voter_areas)} voter areas given for {len(int_weights)} ballots")
    areas = list(dict.fromkeys(p.area for p in projects))
    weight = dict.fromkeys(areas, Fraction(0))
    for area, w in zip(voter_areas, int_weights, strict=True):
        if area in weight:
            weight[area] += w
    if need_multiplier:
        weight = {area: value * need_multiplier[area] for area, value in weight.items()}
    total = sum(weight.values(), Fraction(0))
    return {area: (value / total if total else Fraction(0)) for area, value in weight.items()}


def _balanced_order(
    scored: list[tuple[ProjectInfo, Fraction]], entitlement: Mapping[Hashable, Fraction]
) -> list[tuple[ProjectInfo, Fraction]]:
    queues: dict[Hashable, list[tuple[ProjectInfo, Fraction]]] = {}
    for item in scored:  # already in score order
        queues.setdefault(item[0].area, []).append(item)
    listed = dict.fromkeys(queues, 0)
    order = []
    while True:
        open_areas = [a for a, q in queues.items() if q and entitlement[a] > 0]
        if not open_areas:
            break
        area = min(
            open_areas,
            key=lambda a: (
                (listed[a] + Fraction(queues[a][0][0].cost, 2)) / entitlement[a],
                str(a),
            ),
        )
        item = queues[area].pop(0)
        listed[area] += item[0].cost
        order.append(item)
    leftovers = [item for q in queues.values() for item in q]  # areas without voters
    return order + sorted(leftovers, key=lambda item: (-item[1], item[0].id))


def rank_projects(
    projects: Sequence[ProjectInfo],
    ballots: Sequence[Collection[str]],
    voter_weights: Sequence[float] | np.ndarray | None,
    config: RankingConfig,
    *,
    area_population: Mapping[Hashable, int] | None = None,
    need_index: Mapping[Hashable, Real] | None = None,
    voter_areas: Sequence[Hashable] | None = None,
) -> Ranking:
    """Rank ``projects`` by raw votes and by the configured score (see the module doc).

    ``ballots[i]`` holds the ids of the projects voter i approved; ``voter_weights[i]`` is voter
    i's weight (None: everyone 1). ``area_population`` is needed for the
    ``per_1000_inhabitants`` measure, ``need_index`` (area -> index >= 0) when ``need`` has a
    weight, ``voter_areas`` (voter i's home area) with ``area_balance``.
    """
    projects = tuple(projects)
    ids = [p.id for p in projects]
    if len(set(ids)) != len(ids):
        raise ValueError("project ids must be unique")
    int_weights, scale = _integer_weights(voter_weights, len(ballots))
    raw, weighted = _support_counts(projects, ballots, int_weights, scale)
    values = _factor_values(projects, config, raw, weighted, area_population, need_index)
    normalised = {name: _normalised(v) for name, v in values.items()}

    scored = []
    factors_of = {}
    for p in projects:
        points = {
            name: weight * normalised[name][p.id] for name, weight in config.factor_weights.items()
        }
        score = sum(points.values(), Fraction(0))
        factors_of[p.id] = tuple(
            FactorScore(
                name=name,
                value=values[name][p.id],
                normalised=normalised[name][p.id],
                weight=weight,
                points=points[name],
                share=points[name] / score if score else Fraction(0),
            )
            for name, weight in config.factor_weights.items()
        )
        scored.append((p, score))
    raw_order = sorted(projects, key=lambda p: (-raw[p.id], p.id))
    raw_rank = {p.id: rank for rank, p in enumerate(raw_order, start=1)}
    scored.sort(key=lambda item: (-item[1], item[0].id))
    entitlement: Mapping[Hashable, Fraction] = {}
    if config.area_balance:
        if voter_areas is None:
            raise ValueError("area balance needs the home area of every voter")
        multiplier = None
        if NEED in config.factor_weights:
            need_weight = config.factor_weights[NEED]
            need = normalised[NEED]
            multiplier = {p.area: 1 + need_weight * need[p.id] for p in projects}
        entitlement = area_entitlements(projects, voter_areas, int_weights, multiplier)
        scored = _balanced_order(scored, entitlement)
    entries = tuple(
        RankedProject(
            project_id=p.id,
            area=p.area,
            cost=p.cost,
            raw_support=raw[p.id],
            weighted_support=weighted[p.id],
            score=score,
            factors=factors_of[p.id],
            raw_rank=raw_rank[p.id],
            corrected_rank=rank,
            area_entitlement=entitlement.get(p.area),
        )
        for rank, (p, score) in enumerate(scored, start=1)
    )
    return Ranking(entries, config)


@dataclass(frozen=True)
class Funding:
    selected: tuple[str, ...]  # in funding order
    total_cost: int
    budget: int

    @property
    def leftover(self) -> int:
        return self.budget - self.total_cost


def fund_in_order(ordered: Sequence[RankedProject], budget: int) -> Funding:
    """Fund down the list, skipping projects that no longer fit in what is left."""
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 0:
        raise ValueError("budget must be a whole number >= 0")
    remaining = budget
    selected = []
    for entry in ordered:
        if entry.cost <= remaining:
            selected.append(entry.project_id)
            remaining -= entry.cost
    return Funding(tuple(selected), budget - remaining, budget)


@dataclass(frozen=True)
class AreaFunding:
    area: Hashable
    funded: int  # cost of the area's funded projects
    funded_share: Fraction  # of all funded money
    population_share: Fraction
    ratio: Fraction  # funded_share / population_share: 1 is exactly proportional


def area_funding_shares(
    selected: Collection[str],
    projects: Sequence[ProjectInfo],
    area_population: Mapping[Hashable, int],
) -> dict[Hashable, AreaFunding]:
    """Per area: its funded money as a share of all funded money, against its population share.

    "Funds an area within +-20 % of its population share" means ``0.8 <= ratio <= 1.2``.
    """
    costs = {p.id: p for p in projects}
    unknown = [pid for pid in selected if pid not in costs]
    if unknown:
        raise ValueError(f"unknown project {unknown[0]!r}")
    funded: dict[Hashable, int] = dict.fromkeys(area_population, 0)
    for pid in selected:
        area = costs[pid].area
        if area not in funded:
            raise ValueError(f"no population for area {area!r}")
        funded[area] += costs[pid].cost
    total_funded = sum(funded.values())
    total_population = sum(area_population.values())
    if total_population <= 0:
        raise ValueError("the population figures are empty")
    result = {}
    for area, size in area_population.items():
        funded_share = Fraction(funded[area], total_funded) if total_funded else Fraction(0)
        population_share = Fraction(size, total_population)
        result[area] = AreaFunding(
            area=area,
            funded=funded[area],
            funded_share=funded_share,
            population_share=population_share,
            ratio=funded_share / population_share if population_share else Fraction(0),
        )
    return result
