"""Method of Equal Shares (MES), with cost or cardinality utilities, and the Add1 completion.

Semantics (identical to pabutools 1.2.3 ``method_of_equal_shares``, checked by the tests)
    Every voter gets an equal share ``budget / number of voters`` of the budget (a voter of
    weight w counts as w voters: share ``w * budget / total weight``). A voter's utility for a
    supported project is its cost (``utility="cost"``, what cities use) or 1
    (``utility="cardinality"``), times the points given for cumulative ballots. In each round,
    for every project whose supporters still hold at least its cost, take the smallest ``rho``
    such that supporters paying ``min(own money, rho * utility)`` cover the cost; select the
    project with the smallest ``rho``, charge its supporters, repeat until no project is
    affordable. Projects without supporters are never selected; free projects with supporters
    are selected first (with cost utilities a free project gives no utility, so it never is).

Tie-breaking (deterministic, documented)
    Projects with exactly equal ``rho`` are ordered by project id as a string, ascending
    (Python ``str`` order); the first is selected. This is pabutools' default
    ``lexico_tie_breaking``.

Add1 completion (``completion="add1"``, pabutools' ``voter_budget_increment=1``)
    Run MES with a share of ``budget / n + k`` per voter for k = 0, 1, 2, ... (``k * w`` for a
    voter of weight w). Stop at the first k whose outcome is exhaustive (no further supported
    project fits in the budget): return it; or whose outcome costs more than the budget: return
    the outcome of k - 1.

Exactness
    Voters who supported the same selected projects (with the same points) always hold the same
    money, so voters are tracked in *classes* holding an exact ``Fraction`` budget, and each
    project sees its supporters as a few (class, utility, total weight) groups. ``rho`` is first
    computed in floating point to find the candidates; the projects within a relative 1e-9 of the
    smallest float ``rho`` are then recomputed exactly (the float ordering only proposes which
    supporters run out of money; that guess is verified exactly, with an exact fallback), and
    the winner, the tie-break and the payments are all decided on exact Fractions. Float values
    are only used as bounds with a safety margin far above their rounding error.

Why not pabutools itself: it is GPL (test-only here) and takes > 240 s for MES+Add1 on Warsaw
2026 because it recomputes every voter's payment with rationals per project and round.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from buurtbudget.domain.rules._common import (
    COST,
    entry_utilities,
    fmt_amount,
    fmt_votes,
    integer_weights,
)
from buurtbudget.domain.rules.model import Election, Outcome, TraceStep

ADD1 = "add1"
# Relative margin for float comparisons. Float rho values here have relative errors around
# 1e-15; anything closer than this margin is decided exactly.
EPS = 1e-9
ZERO_CLASS = 1  # class id shared by every voter whose money is used up

Progress = Callable[[str], None]


@dataclass
class _ProjectData:
    index: int
    cost: int
    supporters: np.ndarray  # voter indices
    weights_f: np.ndarray  # their weights, float64 (exact: integers below 2**53)
    utility_values: list[int]  # distinct utilities among supporters
    utility_values_f: np.ndarray
    utility_code: np.ndarray | None  # per supporter, index into utility_values (None: one value)
    total_utility: int  # sum of weight * utility, exact
    supporter_weight: int


@dataclass
class _Groups:
    """A project's supporters grouped by (money class, utility), in float-ratio order."""

    classes: np.ndarray
    utilities: list[int]
    weights: list[int]
    first_rich: int  # float guess: groups before this index pay all their money
    ratios_f: np.ndarray


class _Prepared:
    """Everything about an election that does not depend on the per-voter share."""

    def __init__(self, election: Election, weights: object, utility: str):
        ballots = election.ballots
        self.election = election
        self.utility = utility
        self.num_voters = len(ballots)
        int_weights, self.scale = integer_weights(weights, self.num_voters)
        self.total_weight = int(int_weights.sum())
        utilities = entry_utilities(election, utility)
        voters = ballots.voter_of_entry()
        keep = (utilities > 0) & (int_weights[voters] > 0)
        projects_of_entry = ballots.projects[keep]
        voters = voters[keep]
        utilities = utilities[keep]
        order = np.argsort(projects_of_entry, kind="stable")
        projects_sorted = projects_of_entry[order]
        bounds = np.searchsorted(projects_sorted, np.arange(len(election.projects) + 1))
        self.data: list[_ProjectData] = []
        for index, project in enumerate(election.projects):
            chosen = order[bounds[index] : bounds[index + 1]]
            supporters = voters[chosen]
            weights_int = int_weights[supporters]
            values = utilities[chosen]
            distinct, codes = np.unique(values, return_inverse=True)
            supporter_weight = int(weights_int.sum())
            if len(distinct) <= 1:
                utility_values = [int(v) for v in distinct.tolist()]
                total = supporter_weight * (utility_values[0] if utility_values else 0)
                utility_code = None
            else:
                utility_values = [int(v) for v in distinct.tolist()]
                per_value = np.bincount(codes, weights=weights_int.astype(np.float64))
                total = sum(
                    int(w) * v for w, v in zip(per_value.tolist(), utility_values, strict=True)
                )
                utility_code = codes.astype(np.int64)
            self.data.append(
                _ProjectData(
                    index=index,
                    cost=project.cost,
                    supporters=supporters,
                    weights_f=weights_int.astype(np.float64),
                    utility_values=utility_values,
                    utility_values_f=np.array(utility_values, dtype=np.float64),
                    utility_code=utility_code,
                    total_utility=total,
                    supporter_weight=supporter_weight,
                )
            )
        ids = [p.id for p in election.projects]
        self.ids = ids
        self.free = sorted(
            (d.index for d in self.data if d.cost == 0 and d.total_utility > 0), key=ids.__getitem__
        )
        self.candidates = [d.index for d in self.data if d.cost > 0 and d.total_utility > 0]


class _Run:
    """One run of MES for a given share per unit of weight."""

    def __init__(self, prepared: _Prepared, share: Fraction):
        self.p = prepared
        self.class_of_voter = np.zeros(prepared.num_voters, dtype=np.int64)
        self.money: list[Fraction] = [share, Fraction(0)]
        self.money_f = np.zeros(64, dtype=np.float64)
        self.money_f[0] = float(share)
        self.selected: list[int] = []
        self.steps: list[TraceStep] = []
        self.total_cost = 0

    # -- groups ---------------------------------------------------------------------------
    def _keys(self, data: _ProjectData) -> tuple[np.ndarray, int]:
        classes = self.class_of_voter[data.supporters]
        if data.utility_code is None:
            return classes, 1
        width = len(data.utility_values)
        return classes * width + data.utility_code, width

    def _group_weights(self, data: _ProjectData) -> tuple[np.ndarray, np.ndarray, int]:
        keys, width = self._keys(data)
        sums = np.bincount(keys, weights=data.weights_f, minlength=len(self.money) * width)
        nonzero = np.flatnonzero(sums)
        return nonzero, sums[nonzero], width

    def evaluate(self, data: _ProjectData) -> tuple[float, _Groups] | None:
        """Float rho and groups of a project, or None if its supporters cannot pay its cost."""
        keys, group_w, width = self._group_weights(data)
        classes = keys // width
        codes = keys % width
        group_u = data.utility_values_f[codes]
        group_b = self.money_f[classes]
        cost = data.cost
        available = float(np.dot(group_w, group_b))
        if available < cost * (1 - EPS):
            return None
        if available <= cost * (1 + EPS):
            exact = sum(
                (
                    int(w) * self.money[c]
                    for w, c in zip(group_w.tolist(), classes.tolist(), strict=True)
                ),
                Fraction(0),
            )
            if exact < cost:
                return None
        ratios = group_b / group_u
        order = np.argsort(ratios, kind="stable")
        w_sorted = group_w[order]
        paid_before = np.concatenate(([0.0], np.cumsum(w_sorted * group_b[order])[:-1]))
        utility_from = np.cumsum((w_sorted * group_u[order])[::-1])[::-1]
        rho = (cost - paid_before) / utility_from
        valid = np.flatnonzero(rho <= ratios[order])
        first_rich = int(valid[0]) if len(valid) else len(order) - 1
        groups = _Groups(
            classes=classes[order],
            utilities=[data.utility_values[c] for c in codes[order].tolist()],
            weights=[int(w) for w in w_sorted.tolist()],
            first_rich=first_rich,
            ratios_f=ratios[order],
        )
        return float(rho[first_rich]), groups

    def exact_rho(self, data: _ProjectData, groups: _Groups, rho_f: float) -> Fraction:
        money = self.money
        classes = groups.classes.tolist()
        k = groups.first_rich
        paid = sum(
            (groups.weights[g] * money[classes[g]] for g in range(k)),
            Fraction(0),
        )
        denominator = sum(groups.weights[g] * groups.utilities[g] for g in range(k, len(classes)))
        if denominator > 0:
            rho = (data.cost - paid) / denominator
            # Only groups whose float ratio is near rho can be on the wrong side of the guess.
            near = np.flatnonzero(np.abs(groups.ratios_f - rho_f) <= 1e-7 * max(rho_f, 1e-300))
            consistent = True
            for g in near.tolist():
                budget, limit = money[classes[g]], rho * groups.utilities[g]
                if (g < k and budget > limit) or (g >= k and budget < limit):
                    consistent = False
                    break
            if consistent:
                return rho
        return self._exact_rho_slow(data, groups)

    def _exact_rho_slow(self, data: _ProjectData, groups: _Groups) -> Fraction:
        # Fallback, fully exact: supporters by money per unit of utility, as in the definition.
        money = self.money
        items = sorted(
            zip(groups.classes.tolist(), groups.utilities, groups.weights, strict=True),
            key=lambda item: money[item[0]] / item[1],
        )
        paid = Fraction(0)
        denominator = sum(w * u for _, u, w in items)
        for cls, u, w in items:
            rho = (data.cost - paid) / denominator
            if rho * u <= money[cls]:
                return rho
            paid += w * money[cls]
            denominator -= w * u
        raise AssertionError("affordable project without a price")  # pragma: no cover

    # -- selection ------------------------------------------------------------------------
    def charge(self, data: _ProjectData, rho: Fraction) -> tuple[Fraction, int]:
        """Charge the supporters of a selected project; returns (largest payment, supporters)."""
        keys, width = self._keys(data)
        nonzero, _, _ = self._group_weights(data)
        new_class = np.zeros(len(self.money) * width, dtype=np.int64)
        largest = Fraction(0)
        for key in nonzero.tolist():
            cls, code = divmod(key, width)
            budget = self.money[cls]
            payment = rho * data.utility_values[code]
            if budget <= payment:
                largest = max(largest, budget)
                new_class[key] = ZERO_CLASS
            else:
                largest = max(largest, payment)
                new_class[key] = self._new_class(budget - payment)
        self.class_of_voter[data.supporters] = new_class[keys]
        return largest, data.supporter_weight

    def _new_class(self, money: Fraction) -> int:
        self.money.append(money)
        index = len(self.money) - 1
        if index >= len(self.money_f):
            self.money_f = np.concatenate((self.money_f, np.zeros(len(self.money_f))))
        self.money_f[index] = float(money)
        return index

    def run(self, with_trace: bool) -> None:
        p = self.p
        ids = p.ids
        for index in p.free:
            self.selected.append(index)
            if with_trace:
                self.steps.append(TraceStep(ids[index], "selected", "free project with support"))
        remaining = set(p.candidates)
        lower_bound = {i: p.data[i].cost / p.data[i].total_utility * (1 - EPS) for i in remaining}
        while remaining:
            best_f = math.inf
            evaluated: list[tuple[float, int, _Groups]] = []
            for index in sorted(remaining, key=lower_bound.__getitem__):
                if lower_bound[index] > best_f * (1 + EPS):
                    break
                result = self.evaluate(p.data[index])
                if result is None:
                    remaining.discard(index)
                    continue
                rho_f, groups = result
                lower_bound[index] = rho_f * (1 - EPS)
                best_f = min(best_f, rho_f)
                evaluated.append((rho_f, index, groups))
            if not evaluated:
                break
            best: tuple[Fraction, str, int] | None = None
            for rho_f, index, groups in evaluated:
                if rho_f <= best_f * (1 + EPS):
                    rho = self.exact_rho(p.data[index], groups, rho_f)
                    key = (rho, ids[index], index)
                    if best is None or key[:2] < best[:2]:
                        best = key
            assert best is not None
            rho, _, index = best
            data = p.data[index]
            largest, supporters = self.charge(data, rho)
            remaining.discard(index)
            self.selected.append(index)
            self.total_cost += data.cost
            if with_trace:
                self.steps.append(
                    TraceStep(
                        ids[index],
                        "selected",
                        f"cost {fmt_amount(data.cost)} shared by {fmt_votes(supporters, p.scale)}"
                        f" supporters, at most {fmt_amount(largest * p.scale)} each "
                        f"(lowest price per unit of utility: {float(rho):.6g})",
                    )
                )
        if with_trace:
            self._trace_rest()

    def _trace_rest(self) -> None:
        p = self.p
        chosen = set(self.selected)
        for data in p.data:
            if data.index in chosen:
                continue
            project_id = p.ids[data.index]
            if data.total_utility == 0:
                reason = "no supporter gets utility from it"
            else:
                keys, group_w, width = self._group_weights(data)
                left = sum(
                    (
                        int(w) * self.money[k // width]
                        for w, k in zip(group_w.tolist(), keys.tolist(), strict=True)
                    ),
                    Fraction(0),
                )
                reason = (
                    f"its supporters have {fmt_amount(left * p.scale)} left, "
                    f"cost {fmt_amount(data.cost)}"
                )
            self.steps.append(TraceStep(project_id, "skipped", reason))


def _exhaustive(prepared: _Prepared, selected: Sequence[int], total_cost: int, budget) -> bool:
    chosen = set(selected)
    return all(
        index in chosen or total_cost + prepared.data[index].cost > budget
        for index in prepared.candidates
    )


def equal_shares(
    election: Election,
    weights: Sequence[object] | np.ndarray | None = None,
    *,
    utility: str = COST,
    completion: str | None = None,
    increment: int | Fraction = 1,
    rule_name: str | None = None,
    progress: Progress | None = None,
) -> Outcome:
    """Method of Equal Shares; ``completion="add1"`` adds the Add1 completion (see module doc).

    ``increment`` is the money added per voter (of weight 1) in each Add1 step.
    """
    if completion not in (None, ADD1):
        raise ValueError(f"unknown completion {completion!r}")
    name = rule_name or ("mes_add1" if completion == ADD1 else "mes")
    prepared = _Prepared(election, weights, utility)
    budget = election.budget
    details: dict[str, object] = {"utility": utility}
    if prepared.total_weight == 0:
        return Outcome(name, (), (), 0, budget, {**details, "note": "no voters"})
    base_share = Fraction(budget) / prepared.total_weight
    step = Fraction(increment) / prepared.scale

    def run(k: int, with_trace: bool = False) -> _Run:
        mes = _Run(prepared, base_share + k * step)
        mes.run(with_trace)
        return mes

    k = 0
    if completion == ADD1:
        previous_k = None
        while True:
            current = run(k)
            if progress is not None:
                progress(
                    f"add1 step {k}: {len(current.selected)} projects, cost "
                    f"{fmt_amount(current.total_cost)} of {fmt_amount(budget)}"
                )
            if current.total_cost > budget:
                break
            previous_k = k
            if _exhaustive(prepared, current.selected, current.total_cost, budget):
                break
            k += 1
        details["add1_steps_tried"] = k + 1
        if previous_k is None:
            # Never reached in practice: MES with the plain share always fits the budget.
            return Outcome(name, (), (), 0, budget, details)  # pragma: no cover
        k = previous_k
    final = run(k, with_trace=True)
    details["share_per_voter"] = (base_share + k * step) * prepared.scale
    details["add1_increment_steps"] = k
    return Outcome(
        rule=name,
        selected=tuple(prepared.ids[i] for i in final.selected),
        trace=tuple(final.steps),
        total_cost=final.total_cost,
        budget=budget,
        details=details,
    )
