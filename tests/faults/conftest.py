"""Fixtures for the fault tests: a scratch database of their own (never the suite's), so
killing workers or restarting PostgreSQL cannot leave the suite's tables in a strange state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from buurtbudget.app import create_app
from buurtbudget.extensions import db


@pytest.fixture
def scratch_app(empty_database_url: str) -> Iterator[Flask]:
    """The app on an empty database of its own (``empty_database_url``, tests/conftest.py),
    schema created, with an app context pushed."""
    app = create_app("testing", DATABASE_URL=empty_database_url)
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        db.engine.dispose()
