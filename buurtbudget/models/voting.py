"""Voting rounds: setup, the projects on the ballot, secret ballots, "has voted" records and
voting codes.

Secrecy by design (see services/voting/casting.py for the full argument):

* :class:`Ballot` holds no reference to a person: a ballot carries only its round, channel,
  its choices, the voter's area and age band (for turnout and weighting) and the DATE it was
  cast. Its primary key is random, so neither ids nor timestamps put ballots in the order
  people voted.
* :class:`VoterRecord` says *that* someone voted ("has voted" register); its unique
  constraints let the database, not Python, enforce one ballot per voter per round.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Mapping
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from buurtbudget.domain.ballots import APPROVAL, BallotRules
from buurtbudget.extensions import db
from buurtbudget.models._base import IntegerList, UTCDateTime, utcnow
from buurtbudget.models.budget import BudgetPeriod
from buurtbudget.models.geo import Area, Municipality
from buurtbudget.models.initiative import Initiative
from buurtbudget.models.user import User


def _enum(enum_class, length: int) -> Enum:
    return Enum(
        enum_class, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


def new_ballot_id() -> str:
    """128 random bits: a ballot's key says nothing about when or by whom it was cast."""
    return secrets.token_hex(16)


class Phase(enum.StrEnum):
    """Where a round stands, derived from its dates and whether it was closed."""

    PROPOSALS = "proposals"
    REVIEW = "review"
    VOTING = "voting"
    COUNTING = "counting"  # voting has ended, results not yet computed
    RESULTS = "results"


class Channel(enum.StrEnum):
    ONLINE = "online"  # a logged-in resident
    CODE = "code"  # a resident without an account, with a mailed voting code
    PAPER = "paper"  # entered by a coordinator from a paper ballot
    IMPORTED = "imported"  # from a pabulib file


class RoundSource(enum.StrEnum):
    PLATFORM = "platform"
    PABULIB = "pabulib"


voting_round_area = Table(
    "voting_round_area",
    db.metadata,
    Column("round_id", ForeignKey("voting_round.id", ondelete="CASCADE"), primary_key=True),
    Column("area_id", ForeignKey("area.id"), primary_key=True),
)


class VotingRound(db.Model):
    """A budget round of one or more areas: phases with dates, the ballot and the rule.

    The ballot type, rule, limits, areas, budget and projects are fixed once voting opens by
    its dates (voting.rounds.setup_is_fixed); ``locked_at`` marks the first ballot.
    """

    __tablename__ = "voting_round"
    __table_args__ = (
        CheckConstraint("budget_cents >= 0", name="budget_non_negative"),
        CheckConstraint("min_age >= 0 AND min_age <= 120", name="min_age_plausible"),
        CheckConstraint(
            "min_projects IS NULL OR max_projects IS NULL OR min_projects <= max_projects",
            name="project_limits_ordered",
        ),
        CheckConstraint(
            "(min_projects IS NULL OR min_projects >= 0) AND (max_projects IS NULL OR"
            " max_projects >= 1) AND (max_total_cost_cents IS NULL OR max_total_cost_cents > 0)"
            " AND (max_points_per_project IS NULL OR max_points_per_project >= 1)"
            " AND (max_total_points IS NULL OR max_total_points >= 1)",
            name="limits_positive",
        ),
        CheckConstraint(
            "voting_opens_at IS NULL OR voting_closes_at IS NULL"
            " OR voting_opens_at < voting_closes_at",
            name="voting_dates_ordered",
        ),
        CheckConstraint(
            "(proposals_until IS NULL OR review_until IS NULL OR proposals_until <= review_until)"
            " AND (review_until IS NULL OR voting_opens_at IS NULL"
            " OR review_until <= voting_opens_at)",
            name="phase_dates_ordered",
        ),
        CheckConstraint(
            "ballot_type IN ('approval', 'cumulative', 'choose-1')", name="ballot_type_known"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[RoundSource] = mapped_column(
        _enum(RoundSource, 12), default=RoundSource.PLATFORM
    )
    # Phases. A round from a pabulib file may have none of them.
    proposals_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voting_opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voting_closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Ballot and rule (fixed once voting opens).
    ballot_type: Mapped[str] = mapped_column(String(12), default=APPROVAL)
    rule_name: Mapped[str] = mapped_column(String(40), default="greedy")
    min_projects: Mapped[int | None] = mapped_column(Integer)
    max_projects: Mapped[int | None] = mapped_column(Integer)
    # Knapsack ballot: the chosen projects may cost at most this much together.
    max_total_cost_cents: Mapped[int | None] = mapped_column(BigInteger)
    max_points_per_project: Mapped[int | None] = mapped_column(Integer)
    max_total_points: Mapped[int | None] = mapped_column(Integer)
    # Eligibility.
    min_age: Mapped[int] = mapped_column(Integer, default=16)
    uses_voting_codes: Mapped[bool] = mapped_column(default=False)
    allow_ballot_change: Mapped[bool] = mapped_column(default=False)
    # Money.
    budget_period_id: Mapped[int | None] = mapped_column(ForeignKey("budget_period.id"))
    budget_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    # Extra election metadata passed to the rule (pabulib META: category caps, leftover
    # policy, ...); for imported rounds the file's whole META.
    rule_meta: Mapped[dict | None] = mapped_column(JSON)
    # For the weighting module (post-stratification by area / age band); None = unweighted.
    weighting_config: Mapped[dict | None] = mapped_column(JSON)
    # The population figures the weights and turnout use, per area id (str), as they were
    # when voting opened (voting.rounds.fix_population); None before: the live figures.
    population_figures: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    results_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Four eyes: one staff member asks for publication, another publishes.
    publication_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    publication_requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # What the rule spent, stored with the results.
    result_total_cost_cents: Mapped[int | None] = mapped_column(BigInteger)

    municipality: Mapped[Municipality] = relationship()
    areas: Mapped[list[Area]] = relationship(secondary=voting_round_area, order_by="Area.name")
    budget_period: Mapped[BudgetPeriod | None] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    publication_requested_by: Mapped[User | None] = relationship(
        foreign_keys=[publication_requested_by_id]
    )
    projects: Mapped[list[RoundProject]] = relationship(
        back_populates="round",
        order_by="RoundProject.position, RoundProject.id",
        cascade="all, delete-orphan",
    )

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None

    @property
    def is_published(self) -> bool:
        return self.results_published_at is not None

    @property
    def area_ids(self) -> set[int]:
        return {area.id for area in self.areas}

    @property
    def year(self) -> int:
        moment = self.voting_opens_at or self.voting_closes_at or self.created_at
        return moment.year

    def phase(self, now: datetime | None = None) -> Phase:
        if self.closed_at is not None:
            return Phase.RESULTS
        now = now or utcnow()
        if self.voting_closes_at is not None and now >= self.voting_closes_at:
            return Phase.COUNTING
        if self.voting_opens_at is not None and now >= self.voting_opens_at:
            return Phase.VOTING
        if self.proposals_until is not None and now < self.proposals_until:
            return Phase.PROPOSALS
        return Phase.REVIEW

    def is_voting_open(self, now: datetime | None = None) -> bool:
        return self.phase(now) is Phase.VOTING

    def ballot_rules(self) -> BallotRules:
        """What a valid ballot is in this round (domain/ballots.py), amounts in cents."""
        if self.ballot_type == "choose-1":
            return BallotRules.for_vote_type("choose-1")
        if self.ballot_type == "cumulative":
            return BallotRules(
                kind="cumulative",
                min_length=self.min_projects,
                max_length=self.max_projects,
                max_points=self.max_points_per_project,
                max_total_points=self.max_total_points,
            )
        return BallotRules(
            kind=APPROVAL,
            min_length=self.min_projects,
            max_length=self.max_projects,
            max_total_cost=self.max_total_cost_cents,
        )

    def __repr__(self) -> str:
        return f"<VotingRound {self.id} {self.title}>"


class RoundProject(db.Model):
    """A project on the ballot: an initiative, or a project of an imported pabulib file."""

    __tablename__ = "round_project"
    __table_args__ = (
        UniqueConstraint("round_id", "external_id"),
        UniqueConstraint("round_id", "initiative_id"),
        CheckConstraint("cost_cents >= 0", name="cost_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(
        ForeignKey("voting_round.id", ondelete="CASCADE"), index=True
    )
    initiative_id: Mapped[int | None] = mapped_column(ForeignKey("initiative.id"), index=True)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"))
    # The project id in the rules and in pabulib files (the initiative id for our projects).
    external_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    cost_cents: Mapped[int] = mapped_column(BigInteger)
    # Comma-separated, as in pabulib (caps per category / neighbourhood refer to them).
    category: Mapped[str] = mapped_column(String(200), default="")
    neighbourhood: Mapped[str] = mapped_column(String(200), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    # The initiative's volunteer hours (the ranking's own contribution) when voting opened,
    # stored with the round's population figures (voting.rounds.fix_population); None
    # before: the live hours.
    volunteer_hours: Mapped[int | None] = mapped_column(Integer)
    # Results (NULL until the round is closed).
    votes: Mapped[int | None] = mapped_column(BigInteger)
    # The (weighted) support the rule saw, exactly, as text (e.g. "1234" or "2469/2").
    score: Mapped[str | None] = mapped_column(String(60))
    selected: Mapped[bool | None]
    selection_order: Mapped[int | None] = mapped_column(Integer)
    selection_reason: Mapped[str | None] = mapped_column(String(500))

    round: Mapped[VotingRound] = relationship(back_populates="projects")
    initiative: Mapped[Initiative | None] = relationship()
    area: Mapped[Area | None] = relationship()

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(c.strip() for c in self.category.split(",") if c.strip())

    @property
    def neighbourhoods(self) -> tuple[str, ...]:
        return tuple(n.strip() for n in self.neighbourhood.split(",") if n.strip())


# PostgreSQL CHECK constraints of a ballot's choice arrays (SQLite stores them as text).
BALLOT_CHOICE_CHECKS = {
    "project_ids_plain": "array_position(project_ids, NULL) IS NULL"
    " AND coalesce(array_ndims(project_ids), 1) = 1",
    "points_match": "points IS NULL OR (array_position(points, NULL) IS NULL"
    " AND cardinality(points) = cardinality(project_ids) AND 1 <= ALL (points))",
}


class Ballot(db.Model):
    """One voter's ballot. Deliberately without any link to a person (see module doc)."""

    __tablename__ = "ballot"
    __table_args__ = (
        UniqueConstraint("round_id", "paper_number"),
        UniqueConstraint("round_id", "external_id"),
        CheckConstraint(
            "(channel = 'paper') = (paper_number IS NOT NULL)", name="paper_number_for_paper"
        ),
        # Covers the results page's counts per (area, age band) and per channel: on a round
        # of a million ballots they read this index only (SQLite 1.07 s -> 0.07 s CPU).
        Index("ix_ballot_round_area_band_channel", "round_id", "area_id", "age_band", "channel"),
        # A round's ballots in the order of their keys, straight from the index: counting
        # reads them in that order (voting.election), and sorting a million rows was half
        # of the database's work.
        Index("ix_ballot_round_id_key", "round_id", "id"),
        # The choices' shape (PostgreSQL; the rest is checked by models/ballot_choices.py).
        *(
            CheckConstraint(condition, name=name).ddl_if(dialect="postgresql")
            for name, condition in BALLOT_CHOICE_CHECKS.items()
        ),
        # SQLite: no rowid; the rows are stored in the order of their random key, not in the
        # order ballots were cast (which the "has voted" register follows).
        {"sqlite_with_rowid": False},
    )

    # Bytewise order on PostgreSQL too (COLLATE "C"): keys sort as in Python and SQLite.
    id: Mapped[str] = mapped_column(
        String(32).with_variant(String(32, collation="C"), "postgresql"),
        primary_key=True,
        default=new_ballot_id,
    )
    round_id: Mapped[int] = mapped_column(ForeignKey("voting_round.id", ondelete="CASCADE"))
    channel: Mapped[Channel] = mapped_column(_enum(Channel, 10))
    paper_number: Mapped[str | None] = mapped_column(String(32))
    # The voter id of an imported pabulib file (never set for ballots cast here).
    external_id: Mapped[str | None] = mapped_column(String(64))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"))
    age_band: Mapped[str | None] = mapped_column(String(16))
    # A date, not a timestamp: it cannot be matched to the time in the "has voted" register.
    cast_on: Mapped[date | None]
    # sha256 of the receipt token shown once to the voter (only when ballots may change).
    receipt_hash: Mapped[str | None] = mapped_column(String(64), unique=True)

    # The choices, in ascending order of project id: the round's projects chosen, and their
    # points (None: one point each, as on every approval ballot). In the ballot's own row, not
    # a row per choice: a ballot is written and read as one row, and a million-ballot import
    # pays no foreign-key check per choice (bench/tally.py, PostgreSQL: 66.7 s -> 17.0 s).
    # That every id is a project of the ballot's round is checked by the writers and, on
    # PostgreSQL, by the statement trigger of models/ballot_choices.py.
    project_ids: Mapped[list[int]] = mapped_column(IntegerList, default=list)
    points: Mapped[list[int] | None] = mapped_column(IntegerList)

    round: Mapped[VotingRound] = relationship()

    @property
    def choices(self) -> dict[int, int]:
        """Project id -> points."""
        points = self.points or [1] * len(self.project_ids)
        return dict(zip(self.project_ids, points, strict=True))

    @choices.setter
    def choices(self, choices: Mapping[int, int]) -> None:
        self.project_ids, self.points = stored_choices(choices)


def stored_choices(choices: Mapping[int, int]) -> tuple[list[int], list[int] | None]:
    """A ballot's two choice columns for ``choices`` (project id -> points; zero points is no
    choice): the project ids in ascending order, and their points, or None when every choice
    has one point. Every writer of ballots stores choices through this."""
    chosen = sorted((int(pid), int(points)) for pid, points in choices.items() if points)
    project_ids = [pid for pid, _points in chosen]
    points = [points for _pid, points in chosen]
    return project_ids, (None if all(value == 1 for value in points) else points)


class VotingCode(db.Model):
    """A single-use code mailed to a household or person without an account.

    Only ``sha256(code)`` is stored. No slow password hash is needed: codes carry 60 random
    bits (see services/voting/casting.py), far beyond what anyone can guess, so a fast hash suffices
    and lets the code be looked up directly.
    """

    __tablename__ = "voting_code"
    __table_args__ = (Index("ix_voting_code_round", "round_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("voting_round.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Who it was mailed to, e.g. an address ("Tanthof-Oost, Kruithuisweg 12") or a person.
    label: Mapped[str] = mapped_column(String(200), default="")
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"))
    age_band: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    round: Mapped[VotingRound] = relationship()
    area: Mapped[Area | None] = relationship()


class VoterRecord(db.Model):
    """The "has voted" register: who (a user or a voting code) voted in a round, not how."""

    __tablename__ = "voter_record"
    __table_args__ = (
        UniqueConstraint("round_id", "user_id"),
        UniqueConstraint("round_id", "voting_code_id"),
        # One ballot per elector per round, whichever channel (account, stempas code, paper).
        UniqueConstraint("round_id", "elector_id"),
        CheckConstraint(
            "user_id IS NOT NULL OR voting_code_id IS NOT NULL OR elector_id IS NOT NULL",
            name="someone_voted",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("voting_round.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    voting_code_id: Mapped[int | None] = mapped_column(ForeignKey("voting_code.id"))
    elector_id: Mapped[int | None] = mapped_column(ForeignKey("elector.id", ondelete="CASCADE"))
    voted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    channel: Mapped[Channel] = mapped_column(_enum(Channel, 10))

    round: Mapped[VotingRound] = relationship()
    user: Mapped[User | None] = relationship()
