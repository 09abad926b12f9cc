"""The schema comes from migrations: upgrading an empty database to head must give exactly the
tables, columns, indexes and constraints the models declare (so no migration is forgotten),
and downgrading must work too."""

from __future__ import annotations

import pytest
import sqlalchemy.exc
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from buurtbudget.app import create_app
from buurtbudget.extensions import db


def test_migrations_build_exactly_the_model_schema_and_downgrade(app, empty_database_url):
    migrated = create_app("testing", DATABASE_URL=empty_database_url)
    with migrated.app_context():
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "render_as_batch": True}
            )
            differences = compare_metadata(context, db.metadata)
        assert differences == []
        if db.engine.dialect.name == "postgresql":
            _assert_migrated_audit_log_is_append_only()
        downgrade(revision="base")
        with db.engine.connect() as connection:
            remaining = set(inspect(connection).get_table_names()) - {"alembic_version"}
        assert remaining == set()
        db.engine.dispose()


def _assert_migrated_audit_log_is_append_only():
    """The hand-written trigger migration really protects the audit log (PostgreSQL)."""
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_entry (at, action, object_type, details)"
                " VALUES (now(), 'test', '', '{}')"
            )
        )
    for statement in ("UPDATE audit_entry SET action = 'changed'", "DELETE FROM audit_entry"):
        with (
            pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"),
            db.engine.begin() as connection,
        ):
            connection.execute(text(statement))
    with db.engine.begin() as connection:
        connection.execute(text("TRUNCATE audit_entry"))
