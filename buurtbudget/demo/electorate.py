"""The demo's electorates: a register extract per round (the demo residents and other
residents at addresses of the address file), stempas codes, accounts bound by stempas, and
paper ballots keyed twice from the register of issued papers."""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import select

from buurtbudget.demo.places import HOUSE_NUMBERS, MUNICIPALITIES
from buurtbudget.extensions import db
from buurtbudget.models import Area, Elector, User, VotingRound
from buurtbudget.models._base import utcnow
from buurtbudget.services import electorate, paper_ballots

HEADER = (
    "persoonssleutel;geboortedatum;postcode;huisnummer;huisletter;toevoeging;straat;woonplaats\n"
)
STREETS = ("Aart van der Leeuwlaan", "Papsouwselaan", "Kruithuisweg", "Voorstraat", "Oude Delft")


def person_key(user: User) -> str:
    """The opaque key the demo's register gives a demo resident."""
    return "DEMO-" + user.email.split("@", 1)[0]


def _postcodes(area: Area) -> list[str]:
    slug = area.municipality.slug
    names = [a[0] for a in MUNICIPALITIES[slug][3]]
    first = MUNICIPALITIES[slug][2] + names.index(area.name)
    return [f"{first}{letters}" for letters in ("AA", "AB", "AC")]


def register_extract(
    voting_round: VotingRound, residents: list[User], others_per_area: int, rng: random.Random
) -> tuple[list[str], dict[str, User | Area]]:
    """Lines of a register extract: the demo residents at their own address, and
    ``others_per_area`` residents without an account per area of the round."""
    lines, people = [HEADER], {}
    city = voting_round.municipality.name
    for user in residents:
        key = person_key(user)
        street = rng.choice(STREETS)
        lines.append(
            f"{key};{user.birth_year}-03-01;{user.postcode};{user.house_number};;;{street};{city}\n"
        )
        people[key] = user
    for area in voting_round.areas:
        postcodes = _postcodes(area)
        for number in range(others_per_area):
            key = f"DEMO-{area.cbs_code}-{number:05d}"
            postcode = postcodes[number % len(postcodes)]
            house = HOUSE_NUMBERS[1] - number % 150
            year = rng.randint(1940, 2008)
            street = rng.choice(STREETS)
            lines.append(f"{key};{year}-06-15;{postcode};{house};;;{street};{city}\n")
            people[key] = area
    return lines, people


def seed_electorate(
    voting_round: VotingRound,
    residents: list[User],
    others_per_area: int,
    seed: int,
    unbound: tuple[User, ...] = (),
) -> tuple[dict[int, str], dict[int, list[str]]]:
    """Import the round's register (before it opens), issue stempas codes and bind the demo
    residents' accounts (all but ``unbound``). Returns {user id: code} and the codes of the
    residents without an account per area id."""
    rng = random.Random(seed)
    lines, people = register_extract(voting_round, residents, others_per_area, rng)
    electorate.import_register(None, voting_round, lines)
    letters = electorate.issue_stempas_codes(None, voting_round)
    code_of = {letter.elector_id: letter.code for letter in letters}
    by_hash = {
        e.person_hash: e.id
        for e in db.session.scalars(select(Elector).where(Elector.round_id == voting_round.id))
    }
    user_codes: dict[int, str] = {}
    other_codes: dict[int, list[str]] = {}
    for key, user in people.items():
        elector_id = by_hash.get(electorate.person_hash(voting_round.municipality_id, key))
        if elector_id is None:
            continue  # too young, or outside the round's areas
        if isinstance(user, Area):
            other_codes.setdefault(user.id, []).append(code_of[elector_id])
        else:
            if user not in unbound:
                electorate.bind_account(user, voting_round, code_of[elector_id])
            user_codes[user.id] = code_of[elector_id]
    return user_codes, other_codes


def open_now(voting_round: VotingRound, opened_days_ago: int, closes_in_days: int) -> None:
    """Move a round whose electorate is in to "voting opened ``opened_days_ago`` days ago"."""
    opens = utcnow().replace(second=0, microsecond=0) - timedelta(days=opened_days_ago)
    voting_round.proposals_until = opens - timedelta(days=45)
    voting_round.review_until = opens - timedelta(days=10)
    voting_round.voting_opens_at = opens
    voting_round.voting_closes_at = utcnow() + timedelta(days=closes_in_days)
    db.session.commit()


def key_paper_ballots(
    voting_round: VotingRound,
    area: Area,
    first_keyer: User,
    second_keyer: User,
    ballots: list[tuple[str, dict[int, int]]],
    cast_on: date,
) -> None:
    """Issue numbered papers for ``area`` and key each (stempas code, choices) twice."""
    sheets = paper_ballots.issue_papers(first_keyer, voting_round, area, len(ballots))
    for sheet, (code, choices) in zip(sheets, ballots, strict=True):
        for keyer in (first_keyer, second_keyer):
            paper_ballots.key_paper(keyer, voting_round, sheet.number, code, choices, today=cast_on)
