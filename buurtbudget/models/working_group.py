"""Working groups (werkgroepen): residents around one theme in one area, often short-lived."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from buurtbudget.extensions import db
from buurtbudget.models._base import UTCDateTime, utcnow
from buurtbudget.models.geo import Area
from buurtbudget.models.initiative import Initiative, Theme
from buurtbudget.models.user import User


class WorkingGroup(db.Model):
    __tablename__ = "working_group"
    __table_args__ = (
        UniqueConstraint("area_id", "name"),
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"), index=True)
    theme_id: Mapped[int] = mapped_column(ForeignKey("theme.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_on: Mapped[date] = mapped_column(Date)
    # Short-lived groups end; after this date nobody joins, posts or proposes for the group.
    ends_on: Mapped[date | None] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    area: Mapped[Area] = relationship()
    theme: Mapped[Theme] = relationship()
    created_by: Mapped[User | None] = relationship()
    memberships: Mapped[list[WorkingGroupMember]] = relationship(
        back_populates="group", cascade="all, delete-orphan", order_by="WorkingGroupMember.id"
    )
    messages: Mapped[list[WorkingGroupMessage]] = relationship(
        back_populates="group", cascade="all, delete-orphan", order_by="WorkingGroupMessage.id"
    )
    initiatives: Mapped[list[Initiative]] = relationship(
        back_populates="working_group", order_by="Initiative.id"
    )

    def is_active_on(self, day: date) -> bool:
        return self.starts_on <= day and (self.ends_on is None or day <= self.ends_on)

    def has_ended_by(self, day: date) -> bool:
        return self.ends_on is not None and self.ends_on < day

    def has_member(self, user: User | None) -> bool:
        if user is None or not user.is_authenticated:
            return False
        return any(m.user_id == user.id for m in self.memberships)

    def __repr__(self) -> str:
        return f"<WorkingGroup {self.name}>"


class WorkingGroupMember(db.Model):
    __tablename__ = "working_group_member"
    __table_args__ = (UniqueConstraint("group_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("working_group.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    group: Mapped[WorkingGroup] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship()


class WorkingGroupMessage(db.Model):
    """A message in the group's discussion."""

    __tablename__ = "working_group_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("working_group.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    group: Mapped[WorkingGroup] = relationship(back_populates="messages")
    author: Mapped[User] = relationship()
