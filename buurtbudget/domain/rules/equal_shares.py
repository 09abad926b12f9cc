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
    money, so voters are tracked in *classes*, and each project sees its supporters as a few
    (class, utility, total weight) groups. Every class keeps a float amount with a rigorous
    bound on its rounding error, and the history to recompute its exact ``Fraction`` on demand.
    Every decision (affordable or not, who runs out of money, which project wins, the
    tie-break) is taken on floats only when the error bounds prove it; otherwise it is taken on
    exact Fractions. Typically no Fraction is needed in a whole run.

Compiled rounds (``compiled=True``, the default)
    The float rounds run in compiled code (``_mes_kernel``, numba) until a round cannot be
    certified; that round is played by the numpy code with its exact fallback, then the
    compiled rounds continue. Both compute the same float prices and amounts, bit for bit
    (tests compare them), so the same outcome and trace. Warsaw 2026, MES+Add1 (186 runs):
    about 0.6 s instead of 3.5 s.

Why not pabutools itself: it is GPL (test-only here) and takes > 240 s for MES+Add1 on Warsaw
2026 because it recomputes every voter's payment with rationals per project and round.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

import numpy as np

from buurtbudget.domain.ballots import ORDINAL
from buurtbudget.domain.rules._common import (
    COST,
    entry_utilities,
    fmt_amount,
    fmt_votes,
    integer_weights,
)
from buurtbudget.domain.rules.model import Election, Outcome, TraceStep

ADD1 = "add1"
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
    total_utility_f: float
    supporter_weight: int


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
                    total_utility_f=float(total),
                    supporter_weight=supporter_weight,
                )
            )
        ids = [p.id for p in election.projects]
        self.ids = ids
        self.free = sorted(
            (d.index for d in self.data if d.cost == 0 and d.total_utility > 0), key=ids.__getitem__
        )
        self.candidates = [d.index for d in self.data if d.cost > 0 and d.total_utility > 0]
        self._kernel_inputs: _KernelInputs | None = None

    def kernel_inputs(self) -> _KernelInputs:
        """The projects' supporters and utilities as flat arrays for ``_mes_kernel``."""
        if self._kernel_inputs is None:
            self._kernel_inputs = _KernelInputs(self)
        return self._kernel_inputs


class _KernelGroups(NamedTuple):
    """The supporter groups of the projects selected by the compiled rounds, one per row."""

    classes: np.ndarray
    weights: np.ndarray  # float64 holding exact integers
    units: np.ndarray  # int64 utilities
    poor: np.ndarray  # bool: paid all its money


def _flat(arrays: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate([np.zeros(0, dtype=dtype), *arrays]).astype(dtype)


class _KernelInputs:
    """Per project, in CSR form (``sup_ptr[i]:sup_ptr[i + 1]`` and ``u_ptr[i]:...``): the
    supporters, their weights and utility codes, and the distinct utility values."""

    def __init__(self, prepared: _Prepared):
        data = prepared.data
        sizes = [len(d.supporters) for d in data]
        self.sup_ptr = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        self.sup_voter = _flat([d.supporters for d in data], np.int32)
        self.sup_weight = _flat([d.weights_f for d in data], np.int64)
        self.sup_code = _flat(
            [
                np.zeros(len(d.supporters), dtype=np.int64)
                if d.utility_code is None
                else d.utility_code
                for d in data
            ],
            np.int64,
        )
        self.widths = np.array([max(1, len(d.utility_values)) for d in data], dtype=np.int64)
        self.u_ptr = np.concatenate(([0], np.cumsum(self.widths))).astype(np.int64)
        values = [v for d in data for v in (d.utility_values or [1])]
        self.uval_i = np.array(values, dtype=np.int64)
        self.uval_f = self.uval_i.astype(np.float64)
        self.cost_f = np.array([float(d.cost) for d in data])
        self.total_utility_f = np.array([d.total_utility_f for d in data])
        self.max_support = max(sizes, default=0)
        self.unit_weights = bool(np.all(self.sup_weight == 1))
        self.candidates = np.zeros(len(data), dtype=bool)
        self.candidates[prepared.candidates] = True
        self.lower_bounds = np.zeros(len(data))
        for index, bound in _initial_lower_bounds(prepared).items():
            self.lower_bounds[index] = bound
        # Every selection turns each of its supporter groups into at most one new class, and a
        # project has at most one group per supporter.
        self.capacity = 2 + len(self.sup_voter)
        # Scratch space of the kernel, one entry per (class, utility code); kept all zero.
        self.total = np.zeros(self.capacity * int(self.widths.max(initial=1)), dtype=np.int64)
        self.seen = np.zeros(len(self.total) // 64 + 1, dtype=np.uint64)  # a bit per key
        # Class ids fit in int32 for any realistic election; int32 halves the cache traffic.
        self.class_dtype = np.int32 if self.capacity < 2**31 else np.int64


UNIT_ROUNDOFF = 2.0**-53


def _initial_lower_bounds(prepared: _Prepared) -> dict[int, float]:
    """A lower bound on the first price of each candidate: nobody has run out of money yet."""
    return {
        i: prepared.data[i].cost / prepared.data[i].total_utility * (1 - 8 * UNIT_ROUNDOFF)
        for i in prepared.candidates
    }


def _gamma(terms: int) -> float:
    """Generous bound on the relative rounding error of a float sum of ``terms`` terms."""
    return (terms + 8) * 2.0 * UNIT_ROUNDOFF


@dataclass
class _Evaluation:
    """A project's price in the current round: ``rho`` lies in ``[rho_f - err, rho_f + err]``."""

    data: _ProjectData
    rho_f: float
    err: float
    classes: np.ndarray  # the project's supporter groups: money class,
    codes: np.ndarray  # utility code,
    weights: np.ndarray  # total weight (float64 holding exact integers)
    exact: Fraction | None = None
    poor: np.ndarray | None = None  # certified: the groups that pay all their money


@dataclass
class _Selection:
    """What is needed to recompute a selected project's price exactly, if ever needed: its
    supporter groups and which of them paid all their money."""

    cost: int
    classes: np.ndarray
    weights: np.ndarray  # float64 holding exact integers
    units: np.ndarray  # int64 utilities
    poor: np.ndarray  # bool
    rho: Fraction | None


class _Run:
    """One run of MES for a given share per unit of weight.

    Money is tracked per class of voters. Each class keeps a float amount with a rigorous bound
    on its rounding error, and enough history (parent class, project paid for, utility) to
    recompute its exact amount on demand. Every decision (affordable or not, who runs out of
    money, which project wins) is taken on floats only when the error bounds prove the answer;
    otherwise the exact Fractions are computed. Typically no Fraction is needed in a whole run.
    """

    def __init__(self, prepared: _Prepared, share: Fraction, compiled: bool = True):
        self.p = prepared
        self.share = share
        self.compiled = compiled
        self.class_of_voter = np.zeros(
            prepared.num_voters,
            dtype=prepared.kernel_inputs().class_dtype if compiled else np.int64,
        )
        # The compiled rounds cannot grow the class arrays: give them the most they can need.
        # (only the first ``num_classes`` entries are ever read: no need to clear them).
        capacity = prepared.kernel_inputs().capacity if compiled else 256
        new = np.empty if compiled else np.zeros
        self.money_f = new(capacity)
        self.err_f = new(capacity)
        self.parent = new(capacity, dtype=np.int64)
        self.paid_at = new(capacity, dtype=np.int64)  # position in self.selections
        self.unit = new(capacity, dtype=np.int64)  # utility it paid rho for
        self.num_classes = 2  # class 0: untouched voters; class ZERO_CLASS: no money left
        self.money_f[0] = float(share)
        self.err_f[0] = float(share) * UNIT_ROUNDOFF
        self.money_f[ZERO_CLASS] = self.err_f[ZERO_CLASS] = 0.0
        self.exact_money: dict[int, Fraction] = {0: share, ZERO_CLASS: Fraction(0)}
        # A selection of the compiled rounds is kept as (cost, first row, end row) of
        # ``_kernel_groups`` until its exact price is needed.
        self.selections: list[_Selection | tuple[int, int, int]] = []
        self._kernel_groups: _KernelGroups | None = None
        self.selected: list[int] = []
        self.steps: list[TraceStep] = []
        self.total_cost = 0
        self.exact_used = False
        self.exact_upto = 0  # selections[:exact_upto] have their exact rho

    # -- exact values, on demand ------------------------------------------------------------
    def _selection(self, position: int) -> _Selection:
        selection = self.selections[position]
        if isinstance(selection, tuple):  # rows of the compiled rounds' output
            cost, start, end = selection
            g = self._kernel_groups
            rows = slice(start, end)
            selection = _Selection(
                cost, g.classes[rows], g.weights[rows], g.units[rows], g.poor[rows], rho=None
            )
            self.selections[position] = selection
        return selection

    def _selection_rho(self, position: int) -> Fraction:
        for i in range(self.exact_upto, position + 1):
            selection = self._selection(i)
            if selection.rho is None:
                poor = selection.poor & (selection.classes != ZERO_CLASS)
                rich = ~selection.poor
                paid = sum(
                    (
                        int(w) * self.money(c)
                        for c, w in zip(
                            selection.classes[poor].tolist(),
                            selection.weights[poor].tolist(),
                            strict=True,
                        )
                    ),
                    Fraction(0),
                )
                denominator = sum(
                    int(w) * u
                    for w, u in zip(
                        selection.weights[rich].tolist(),
                        selection.units[rich].tolist(),
                        strict=True,
                    )
                )
                selection.rho = (selection.cost - paid) / denominator
        self.exact_upto = max(self.exact_upto, position + 1)
        rho = self._selection(position).rho
        assert rho is not None
        return rho

    def money(self, cls: int) -> Fraction:
        """Exact money of every voter in a class."""
        self.exact_used = True
        chain = []
        while cls not in self.exact_money:
            chain.append(cls)
            cls = int(self.parent[cls])
        value = self.exact_money[cls]
        for c in reversed(chain):
            value = value - int(self.unit[c]) * self._selection_rho(int(self.paid_at[c]))
            self.exact_money[c] = value
        return value

    # -- pricing --------------------------------------------------------------------------
    def _groups(self, data: _ProjectData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(money class, utility code, total weight) of the supporters, one row per group."""
        classes = self.class_of_voter[data.supporters]
        if data.utility_code is None:
            sums = np.bincount(classes, weights=data.weights_f, minlength=self.num_classes)
            keys = np.flatnonzero(sums)
            return keys, np.zeros(len(keys), dtype=np.int64), sums[keys]
        width = len(data.utility_values)
        sums = np.bincount(
            classes * width + data.utility_code,
            weights=data.weights_f,
            minlength=self.num_classes * width,
        )
        keys = np.flatnonzero(sums)
        return keys // width, keys % width, sums[keys]

    def _exact_rho(self, data: _ProjectData, classes, codes, weights) -> Fraction | None:
        """Exact price (None if unaffordable): supporters in order of money per utility."""
        items = [
            (self.money(c), data.utility_values[u], int(w))
            for c, u, w in zip(classes.tolist(), codes.tolist(), weights.tolist(), strict=True)
        ]
        if sum(m * w for m, _, w in items) < data.cost:
            return None
        items.sort(key=lambda item: item[0] / item[1])
        paid = Fraction(0)
        denominator = sum(u * w for _, u, w in items)
        for money, u, w in items:
            rho = (data.cost - paid) / denominator
            if rho * u <= money:
                return rho
            paid += w * money
            denominator -= w * u
        raise AssertionError("affordable project without a price")  # pragma: no cover

    def _exact_evaluation(self, data, classes, codes, weights) -> _Evaluation | None:
        rho = self._exact_rho(data, classes, codes, weights)
        if rho is None:
            return None
        rho_f = float(rho)
        return _Evaluation(data, rho_f, 2 * UNIT_ROUNDOFF * rho_f, classes, codes, weights, rho)

    def evaluate(self, data: _ProjectData) -> _Evaluation | None:
        """The project's price, or None if its supporters cannot pay its cost."""
        classes, codes, weights = self._groups(data)
        money = self.money_f[classes]
        err = self.err_f[classes]
        # Approval ballots: one utility value per project, kept as a scalar (fewer array ops).
        scalar = data.utility_code is None
        utility = data.utility_values_f[0] if scalar else data.utility_values_f[codes]
        cost = data.cost
        gamma = _gamma(len(classes))
        available = float(np.dot(weights, money))
        money_err = float(np.dot(weights, err))
        available_err = money_err + gamma * (available + money_err) + gamma * cost
        if available + available_err < cost:
            return None
        if available - available_err < cost:
            return self._exact_evaluation(data, classes, codes, weights)

        ratios = money / utility
        # Fast path: if nobody runs out of money, the price is cost / total utility, exactly.
        rho_all = cost / data.total_utility_f
        if ratios.min() > rho_all:
            rho_err = 4 * UNIT_ROUNDOFF * rho_all
            margin = money - rho_all * utility
            tolerance = err + utility * rho_err + 4 * UNIT_ROUNDOFF * (money + rho_all * utility)
            if (margin > tolerance).all():
                exact = Fraction(cost, data.total_utility)
                empty = np.zeros(0, dtype=np.int64)
                return _Evaluation(data, rho_all, rho_err, classes, codes, weights, exact, empty)
        order = np.argsort(ratios, kind="stable")
        w_sorted = weights[order]
        paid_before = np.concatenate(([0.0], np.cumsum(w_sorted * money[order])[:-1]))
        utility_sorted = utility if scalar else utility[order]
        utility_from = np.cumsum((w_sorted * utility_sorted)[::-1])[::-1]
        prices = (cost - paid_before) / utility_from
        valid = np.flatnonzero(prices <= ratios[order])
        first_rich = int(valid[0]) if len(valid) else len(order) - 1
        poor = order[:first_rich]
        is_poor = np.zeros(len(classes), dtype=bool)
        is_poor[poor] = True
        # The price for that guess, summed one by one in group order: the same float as in the
        # compiled rounds (which find the poor groups without sorting all groups).
        paid = float(np.cumsum((weights * money)[is_poor])[-1]) if first_rich else 0.0
        denominator = float(np.cumsum((weights * utility)[~is_poor])[-1])
        rho_f = (cost - paid) / denominator
        paid_err = float(np.dot(weights[poor], err[poor])) + gamma * (paid + money_err)
        denominator_err = gamma * denominator  # zero in practice: sums of integers below 2**53
        rho_err = 2.0 * (
            (paid_err + 2 * UNIT_ROUNDOFF * (cost + paid)) / denominator
            + rho_f * (denominator_err / denominator + 2 * UNIT_ROUNDOFF)
        )
        # Certify the guess of who pays all their money: every group must be clearly on its side.
        margin = money - rho_f * utility
        tolerance = err + utility * rho_err + 4 * UNIT_ROUNDOFF * (money + rho_f * utility)
        certified = np.all(np.where(is_poor, margin < -tolerance, margin > tolerance))
        if not certified:
            return self._exact_evaluation(data, classes, codes, weights)
        return _Evaluation(data, rho_f, rho_err, classes, codes, weights, poor=poor)

    def exact_price(self, e: _Evaluation) -> Fraction:
        """Exact price of an evaluated project (cheap when its partition was certified)."""
        if e.exact is None:
            if e.poor is not None:
                rich = np.ones(len(e.classes), dtype=bool)
                rich[e.poor] = False
                values = e.data.utility_values
                denominator = sum(
                    int(w) * values[u]
                    for w, u in zip(e.weights[rich].tolist(), e.codes[rich].tolist(), strict=True)
                )
                paid = sum(
                    (
                        int(w) * self.money(c)
                        for w, c in zip(
                            e.weights[e.poor].tolist(), e.classes[e.poor].tolist(), strict=True
                        )
                        if c != ZERO_CLASS
                    ),
                    Fraction(0),
                )
                e.exact = (e.data.cost - paid) / denominator
            else:
                e.exact = self._exact_rho(e.data, e.classes, e.codes, e.weights)
        assert e.exact is not None
        return e.exact

    # -- selection ------------------------------------------------------------------------
    def _new_classes(self, count: int) -> np.ndarray:
        start = self.num_classes
        needed = start + count
        if needed > len(self.money_f):
            size = max(needed, 2 * len(self.money_f))
            for name in ("money_f", "err_f", "parent", "paid_at", "unit"):
                old = getattr(self, name)
                grown = np.zeros(size, dtype=old.dtype)
                grown[: len(old)] = old
                setattr(self, name, grown)
        self.num_classes = needed
        return np.arange(start, needed, dtype=np.int64)

    def charge(self, evaluation: _Evaluation) -> float:
        """Charge the supporters of the selected project; returns the largest payment (float)."""
        data = evaluation.data
        classes, codes, weights = evaluation.classes, evaluation.codes, evaluation.weights
        utility_int = np.array(data.utility_values, dtype=np.int64)[codes]
        utility = data.utility_values_f[codes]
        money = self.money_f[classes]
        err = self.err_f[classes]
        rho_f, rho_err = evaluation.rho_f, evaluation.err
        margin = money - rho_f * utility
        tolerance = err + utility * rho_err + 4 * UNIT_ROUNDOFF * (money + rho_f * utility)
        poor = margin < -tolerance
        unclear = np.flatnonzero(np.abs(margin) <= tolerance)
        if len(unclear):
            rho = self.exact_price(evaluation)
            for g in unclear.tolist():
                poor[g] = self.money(int(classes[g])) <= rho * int(utility_int[g])
        position = len(self.selections)
        rich_idx = np.flatnonzero(~poor)
        self.selections.append(
            _Selection(data.cost, classes, weights, utility_int, poor, rho=evaluation.exact)
        )
        new_ids = self._new_classes(len(rich_idx))
        payment = rho_f * utility[rich_idx]
        self.money_f[new_ids] = money[rich_idx] - payment
        self.err_f[new_ids] = (
            err[rich_idx]
            + utility[rich_idx] * rho_err
            + 4 * UNIT_ROUNDOFF * (money[rich_idx] + payment)
        )
        self.parent[new_ids] = classes[rich_idx]
        self.paid_at[new_ids] = position
        self.unit[new_ids] = utility_int[rich_idx]

        # Move every supporter to the class of its group.
        target = np.full(len(classes), ZERO_CLASS, dtype=np.int64)
        target[rich_idx] = new_ids
        supporters_class = self.class_of_voter[data.supporters]
        if data.utility_code is None:
            lookup = np.zeros(self.num_classes, dtype=np.int64)
            lookup[classes] = target
            self.class_of_voter[data.supporters] = lookup[supporters_class]
        else:
            width = len(data.utility_values)
            lookup = np.zeros(self.num_classes * width, dtype=np.int64)
            lookup[classes * width + codes] = target
            self.class_of_voter[data.supporters] = lookup[
                supporters_class * width + data.utility_code
            ]
        largest = np.minimum(money, rho_f * utility)
        return float(largest.max()) if len(largest) else 0.0

    def run(self, with_trace: bool) -> None:
        p = self.p
        for index in p.free:
            self.selected.append(index)
            if with_trace:
                self.steps.append(TraceStep(p.ids[index], "selected", "free project with support"))
        if self.compiled:
            self._run_compiled(with_trace)
        else:
            remaining = set(p.candidates)
            lower_bound = _initial_lower_bounds(p)
            while remaining and self._round(remaining, lower_bound, with_trace):
                pass
        if with_trace:
            self._trace_rest()

    def _round(self, remaining: set[int], lower_bound: dict[int, float], with_trace: bool) -> bool:
        """Select the next project (False if none is affordable any more)."""
        p = self.p
        ids = p.ids
        best_high = math.inf
        evaluated: list[_Evaluation] = []
        for index in sorted(remaining, key=lower_bound.__getitem__):
            if lower_bound[index] > best_high:
                break
            evaluation = self.evaluate(p.data[index])
            if evaluation is None:
                remaining.discard(index)
                continue
            lower_bound[index] = evaluation.rho_f - evaluation.err
            best_high = min(best_high, evaluation.rho_f + evaluation.err)
            evaluated.append(evaluation)
        if not evaluated:
            return False
        contenders = [e for e in evaluated if e.rho_f - e.err <= best_high]
        if len(contenders) > 1:
            # Too close for floats (often an exact tie): decide on exact prices.
            winner = min(contenders, key=lambda e: (self.exact_price(e), ids[e.data.index]))
        else:
            winner = contenders[0]
        largest = self.charge(winner)
        remaining.discard(winner.data.index)
        self._record(winner.data.index, largest, winner.rho_f, with_trace)
        return True

    def _record(self, index: int, largest: float, rho_f: float, with_trace: bool) -> None:
        data = self.p.data[index]
        self.selected.append(index)
        self.total_cost += data.cost
        if with_trace:
            self.steps.append(
                TraceStep(
                    self.p.ids[index],
                    "selected",
                    f"cost {fmt_amount(data.cost)} shared by "
                    f"{fmt_votes(data.supporter_weight, self.p.scale)} supporters, at most "
                    f"{fmt_amount(largest * self.p.scale)} each (lowest price per unit of "
                    f"utility: {rho_f:.6g})",
                )
            )

    def _run_compiled(self, with_trace: bool) -> None:
        """The rounds in compiled code (``_mes_kernel``) as long as floats certify every
        decision; a round that needs exact arithmetic is played by ``_round``."""
        from buurtbudget.domain.rules import _mes_kernel as kernel  # numba: imported on use

        p = self.p
        k = p.kernel_inputs()
        num_projects = len(p.data)
        remaining = k.candidates.copy()
        lower_bound = k.lower_bounds.copy()
        out_project = np.empty(num_projects, dtype=np.int64)
        out_rho = np.empty(num_projects)
        out_largest = np.empty(num_projects)
        out_group_end = np.empty(num_projects, dtype=np.int64)
        rows = k.capacity  # one row per supporter group of a selected project: at most this
        groups = _KernelGroups(
            np.empty(rows, dtype=np.int64), np.empty(rows), np.empty(rows, dtype=np.int64),
            np.empty(rows, dtype=bool),
        )  # fmt: skip
        self._kernel_groups = groups
        counters = np.zeros(3, dtype=np.int64)
        used_rows = 0
        while True:
            counters[:] = (self.num_classes, len(self.selections), used_rows)
            status, count = kernel.mes_rounds(
                k.sup_ptr, k.sup_voter, k.sup_weight, k.sup_code, k.widths, k.u_ptr, k.uval_f,
                k.uval_i, k.cost_f, k.total_utility_f, k.max_support, k.unit_weights,
                remaining, lower_bound, self.class_of_voter, self.money_f, self.err_f,
                self.parent, self.paid_at, self.unit, counters, k.total, k.seen,
                out_project, out_rho, out_largest, out_group_end,
                groups.classes, groups.weights, groups.units, groups.poor,
            )  # fmt: skip
            self.num_classes = int(counters[0])
            for s in range(count):
                index, end = int(out_project[s]), int(out_group_end[s])
                # Made into a _Selection only if its exact price is ever needed.
                self.selections.append((p.data[index].cost, used_rows, end))
                self._record(index, float(out_largest[s]), float(out_rho[s]), with_trace)
                used_rows = end
            if status == kernel.DONE:
                return
            candidates = set(np.flatnonzero(remaining).tolist())
            bounds = {i: float(lower_bound[i]) for i in candidates}
            more = self._round(candidates, bounds, with_trace)
            remaining[:] = False
            remaining[list(candidates)] = True
            lower_bound[list(bounds)] = list(bounds.values())
            if not more or not candidates:
                return

    def _trace_rest(self) -> None:
        p = self.p
        chosen = set(self.selected)
        for data in p.data:
            if data.index in chosen:
                continue
            if data.total_utility == 0:
                reason = "no supporter gets utility from it"
            else:
                classes, _, weights = self._groups(data)
                left = float(np.dot(weights, self.money_f[classes])) * p.scale
                reason = (
                    f"its supporters have {fmt_amount(left)} left, cost {fmt_amount(data.cost)}"
                )
            self.steps.append(TraceStep(p.ids[data.index], "skipped", reason))


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
    compiled: bool = True,
) -> Outcome:
    """Method of Equal Shares; ``completion="add1"`` adds the Add1 completion (see module doc).

    ``increment`` is the money added per voter (of weight 1) in each Add1 step. ``compiled``
    plays the float rounds in compiled code (``_mes_kernel``, numba); ``False`` plays them with
    numpy only (same results, slower; kept for tests and comparisons).
    """
    if completion not in (None, ADD1):
        raise ValueError(f"unknown completion {completion!r}")
    name = rule_name or ("mes_add1" if completion == ADD1 else "mes")
    if election.vote_type == ORDINAL:
        raise ValueError("the Method of Equal Shares does not count ranked (ordinal) ballots")
    prepared = _Prepared(election, weights, utility)
    budget = election.budget
    details: dict[str, object] = {"utility": utility}
    if prepared.total_weight == 0:
        return Outcome(name, (), (), 0, budget, {**details, "note": "no voters"})
    base_share = Fraction(budget) / prepared.total_weight
    step = Fraction(increment) / prepared.scale

    def run(k: int, with_trace: bool = False) -> _Run:
        mes = _Run(prepared, base_share + k * step, compiled)
        mes.run(with_trace)
        return mes

    k = 0
    if completion == ADD1:
        previous_k = None
        while True:
            current = run(k)
            if k == 0:
                # Step 0 is plain MES: kept so a comparison of rules need not run it again.
                details["plain_selected"] = tuple(prepared.ids[i] for i in current.selected)
                details["plain_total_cost"] = current.total_cost
            if progress is not None and k % 25 == 0:
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
        if progress is not None:
            progress(f"add1 stopped after {k + 1} runs; outcome of step {previous_k}")
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
