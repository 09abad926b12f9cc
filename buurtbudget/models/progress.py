"""Progress of a funded initiative: milestones and public progress updates with photos (the
photos are attachments of the initiative, checked as every upload is)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Date, ForeignKey, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from buurtbudget.extensions import db
from buurtbudget.models._base import UTCDateTime, utcnow
from buurtbudget.models.initiative import Attachment, Initiative
from buurtbudget.models.user import User

progress_photo = Table(
    "progress_photo",
    db.metadata,
    Column("update_id", ForeignKey("progress_update.id", ondelete="CASCADE"), primary_key=True),
    Column("attachment_id", ForeignKey("attachment.id", ondelete="CASCADE"), primary_key=True),
)


class Milestone(db.Model):
    """A step of a funded initiative with the date it is due, and when it was done."""

    __tablename__ = "initiative_milestone"

    id: Mapped[int] = mapped_column(primary_key=True)
    initiative_id: Mapped[int] = mapped_column(
        ForeignKey("initiative.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    due_on: Mapped[date] = mapped_column(Date)
    done_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    initiative: Mapped[Initiative] = relationship()


class ProgressUpdate(db.Model):
    """A public note on how a funded initiative is getting on, with photos."""

    __tablename__ = "progress_update"

    id: Mapped[int] = mapped_column(primary_key=True)
    initiative_id: Mapped[int] = mapped_column(
        ForeignKey("initiative.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    initiative: Mapped[Initiative] = relationship()
    author: Mapped[User] = relationship()
    photos: Mapped[list[Attachment]] = relationship(
        secondary=progress_photo, order_by="Attachment.id"
    )
