"""Greedy by votes: "most votes first, skip what no longer fits".

Order
    Projects are ranked by total utility per unit of cost, as pabutools'
    ``greedy_utilitarian_welfare`` does. With the default ``utility="cost"`` (a voter values a
    project at its cost) that is simply the number of votes (approval) or points (cumulative),
    weighted. With ``utility="cardinality"`` it is votes (points) per unit of cost. Edge cases
    follow pabutools exactly: a project nobody supports has density 0 (it comes last but is still
    funded if it fits); a free project with support has infinite density (it comes first).
    Densities are compared exactly (integers / Fractions), never as floats.

Tie-breaking (deterministic, documented)
    Equal densities are ordered by project id as a string, ascending (Python ``str`` order,
    so ``"10"`` comes before ``"9"``). This is pabutools' default ``lexico_tie_breaking``.

Caps and the leftover policy (Amsterdam files)
    ``budget_per_category`` (paired with ``categories`` in META) and ``budget_per_neighborhood``
    (paired with ``neighborhoods``) are "an upper bound on the sum cost of projects within a
    category [neighbourhood] selected by the voting rule" (the files' comment). We read that as:
    while going down the ranking, a project is funded only if it fits in the remaining total
    budget *and* in the remaining cap of each of its capped categories and neighbourhoods; a
    project in several capped groups counts against each; groups without a cap are unlimited.
    ``leftover_budget`` ("Fund additional projects that fit within leftover budget ordered by
    score", Amsterdam 179) adds a second pass: after the capped pass, the money the caps left
    unused is spent by going down the same ranking once more, caps no longer applying, funding
    every not-yet-funded project that fits in what is left of the total budget. Files with caps
    but no ``leftover_budget`` key (Amsterdam 252) get no second pass.

No skipping (``greedy-no-skip``, Gdynia, Wroclaw and 362 other pabulib elections)
    ``no_skip=True`` takes projects in the same order but stops at the first eligible project
    that does not fit in the remaining budget: it and every project after it are not funded
    (the trace says so for each). Projects below the threshold are not eligible and do not stop
    the count. Caps and the leftover pass do not apply to this rule's files and are refused.

Ranked (ordinal) ballots
    A ranking gives its first project ``k`` points, the second ``k - 1``, ... with ``k`` the
    ballot rules' ``max_length`` (else the ballot's own length): the positional score pabulib
    files hold in their ``score`` column (Krakow). Greedy ranks by that score (cost utilities)
    or by score per unit of cost (cardinality), as it ranks points ballots.

Threshold
    ``min_score`` (META ``min_project_score_threshold``, Warsaw's "greedy-threshold") makes
    projects with fewer (weighted) votes than the threshold ineligible.

Voter weights: a voter of weight w counts as w voters (votes are summed with weights).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction

import numpy as np

from buurtbudget.domain.ballots import MAX_AMOUNT, ORDINAL, parse_number
from buurtbudget.domain.rules._common import (
    COST,
    UTILITIES,
    fmt_amount,
    fmt_votes,
    integer_weights,
)
from buurtbudget.domain.rules.model import Election, Outcome, TraceStep

# META rules whose min_project_score_threshold applies (Warsaw; Gdynia's greedy-no-skip).
_THRESHOLD_RULES = ("greedy-threshold", "greedy-no-skip")
FILL = "fill"
NONE = "none"
_LEFTOVER_POLICIES = (FILL, NONE)


def sum_by_project(values: np.ndarray, projects: np.ndarray, num_projects: int) -> list[int]:
    """Exact integer sum of ``values`` per project index (int64; no float rounding)."""
    totals = [0] * num_projects
    if len(projects) == 0:
        return totals
    if max(int(values.max()), -int(values.min())) * len(values) < 2**53:
        # Every partial sum is a whole number below 2**53, which a float64 holds exactly:
        # bincount is then exact, and linear (the sort below was a third of a count of a
        # million ballots).
        sums = np.bincount(projects, weights=values.astype(np.float64), minlength=num_projects)
        return [int(total) for total in sums.tolist()]
    order = np.argsort(projects, kind="stable")
    sorted_projects = projects[order]
    starts = np.flatnonzero(np.r_[True, sorted_projects[1:] != sorted_projects[:-1]])
    sums = np.add.reduceat(values[order], starts)
    for project, total in zip(sorted_projects[starts].tolist(), sums.tolist(), strict=True):
        totals[project] = int(total)
    return totals


def ordinal_points(election: Election) -> np.ndarray:
    """Points of every entry of an ordinal election's ballots: k for the first place, k - 1 for
    the second, ... (k = ballot rules' max_length, else the ballot's length), at least 0."""
    ballots = election.ballots
    voter_of_entry = ballots.voter_of_entry()
    rank = np.arange(len(ballots.projects), dtype=np.int64) - ballots.offsets[voter_of_entry]
    k = election.ballot_rules.max_length
    if k is None:
        top = np.diff(ballots.offsets)[voter_of_entry]
    else:
        top = np.full(len(rank), int(k), dtype=np.int64)
    return np.maximum(top - rank, 0)


def _parse_caps(meta: Mapping[str, str], names_key: str, caps_key: str) -> dict[str, Fraction]:
    if not meta.get(caps_key, "").strip():
        return {}
    names = [name.strip() for name in meta.get(names_key, "").split(",")]
    amounts = [amount.strip() for amount in meta[caps_key].split(",")]
    if len(names) != len(amounts) or not all(names):
        raise ValueError(
            f"META {caps_key} has {len(amounts)} amounts but {names_key} has {len(names)} names"
        )
    caps = {}
    for name, amount in zip(names, amounts, strict=True):
        try:
            caps[name] = Fraction(parse_number(amount, maximum=MAX_AMOUNT))
        except ValueError:
            raise ValueError(f"META {caps_key}: {amount[:40]!r} is not a number") from None
    return caps


def caps_from_meta(meta: Mapping[str, str]) -> tuple[dict[str, Fraction], dict[str, Fraction]]:
    """(category caps, neighbourhood caps) declared in pabulib META."""
    return (
        _parse_caps(meta, "categories", "budget_per_category"),
        _parse_caps(meta, "neighborhoods", "budget_per_neighborhood")
        or _parse_caps(meta, "neighbourhoods", "budget_per_neighbourhood"),
    )


def _density_key(total_utility: int, cost: int) -> tuple[int, Fraction]:
    # Sorted ascending: infinite density first, then the highest density.
    if total_utility > 0 and cost == 0:
        return (0, Fraction(0))
    if total_utility == 0:
        return (1, Fraction(0))
    return (1, -Fraction(total_utility, cost))


def greedy(
    election: Election,
    weights: Sequence[object] | np.ndarray | None = None,
    *,
    utility: str = COST,
    caps: bool = True,
    category_caps: Mapping[str, int | Fraction] | None = None,
    neighborhood_caps: Mapping[str, int | Fraction] | None = None,
    leftover: str | None = None,
    min_score: int | Fraction | None = None,
    no_skip: bool = False,
    rule_name: str = "greedy",
) -> Outcome:
    """Greedy by votes with optional caps, leftover policy and threshold (see module doc).

    ``caps=False`` ignores the caps in META; explicit ``category_caps`` / ``neighborhood_caps``
    override them. ``leftover`` is ``"fill"`` or ``"none"``; by default ``"fill"`` when META has
    ``leftover_budget``. ``min_score`` defaults to META ``min_project_score_threshold`` only
    when ``caps`` (i.e. "follow the file's own rules") is on and the META rule is
    ``greedy-threshold``.
    """
    projects = election.projects
    ballots = election.ballots
    int_weights, scale = integer_weights(weights, len(ballots))
    if weights is None and ballots.points is None and election.vote_type != ORDINAL:
        # Unweighted approval: a project's votes are its entries, counted in one pass.
        weighted_points = np.bincount(ballots.projects, minlength=len(projects)).tolist()
    else:
        if election.vote_type == ORDINAL:
            points = ordinal_points(election)
        else:
            points = ballots.points if ballots.points is not None else 1
        entry_weights = int_weights[ballots.voter_of_entry()]
        weighted_points = sum_by_project(entry_weights * points, ballots.projects, len(projects))
    if utility not in UTILITIES:
        raise ValueError(f"unknown utility {utility!r}; use one of {', '.join(UTILITIES)}")
    # total utility = sum of weight * utility; utility is cost*points or points, so the product
    # is formed in Python ints to stay exact.
    if utility == COST:
        total_utility = [wp * p.cost for wp, p in zip(weighted_points, projects, strict=True)]
    else:
        total_utility = list(weighted_points)

    meta_category_caps, meta_neighborhood_caps = caps_from_meta(election.meta) if caps else ({}, {})
    cat_caps = {k: Fraction(v) for k, v in (category_caps or meta_category_caps).items()}
    hood_caps = {k: Fraction(v) for k, v in (neighborhood_caps or meta_neighborhood_caps).items()}
    if leftover is None:
        leftover = FILL if caps and election.meta.get("leftover_budget", "").strip() else NONE
    if leftover not in _LEFTOVER_POLICIES:
        raise ValueError(f"leftover must be one of {', '.join(_LEFTOVER_POLICIES)}")
    if (
        min_score is None
        and caps
        and election.meta.get("rule", "").strip() in _THRESHOLD_RULES
        and election.meta.get("min_project_score_threshold", "").strip()
    ):
        try:
            min_score = Fraction(
                parse_number(election.meta["min_project_score_threshold"], maximum=MAX_AMOUNT)
            )
        except ValueError:
            raise ValueError("META min_project_score_threshold is not a number") from None
    if no_skip and (cat_caps or hood_caps):
        raise ValueError("greedy-no-skip does not apply category or neighbourhood caps")
    if election.vote_type == ORDINAL:
        noun = "points (ranked)"
    else:
        noun = "points" if election.ballots.points is not None else "votes"

    order = sorted(
        range(len(projects)),
        key=lambda i: (_density_key(total_utility[i], projects[i].cost), projects[i].id),
    )
    remaining: int | Fraction = election.budget
    used: dict[tuple[str, str], Fraction] = {}
    selected: list[str] = []
    chosen: set[int] = set()
    trace: list[TraceStep] = []

    def cap_problem(index: int) -> str | None:
        project = projects[index]
        for kind, groups, group_caps in (
            ("category", project.categories, cat_caps),
            ("neighbourhood", project.neighborhoods, hood_caps),
        ):
            for group in groups:
                if group in group_caps:
                    spent = used.get((kind, group), Fraction(0))
                    if spent + project.cost > group_caps[group]:
                        return (
                            f"{kind} cap '{group}' reached: {fmt_amount(spent)} of "
                            f"{fmt_amount(group_caps[group])} used, cost {fmt_amount(project.cost)}"
                            " does not fit"
                        )
        return None

    def take(index: int, why: str) -> None:
        nonlocal remaining
        project = projects[index]
        remaining -= project.cost
        for kind, groups in (
            ("category", project.categories),
            ("neighbourhood", project.neighborhoods),
        ):
            for group in groups:
                used[(kind, group)] = used.get((kind, group), Fraction(0)) + project.cost
        selected.append(project.id)
        chosen.add(index)
        trace.append(
            TraceStep(
                project.id,
                "selected",
                f"{why}{fmt_votes(weighted_points[index], scale)} {noun}, cost "
                f"{fmt_amount(project.cost)} fits (remaining {fmt_amount(remaining)})",
            )
        )

    eligible = []
    stopped_at: str | None = None
    for index in order:
        project = projects[index]
        if stopped_at is not None:
            trace.append(
                TraceStep(
                    project.id,
                    "skipped",
                    f"greedy-no-skip stopped at project {stopped_at}, which did not fit",
                )
            )
            continue
        votes = weighted_points[index]
        if min_score is not None and Fraction(votes, scale) < min_score:
            trace.append(
                TraceStep(
                    project.id,
                    "skipped",
                    f"{fmt_votes(votes, scale)} {noun} is below the threshold of "
                    f"{fmt_amount(min_score)}",
                )
            )
            continue
        eligible.append(index)
        if project.cost > remaining:
            trace.append(
                TraceStep(
                    project.id,
                    "skipped",
                    f"cost {fmt_amount(project.cost)} exceeds remaining {fmt_amount(remaining)}"
                    + ("; greedy-no-skip stops here" if no_skip else ""),
                )
            )
            if no_skip:
                stopped_at = project.id
            continue
        problem = cap_problem(index)
        if problem is not None:
            trace.append(TraceStep(project.id, "skipped", problem))
            continue
        take(index, "")

    if leftover == FILL and (cat_caps or hood_caps):
        for index in eligible:
            if index not in chosen and projects[index].cost <= remaining:
                take(index, "leftover budget: ")

    return Outcome(
        rule=rule_name,
        selected=tuple(selected),
        trace=tuple(trace),
        total_cost=sum(projects[i].cost for i in chosen),
        budget=election.budget,
        details={
            "utility": utility,
            "category_caps": cat_caps,
            "neighborhood_caps": hood_caps,
            "leftover": leftover,
            "min_score": min_score,
            "no_skip": no_skip,
            "stopped_at": stopped_at,
        },
    )
