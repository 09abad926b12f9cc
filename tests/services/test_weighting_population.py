"""The population figures a round's weights use are fixed when voting opens: new figures
imported after the opening change no weight, no corrected ranking, no count and no turnout of
that round; before the opening the round follows the import (voting.rounds.fix_population).

The two-area round (tests/weighting_world.py): Dorp 1,000 inhabitants votes 30 times for its
playground, Stadswijk 3,000 votes 10 times for its garden. Weighted by area, a Dorp vote weighs
1/3 and a Stadswijk vote 3, and the garden wins. The import turns the figures round (Dorp
3,000, Stadswijk 1,000): with them every vote weighs 1 and the playground would win.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from sqlalchemy import select

from buurtbudget.demo import places
from buurtbudget.extensions import db
from buurtbudget.models import Area, VotingRound
from buurtbudget.services import open_data
from buurtbudget.services.population import import_population
from buurtbudget.services.voting import casting, counting, election, rounds, weighting
from tests.voting_world import tanthof_round
from tests.weighting_world import open_voting, two_area_round, vote, weighting_settings

pytestmark = pytest.mark.usefixtures("english")

THIRD = Fraction(333_333, 10**6)  # a Dorp vote at the figures of the opening, rounded


def _import_turned_round(world) -> None:
    """`flask import-population` with new figures for both areas: Dorp 3,000 inhabitants,
    Stadswijk 1,000, other age figures and need indices."""
    world["municipality"].cbs_code = "GM9901"
    world["dorp"].cbs_code = "WK990101"
    world["wijk"].cbs_code = "WK990102"
    db.session.commit()
    text = (
        "gwb_code;regio;gm_naam;recs;a_inw;a_hh;a_00_14;a_15_24;a_25_44;a_45_64;a_65_oo\n"
        "GM9901;Venray;Venray;Gemeente;4000;1800;800;600;1200;800;600\n"
        "WK990101;Dorp;Venray;Wijk;3000;1300;600;450;900;600;450\n"
        "WK990102;Stadswijk;Venray;Wijk;1000;500;200;150;300;200;150\n"
    )
    import_population(text, world["round"].year)
    db.session.expire_all()
    # The live figures did change.
    year = world["round"].year
    assert world["dorp"].population_for(year).inhabitants == 3_000
    assert world["wijk"].population_for(year).inhabitants == 1_000


def _weight_of_a_dorp_vote(world) -> Fraction:
    voting_round = world["round"]
    ballots = election.read_ballots(voting_round)
    weights = weighting.voter_weights_for(voting_round, ballots)
    return next(w for w, b in zip(weights, ballots, strict=True) if b.area_id == world["dorp"].id)


def _corrected_order(world) -> list[str]:
    analysis = weighting.analyse(world["round"])
    return [entry.project_id for entry in analysis.ranking.entries]


def _inhabitants(world) -> dict[str, int | None]:
    return {row.area.name: row.inhabitants for row in counting.turnout(world["round"])}


def test_figures_imported_after_the_opening_change_no_weight_ranking_or_count(make):
    # The attack: voting has opened; new figures (or made-up ones) are imported so that the
    # weights favour the other area. Nobody read the figures between the opening and the
    # import: the import itself keeps those of the opening with the round.
    world = two_area_round(make, weighting_settings())  # voted, voting ended, not counted
    garden, playground = world["buurttuin"].external_id, world["speeltuin"].external_id
    _import_turned_round(world)
    assert _weight_of_a_dorp_vote(world) == THIRD
    assert _corrected_order(world) == [garden, playground]
    assert _inhabitants(world) == {"Dorp": 1_000, "Stadswijk": 3_000}
    counting.close_round(world["admin"], world["round"])
    assert world["buurttuin"].selected and not world["speeltuin"].selected
    assert Fraction(world["speeltuin"].score) == 30 * THIRD
    stored = world["round"].population_figures
    assert stored[str(world["dorp"].id)]["inhabitants"] == 1_000
    assert stored[str(world["wijk"].id)]["need_index"] == 1.5
    # Published: the explanation, the comparison and open data show the same figures.
    counting.publish_results(None, world["round"])
    assert _corrected_order(world) == [garden, playground]
    (record,) = open_data.round_records([world["round"]])
    assert [area["inhabitants"] for area in record["turnout"]] == [1_000, 3_000]


def test_figures_read_during_the_vote_stay_as_they_were_after_an_import(make):
    # By area and age band: the cells per age band are kept as well.
    world = two_area_round(make, weighting_settings(method="area_age"))
    figures = weighting.population(world["round"])
    assert figures.cells[(world["dorp"].id, "age_25_44")] == 300
    ballots = election.read_ballots(world["round"])
    weights = weighting.voter_weights_for(world["round"], ballots)
    order = _corrected_order(world)
    _import_turned_round(world)
    assert weighting.population(world["round"]) == figures
    assert weighting.voter_weights_for(world["round"], ballots) == weights
    assert _corrected_order(world) == order


def test_before_the_opening_the_round_follows_the_import(make):
    world = two_area_round(make, weighting_settings(), voted=False)
    _import_turned_round(world)
    assert world["round"].population_figures is None
    assert weighting.population(world["round"]).inhabitants == {
        world["dorp"].id: 3_000,
        world["wijk"].id: 1_000,
    }
    vote(world)  # voting opens with the new figures
    assert _weight_of_a_dorp_vote(world) == 1
    counting.close_round(world["admin"], world["round"])
    assert world["speeltuin"].selected and not world["buurttuin"].selected
    assert world["round"].population_figures[str(world["dorp"].id)]["inhabitants"] == 3_000


def test_the_figures_are_stored_once_at_the_first_ballot(make):
    world = tanthof_round(make)  # voting open, nobody voted
    voting_round = world["round"]
    assert voting_round.population_figures is None
    casting.cast_ballot(world["resident"], voting_round, {world["projects"][0]: 1})
    db.session.expire_all()
    stored = voting_round.population_figures
    assert stored[str(world["area"].id)]["inhabitants"] == 13_600
    # Written once: changed figures (here by hand) do not replace them, whoever asks.
    world["area"].population_for(voting_round.year).inhabitants = 99_000
    db.session.commit()
    rounds.fix_population(voting_round)
    rounds.fix_population_of_areas([world["area"].id])
    db.session.commit()
    db.session.expire_all()
    assert voting_round.population_figures == stored
    assert weighting.population(voting_round).inhabitants == {world["area"].id: 13_600}
    stored_in_the_row = db.session.scalar(
        select(VotingRound.population_figures).where(VotingRound.id == voting_round.id)
    )
    assert stored_in_the_row == stored


# The own contribution: the volunteer hours of the initiatives, fixed with the figures.
# Weighted support 1/3 * 30 = 10 for the playground (400 hours, 400 per 1,000 Dorp
# inhabitants), 3 * 10 = 30 for the garden (20 hours, 6.7 per 1,000): the playground leads
# on its hours. At 100,000 hours the garden would lead on both.


def _contribution_settings():
    return weighting_settings(
        relative_contribution="1", contribution_measure="per_1000_inhabitants"
    )


def _more_garden_hours(world) -> None:
    # No screen changes the hours of an open initiative today; whatever would (a later
    # screen, an import, the database by hand) changes the initiative, not the round.
    world["buurttuin"].initiative.volunteer_hours = 100_000
    db.session.commit()


def _first_ballot(make, world) -> None:
    """Voting opens, the first ballot comes in through the cast path (which stores the
    figures of the opening), then the other 40, and voting ends."""
    open_voting(world["round"])
    casting.cast_ballot(make.resident(world["dorp"]), world["round"], {world["speeltuin"].id: 1})
    vote(world)
    db.session.expire_all()


def test_hours_changed_after_the_opening_leave_the_corrected_ranking(make):
    world = two_area_round(make, _contribution_settings(), voted=False)
    garden, playground = world["buurttuin"].external_id, world["speeltuin"].external_id
    _first_ballot(make, world)
    db.session.expire_all()
    order = _corrected_order(world)
    assert order == [playground, garden]
    _more_garden_hours(world)
    db.session.expire_all()
    assert world["buurttuin"].initiative.volunteer_hours == 100_000  # the live hours did change
    assert _corrected_order(world) == order
    rows = {
        row.project.external_id: row.volunteer_hours
        for row in weighting.analyse(world["round"]).rows
    }
    assert rows == {playground: 400, garden: 20}
    counting.close_round(world["admin"], world["round"])
    assert _corrected_order(world) == order


def test_hours_changed_before_the_opening_are_followed(make):
    world = two_area_round(make, _contribution_settings(), voted=False)
    garden, playground = world["buurttuin"].external_id, world["speeltuin"].external_id
    _more_garden_hours(world)
    _first_ballot(make, world)
    db.session.expire_all()
    assert _corrected_order(world) == [garden, playground]
    assert world["buurttuin"].volunteer_hours == 100_000


def test_a_second_demo_run_keeps_the_figures_of_an_opened_round(make):
    # The demo's places step writes the figures of its areas again on every run: like an
    # import, it stores those of the opening with an opened round first.
    places.seed_places(lambda _: None)
    area = db.session.scalar(select(Area).order_by(Area.id))
    voting_round = make.voting_round(area)  # voting open, nobody voted
    area.population_for(voting_round.year).inhabitants = 99_000  # e.g. imported since
    db.session.commit()
    places.seed_places(lambda _: None)
    db.session.expire_all()
    assert area.population_for(voting_round.year).inhabitants != 99_000  # the demo's again
    assert weighting.population(voting_round).inhabitants == {area.id: 99_000}
