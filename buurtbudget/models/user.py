"""Accounts and the roles people hold."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from buurtbudget.extensions import db
from buurtbudget.models._base import UTCDateTime, utcnow
from buurtbudget.models.geo import Area, Municipality


class Role(enum.StrEnum):
    """Roles beyond 'resident', which every account with a home area is."""

    COUNCIL_MEMBER = "council_member"  # per area: reads everything about its area's money
    COORDINATOR = "coordinator"  # per area: reviews, agenda, payouts, paper ballots
    ADMINISTRATOR = "administrator"  # per municipality: configuration

    @property
    def is_area_role(self) -> bool:
        return self is not Role.ADMINISTRATOR


def new_session_token() -> str:
    return secrets.token_urlsafe(24)


class User(UserMixin, db.Model):
    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint("birth_year IS NULL OR birth_year >= 1900", name="birth_year_plausible"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(255))
    # Rotated on password change: sessions carry it, so old sessions stop working.
    session_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_session_token)
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipality.id"), index=True)
    home_area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"), index=True)
    postcode: Mapped[str | None] = mapped_column(String(6))
    house_number: Mapped[int | None]
    house_letter: Mapped[str] = mapped_column(String(1), default="", server_default="")
    house_suffix: Mapped[str] = mapped_column(String(4), default="", server_default="")
    birth_year: Mapped[int | None]
    locale: Mapped[str | None] = mapped_column(String(5))
    is_active_account: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when the owner followed the link mailed to ``email``; until then the account may not
    # propose, comment, join a working group or vote (services/account_email.py).
    email_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Outreach (services/outreach.py): round news and area newsletters, in the app and by e-mail.
    news_in_app: Mapped[bool] = mapped_column(default=True)
    news_by_email: Mapped[bool] = mapped_column(default=True)
    # Set when the owner deleted the account: personal data is gone, the row stays so that
    # initiatives, comments and money records keep an (anonymised) author.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    municipality: Mapped[Municipality | None] = relationship()
    home_area: Mapped[Area | None] = relationship()
    roles: Mapped[list[RoleAssignment]] = relationship(
        back_populates="user",
        cascade="all, delete-orphan",
        foreign_keys="RoleAssignment.user_id",
    )

    # Flask-Login -------------------------------------------------------------------------
    def get_id(self) -> str:
        return self.session_token

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.is_active_account

    # Passwords ----------------------------------------------------------------------------
    def set_password(self, password: str) -> None:
        from flask import current_app

        self.password_hash = generate_password_hash(
            password, method=current_app.config["PASSWORD_HASH_METHOD"]
        )
        self.session_token = new_session_token()

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def email_confirmed(self) -> bool:
        return self.email_confirmed_at is not None

    # Roles --------------------------------------------------------------------------------
    def has_role(self, role: Role, area: Area | None = None) -> bool:
        """Whether the user holds ``role``; for area roles, for ``area`` (any area if None)."""
        for assignment in self.roles:
            if assignment.role is not role:
                continue
            if area is None or assignment.area_id == area.id:
                return True
        return False

    @property
    def is_administrator(self) -> bool:
        return self.has_role(Role.ADMINISTRATOR)

    def area_ids_with(self, role: Role) -> set[int]:
        return {a.area_id for a in self.roles if a.role is role and a.area_id is not None}

    def municipality_ids_with(self, *roles: Role) -> set[int]:
        return {a.municipality_id for a in self.roles if a.role in roles}

    @property
    def is_staff(self) -> bool:
        return any(a.role in (Role.COORDINATOR, Role.ADMINISTRATOR) for a in self.roles)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class RoleAssignment(db.Model):
    """One role held by one user, for one area (area roles) or one municipality (admin)."""

    __tablename__ = "role_assignment"
    __table_args__ = (
        UniqueConstraint("user_id", "role", "area_id", "municipality_id"),
        CheckConstraint(
            "(role = 'administrator' AND area_id IS NULL)"
            " OR (role <> 'administrator' AND area_id IS NOT NULL)",
            name="area_matches_role",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"), index=True)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    user: Mapped[User] = relationship(back_populates="roles", foreign_keys=[user_id])
    area: Mapped[Area | None] = relationship()
    municipality: Mapped[Municipality] = relationship()
