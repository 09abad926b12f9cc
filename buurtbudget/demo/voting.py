"""Demo voting rounds in Delft:

* "Buitenhof kiest 2025": CLOSED and published. About 110 ballots: the demo residents of
  Buitenhof online, households without an account with mailed voting codes, and paper ballots
  entered by the coordinator; counted with the Method of Equal Shares (Add1). The winners are
  "selected" and granted from Buitenhof's 2025 budget.
* "Tanthof 2026": OPEN now (opened three days before seeding, closes in four weeks). Demo
  residents of Tanthof (``bewoner<N>-<k>.delft@demo.buurtbudget.nl``) who have not voted yet
  can vote; a few already have.

Initiatives are made with the budgets demo's helper (open, with their review history).
Ballots are cast through services.voting, so they obey the same rules and secrecy as real ones.
Idempotent: a round is looked up by title before it is created.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from buurtbudget.demo import electorate as demo_electorate
from buurtbudget.demo.budgets import _initiative, _themes
from buurtbudget.demo.people import demo_email
from buurtbudget.domain.budget import format_cheque_code
from buurtbudget.extensions import db
from buurtbudget.models import (
    Area,
    BudgetPeriod,
    Municipality,
    Role,
    RoleAssignment,
    User,
    VotingRound,
)
from buurtbudget.models._base import utcnow
from buurtbudget.services.voting import casting, counting, rounds

CLOSED_TITLE = "Buitenhof kiest 2025"
OPEN_TITLE = "Tanthof 2026"

# (title, description, cost in cents, theme, popularity 0-1)
BUITENHOF_PLANS = (
    ("Moestuin achter de Aart van der Leeuwstraat", "Buurtbewoners beginnen een gezamenlijke"
     " moestuin met twaalf bakken, een regenton en een gereedschapskist.", 8_500_00, "Groen", 0.62),
    ("Speeltoestellen Bieslandpark vernieuwen", "De oude klimtoren is afgekeurd; een nieuwe"
     " speelplek voor kinderen van 4 tot 12 jaar, samen met de school ontworpen.",
     18_000_00, "Spelen", 0.55),
    ("Taalcafé in het buurthuis", "Elke woensdagavond oefenen bewoners samen Nederlands, met"
     " vrijwillige taalmaatjes en koffie.", 3_200_00, "Ontmoeting", 0.48),
    ("Verlichting voetpad Buitenhofsepark", "Twaalf lage ledlampen langs het voetpad, zodat"
     " het 's avonds veiliger voelt.", 14_500_00, "Veiligheid", 0.41),
    ("Zomerfeest op het Mozartplein", "Een buurtfeest met muziek van bewoners, een"
     " kookwedstrijd en spelletjes voor kinderen.", 4_800_00, "Ontmoeting", 0.36),
    ("Bankjes en schaduwbomen bij de flats", "Zes bankjes en vier bomen op het grasveld, zodat"
     " ouderen buiten kunnen zitten.", 9_600_00, "Groen", 0.30),
    ("Jongerenstudio in de kelder", "Jongeren richten een kleine muziek- en podcaststudio in;"
     " het jongerenwerk begeleidt.", 12_000_00, "Jongeren", 0.24),
    ("Verkeersdrempels Diepenbrockstraat", "Twee drempels en een zebrapad bij de"
     " basisschool.", 16_000_00, "Verkeer", 0.20),
)  # fmt: skip
TANTHOF_PLANS = (
    ("Pluktuin langs de Tanthofkade", "Fruitbomen en bessenstruiken waar iedereen van mag"
     " plukken, onderhouden door een groep vrijwilligers.", 7_400_00, "Groen"),
    ("Trapveldje Tanthof-West opknappen", "Nieuwe doeltjes, een hek en een egale grasmat voor"
     " het trapveld waar elke middag wordt gevoetbald.", 11_500_00, "Spelen"),
    ("Repair Café in de bibliotheek", "Eens per maand repareren vrijwilligers kapotte"
     " spullen samen met bewoners; geld voor gereedschap en materiaal.", 2_600_00, "Ontmoeting"),
    ("Wandelroute met rustpunten voor ouderen", "Een bewegwijzerde ommetje van twee kilometer"
     " met vijf bankjes, samen met de ouderenvereniging.", 8_900_00, "Ontmoeting"),
    ("Buurtpreventie-app en bordjes", "Borden, stickers en een training voor de WhatsApp-"
     "buurtpreventie in Tanthof-Oost.", 1_900_00, "Veiligheid"),
    ("Schoolplein groen maken", "Tegels eruit, groen erin: een speelbos op het plein van de"
     " basisschool, open voor de buurt na schooltijd.", 15_000_00, "Groen"),
)  # fmt: skip

RNG_SEED = 2025
CODE_VOTERS = 55
PAPER_BALLOTS = 40
ALREADY_VOTED_IN_OPEN_ROUND = 4


def seed_voting(progress) -> None:
    municipality = db.session.scalar(select(Municipality).where(Municipality.slug == "delft"))
    if municipality is None:
        return
    _seed_closed_round(municipality, progress)
    _seed_open_round(municipality, progress)


# Helpers ---------------------------------------------------------------------------------------


def _round(municipality: Municipality, title: str) -> VotingRound | None:
    return db.session.scalar(
        select(VotingRound).where(
            VotingRound.municipality_id == municipality.id, VotingRound.title == title
        )
    )


def _area(municipality: Municipality, name: str) -> Area:
    return next(area for area in municipality.areas if area.name == name)


def _residents(area: Area) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(User.home_area_id == area.id, User.email.like("bewoner%@demo.buurtbudget.nl"))
            .order_by(User.id)
        )
    )


def _coordinator(area: Area) -> User:
    return db.session.scalar(
        select(User)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(RoleAssignment.role == Role.COORDINATOR, RoleAssignment.area_id == area.id)
        .order_by(User.id)
    )


def _period(area: Area, year: int) -> BudgetPeriod | None:
    return db.session.scalar(
        select(BudgetPeriod).where(
            BudgetPeriod.area_id == area.id, BudgetPeriod.year == year, BudgetPeriod.half == 0
        )
    )


def _setup(title, area, opens: datetime, closes: datetime, **fields) -> rounds.RoundSetup:
    return rounds.RoundSetup(
        title=title,
        areas=[area],
        proposals_until=opens - timedelta(days=45),
        review_until=opens - timedelta(days=10),
        voting_opens_at=opens,
        voting_closes_at=closes,
        ballot_type="approval",
        min_projects=1,
        max_projects=3,
        min_age=16,
        **fields,
    )


def _choices(rng: random.Random, popularity: dict[int, float]) -> dict[int, int]:
    """A plausible ballot: each project with its popularity, between one and three."""
    chosen = [pid for pid, share in popularity.items() if rng.random() < share][:3]
    if not chosen:
        chosen = [rng.choice(list(popularity))]
    return dict.fromkeys(chosen, 1)


# The closed round ------------------------------------------------------------------------------


def _seed_closed_round(municipality: Municipality, progress) -> None:
    if _round(municipality, CLOSED_TITLE) is not None:
        return
    area = _area(municipality, "Buitenhof")
    residents = _residents(area)
    coordinator = _coordinator(area)
    themes = _themes(municipality)
    popularity_by_title = {}
    for number, (title, text, cost, theme, share) in enumerate(BUITENHOF_PLANS):
        initiator = residents[number % len(residents)]
        _initiative(area, initiator, title, text, cost, [themes[theme]])
        popularity_by_title[title] = share
    year = date.today().year - 1
    # The register goes in before voting opens; ballots go in while the round is open (the
    # services insist), then it moves to May of last year.
    now = utcnow()
    voting_round = rounds.create_round(
        None,
        municipality,
        _setup(
            CLOSED_TITLE,
            area,
            now + timedelta(days=1),
            now + timedelta(days=2),
            description="Bewoners van Buitenhof kiezen welke plannen het wijkbudget krijgen.",
            rule_name="mes_add1",
            budget_period=_period(area, year),
            budget_cents=40_000_00,
        ),
    )
    _user_codes, other_codes = demo_electorate.seed_electorate(
        voting_round, residents, CODE_VOTERS + PAPER_BALLOTS + 25, RNG_SEED
    )
    demo_electorate.open_now(voting_round, opened_days_ago=1, closes_in_days=1)
    popularity = {p.id: popularity_by_title.get(p.name, 0.15) for p in voting_round.projects}
    rng = random.Random(RNG_SEED)
    cast_on = date(year, 5, 12)
    for resident in residents:
        casting.cast_ballot(resident, voting_round, _choices(rng, popularity), today=cast_on)
    other_codes = other_codes[area.id]
    for code in other_codes[:CODE_VOTERS]:
        casting.cast_ballot(
            None, voting_round, _choices(rng, popularity), voting_code=code, today=cast_on
        )
    admin = db.session.scalar(select(User).where(User.email == demo_email("admin", "delft")))
    paper = [
        (code, _choices(rng, popularity))
        for code in other_codes[CODE_VOTERS : CODE_VOTERS + PAPER_BALLOTS]
    ]
    demo_electorate.key_paper_ballots(voting_round, area, coordinator, admin, paper, cast_on)
    _close_last_may(coordinator, voting_round)
    selected = sum(1 for p in voting_round.projects if p.selected)
    progress(
        f"  Delft: closed round {CLOSED_TITLE!r} with"
        f" {len(counting.voting_round_ballot_ids(voting_round))} ballots,"
        f" {selected} initiatives selected"
    )


def _close_last_may(staff, voting_round: VotingRound) -> None:
    """Move ``voting_round`` (its ballots cast while it was open) to May of last year, then
    close and publish it in June, as ``staff``."""
    year = date.today().year - 1
    opens = datetime(year, 5, 1, 7, 0, tzinfo=UTC)
    voting_round.proposals_until = opens - timedelta(days=45)
    voting_round.review_until = opens - timedelta(days=10)
    voting_round.voting_opens_at = opens
    voting_round.voting_closes_at = datetime(year, 5, 31, 16, 0, tzinfo=UTC)
    db.session.commit()
    closed_at = datetime(year, 6, 2, 9, 0, tzinfo=UTC)
    counting.close_round(staff, voting_round, now=closed_at)
    counting.publish_results(staff, voting_round, now=closed_at + timedelta(days=1))


# The open round --------------------------------------------------------------------------------


def _seed_open_round(municipality: Municipality, progress) -> None:
    if _round(municipality, OPEN_TITLE) is not None:
        return
    area = _area(municipality, "Tanthof")
    residents = _residents(area)
    themes = _themes(municipality)
    for number, (title, text, cost, theme) in enumerate(TANTHOF_PLANS):
        initiator = residents[-1 - number % len(residents)]
        _initiative(area, initiator, title, text, cost, [themes[theme]])
    now = utcnow().replace(second=0, microsecond=0)
    voting_round = rounds.create_round(
        None,
        municipality,
        _setup(
            OPEN_TITLE,
            area,
            now + timedelta(days=1),
            now + timedelta(days=28),
            description="Welke plannen voor Tanthof krijgen dit jaar geld? Kies er één tot drie.",
            rule_name="mes_add1",
            budget_period=_period(area, now.year),
            budget_cents=30_000_00,
        ),
    )
    # The register of Tanthof; every demo resident but the first is bound by stempas (a
    # verified resident); the first still has to enter the code of their letter, which
    # seed-demo prints (in a real municipality codes exist in clear only on the letters).
    stempas_codes, others = demo_electorate.seed_electorate(
        voting_round, residents, 60, RNG_SEED + 1, unbound=(residents[0],)
    )
    unbound_code = format_cheque_code(stempas_codes[residents[0].id])
    code_only = format_cheque_code(others[area.id][0])
    demo_electorate.open_now(voting_round, opened_days_ago=3, closes_in_days=28)
    rng = random.Random(RNG_SEED + 1)
    popularity = {p.id: rng.uniform(0.2, 0.6) for p in voting_round.projects}
    # The last residents already voted; bewoner...-2 to -8 of Tanthof can still vote.
    for resident in residents[-ALREADY_VOTED_IN_OPEN_ROUND:]:
        casting.cast_ballot(resident, voting_round, _choices(rng, popularity))
    progress(
        f"  Delft: stempas of {residents[0].email} (not linked yet): {unbound_code};"
        f" a stempas of a resident without an account: {code_only}"
    )
    progress(
        f"  Delft: open round {OPEN_TITLE!r}; verified residents of Tanthof can vote, e.g."
        f" {residents[1].email}; {residents[0].email} first links the stempas of their letter"
    )
