"""Test data factories: small functions that build valid records with sensible defaults.

Plain functions over the models keep tests readable and need no extra library; every call
commits, so the records are visible to test clients and other connections.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

from sqlalchemy import select

from buurtbudget.domain.initiative_lifecycle import Status
from buurtbudget.extensions import db
from buurtbudget.models import (
    Area,
    AreaPopulation,
    Initiative,
    Municipality,
    Role,
    RoleAssignment,
    User,
    VotingRound,
)
from buurtbudget.models._base import utcnow

TEST_PASSWORD = "correct horse battery"  # noqa: S105
_sequence = itertools.count(1)


DATE_FIELDS = ("proposals_until", "review_until", "voting_opens_at", "voting_closes_at")


def move_dates(voting_round: VotingRound, delta: timedelta) -> None:
    """Every date of the round ``delta`` later (earlier when negative): for tests, the time
    passing (nothing in the app moves the opening date once it has passed)."""
    for name in DATE_FIELDS:
        setattr(voting_round, name, getattr(voting_round, name) + delta)
    db.session.commit()


class Factories:
    def __init__(self) -> None:
        self._keyers: dict[int, tuple[User, User]] = {}

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
        db.session.flush()
        if postcode:
            self.addresses(area, postcode)
        db.session.commit()
        return area

    def addresses(self, area: Area, postcode: str, numbers=range(1, 41), extra=("12a", "12-2")):
        """Addresses of ``postcode`` in ``area`` (house numbers 1-40, 12a and 12-2), as the
        address file would give them."""
        from buurtbudget.domain.addresses import parse_house_number
        from buurtbudget.models import Address

        for text in [*(str(n) for n in numbers), *extra]:
            house = parse_house_number(text)
            db.session.add(
                Address(
                    postcode=postcode,
                    house_number=house.number,
                    house_letter=house.letter,
                    house_suffix=house.suffix,
                    municipality_id=area.municipality_id,
                    area_id=area.id,
                )
            )
        db.session.commit()

    def user(
        self,
        area: Area | None = None,
        *,
        email: str | None = None,
        password: str = TEST_PASSWORD,
        birth_year: int | None = 1980,
        roles: tuple[tuple[Role, Area | Municipality], ...] = (),
        confirmed: bool = True,
        elector: bool = True,
        **fields,
    ) -> User:
        """An account; with a home ``area`` (and ``elector``) it is also a verified elector,
        bound by stempas, of every round of that area it is old enough for (as if the
        register listed it and the resident entered their stempas code): residents that
        tests make vote as verified electors. ``elector=False``: an unverified account."""
        n = next(_sequence)
        if confirmed:
            fields.setdefault("email_confirmed_at", utcnow())
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
        if area is not None and elector:
            for voting_round in db.session.scalars(
                select(VotingRound).where(VotingRound.areas.contains(area))
            ):
                self.elector(voting_round, user)
        return user

    def elector(self, voting_round: VotingRound, user: User | None = None, **fields):
        """An elector of ``voting_round`` (as the register extract gives them), bound to
        ``user`` when given; area and birth year from the user. None when the user is not
        eligible (no home area in the round, no birth year, too young)."""
        from buurtbudget.models import Elector
        from buurtbudget.services import electorate

        area_id = fields.pop("area_id", user.home_area_id if user is not None else None)
        birth_year = fields.pop("birth_year", user.birth_year if user is not None else 1980)
        if area_id not in voting_round.area_ids or birth_year is None:
            return None
        if birth_year > voting_round.year - voting_round.min_age:
            return None
        n = next(_sequence)
        record = Elector(
            round_id=voting_round.id,
            person_hash=electorate.person_hash(voting_round.municipality_id, f"factory-{n}"),
            birth_year=birth_year,
            area_id=area_id,
            postcode=fields.pop("postcode", "2611AA"),
            house_number=fields.pop("house_number", n % 99999 + 1),
            user_id=user.id if user is not None else None,
            bound_at=utcnow() if user is not None else None,
            **fields,
        )
        db.session.add(record)
        db.session.commit()
        return record

    def resident(self, area: Area | None = None, **fields) -> User:
        return self.user(area or self.area(), **fields)

    # Initiatives and working groups ----------------------------------------------------------
    def theme(self, municipality: Municipality, name: str | None = None, **fields):
        from buurtbudget.models import Theme

        theme = Theme(municipality=municipality, name=name or f"Thema {next(_sequence)}", **fields)
        db.session.add(theme)
        db.session.commit()
        return theme

    def initiative(
        self,
        area: Area | None = None,
        initiator: User | None = None,
        status: str = "draft",
        themes: list | None = None,
        reason: str | None = None,
        **fields,
    ):
        """An initiative in ``status`` with the history rows of the way there (the system as
        actor for staff steps); past review it has a checked cost, once selected a funding
        route."""
        from buurtbudget.domain.initiative_lifecycle import FundingRoute, Status, path_to
        from buurtbudget.models import Initiative, InitiativeStatusChange

        area = area or self.area()
        initiator = initiator or self.resident(area)
        path = path_to(Status(status))
        amount = fields.pop("requested_amount_cents", 250_000)
        if Status.OPEN in path:
            fields.setdefault("checked_cost_cents", amount)
        if Status.SELECTED in path:
            fields.setdefault("funding_route", FundingRoute.VOTE)
        initiative = Initiative(
            area=area,
            initiator=initiator,
            title=fields.pop("title", f"Initiatief {next(_sequence)}"),
            description=fields.pop("description", "Een plan om de buurt mooier te maken."),
            requested_amount_cents=amount,
            status=path[-1],
            themes=themes if themes is not None else [self.theme(area.municipality)],
            **fields,
        )
        previous = None
        for step in path:
            by_initiator = step in (Status.DRAFT, Status.SUBMITTED)
            initiative.history.append(
                InitiativeStatusChange(
                    from_status=previous,
                    to_status=step,
                    actor=initiator if by_initiator else None,
                    reason=reason if step is path[-1] else None,
                )
            )
            previous = step
        db.session.add(initiative)
        db.session.commit()
        return initiative

    def working_group(self, area: Area, theme=None, members: tuple[User, ...] = (), **fields):
        from datetime import date

        from buurtbudget.models import WorkingGroup, WorkingGroupMember

        group = WorkingGroup(
            area=area,
            theme=theme or self.theme(area.municipality),
            name=fields.pop("name", f"Werkgroep {next(_sequence)}"),
            starts_on=fields.pop("starts_on", date(2026, 1, 1)),
            **fields,
        )
        group.memberships = [WorkingGroupMember(user=member) for member in members]
        db.session.add(group)
        db.session.commit()
        return group

    def comment(self, initiative, author: User | None = None, body: str = "Goed idee!", **fields):
        from buurtbudget.models import Comment

        comment = Comment(
            initiative=initiative,
            author=author or self.resident(initiative.area),
            body=body,
            **fields,
        )
        db.session.add(comment)
        db.session.commit()
        return comment

    def coordinator(self, area: Area, **fields) -> User:
        return self.user(
            None, municipality=area.municipality, roles=((Role.COORDINATOR, area),), **fields
        )

    def council_member(self, area: Area, **fields) -> User:
        return self.user(area, roles=((Role.COUNCIL_MEMBER, area),), **fields)

    def publish(self, voting_round, publisher):
        """Four eyes: another administrator of the round's municipality asks for publication,
        then ``publisher`` publishes (returns what counting.publish_results returns)."""
        from buurtbudget.services.voting import counting

        counting.request_publication(self.administrator(voting_round.municipality), voting_round)
        return counting.publish_results(publisher, voting_round)

    def council(self, area: Area, size: int = 3) -> list[User]:
        """``size`` council members of the area (three: the default quorum)."""
        return [self.council_member(area) for _ in range(size)]

    def administrator(self, municipality: Municipality, **fields) -> User:
        return self.user(
            None, municipality=municipality, roles=((Role.ADMINISTRATOR, municipality),), **fields
        )

    # Budgets ------------------------------------------------------------------------------
    def budget_period(
        self,
        area: Area,
        kind: str = "area_programme",
        year: int | None = None,
        half: int | None = None,
        **changes,
    ):
        """Configure ``kind`` for the area's municipality (if it has no model yet) and open
        the area's period of ``year`` (this year by default)."""
        from datetime import date

        from buurtbudget.domain.budget import model_defaults
        from buurtbudget.services import budgets

        if budgets.config_for(area) is None:
            settings = model_defaults(kind).with_changes(**changes)
            budgets.configure_model(None, area.municipality, settings)
        year = year or date.today().year
        if half is None and budgets.config_for(area).periods_per_year == 2:
            half = 1 if date.today().month <= 6 else 2
        return budgets.open_period(None, area, year, half)

    def budget_initiative(
        self,
        area: Area,
        initiator: User | None = None,
        cost_cents: int = 100_000,
        status: str = "open",
        **fields,
    ):
        """An initiative past the feasibility review, with a checked cost."""
        from buurtbudget.models import Initiative

        initiative = Initiative(
            area=area,
            title=fields.pop("title", f"Initiatief {next(_sequence)}"),
            description=fields.pop("description", "Een plan voor de buurt."),
            requested_amount_cents=cost_cents,
            checked_cost_cents=cost_cents,
            initiator=initiator or self.resident(area),
            status=status,
            **fields,
        )
        db.session.add(initiative)
        db.session.commit()
        return initiative

    # Voting ------------------------------------------------------------------------------

    def open_initiative(
        self, area: Area, title: str | None = None, cost_cents: int = 100_000, **fields
    ) -> Initiative:
        """An initiative that passed review (status open), ready to go on a ballot."""
        n = next(_sequence)
        initiator = fields.pop("initiator", None) or self.resident(area)
        initiative = Initiative(
            area=area,
            title=title or f"Initiatief {n}",
            description=fields.pop("description", "Een goed idee voor de wijk."),
            requested_amount_cents=cost_cents,
            checked_cost_cents=cost_cents,
            initiator_user_id=initiator.id,
            status=Status.OPEN,
            **fields,
        )
        db.session.add(initiative)
        db.session.commit()
        return initiative

    def paper_ballot(
        self,
        voting_round: VotingRound,
        choices: dict[int, int],
        area: Area | None = None,
        birth_year: int = 1970,
        keyers: tuple[User, User] | None = None,
    ) -> str:
        """A paper ballot as the services enter it: an elector of ``area`` (the round's first
        by default) with a stempas, a numbered paper issued for the area, keyed by two staff
        members (two administrators of the municipality unless ``keyers``). Returns the
        paper's number."""
        from buurtbudget.domain.budget import new_cheque_code
        from buurtbudget.services import electorate, paper_ballots

        area = area or voting_round.areas[0]
        code = new_cheque_code()
        self.elector(
            voting_round,
            area_id=area.id,
            birth_year=birth_year,
            stempas_hash=electorate.stempas_hash(code),
        )
        if keyers is None:
            keyers = self._keyers.get(voting_round.municipality_id)
            if keyers is None:
                municipality = db.session.get(Municipality, voting_round.municipality_id)
                keyers = (self.administrator(municipality), self.administrator(municipality))
                self._keyers[voting_round.municipality_id] = keyers
        sheet = paper_ballots.issue_papers(keyers[0], voting_round, area, 1)[0]
        for keyer in keyers:
            paper_ballots.key_paper(keyer, voting_round, sheet.number, code, choices)
        return sheet.number

    def voting_round(
        self,
        areas: list[Area] | Area,
        *,
        costs: tuple[int, ...] = (),
        phase: str = "voting",
        electorate: bool | None = None,
        weighting=None,
        **fields,
    ) -> VotingRound:
        """A round of ``areas`` with one open initiative per cost in ``costs`` (cents) on the
        ballot, its dates set so that it is in ``phase`` now (proposals, review, voting,
        counting). With ``electorate`` the residents of its areas become its electors, bound
        to their accounts (see :meth:`user`); by default every round has an electorate except
        one with the household voting codes of a round without a register.

        ``weighting`` (services.voting.weighting.WeightingSettings) is saved the only way the
        app allows, before voting opens: the round is set up a day before its opening, the
        settings are saved (counting.update_weighting), and then its dates move back as the
        time passing would, to put it in ``phase``."""
        if electorate is None:
            electorate = not fields.get("uses_voting_codes", False)
        from buurtbudget.services.voting import rounds

        areas = [areas] if isinstance(areas, Area) else list(areas)
        for index, cost in enumerate(costs, start=1):
            self.open_initiative(areas[0], f"Project {index}", cost)
        now = utcnow()
        offsets = {"proposals": 10, "review": 1, "voting": -1, "counting": -20}[phase]
        start = now + timedelta(days=offsets)
        setup = rounds.RoundSetup(
            title=fields.pop("title", f"Stemronde {next(_sequence)}"),
            areas=areas,
            proposals_until=start - timedelta(days=2),
            review_until=start - timedelta(days=1),
            voting_opens_at=start,
            voting_closes_at=start + timedelta(days=14),
            budget_cents=fields.pop("budget_cents", 1_000_000),
            **fields,
        )
        if phase == "counting":
            setup.voting_closes_at = now - timedelta(minutes=1)
        # Set up before the opening when the weighting is to be saved (see above).
        before_opening = timedelta(0)
        if weighting is not None:
            before_opening = max(timedelta(0), now + timedelta(days=1) - start)
        for name in DATE_FIELDS:
            setattr(setup, name, getattr(setup, name) + before_opening)
        voting_round = rounds.create_round(None, areas[0].municipality, setup)
        if weighting is not None:
            from buurtbudget.services.voting import counting

            counting.update_weighting(None, voting_round, weighting)
        if before_opening:
            move_dates(voting_round, -before_opening)
        if electorate:
            residents = db.session.scalars(
                select(User).where(User.home_area_id.in_(voting_round.area_ids)).order_by(User.id)
            ).all()
            for resident in residents:
                self.elector(voting_round, resident)
        return voting_round
