"""Initiatives with their themes, history, attachments and comments; area agendas;
notifications.

The status column holds :class:`buurtbudget.domain.initiative_lifecycle.Status`; only
``services.initiatives.change_status`` changes it, and every change adds an
:class:`InitiativeStatusChange` row.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    Enum,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from buurtbudget.domain.initiative_lifecycle import FundingRoute, Status
from buurtbudget.extensions import db
from buurtbudget.models._base import UTCDateTime, utcnow
from buurtbudget.models.geo import Area, Municipality
from buurtbudget.models.user import User

if TYPE_CHECKING:
    from buurtbudget.models.working_group import WorkingGroup


def _enum(enum_class, length: int) -> Enum:
    return Enum(
        enum_class,
        native_enum=False,
        length=length,
        values_callable=lambda e: [m.value for m in e],
    )


class Theme(db.Model):
    """A theme of one municipality (Groen, Spelen, Verkeer, ...)."""

    __tablename__ = "theme"
    __table_args__ = (UniqueConstraint("municipality_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(String(300), default="")
    # Retired themes stay on old initiatives but cannot be chosen any more.
    is_active: Mapped[bool] = mapped_column(default=True)

    municipality: Mapped[Municipality] = relationship()

    def __repr__(self) -> str:
        return f"<Theme {self.name}>"


initiative_theme = Table(
    "initiative_theme",
    db.metadata,
    Column("initiative_id", ForeignKey("initiative.id", ondelete="CASCADE"), primary_key=True),
    Column("theme_id", ForeignKey("theme.id"), primary_key=True),
)

area_agenda_theme = Table(
    "area_agenda_theme",
    db.metadata,
    Column("agenda_id", ForeignKey("area_agenda.id", ondelete="CASCADE"), primary_key=True),
    Column("theme_id", ForeignKey("theme.id"), primary_key=True),
)


class AreaAgenda(db.Model):
    """The themes an area works on in one year (Delft: at most 3 to 5, configurable)."""

    __tablename__ = "area_agenda"
    __table_args__ = (
        UniqueConstraint("area_id", "year"),
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year_plausible"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"), index=True)
    year: Mapped[int]
    note: Mapped[str] = mapped_column(Text, default="")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    area: Mapped[Area] = relationship()
    themes: Mapped[list[Theme]] = relationship(secondary=area_agenda_theme, order_by="Theme.name")
    updated_by: Mapped[User | None] = relationship()


class Initiative(db.Model):
    """A resident's (or working group's) idea for their area, with what it costs."""

    __tablename__ = "initiative"
    __table_args__ = (
        CheckConstraint("requested_amount_cents >= 0", name="requested_non_negative"),
        CheckConstraint(
            "checked_cost_cents IS NULL OR checked_cost_cents >= 0", name="checked_non_negative"
        ),
        CheckConstraint("volunteer_hours >= 0", name="volunteer_hours_non_negative"),
        CheckConstraint("co_funding_cents >= 0", name="co_funding_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text)
    requested_amount_cents: Mapped[int] = mapped_column(BigInteger)
    # Set by the coordinator when accepting the initiative after the feasibility review.
    checked_cost_cents: Mapped[int | None] = mapped_column(BigInteger)
    # Own contribution (the Venray method rewarded it; the weighting module judges it).
    volunteer_hours: Mapped[int] = mapped_column(Integer, default=0)
    co_funding_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    in_kind: Mapped[str] = mapped_column(String(500), default="")
    contribution_note: Mapped[str] = mapped_column(String(1000), default="")
    initiator_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    # When set, the group proposes it: same area, and the initiator is a member.
    working_group_id: Mapped[int | None] = mapped_column(ForeignKey("working_group.id"), index=True)
    status: Mapped[Status] = mapped_column(_enum(Status, 20), default=Status.DRAFT, index=True)
    # How a selected initiative is funded; kept after it moves on to execution.
    funding_route: Mapped[FundingRoute | None] = mapped_column(_enum(FundingRoute, 20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Progress once funded (services.progress): who carries it out, and when.
    responsible_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    planned_start_on: Mapped[date | None] = mapped_column(Date)
    planned_end_on: Mapped[date | None] = mapped_column(Date)
    # What it cost in the end (what was paid out), recorded when it is completed.
    final_cost_cents: Mapped[int | None] = mapped_column(BigInteger)

    area: Mapped[Area] = relationship()
    initiator: Mapped[User] = relationship(foreign_keys=[initiator_user_id])
    responsible: Mapped[User | None] = relationship(foreign_keys=[responsible_user_id])
    working_group: Mapped[WorkingGroup | None] = relationship(back_populates="initiatives")
    themes: Mapped[list[Theme]] = relationship(secondary=initiative_theme, order_by="Theme.name")
    history: Mapped[list[InitiativeStatusChange]] = relationship(
        back_populates="initiative",
        order_by="InitiativeStatusChange.id",
        cascade="all, delete-orphan",
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="initiative", order_by="Attachment.id", cascade="all, delete-orphan"
    )
    comments: Mapped[list[Comment]] = relationship(
        back_populates="initiative", order_by="Comment.id", cascade="all, delete-orphan"
    )

    @property
    def municipality_id(self) -> int:
        return self.area.municipality_id

    @property
    def last_change(self) -> InitiativeStatusChange | None:
        return self.history[-1] if self.history else None

    @property
    def status_reason(self) -> str | None:
        """Why it reached its current status (a rejection or cancellation reason), if given."""
        last = self.last_change
        return last.reason if last is not None and last.to_status == self.status else None

    def __repr__(self) -> str:
        return f"<Initiative {self.id} {self.status}>"


class InitiativeStatusChange(db.Model):
    """One step in an initiative's history: who moved it from where to where, when and why.
    ``actor`` None means the system (a closed voting round, the cheque pool, the ledger)."""

    __tablename__ = "initiative_status_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    initiative_id: Mapped[int] = mapped_column(
        ForeignKey("initiative.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[Status | None] = mapped_column(_enum(Status, 20))
    to_status: Mapped[Status] = mapped_column(_enum(Status, 20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str | None] = mapped_column(Text)

    initiative: Mapped[Initiative] = relationship(back_populates="history")
    actor: Mapped[User | None] = relationship()


class Attachment(db.Model):
    """An image or PDF of an initiative, stored under ``<instance>/uploads/<stored_name>``."""

    __tablename__ = "attachment"
    __table_args__ = (CheckConstraint("size_bytes > 0", name="size_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    initiative_id: Mapped[int] = mapped_column(
        ForeignKey("initiative.id", ondelete="CASCADE"), index=True
    )
    # Random, never derived from the uploaded name, so no path tricks and no guessing.
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    original_name: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int]
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    initiative: Mapped[Initiative] = relationship(back_populates="attachments")

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class Comment(db.Model):
    __tablename__ = "comment"
    __table_args__ = (
        CheckConstraint(
            "(hidden_at IS NULL AND hidden_reason IS NULL)"
            " OR (hidden_at IS NOT NULL AND hidden_reason IS NOT NULL)",
            name="hidden_with_reason",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    initiative_id: Mapped[int] = mapped_column(
        ForeignKey("initiative.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    hidden_reason: Mapped[str | None] = mapped_column(String(500))

    initiative: Mapped[Initiative] = relationship(back_populates="comments")
    author: Mapped[User] = relationship(foreign_keys=[author_id])
    hidden_by: Mapped[User | None] = relationship(foreign_keys=[hidden_by_id])
    reports: Mapped[list[CommentReport]] = relationship(
        back_populates="comment", cascade="all, delete-orphan", order_by="CommentReport.id"
    )

    @property
    def is_hidden(self) -> bool:
        return self.hidden_at is not None


class CommentReport(db.Model):
    """A user reports a comment as abusive; once per user and comment."""

    __tablename__ = "comment_report"
    __table_args__ = (UniqueConstraint("comment_id", "reporter_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(
        ForeignKey("comment.id", ondelete="CASCADE"), index=True
    )
    reporter_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when a moderator hides the comment or dismisses the report.
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    comment: Mapped[Comment] = relationship(back_populates="reports")
    reporter: Mapped[User] = relationship(foreign_keys=[reporter_id])


class Notification(db.Model):
    """An in-app message for one user. ``kind`` + ``params`` are rendered in the reader's
    language when shown (see services.notifications.render)."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    initiative_id: Mapped[int | None] = mapped_column(
        ForeignKey("initiative.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
    initiative: Mapped[Initiative | None] = relationship()
