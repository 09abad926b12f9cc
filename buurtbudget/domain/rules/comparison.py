"""Rules side by side on one round's own ballots: what each rule would fund, and for whom.

For every rule (greedy, Method of Equal Shares, Equal Shares with Add1, and any outcome computed
elsewhere, such as the weighting module's corrected ranking) :func:`compare_rules` gives

* the winners, in selection order, and the money spent and left unspent;
* the share of voters with at least one funded project they supported (on a points ballot:
  gave points to; on a ranking: ranked);
* per area, the money going to its projects next to the area's share of the inhabitants (projects
  without one area, e.g. city-wide ones, are listed under ``None``);
* whether the outcome satisfies EJR up to one project (cost utilities, approval ballots) where
  checking it is affordable, else ``None`` with the reason.

EJR up to one (Peters, Pierczynski, Skowron 2021; pabutools' ``is_EJR_one_approval``): for
every set of projects T and group S of voters who all approve every project of T, with
``|S| * budget >= cost(T) * n`` (S can pay for T with its share of the budget), some voter i of S
has ``u_i(W) + max(cost(p) for p in T - W) >= cost(T)``, W being the outcome and ``u_i(W)``
the cost of the winners i approves. For one T the voters who fail that test form the largest
group that could complain, so the check walks the sets T (depth first, in project order, with
the voters approving all of T as a bit set) and stops descending as soon as T is too expensive
for its supporters: adding a project only raises the cost and shrinks the supporters. Where the
walk would visit more than ``ejr_limit`` sets, the answer is ``None`` ("not checked"), never a
guess. Everything is exact (integers).

Pure: plain data in, plain data out; the web app feeds it the round's ballots.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from buurtbudget.domain.ballots import CUMULATIVE, ORDINAL
from buurtbudget.domain.rules.model import Election, Money, Outcome
from buurtbudget.domain.rules.registry import compute

GREEDY = "greedy"
MES = "mes"
MES_ADD1 = "mes_add1"
CORRECTED = "corrected"
DEFAULT_RULES = (GREEDY, MES, MES_ADD1)
EJR_LIMIT = 20_000


@dataclass(frozen=True)
class AreaMoney:
    """Money to one area's projects, next to its share of the inhabitants."""

    area: str | None
    money: Money
    money_share: Fraction  # of the money spent (0 when nothing is spent)
    population_share: Fraction | None  # None: no population figure for this area


@dataclass(frozen=True)
class EJRCheck:
    """``satisfied`` is None when the check was not made (``reason`` says why)."""

    satisfied: bool | None
    reason: str = ""
    groups_checked: int = 0
    # A violation: the projects T and how many voters approve all of T and are short of it.
    witness: tuple[tuple[str, ...], int] | None = None


@dataclass(frozen=True)
class RuleComparison:
    rule: str
    selected: tuple[str, ...]
    total_cost: Money
    unspent: Money
    voters_with_funded_project: int
    voters: int
    areas: tuple[AreaMoney, ...]
    ejr_up_to_one: EJRCheck
    details: Mapping[str, object] = field(default_factory=dict, hash=False)

    @property
    def share_with_funded_project(self) -> Fraction:
        return (
            Fraction(self.voters_with_funded_project, self.voters) if self.voters else Fraction(0)
        )


def _supports(election: Election) -> np.ndarray:
    """True for each ballot entry that counts as support (points > 0 on a points ballot)."""
    ballots = election.ballots
    if election.vote_type == CUMULATIVE and ballots.points is not None:
        return ballots.points > 0
    return np.ones(len(ballots.projects), dtype=bool)


def voters_with_funded_project(election: Election, selected: Sequence[str]) -> int:
    """How many voters supported at least one of ``selected``."""
    ballots = election.ballots
    if not len(ballots.projects):
        return 0
    index = election.project_index()
    funded = np.zeros(len(election.projects), dtype=bool)
    funded[[index[pid] for pid in selected]] = True
    hits = funded[ballots.projects] & _supports(election)
    per_voter = np.bincount(ballots.voter_of_entry()[hits], minlength=len(ballots))
    return int(np.count_nonzero(per_voter))


def money_per_area(
    election: Election,
    selected: Sequence[str],
    project_area: Sequence[str | None],
    population: Mapping[str, int],
) -> tuple[AreaMoney, ...]:
    """Money per area (areas with population figures first, in their order, then the others)."""
    if len(project_area) != len(election.projects):
        raise ValueError("one area (or None) per project is needed")
    index = election.project_index()
    money: dict[str | None, Money] = {}
    for pid in selected:
        area = project_area[index[pid]]
        money[area] = money.get(area, 0) + election.projects[index[pid]].cost
    spent = sum(money.values())
    inhabitants = sum(population.values())
    order: list[str | None] = list(population)
    order += sorted({a for a in project_area if a is not None and a not in population})
    if None in money or None in project_area:
        order.append(None)
    rows = []
    for area in order:
        amount = money.get(area, 0)
        rows.append(
            AreaMoney(
                area=area,
                money=amount,
                money_share=Fraction(amount) / spent if spent else Fraction(0),
                population_share=(
                    Fraction(population[area], inhabitants)
                    if area is not None and area in population and inhabitants
                    else None
                ),
            )
        )
    return tuple(rows)


def _bitset(mask: np.ndarray) -> int:
    """A boolean array as a Python int (bit i = element i), for fast AND and popcount."""
    if not len(mask):
        return 0
    return int.from_bytes(np.packbits(mask, bitorder="little").tobytes(), "little")


class _Supporters:
    """What the EJR check needs of an election, computed once for all the outcomes compared."""

    def __init__(self, election: Election):
        ballots = election.ballots
        self.n = len(ballots)
        self.costs = [p.cost for p in election.projects]
        self.voter_of_entry = ballots.voter_of_entry()
        self.entry_cost = np.array(self.costs, dtype=np.int64)[ballots.projects]
        counts = np.bincount(ballots.projects, minlength=len(self.costs))
        order = np.argsort(ballots.projects, kind="stable")
        voters = self.voter_of_entry[order]
        # One row of bits per project: bit v set when voter v supports it; packed at once.
        rows = np.zeros((len(self.costs), self.n), dtype=bool)
        rows[np.repeat(np.arange(len(self.costs)), counts), voters] = True
        packed = np.packbits(rows, axis=1, bitorder="little")
        self.bitsets = [int.from_bytes(row.tobytes(), "little") for row in packed]


def check_ejr_up_to_one(
    election: Election,
    selected: Sequence[str],
    *,
    limit: int = EJR_LIMIT,
    supporters: _Supporters | None = None,
) -> EJRCheck:
    """EJR up to one project with cost utilities (see the module doc)."""
    if election.vote_type in (CUMULATIVE, ORDINAL):
        return EJRCheck(None, "defined here for approval ballots only")
    ballots = election.ballots
    n = len(ballots)
    budget = election.budget
    if n == 0:
        return EJRCheck(True, "no voters")
    prepared = supporters or _Supporters(election)
    projects = election.projects
    costs = prepared.costs
    index = election.project_index()
    won = np.zeros(len(projects), dtype=bool)
    won[[index[pid] for pid in selected]] = True
    sat_w = np.bincount(
        prepared.voter_of_entry,
        weights=np.where(won[ballots.projects], prepared.entry_cost, 0),
        minlength=n,
    ).astype(np.int64)  # exact: costs are bounded (ballots.MAX_AMOUNT), sums stay below 2**53
    supporters_of = prepared.bitsets
    below: dict[int, int] = {}

    def short_of(threshold: int) -> int:
        """Voters with u_i(W) < threshold, as a bit set."""
        if threshold not in below:
            below[threshold] = _bitset(sat_w < threshold)
        return below[threshold]

    # Projects nobody supports are in no cohesive set; cheap projects first finds violations
    # no faster, so keep the file's order (deterministic).
    candidates = [i for i in range(len(projects)) if supporters_of[i]]
    visited = 0

    def walk(start: int, group: int, cost: int, members: tuple[int, ...], unfunded_max: int):
        nonlocal visited
        for position in range(start, len(candidates)):
            project = candidates[position]
            together = group & supporters_of[project] if members else supporters_of[project]
            size = together.bit_count()
            new_cost = cost + costs[project]
            if size == 0 or size * budget < new_cost * n:
                continue  # not affordable for its supporters; nor is any larger set
            visited += 1
            if visited > limit:
                raise _TooMany
            surplus = unfunded_max if won[project] else max(unfunded_max, costs[project])
            chosen = (*members, project)
            if surplus or not all(won[i] for i in chosen):
                short = together & short_of(new_cost - surplus)
                count = short.bit_count()
                if count and count * budget >= new_cost * n:
                    return tuple(projects[i].id for i in chosen), count
            found = walk(position + 1, together, new_cost, chosen, surplus)
            if found:
                return found
        return None

    try:
        witness = walk(0, 0, 0, (), 0)
    except _TooMany:
        return EJRCheck(
            None, f"not checked: more than {limit:,} affordable groups of projects", limit
        )
    if witness is not None:
        return EJRCheck(
            False, "a group of voters is short of what it could pay for", visited, witness
        )
    return EJRCheck(True, "", visited)


class _TooMany(Exception):
    pass


def compare_rules(
    election: Election,
    *,
    project_area: Sequence[str | None] | None = None,
    population: Mapping[str, int] | None = None,
    rules: Sequence[str] = DEFAULT_RULES,
    outcomes: Mapping[str, Outcome | Sequence[str]] | None = None,
    weights: Sequence[object] | np.ndarray | None = None,
    ejr_limit: int = EJR_LIMIT,
    run: Callable[..., Outcome] = compute,
) -> tuple[RuleComparison, ...]:
    """Run ``rules`` on the election (with ``weights`` if given) and describe each outcome, plus
    the ready ``outcomes`` (e.g. ``{"corrected": [...]}``). MES is taken from the Add1 run's
    first step when both are asked for (the same run, not repeated)."""
    areas = project_area if project_area is not None else [None] * len(election.projects)
    population = population or {}
    results: dict[str, tuple[tuple[str, ...], Money, Mapping[str, object]]] = {}
    for rule in rules:
        if rule == MES and MES_ADD1 in rules:
            continue  # filled in from the Add1 run below
        if election.vote_type == ORDINAL and rule.startswith("mes"):
            continue  # Equal Shares does not count rankings
        outcome = run(rule, election, weights)
        results[rule] = (outcome.selected, outcome.total_cost, outcome.details)
        if rule == MES_ADD1 and MES in rules and "plain_selected" in outcome.details:
            results[MES] = (
                outcome.details["plain_selected"],
                outcome.details["plain_total_cost"],
                {"from": "the first step of the Add1 run"},
            )
    for name, given in (outcomes or {}).items():
        if isinstance(given, Outcome):
            results[name] = (given.selected, given.total_cost, given.details)
        else:
            chosen = tuple(given)
            index = election.project_index()
            results[name] = (chosen, sum(election.projects[index[p]].cost for p in chosen), {})
    prepared = _Supporters(election) if election.vote_type not in (CUMULATIVE, ORDINAL) else None
    ordered = [r for r in rules if r in results] + [n for n in (outcomes or {}) if n in results]
    rows = []
    for name in ordered:
        selected, total_cost, details = results[name]
        rows.append(
            RuleComparison(
                rule=name,
                selected=tuple(selected),
                total_cost=total_cost,
                unspent=election.budget - total_cost,
                voters_with_funded_project=voters_with_funded_project(election, selected),
                voters=election.num_voters,
                areas=money_per_area(election, selected, areas, population),
                ejr_up_to_one=check_ejr_up_to_one(
                    election, selected, limit=ejr_limit, supporters=prepared
                ),
                details=details,
            )
        )
    return tuple(rows)
