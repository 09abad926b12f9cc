"""Test data factories: small functions that build valid records with sensible defaults.

Plain functions over the models keep tests readable and need no extra library; every call
commits, so the records are visible to test clients and other connections.
"""

from __future__ import annotations

import itertools

from buurtbudget.extensions import db
from buurtbudget.models import (
    Area,
    AreaPopulation,
    Municipality,
    PostcodeRange,
    Role,
    RoleAssignment,
    User,
)

TEST_PASSWORD = "correct horse battery"  # noqa: S105
_sequence = itertools.count(1)


class Factories:
    def municipality(self, name: str | None = None, **fields) -> Municipality:
        n = next(_sequence)
        municipality = Municipality(name=name or f"Gemeente {n}", slug=f"gemeente-{n}", **fields)
        db.session.add(municipality)
        db.session.commit()
        return municipality

    def area(
        self,
        municipality: Municipality | None = None,
        name: str | None = None,
        inhabitants: int = 10_000,
        households: int = 4_500,
        year: int = 2026,
        postcode: str | None = None,
        **population,
    ) -> Area:
        n = next(_sequence)
        area = Area(municipality=municipality or self.municipality(), name=name or f"Wijk {n}")
        db.session.add(area)
        db.session.add(
            AreaPopulation(
                area=area, year=year, inhabitants=inhabitants, households=households, **population
            )
        )
        if postcode:
            db.session.add(
                PostcodeRange(
                    postcode=postcode, house_number_from=1, house_number_to=999, area=area
                )
            )
        db.session.commit()
        return area

    def user(
        self,
        area: Area | None = None,
        *,
        email: str | None = None,
        password: str = TEST_PASSWORD,
        birth_year: int | None = 1980,
        roles: tuple[tuple[Role, Area | Municipality], ...] = (),
        **fields,
    ) -> User:
        n = next(_sequence)
        user = User(
            email=email or f"user{n}@example.org",
            display_name=fields.pop("display_name", f"User {n}"),
            home_area=area,
            municipality=area.municipality if area else fields.pop("municipality", None),
            birth_year=birth_year,
            **fields,
        )
        user.set_password(password)
        db.session.add(user)
        for role, place in roles:
            if isinstance(place, Area):
                db.session.add(
                    RoleAssignment(
                        user=user, role=role, area=place, municipality=place.municipality
                    )
                )
            else:
                db.session.add(RoleAssignment(user=user, role=role, municipality=place))
        db.session.commit()
        return user

    def resident(self, area: Area | None = None, **fields) -> User:
        return self.user(area or self.area(), **fields)

    def coordinator(self, area: Area, **fields) -> User:
        return self.user(
            None, municipality=area.municipality, roles=((Role.COORDINATOR, area),), **fields
        )

    def council_member(self, area: Area, **fields) -> User:
        return self.user(area, roles=((Role.COUNCIL_MEMBER, area),), **fields)

    def administrator(self, municipality: Municipality, **fields) -> User:
        return self.user(
            None, municipality=municipality, roles=((Role.ADMINISTRATOR, municipality),), **fields
        )
