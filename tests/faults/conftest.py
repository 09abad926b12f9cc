"""Fixtures for the fault tests: a scratch database of their own (never the suite's), so
killing workers or restarting PostgreSQL cannot leave the suite's tables in a strange state."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from buurtbudget.app import create_app
from buurtbudget.extensions import db


@pytest.fixture
def scratch_database_url(database_url: str, tmp_path) -> Iterator[str]:
    """An empty database on the suite's server (a new SQLite file, or a new PostgreSQL
    database that is dropped afterwards)."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'faults.db'}"
        return
    name = f"faults_{uuid.uuid4().hex[:8]}"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def scratch_app(scratch_database_url: str) -> Iterator[Flask]:
    """The app on the scratch database, schema created, with an app context pushed."""
    app = create_app("testing", DATABASE_URL=scratch_database_url)
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        db.engine.dispose()
