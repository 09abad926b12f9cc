"""Voting rules for participatory budgeting: pure functions over plain, immutable data.

Public API (what the web app and the CLI call)
----------------------------------------------
Data (``buurtbudget.domain.rules.model``), all frozen / read-only:

* ``Project(id: str, cost: int, name="", categories=(), neighborhoods=(), extra={})``
* ``Ballots(offsets, projects, points=None, voter_ids=None, voter_columns=None)``: compact CSR
  ballots; ``Ballots.from_lists([[0, 2], [1]])`` or ``from_lists([{0: 3}], cumulative=True)``.
* ``Election(budget, projects, ballots, vote_type="approval", meta={}, ballot_rules=...)``;
  build one from database rows with ``Election.build(budget, projects, [["p1", "p2"], ...],
  vote_type="approval", voter_ids=None, meta=None, ballot_rules=None)`` (cumulative ballots are
  ``{"p1": 3}``). ``meta`` may carry caps exactly as pabulib META does: ``categories`` +
  ``budget_per_category``, ``neighborhoods`` + ``budget_per_neighborhood``, ``leftover_budget``,
  ``min_project_score_threshold`` with ``rule=greedy-threshold``.
* ``Outcome(rule, selected: tuple[project_id, ...] in selection order, trace: tuple[TraceStep],
  total_cost, budget, details)``; ``TraceStep(project_id, action "selected"|"skipped", reason)``.

Rules (``weights``: one number per voter, int / Fraction / Decimal / float / str; a voter of
weight w counts as w voters; ``None`` means all 1):

* ``compute(rule_name, election, weights=None, **options) -> Outcome``
* ``rule_for_meta(meta_rule) -> rule name | None``: the rule a pabulib file's META names.
* ``RULES``: ``greedy``, ``greedy_cardinality``, ``greedy_no_skip``, ``mes``,
  ``mes_cardinality``, ``mes_add1``, ``mes_add1_cardinality``.
* ``greedy(election, weights=None, *, utility="cost", caps=True, category_caps=None,
  neighborhood_caps=None, leftover=None, min_score=None, no_skip=False)``
* ``equal_shares(election, weights=None, *, utility="cost", completion=None | "add1",
  increment=1, progress=None, compiled=True)`` (``compiled=False``: the same rounds without
  numba, slower; for tests and comparisons)

Tie-breaking, everywhere: among projects that are exactly equal for the rule (same votes per
cost in greedy, same price rho in MES), the one whose id sorts first as a string wins (Python
``str`` order: "10" < "9"). This is pabutools' default lexicographic tie-breaking, so results
equal pabutools 1.2.3 on the same data. All deciding comparisons are exact (integers /
Fractions); see the docstrings of ``greedy`` and ``equal_shares`` for the details.
"""

from buurtbudget.domain.rules._common import CARDINALITY, COST, UTILITIES
from buurtbudget.domain.rules.equal_shares import ADD1, equal_shares
from buurtbudget.domain.rules.greedy import caps_from_meta, greedy
from buurtbudget.domain.rules.model import Ballots, Election, Outcome, Project, TraceStep
from buurtbudget.domain.rules.registry import META_RULES, RULES, compute, rule_for_meta

__all__ = [
    "ADD1",
    "CARDINALITY",
    "COST",
    "META_RULES",
    "RULES",
    "UTILITIES",
    "Ballots",
    "Election",
    "Outcome",
    "Project",
    "TraceStep",
    "caps_from_meta",
    "compute",
    "equal_shares",
    "greedy",
    "rule_for_meta",
]
