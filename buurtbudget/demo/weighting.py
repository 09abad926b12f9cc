"""Demo of the weighting module: "Delft-Noord en -Oost kiest 2025", a CLOSED and published
round of three Delft areas with very uneven turnout, corrected by area.

Vrijenban (a well-organised area, need index 88) hands in many paper ballots, Voordijkshoorn
fewer and Wippolder (students, need index 103) very few, so the raw ranking and the corrected
one differ visibly. The administrator switches the correction on before voting (weights by
area, capped at 5, weighted support 1, own contribution relative to the area 0.2, need 0.1,
area balance); closing counts with weighted greedy. Ballots are paper ballots entered through
services.voting, like real ones. Idempotent: the round is looked up by title first.

The money follows the counting rule (the default ``funding``, services.weighting): here weighted
greedy funds the same three projects as going down the corrected ranking would (only their
order differs), so choosing the corrected ranking would change nothing but the wording. Rounds
where the two differ are in tests/services/test_weighting_funding.py and the Venray test.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import select

from buurtbudget.demo import electorate as demo_electorate
from buurtbudget.demo.budgets import _initiative, _themes
from buurtbudget.demo.people import demo_email
from buurtbudget.demo.voting import (
    _area,
    _close_last_may,
    _coordinator,
    _residents,
    _round,
    _setup,
)
from buurtbudget.extensions import db
from buurtbudget.models import Municipality, User
from buurtbudget.models._base import utcnow
from buurtbudget.services.voting import counting, rounds, weighting

TITLE = "Delft-Noord en -Oost kiest 2025"
RNG_SEED = 2031

# area: (paper ballots, plans: (title, description, cost in cents, theme, volunteer hours,
# popularity among the area's own voters))
PLANS = {
    "Vrijenban": (
        260,
        (
            ("Jeu-de-boulesbaan in het Vrijenbanpark", "Een baan met verlichting en twee"
             " bankjes; de buurtvereniging organiseert een wekelijkse competitie.",
             6_500_00, "Ontmoeting", 420, 0.62),
            ("Bloemenlint langs de Kruithuisweg", "Bewoners zaaien en onderhouden een strook"
             " bloemen voor bijen en vlinders.", 4_200_00, "Groen", 300, 0.55),
            ("Kerstmarkt op het Hof van Delft-Noord", "Een buurtmarkt met kraampjes van"
             " bewoners en muziek van de school.", 5_800_00, "Ontmoeting", 250, 0.40),
        ),
    ),
    "Voordijkshoorn": (
        75,
        (
            ("Natuurspeelplaats Delftse Hout", "Boomstammen, een wilgenhut en een"
             " waterpomp voor kinderen tot 12 jaar.", 9_000_00, "Spelen", 60, 0.58),
            ("Buurtbus voor boodschappen", "Een vrijwilliger rijdt ouderen twee keer per week"
             " naar de supermarkt.", 4_800_00, "Ontmoeting", 40, 0.44),
        ),
    ),
    "Wippolder": (
        35,
        (
            ("Huiswerkklas in de Wippolder", "Studenten helpen kinderen uit de buurt twee"
             " middagen per week met hun huiswerk.", 7_000_00, "Jongeren", 12, 0.70),
            ("Veilige oversteek Schoemakerstraat", "Een middeneiland en betere verlichting"
             " bij de oversteek naar de campus.", 8_500_00, "Verkeer", 0, 0.45),
        ),
    ),
}  # fmt: skip
SETTINGS = weighting.WeightingSettings(
    enabled=True,
    method=weighting.METHOD_AREA,
    weight_cap="5",
    weighted_support="1",
    relative_contribution="0.2",
    need="0.1",
    area_balance=True,
)


def seed_weighting(progress) -> None:
    municipality = db.session.scalar(select(Municipality).where(Municipality.slug == "delft"))
    if municipality is None or _round(municipality, TITLE) is not None:
        return
    admin = db.session.scalar(select(User).where(User.email == demo_email("admin", "delft")))
    themes = _themes(municipality)
    areas = [_area(municipality, name) for name in PLANS]
    titles = set()
    for area in areas:
        residents = _residents(area)
        for number, (title, text, cost, theme, hours, _share) in enumerate(PLANS[area.name][1]):
            initiator = residents[number % len(residents)] if residents else None
            _initiative(area, initiator, title, text, cost, [themes[theme]], volunteer_hours=hours)
            titles.add(title)
    now = utcnow()
    setup = _setup(
        TITLE,
        areas[0],
        now + timedelta(days=1),
        now + timedelta(days=2),
        description="Bewoners van Vrijenban, Voordijkshoorn en Wippolder kiezen samen welke"
        " plannen geld krijgen. De stemmen worden gewogen naar het aantal inwoners per wijk.",
        rule_name="greedy",
        budget_cents=22_000_00,
    )
    setup.areas = areas
    voting_round = rounds.create_round(admin, municipality, setup)
    # Only this demo's plans: other open initiatives of these areas stay out of the round.
    for project in list(voting_round.projects):
        if project.name not in titles:
            voting_round.projects.remove(project)
    db.session.commit()
    counting.update_weighting(admin, voting_round, SETTINGS)
    # The register: per area as many residents (without an account) as vote on paper.
    _codes, others = demo_electorate.seed_electorate(
        voting_round, [], max(count for count, _plans in PLANS.values()), RNG_SEED
    )
    demo_electorate.open_now(voting_round, opened_days_ago=1, closes_in_days=1)
    _cast_paper_ballots(admin, voting_round, areas, others)
    _close_last_may(admin, voting_round)
    progress(
        f"  Delft: closed round {TITLE!r} with weights by area"
        f" ({len(counting.voting_round_ballot_ids(voting_round))} paper ballots)"
    )


def _cast_paper_ballots(admin, voting_round, areas, codes: dict[int, list[str]]) -> None:
    """Paper ballots of the register's residents, per area from its numbered papers, keyed by
    the area's coordinator and the administrator."""
    rng = random.Random(RNG_SEED)
    by_name = {p.name: p for p in voting_round.projects}
    cast_on = date(date.today().year - 1, 5, 14)
    for area in areas:
        count, plans = PLANS[area.name]
        own = {by_name[plan[0]].id: plan[5] for plan in plans}
        elsewhere = [p.id for p in voting_round.projects if p.id not in own]
        ballots = []
        for code in codes[area.id][:count]:
            chosen = [pid for pid, share in own.items() if rng.random() < share]
            chosen += [pid for pid in elsewhere if rng.random() < 0.08]
            if not chosen:
                chosen = [next(iter(own))]
            ballots.append((code, dict.fromkeys(chosen[:3], 1)))
        demo_electorate.key_paper_ballots(
            voting_round, area, _coordinator(area), admin, ballots, cast_on
        )
