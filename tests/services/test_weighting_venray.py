"""The Venray scenario (tests/domain/test_weighting_venray.py) through the DATABASE: areas with
population figures and need index, 60 initiatives with their volunteer hours, about 4,800
ballots. The raw (Venray) ranking favours the villages; the corrected settings, saved by an
administrator, fund every area within 20 % of its population share, and closing the round
with weighted Equal Shares uses the same weights."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pytest

from buurtbudget.domain.weighting import (
    RankingConfig,
    area_funding_shares,
    fund_in_order,
    post_stratification_weights,
)
from buurtbudget.services.voting import counting, election, weighting
from buurtbudget.services.voting.weighting import WeightingSettings
from tests.domain.test_weighting_venray import BUDGET_CENTS, POPULATION, RAW, VILLAGES
from tests.weighting_world import venray_round

CORRECTED = WeightingSettings(
    enabled=True,
    method="area",
    weighted_support="1",
    relative_contribution="0.2",
    need="0.1",
    contribution_measure="area_percentile",
    area_balance=True,
)


pytestmark = pytest.mark.usefixtures("english")


def _shares(voting_round, selected_external_ids, areas):
    """Funded share / population share per area name, from the round's records."""
    from buurtbudget.domain.weighting import ProjectInfo

    names = {area.id: name for name, area in areas.items()}
    projects = [
        ProjectInfo(p.external_id, names[p.area_id], p.cost_cents) for p in voting_round.projects
    ]
    shares = area_funding_shares(selected_external_ids, projects, POPULATION)
    return {area: share.ratio for area, share in shares.items()}, shares


def test_venray_through_the_database(make):
    # The correction was chosen before voting opened; the raw ranking is read beside it.
    voting_round, _projects, _ballots, voter_areas, areas = venray_round(
        make, rule_name="mes", settings=CORRECTED
    )
    admin = make.administrator(voting_round.municipality)

    raw = weighting.analyse(voting_round, RAW)
    raw_funded = fund_in_order(raw.ranking.entries, BUDGET_CENTS).selected
    ratios, shares = _shares(voting_round, raw_funded, areas)
    village_money = sum((shares[v].funded_share for v in VILLAGES), Fraction(0))
    village_people = Fraction(sum(POPULATION[v] for v in VILLAGES), sum(POPULATION.values()))
    assert village_money >= Fraction(3, 2) * village_people
    assert all(ratios[v] > Fraction(13, 10) for v in VILLAGES)
    assert ratios["urban-3"] < Fraction(1, 2)

    assert RankingConfig.from_dict(voting_round.weighting_config).area_balance
    corrected = weighting.analyse(voting_round)
    # The weights from the records are the domain's post-stratification of the same voters.
    names = {area.id: name for name, area in areas.items()}
    ballots = election.read_ballots(voting_round)
    expected = post_stratification_weights([names[b.area_id] for b in ballots], POPULATION)
    assert corrected.weights.exact_weights() == expected.exact_weights()
    assert sorted(names[b.area_id] for b in ballots) == sorted(voter_areas)
    funded = fund_in_order(corrected.ranking.entries, BUDGET_CENTS)
    ratios, _ = _shares(voting_round, funded.selected, areas)
    measured = {a: round(float(r), 2) for a, r in ratios.items()}
    assert all(Fraction(4, 5) <= r <= Fraction(6, 5) for r in ratios.values()), measured
    assert corrected.area_report.representativeness < Fraction(6, 10)
    for row in corrected.rows:
        assert sum(f.share for f in row.ranked.factors) == 1

    # Closing counts with the round's rule (weighted Equal Shares) and the same weights.
    counting.close_round(admin, voting_round)
    selected = [p.external_id for p in voting_round.projects if p.selected]
    ratios, _ = _shares(voting_round, selected, areas)
    measured = {a: round(float(r), 2) for a, r in ratios.items()}
    assert all(Fraction(4, 5) <= r <= Fraction(6, 5) for r in ratios.values()), measured


def test_venray_money_follows_the_corrected_ranking_when_the_round_says_so(make):
    """Raw greedy (every vote once) gives the villages far more than their population share;
    with the corrected ranking deciding the money, closing funds every area within 20 %."""
    plain, _projects, _ballots, _voter_areas, plain_areas = venray_round(make)
    raw_selected = list(counting.compute_outcome(plain).outcome.selected)  # plain greedy
    ratios, _ = _shares(plain, raw_selected, plain_areas)
    assert all(ratios[v] > Fraction(6, 5) for v in VILLAGES), ratios
    assert not all(Fraction(4, 5) <= r <= Fraction(6, 5) for r in ratios.values())

    # The same votes in a round whose money follows the corrected ranking, chosen before
    # voting opened.
    corrected = replace(CORRECTED, funding=weighting.FUNDING_CORRECTED)
    voting_round, _projects, _ballots, _voter_areas, areas = venray_round(make, settings=corrected)
    admin = make.administrator(voting_round.municipality)
    counting.close_round(admin, voting_round)
    winners = sorted(
        (p for p in voting_round.projects if p.selected), key=lambda p: p.selection_order
    )
    ranking = weighting.analyse(voting_round).ranking
    assert [p.external_id for p in winners] == list(
        fund_in_order(ranking.entries, BUDGET_CENTS).selected
    )
    assert voting_round.result_total_cost_cents == sum(p.cost_cents for p in winners)
    ratios, _ = _shares(voting_round, [p.external_id for p in winners], areas)
    measured = {a: round(float(r), 2) for a, r in ratios.items()}
    assert all(Fraction(4, 5) <= r <= Fraction(6, 5) for r in ratios.values()), measured
