"""Rounds with areas, initiatives and ballots in the DATABASE for the weighting tests.

Ballots are inserted in bulk (anonymous, channel "imported"), since thousands of voters through
services.voting would take minutes; the votes themselves are what the weighting reads.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import insert

from buurtbudget.extensions import db
from buurtbudget.models import Ballot, BallotChoice, Channel, VotingRound
from buurtbudget.models._base import utcnow
from buurtbudget.models.voting import new_ballot_id
from tests.domain.test_weighting_venray import AREAS, BUDGET_CENTS, venray_scenario


def add_ballots(voting_round: VotingRound, rows) -> None:
    """``rows``: (area or None, age band or None, [RoundProject, ...]) per ballot."""
    ballots, choices = [], []
    for area, band, projects in rows:
        ballot_id = new_ballot_id()
        ballots.append(
            {
                "id": ballot_id,
                "round_id": voting_round.id,
                "channel": Channel.IMPORTED,
                "area_id": area.id if area is not None else None,
                "age_band": band,
                "cast_on": date.today(),
            }
        )
        choices += [{"ballot_id": ballot_id, "project_id": p.id, "points": 1} for p in projects]
    if ballots:
        db.session.execute(insert(Ballot), ballots)
    if choices:
        db.session.execute(insert(BallotChoice), choices)
    db.session.commit()


def end_voting(voting_round: VotingRound) -> None:
    voting_round.voting_closes_at = utcnow() - timedelta(seconds=1)
    db.session.commit()


def venray_round(make, rule_name: str = "greedy"):
    """The domain's Venray scenario as a round: 6 areas, 60 initiatives with their volunteer
    hours, about 4,800 ballots with the voters' areas; voting has ended.

    Returns (round, scenario projects, scenario ballots, scenario voter areas, areas by name).
    """
    municipality = make.municipality("Venray")
    areas = {
        name: make.area(municipality, name=name, inhabitants=spec[0], need_index=spec[5])
        for name, spec in AREAS.items()
    }
    projects, ballots, voter_areas = venray_scenario()
    initiators = {name: make.resident(area) for name, area in areas.items()}
    for project in projects:
        make.open_initiative(
            areas[project.area],
            title=project.id,
            cost_cents=project.cost,
            initiator=initiators[project.area],
            volunteer_hours=int(project.own_contribution),
        )
    voting_round = make.voting_round(
        list(areas.values()), budget_cents=BUDGET_CENTS, rule_name=rule_name
    )
    by_title = {p.name: p for p in voting_round.projects}
    add_ballots(
        voting_round,
        [
            (areas[area], None, [by_title[pid] for pid in ballot])
            for ballot, area in zip(ballots, voter_areas, strict=True)
        ],
    )
    end_voting(voting_round)
    return voting_round, projects, ballots, voter_areas, areas
