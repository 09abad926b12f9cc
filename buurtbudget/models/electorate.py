"""Who may vote: the address table (which buurt and wijk an address lies in), the electorate
of a round (from the municipality's register extract) and the register of paper ballots.

Nothing here links a ballot to a voter: an :class:`Elector` says who may vote (and, through
the "has voted" register in models/voting.py, *that* they voted), never how.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from buurtbudget.extensions import db
from buurtbudget.models._base import UTCDateTime, utcnow
from buurtbudget.models.geo import Area, Neighbourhood
from buurtbudget.models.user import User


class Address(db.Model):
    """One BAG address and the area (wijk) and neighbourhood (buurt) it lies in, from the
    CBS/BAG address table (``flask import-addresses``). Registration, the electorate and paper
    ballots take the area from here; an address that is not here has no area."""

    __tablename__ = "address"
    __table_args__ = (
        UniqueConstraint("postcode", "house_number", "house_letter", "house_suffix"),
        CheckConstraint("house_number BETWEEN 1 AND 99999", name="house_number_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    postcode: Mapped[str] = mapped_column(String(6))  # normalised: "2611AB"
    house_number: Mapped[int]
    house_letter: Mapped[str] = mapped_column(String(1), default="")  # "" when none
    house_suffix: Mapped[str] = mapped_column(String(4), default="")  # "" when none
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"), index=True)
    neighbourhood_id: Mapped[int | None] = mapped_column(ForeignKey("neighbourhood.id"))

    area: Mapped[Area] = relationship()
    neighbourhood: Mapped[Neighbourhood | None] = relationship()


class Elector(db.Model):
    """A resident who may vote in a round: one row of the register extract that lies in the
    round's areas and is old enough.

    The person key of the municipality is stored only as an HMAC with the installation's
    secret (``ELECTORATE_SECRET``); the stempas code only as its sha256. ``user_id`` is the
    account bound to this elector by entering the stempas code (at most one per elector and
    round). Area and age come from the register, frozen once voting opens.
    """

    __tablename__ = "elector"
    __table_args__ = (
        UniqueConstraint("round_id", "person_hash"),
        UniqueConstraint("round_id", "user_id"),
        Index("ix_elector_user", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(
        ForeignKey("voting_round.id", ondelete="CASCADE"), index=True
    )
    person_hash: Mapped[str] = mapped_column(String(64))
    birth_year: Mapped[int]
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"))
    neighbourhood_id: Mapped[int | None] = mapped_column(ForeignKey("neighbourhood.id"))
    # The register address, for the stempas letter.
    postcode: Mapped[str] = mapped_column(String(6))
    house_number: Mapped[int]
    house_letter: Mapped[str] = mapped_column(String(1), default="")
    house_suffix: Mapped[str] = mapped_column(String(4), default="")
    street: Mapped[str] = mapped_column(String(120), default="")
    city: Mapped[str] = mapped_column(String(80), default="")
    # sha256 of the stempas code (NULL until the letters are made).
    stempas_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    bound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    area: Mapped[Area] = relationship()
    user: Mapped[User | None] = relationship()

    @property
    def house(self) -> str:
        text = f"{self.house_number}{self.house_letter.lower()}"
        return f"{text}-{self.house_suffix}" if self.house_suffix else text


class PaperBallotSheet(db.Model):
    """A numbered paper ballot issued for one area of a round (the register of issued
    papers). ``entered`` once both keyings agreed and the ballot was counted."""

    __tablename__ = "paper_ballot_sheet"
    __table_args__ = (UniqueConstraint("round_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(
        ForeignKey("voting_round.id", ondelete="CASCADE"), index=True
    )
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"))
    number: Mapped[str] = mapped_column(String(32))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    entered: Mapped[bool] = mapped_column(default=False)

    area: Mapped[Area] = relationship()


class PaperBallotKeying(db.Model):
    """One staff member's typing of a paper ballot (double keying). Kept only until the two
    keyings of a sheet agree: then the ballot is written and the keyings are deleted, so no
    stored row ties the stempas to the choices."""

    __tablename__ = "paper_ballot_keying"
    __table_args__ = (UniqueConstraint("sheet_id", "keyed_by_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sheet_id: Mapped[int] = mapped_column(
        ForeignKey("paper_ballot_sheet.id", ondelete="CASCADE"), index=True
    )
    keyed_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    stempas_hash: Mapped[str] = mapped_column(String(64))
    # {round_project_id: points} as a JSON object of strings to ints.
    choices: Mapped[dict] = mapped_column(JSON)
    keyed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sheet: Mapped[PaperBallotSheet] = relationship()
    keyed_by: Mapped[User] = relationship()
