"""The rules side by side on a round's own ballots (issue 18.4): greedy, the Method of Equal
Shares, Equal Shares with Add1 and, where the round has weighting settings, the corrected
ranking; per rule the winners, the share of voters with at least one funded project they
supported, the money per area against its share of the inhabitants, EJR up to one where checking
it is affordable, and the money left unspent (``domain/rules/comparison.py``).

Who sees it: the round's staff once voting has ended (to see what each rule would do before the
result is published), everyone once the results are published; earlier it would show interim
results. The ballots are read once, with their weights, through ``counting.tally``.

Money is in cents here (the engine may count in euros). The compiled Equal Shares rounds are used
only once warmed up (``domain/rules/warmup.py``), so no request compiles them. A comparison is
kept in memory per round and state of the round (ballot count, rule, weighting), so reloading the
public page does not count again.
"""

from __future__ import annotations

import io
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from fractions import Fraction

from sqlalchemy import func, select

from buurtbudget.domain.ballots import CUMULATIVE
from buurtbudget.domain.rules import compute
from buurtbudget.domain.rules.comparison import (
    CORRECTED,
    DEFAULT_RULES,
    RuleComparison,
    compare_rules,
)
from buurtbudget.domain.rules.warmup import is_ready
from buurtbudget.domain.spreadsheet import csv_writer
from buurtbudget.extensions import db
from buurtbudget.models import Ballot, Phase, User, VotingRound
from buurtbudget.services.errors import ServiceError
from buurtbudget.services.voting import weighting

# The unit comes through counting: only counting puts the ballot read and the weights together.
from buurtbudget.services.voting.counting import add1_options, money_unit, tally
from buurtbudget.services.voting.rounds import can_manage_round

_CACHE_SIZE = 16
_cache: OrderedDict[tuple, RoundComparison] = OrderedDict()
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class AreaRow:
    area: str | None  # None: projects without one area
    population_share: Fraction | None
    money_cents: tuple[int, ...]  # per rule, in the order of ``rules``
    money_shares: tuple[Fraction, ...]


@dataclass(frozen=True)
class RoundComparison:
    round_id: int
    rules: tuple[RuleComparison, ...]
    names: dict[str, str]  # project id -> name
    unit: int  # cents per unit of the engine's amounts
    weighted: bool
    areas: tuple[AreaRow, ...]
    corrected_note: str = ""  # why the corrected ranking is missing, if it is

    def cents(self, amount) -> int:
        return int(Fraction(amount) * self.unit)


def can_see_comparison(user: User | None, voting_round: VotingRound) -> bool:
    """Everyone once the results are published; the round's staff once voting has ended."""
    if voting_round.is_published:
        return True
    return voting_round.phase() in (Phase.COUNTING, Phase.RESULTS) and can_manage_round(
        user, voting_round
    )


def _key(voting_round: VotingRound) -> tuple:
    ballots = db.session.scalar(
        select(func.count()).select_from(Ballot).where(Ballot.round_id == voting_round.id)
    )
    return (
        voting_round.id,
        ballots,
        voting_round.rule_name,
        json.dumps(voting_round.weighting_config, sort_keys=True, default=str),
        voting_round.budget_cents,
        tuple((p.id, p.cost_cents, p.area_id) for p in voting_round.projects),
    )


def compare_round(voting_round: VotingRound) -> RoundComparison:
    """The comparison of the round (from the cache when the round has not changed)."""
    key = _key(voting_round)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    result = _compare(voting_round)
    with _cache_lock:
        _cache[key] = result
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return result


def _compare(voting_round: VotingRound) -> RoundComparison:
    counted = tally(voting_round)
    election, weights = counted.election, counted.weights
    compiled = is_ready()

    def run(rule: str, election_, weights_):
        options: dict[str, object] = {}
        if rule.startswith("mes"):
            options = {"compiled": compiled, **add1_options(voting_round, rule)}
        return compute(rule, election_, weights_, **options)

    outcomes = {}
    note = ""
    if voting_round.weighting_config and voting_round.ballot_type != CUMULATIVE:
        try:
            analysis = counted.analysis or weighting.corrected_analysis(voting_round, counted.data)
            outcomes[CORRECTED] = weighting.corrected_outcome(voting_round, election, analysis)
        except ServiceError as error:
            note = str(error.message)
    area_names = {area.id: area.name for area in voting_round.areas}
    project_area = [area_names.get(p.area_id) for p in voting_round.projects]
    figures = weighting.population(voting_round)
    population = {area_names[a]: n for a, n in figures.inhabitants.items() if a in area_names}
    rows = compare_rules(
        election,
        project_area=project_area,
        population=population,
        rules=DEFAULT_RULES,
        outcomes=outcomes,
        weights=weights,
        run=run,
    )
    unit = money_unit(voting_round)
    areas = []
    if rows:
        for position, first in enumerate(rows[0].areas):
            areas.append(
                AreaRow(
                    area=first.area,
                    population_share=first.population_share,
                    money_cents=tuple(int(r.areas[position].money * unit) for r in rows),
                    money_shares=tuple(r.areas[position].money_share for r in rows),
                )
            )
    return RoundComparison(
        round_id=voting_round.id,
        rules=rows,
        names={p.external_id: p.name for p in voting_round.projects},
        unit=unit,
        weighted=weights is not None,
        areas=tuple(areas),
        corrected_note=note,
    )


def _share(value: Fraction | None) -> str:
    return "" if value is None else f"{float(value):.4f}"


def records(comparison: RoundComparison) -> dict:
    """The comparison as open data (amounts in cents, shares as fractions 0..1)."""
    return {
        "round_id": comparison.round_id,
        "weighted": comparison.weighted,
        "rules": [
            {
                "rule": row.rule,
                "selected": [
                    {"project_id": pid, "name": comparison.names.get(pid, pid)}
                    for pid in row.selected
                ],
                "spent_cents": comparison.cents(row.total_cost),
                "unspent_cents": comparison.cents(row.unspent),
                "voters": row.voters,
                "voters_with_funded_project": row.voters_with_funded_project,
                "share_with_funded_project": float(row.share_with_funded_project),
                "ejr_up_to_one": row.ejr_up_to_one.satisfied,
                "ejr_note": row.ejr_up_to_one.reason,
                "areas": [
                    {
                        "area": area.area,
                        "money_cents": comparison.cents(area.money),
                        "money_share": float(area.money_share),
                        "population_share": (
                            None if area.population_share is None else float(area.population_share)
                        ),
                    }
                    for area in row.areas
                ],
            }
            for row in comparison.rules
        ],
    }


CSV_HEADER = (
    "rule",
    "projects_funded",
    "spent_cents",
    "unspent_cents",
    "voters",
    "voters_with_funded_project",
    "share_with_funded_project",
    "ejr_up_to_one",
    "area",
    "area_money_cents",
    "area_money_share",
    "area_population_share",
    "selected_project_ids",
)


def to_csv(comparison: RoundComparison) -> str:
    """One row per rule and area (a rule's totals repeat on each of its rows)."""
    buffer = io.StringIO()
    writer = csv_writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in comparison.rules:
        ejr = {True: "yes", False: "no", None: "not checked"}[row.ejr_up_to_one.satisfied]
        for area in row.areas or (None,):
            writer.writerow(
                (
                    row.rule,
                    len(row.selected),
                    comparison.cents(row.total_cost),
                    comparison.cents(row.unspent),
                    row.voters,
                    row.voters_with_funded_project,
                    _share(row.share_with_funded_project),
                    ejr,
                    "" if area is None or area.area is None else area.area,
                    "" if area is None else comparison.cents(area.money),
                    "" if area is None else _share(area.money_share),
                    "" if area is None else _share(area.population_share),
                    " ".join(row.selected),
                )
            )
    return buffer.getvalue()
