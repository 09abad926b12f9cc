"""Shared column helpers for the models."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Integer, Text, event
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC timestamp on every database.

    SQLite stores no time zone, so values come back naive; this type re-attaches UTC so the rest
    of the code only ever sees aware datetimes, whichever database runs underneath.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class _IntegersAsText(TypeDecorator):
    """SQLite has no array type: a list of whole numbers is stored as comma-separated text."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else ",".join(str(int(number)) for number in value)

    def process_result_value(self, value, dialect):
        return None if value is None else [int(number) for number in value.split(",") if number]


# A list of whole numbers in one column: a PostgreSQL integer array, text on SQLite.
IntegerList = postgresql.ARRAY(Integer).with_variant(_IntegersAsText(), "sqlite")


def refuse_orm_changes(model: type, error: type[Exception], noun: str) -> None:
    """Make rows of ``model`` append-only for the ORM: updating or deleting one raises
    ``error``. (PostgreSQL also refuses it in the database: see models/append_only.py.)"""

    @event.listens_for(model, "before_update")
    def _refuse_update(mapper, connection, target):  # noqa: ARG001
        raise error(f"{noun} cannot be changed")

    @event.listens_for(model, "before_delete")
    def _refuse_delete(mapper, connection, target):  # noqa: ARG001
        raise error(f"{noun} cannot be deleted")
