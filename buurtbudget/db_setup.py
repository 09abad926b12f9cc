"""Engine-level settings that differ per database."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Engine


def configure_engine_events(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, connection_record):  # noqa: ARG001
        cursor = dbapi_connection.cursor()
        # SQLite ignores foreign keys unless asked; WAL lets readers work during a write.
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


def render_migration_item(type_, obj, autogen_context):
    """Write our UTCDateTime column type as a plain sa.DateTime(timezone=True) in migrations,
    so migration files do not depend on application code that may change later."""
    from buurtbudget.models._base import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False
