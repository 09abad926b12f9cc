"""Rounds with areas, initiatives and ballots in the DATABASE for the weighting tests.

The weighting is fixed once voting opens (voting.counting.update_weighting), so the worlds are
set up before the opening, take their weighting settings then, and only after that move their
dates as the time passing would: voting opens, the ballots come in, voting ends.

Ballots are inserted in bulk (anonymous, channel "imported"), since thousands of voters through
services.voting.casting would take minutes; the votes themselves are what the weighting reads.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import insert

from buurtbudget.extensions import db
from buurtbudget.models import Ballot, Channel, Role, VotingRound
from buurtbudget.models._base import utcnow
from buurtbudget.models.voting import new_ballot_id
from buurtbudget.services.voting import counting
from buurtbudget.services.voting.weighting import WeightingSettings
from tests.domain.test_weighting_venray import AREAS, BUDGET_CENTS, venray_scenario
from tests.factories import move_dates

AGES_A = {"age_0_14": 150, "age_15_24": 100, "age_25_44": 300, "age_45_64": 250, "age_65_plus": 200}
AGES_B = {"age_0_14": 600, "age_15_24": 500, "age_25_44": 900, "age_45_64": 600, "age_65_plus": 400}


def weighting_settings(**changes) -> WeightingSettings:
    """The correction switched on: weights by area, ranked by weighted support alone, unless
    ``changes`` say otherwise."""
    return WeightingSettings(
        **{"enabled": True, "method": "area", "weighted_support": "1", **changes}
    )


def add_ballots(voting_round: VotingRound, rows) -> None:
    """``rows``: (area or None, age band or None, [RoundProject, ...]) per ballot."""
    ballots = []
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
                "project_ids": sorted(p.id for p in projects),
            }
        )
    if ballots:
        db.session.execute(insert(Ballot), ballots)
    db.session.commit()


def open_voting(voting_round: VotingRound) -> None:
    """The time passes until voting opens: the round's dates move so it opened a second ago."""
    move_dates(voting_round, utcnow() - timedelta(seconds=1) - voting_round.voting_opens_at)


def end_voting(voting_round: VotingRound) -> None:
    voting_round.voting_closes_at = utcnow() - timedelta(seconds=1)
    db.session.commit()


def venray_round(make, rule_name: str = "greedy", settings: WeightingSettings | None = None):
    """The domain's Venray scenario as a round: 6 areas, 60 initiatives with their volunteer
    hours, about 4,800 ballots with the voters' areas; voting has ended. ``settings``: its
    weighting, saved before voting opened (None: none).

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
        list(areas.values()),
        budget_cents=BUDGET_CENTS,
        rule_name=rule_name,
        phase="review",
        weighting=settings,
    )
    open_voting(voting_round)
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


def two_area_round(make, settings: WeightingSettings | None = None, *, voted: bool = True):
    """Dorp (1,000 inhabitants) votes 30 times for its own playground; Stadswijk (3,000) 10
    times for its community garden. The budget pays for one of the two.

    ``settings``: the round's weighting, saved by its administrator before voting opens (None:
    none). ``voted``: voting has opened, the 40 ballots are in and voting has ended; without
    it the round is still before its opening (its weighting can change), and :func:`vote`
    does the rest."""
    municipality = make.municipality("Venray")
    dorp = make.area(municipality, name="Dorp", inhabitants=1_000, need_index=0.8, **AGES_A)
    wijk = make.area(municipality, name="Stadswijk", inhabitants=3_000, need_index=1.5, **AGES_B)
    make.open_initiative(dorp, "Speeltuin Dorp", 5_000_00, volunteer_hours=400)
    make.open_initiative(wijk, "Buurttuin Stadswijk", 5_000_00, volunteer_hours=20)
    voting_round = make.voting_round([dorp, wijk], budget_cents=6_000_00, phase="review")
    projects = {p.name: p for p in voting_round.projects}
    world = {
        "round": voting_round,
        "dorp": dorp,
        "wijk": wijk,
        "speeltuin": projects["Speeltuin Dorp"],
        "buurttuin": projects["Buurttuin Stadswijk"],
        "municipality": municipality,
        "coordinator": make.coordinator(dorp),
        "admin": make.administrator(municipality),
        "make": make,
    }
    if settings is not None:
        counting.update_weighting(world["admin"], voting_round, settings)
    if voted:
        vote(world)
    return world


def vote(world) -> None:
    """Voting opens, the 40 ballots of :func:`two_area_round` come in, voting ends."""
    voting_round, dorp, wijk = world["round"], world["dorp"], world["wijk"]
    open_voting(voting_round)
    bands = ["age_25_44", "age_45_64", "age_65_plus"]
    add_ballots(
        voting_round,
        [(dorp, bands[i % 3], [world["speeltuin"]]) for i in range(30)]
        + [(wijk, bands[i % 3] if i else "age_15_24", [world["buurttuin"]]) for i in range(10)],
    )
    end_voting(voting_round)


def two_area_round_with_its_coordinator(
    make, settings: WeightingSettings | None = None, *, voted: bool = True
):
    """The two-area round, its "coordinator" replaced by one of both its areas (who may
    manage the round, e.g. its weighting settings)."""
    world = two_area_round(make, settings, voted=voted)
    areas = (world["dorp"], world["wijk"])
    world["coordinator"] = make.user(
        areas[0], roles=tuple((Role.COORDINATOR, area) for area in areas)
    )
    return world
