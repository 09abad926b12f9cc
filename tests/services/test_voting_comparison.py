"""The rules side by side on a round's own ballots (issue 18.4): who may see it, what it says,
and that it equals the engine on the same ballots."""

from __future__ import annotations

from datetime import timedelta

import pytest

from buurtbudget.domain.rules import compute
from buurtbudget.extensions import db
from buurtbudget.models._base import utcnow
from buurtbudget.services.voting import casting, comparison, counting
from buurtbudget.services.voting.election import build_election

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def ended(make):
    """Tanthof (1,000 inhabitants) and Buitenhof (3,000): six ballots, voting just ended."""
    municipality = make.municipality("Delft")
    tanthof = make.area(municipality, name="Tanthof", inhabitants=1_000)
    buitenhof = make.area(municipality, name="Buitenhof", inhabitants=3_000)
    voting_round = make.voting_round(
        tanthof, costs=(400_00, 300_00, 500_00), budget_cents=800_00, max_projects=2
    )
    voting_round.areas.append(buitenhof)
    a, b, c = voting_round.projects
    a.area_id, b.area_id, c.area_id = tanthof.id, buitenhof.id, None
    db.session.commit()
    ballots = [{a.id: 1}, {a.id: 1, b.id: 1}, {a.id: 1, c.id: 1}, {c.id: 1}, {b.id: 1, c.id: 1}]
    for index, choices in enumerate(ballots):
        casting.cast_ballot(
            make.resident(tanthof, birth_year=1950 + index * 10), voting_round, choices
        )
    admin = make.administrator(municipality)
    voting_round.voting_closes_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    return {"round": voting_round, "admin": admin, "make": make, "area": tanthof}


def test_only_staff_once_voting_ended_and_everyone_once_published(ended, make):
    voting_round, admin = ended["round"], ended["admin"]
    resident = make.resident(ended["area"])
    assert comparison.can_see_comparison(admin, voting_round)
    assert not comparison.can_see_comparison(resident, voting_round)
    assert not comparison.can_see_comparison(None, voting_round)
    voting_round.voting_closes_at = utcnow() + timedelta(days=1)  # still voting: interim results
    assert not comparison.can_see_comparison(admin, voting_round)
    voting_round.voting_closes_at = utcnow() - timedelta(seconds=1)
    counting.close_round(admin, voting_round)
    counting.publish_results(admin, voting_round)
    assert comparison.can_see_comparison(None, voting_round)


def test_the_comparison_equals_the_engine_on_the_rounds_ballots(ended):
    voting_round = ended["round"]
    result = comparison.compare_round(voting_round)
    election = build_election(voting_round)
    assert [row.rule for row in result.rules] == ["greedy", "mes", "mes_add1"]
    for row in result.rules:
        outcome = compute(row.rule, election)
        assert row.selected == outcome.selected
        assert result.cents(row.unspent) == 800_00 - result.cents(outcome.total_cost)
        assert row.voters == 5
    areas = {row.area: row for row in result.areas}
    assert areas["Tanthof"].population_share == areas["Buitenhof"].population_share / 3
    greedy = result.rules[0]
    names = [result.names[pid] for pid in greedy.selected]
    spent_tanthof = 400_00 if "Project 1" in names else 0
    assert areas["Tanthof"].money_cents[0] == spent_tanthof
    assert None in areas  # project 3 belongs to no single area
    records = comparison.records(result)
    assert records["rules"][0]["spent_cents"] == result.cents(greedy.total_cost)
    text = comparison.to_csv(result)
    assert text.splitlines()[0].startswith("rule,projects_funded,spent_cents")
    assert sum(1 for line in text.splitlines() if line.startswith("mes_add1,")) == 3


def test_a_new_ballot_is_counted_not_served_from_the_cache(ended):
    voting_round = ended["round"]
    first = comparison.compare_round(voting_round)
    assert comparison.compare_round(voting_round) is first
    voting_round.voting_closes_at = utcnow() + timedelta(days=1)
    db.session.commit()
    resident = ended["make"].resident(ended["area"], birth_year=1990)
    casting.cast_ballot(resident, voting_round, {voting_round.projects[1].id: 1})
    voting_round.voting_closes_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    again = comparison.compare_round(voting_round)
    assert again is not first and again.rules[0].voters == 6
