"""Demo geography: real area names with realistic, rounded population figures."""

from __future__ import annotations

from sqlalchemy import select

from buurtbudget.extensions import db
from buurtbudget.models import Area, AreaPopulation, Municipality, Neighbourhood
from buurtbudget.services.addresses import import_addresses
from buurtbudget.services.voting.rounds import fix_population_of_areas

# municipality slug -> (name, CBS code, first postcode digits, areas)
# area: (name, CBS wijk code, inhabitants, households, need index, neighbourhoods)
MUNICIPALITIES = {
    "delft": (
        "Delft",
        "GM0503",
        2611,
        [
            ("Binnenstad", "WK050321", 13150, 8420, 96, ["Oude Delft", "Markt", "Zuidpoort"]),
            ("Vrijenban", "WK050322", 12480, 6950, 88, ["Hof van Delft-Noord", "Vrijenbanpark"]),
            ("Hof van Delft", "WK050323", 14200, 7600, 97, ["Olofsbuurt", "Westerkwartier"]),
            ("Voordijkshoorn", "WK050324", 9350, 4300, 94, ["Voordijkshoorn", "Delftse Hout"]),
            ("Wippolder", "WK050325", 11900, 7800, 103, ["Wippolder-Noord", "TU-Noord"]),
            ("Buitenhof", "WK050326", 14750, 7100, 128, ["Buitenhof-Noord", "Buitenhof-Zuid"]),
            ("Tanthof", "WK050327", 13600, 6200, 101, ["Tanthof-Oost", "Tanthof-West"]),
        ],
    ),
    "zaanstad": (
        "Zaanstad",
        "GM0479",
        1501,
        [
            ("Poelenburg", "WK047901", 8900, 4100, 141, ["Poelenburg-Noord", "Poelenburg-Zuid"]),
            ("Kogerveld", "WK047902", 6100, 2900, 112, ["Kogerveld"]),
            ("Zaandam-Zuid", "WK047903", 13446, 6500, 118, ["Zuiderhout", "Hoornseveld"]),
            ("Krommenie-West", "WK047904", 8400, 3700, 90, ["Krommenie-West"]),
            ("Assendelft-Noord", "WK047905", 9800, 3900, 82, ["Saendelft", "Dorp Assendelft"]),
            ("Westzaan", "WK047906", 3136, 1350, 85, ["Westzaan"]),
        ],
    ),
    "ede": (
        "Ede",
        "GM0228",
        6711,
        [
            ("Ede-Centrum", "WK022801", 11200, 6100, 108, ["Centrum", "Stationsgebied"]),
            ("Veldhuizen", "WK022802", 12900, 5800, 131, ["Veldhuizen-A", "Veldhuizen-B"]),
            ("Ede-Zuid", "WK022803", 10400, 4700, 97, ["Rietkampen", "Kernhem"]),
            ("Bennekom", "WK022804", 14100, 6100, 80, ["Bennekom-Noord", "Bennekom-Zuid"]),
            ("Lunteren", "WK022805", 9700, 3900, 84, ["Lunteren-Dorp"]),
        ],
    ),
}

# Share of inhabitants per CBS age band: 0-14, 15-24, 25-44, 45-64, 65+.
AGE_SHARES = (0.15, 0.13, 0.27, 0.26, 0.19)
YEARS = (2025, 2026)
POSTCODE_LETTERS = ("AA", "AB", "AC")
HOUSE_NUMBERS = (1, 200)


def demo_postcode(municipality_slug: str, area_index: int, letters_index: int = 0) -> str:
    """Postcodes the demo gives to area ``area_index`` (0-based): handy in docs and tests."""
    first_digits = MUNICIPALITIES[municipality_slug][2]
    return f"{first_digits + area_index}{POSTCODE_LETTERS[letters_index]}"


def seed_places(progress) -> None:
    for slug, (name, code, _, areas) in MUNICIPALITIES.items():
        municipality = db.session.scalar(select(Municipality).where(Municipality.slug == slug))
        if municipality is None:
            municipality = Municipality(name=name, slug=slug, cbs_code=code)
            db.session.add(municipality)
        for area_name, area_code, inhabitants, households, need, buurten in areas:
            area = db.session.scalar(select(Area).where(Area.cbs_code == area_code))
            if area is None:
                area = Area(municipality=municipality, name=area_name, cbs_code=area_code)
                db.session.add(area)
                db.session.flush()
            else:
                # A second run rewrites the figures: an opened round of the area keeps those
                # of its opening, as with every import (voting.rounds.fix_population).
                fix_population_of_areas([area.id])
            for number, buurt in enumerate(buurten, start=1):
                buurt_code = f"BU{area_code[2:]}{number:02d}"
                if (
                    db.session.scalar(
                        select(Neighbourhood.id).where(Neighbourhood.cbs_code == buurt_code)
                    )
                    is None
                ):
                    db.session.add(Neighbourhood(area=area, name=buurt, cbs_code=buurt_code))
            for offset, year in enumerate(YEARS):
                _seed_population(
                    area,
                    year,
                    inhabitants - 120 * (len(YEARS) - 1 - offset),
                    households - 50 * (len(YEARS) - 1 - offset),
                    need,
                )
        progress(f"  {name}: {len(areas)} areas")
    db.session.commit()
    summary = import_addresses(demo_address_lines())
    progress(f"  address file: {summary.rows} addresses (postcode + house number -> buurt, wijk)")


def demo_address_lines():
    """The demo's address file in the CBS/BAG layout: per area three postcodes with house
    numbers 1-200, some with a house letter (``12a``) or an addition (``12-2``) as in flats,
    spread over the area's buurten."""
    yield "postcode;huisnummer;huisletter;toevoeging;buurtcode;wijkcode\n"
    for slug, (_name, _code, _digits, areas) in MUNICIPALITIES.items():
        for index, (_area_name, area_code, *_figures, buurten) in enumerate(areas):
            for letters_index in range(len(POSTCODE_LETTERS)):
                postcode = demo_postcode(slug, index, letters_index)
                for number in range(HOUSE_NUMBERS[0], HOUSE_NUMBERS[1] + 1):
                    buurt = f"BU{area_code[2:]}{number % len(buurten) + 1:02d}"
                    variants = [("", "")]
                    if number % 10 == 2:
                        variants += [("a", ""), ("b", ""), ("", "1"), ("", "2")]
                    for letter, suffix in variants:
                        yield f"{postcode};{number};{letter};{suffix};{buurt};{area_code}\n"


def _seed_population(area: Area, year: int, inhabitants: int, households: int, need: int) -> None:
    figures = db.session.scalar(
        select(AreaPopulation).where(AreaPopulation.area_id == area.id, AreaPopulation.year == year)
    )
    if figures is None:
        figures = AreaPopulation(area=area, year=year, inhabitants=0, households=0)
        db.session.add(figures)
    figures.inhabitants = inhabitants
    figures.households = households
    figures.need_index = float(need)
    bands = [round(inhabitants * share) for share in AGE_SHARES]
    bands[-1] = inhabitants - sum(bands[:-1])  # bands add up to the total exactly
    (
        figures.age_0_14,
        figures.age_15_24,
        figures.age_25_44,
        figures.age_45_64,
        figures.age_65_plus,
    ) = bands
