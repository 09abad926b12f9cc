"""Demo accounts. All share one password (printed by seed-demo), hashed once for speed."""

from __future__ import annotations

import random

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from buurtbudget.demo.places import MUNICIPALITIES, demo_postcode
from buurtbudget.extensions import db
from buurtbudget.models import Area, Municipality, Role, RoleAssignment, User
from buurtbudget.models._base import utcnow

DEMO_PASSWORD = "demo-wachtwoord"  # noqa: S105 - documented demo credential
RESIDENTS_PER_AREA = 12
# Residents who sit on their area's council: three, the default quorum of a council meeting
# (numbers 2 to 8 propose the demo's initiatives).
COUNCIL_NUMBERS = (1, 11, 12)
FIRST_NAMES = (
    "Anouk",
    "Bram",
    "Chantal",
    "Daan",
    "Esra",
    "Fatima",
    "Gert",
    "Hanneke",
    "Ilse",
    "Jeroen",
    "Karim",
    "Lotte",
    "Mohamed",
    "Noor",
    "Oscar",
    "Priya",
    "Quinten",
    "Roos",
    "Sanne",
    "Tim",
    "Umut",
    "Vera",
    "Wim",
    "Yara",
    "Zeynep",
)
LAST_NAMES = (
    "de Vries",
    "Jansen",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "Yilmaz",
    "El Amrani",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "Dekker",
)


def demo_email(kind: str, municipality_slug: str, number: int | None = None) -> str:
    suffix = "" if number is None else str(number)
    return f"{kind}{suffix}.{municipality_slug}@demo.buurtbudget.nl"


def seed_people(progress) -> None:
    password_hash = generate_password_hash(DEMO_PASSWORD)
    rng = random.Random(2026)
    for slug in MUNICIPALITIES:
        municipality = db.session.scalar(select(Municipality).where(Municipality.slug == slug))
        areas = municipality.areas
        admin = _user(
            demo_email("admin", slug),
            f"Beheerder {municipality.name}",
            password_hash,
            municipality,
            None,
            1975,
        )
        _grant(admin, Role.ADMINISTRATOR, municipality, None)
        for index, area in enumerate(areas, start=1):
            coordinator = _user(
                demo_email("coordinator", slug, index),
                f"Wijkcoördinator {area.name}",
                password_hash,
                municipality,
                None,
                1980,
            )
            _grant(coordinator, Role.COORDINATOR, municipality, area)
            # A second coordinator per municipality for the four-eyes payout rule.
            if index == 1:
                second = _user(
                    demo_email("coordinator", slug, 0),
                    f"Tweede coördinator {municipality.name}",
                    password_hash,
                    municipality,
                    None,
                    1983,
                )
                for other in areas:
                    _grant(second, Role.COORDINATOR, municipality, other)
        area_list: list[Area] = list(areas)
        place_index = {name: i for i, (name, *_rest) in enumerate(MUNICIPALITIES[slug][3])}
        drawn: set[str] = set()
        for area_index, area in enumerate(area_list):
            for number in range(1, RESIDENTS_PER_AREA + 1):
                email = demo_email(f"bewoner{area_index + 1}-", slug, number)
                name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                while name in drawn:  # no two people of a municipality share a name
                    name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                drawn.add(name)
                resident = _user(
                    email,
                    name,
                    password_hash,
                    municipality,
                    area,
                    rng.randint(1945, 2008),
                    # The postcode of the area in the demo's address file (places.py order).
                    postcode=demo_postcode(slug, place_index[area.name], number % 3),
                    house_number=number,
                )
                if number in COUNCIL_NUMBERS:
                    _grant(resident, Role.COUNCIL_MEMBER, municipality, area)
        progress(
            f"  {municipality.name}: staff and {RESIDENTS_PER_AREA * len(area_list)} residents"
        )
    db.session.commit()


def _user(
    email, name, password_hash, municipality, area, birth_year, postcode=None, house_number=None
) -> User:
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(
            email=email,
            display_name=name,
            password_hash=password_hash,
            municipality=municipality,
            home_area=area,
            birth_year=birth_year,
            postcode=postcode,
            house_number=house_number,
        )
        db.session.add(user)
        db.session.flush()
    if user.email_confirmed_at is None:  # the demo's accounts have confirmed their e-mail
        user.email_confirmed_at = utcnow()
    return user


def _grant(user: User, role: Role, municipality: Municipality, area: Area | None) -> None:
    exists = any(r.role is role and r.area_id == (area.id if area else None) for r in user.roles)
    if not exists:
        db.session.add(RoleAssignment(user=user, role=role, municipality=municipality, area=area))
