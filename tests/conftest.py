"""Shared fixtures: the app on SQLite (default) or PostgreSQL, clean tables per test,
factories, and a fresh logged-in client per user.

Set BUURTBUDGET_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) to
run the suite on PostgreSQL; every other BUURTBUDGET_* variable is removed so a developer's
environment cannot change what the tests see.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator

import pytest
from flask import Flask, g, has_app_context
from flask.testing import FlaskClient
from hypothesis import settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

TEST_DATABASE_URL = os.environ.get("BUURTBUDGET_TEST_DATABASE_URL")
for _key in [k for k in os.environ if k.startswith("BUURTBUDGET_")]:
    if _key not in ("BUURTBUDGET_TEST_DATABASE_URL", "BUURTBUDGET_TEST_REDIS_URL"):
        del os.environ[_key]
# Tests never write into the checkout: the instance folder (uploads, SQLite files) of every app
# the tests create, also in subprocesses, is a temporary folder removed after the session.
TEST_INSTANCE_DIR = tempfile.mkdtemp(prefix="buurtbudget-tests-")
os.environ["BUURTBUDGET_INSTANCE_PATH"] = TEST_INSTANCE_DIR
# Hypothesis keeps its caches (constants found in the code, examples) there too, not in a
# .hypothesis folder of the checkout; it reads this when it first stores something.
os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = os.path.join(TEST_INSTANCE_DIR, "hypothesis")
atexit.register(shutil.rmtree, TEST_INSTANCE_DIR, ignore_errors=True)

from buurtbudget.app import create_app  # noqa: E402
from buurtbudget.extensions import db  # noqa: E402
from buurtbudget.services.voting import ballot_box, weighting  # noqa: E402
from tests import factories  # noqa: E402
from tests.paths import VIOLATIONS, install_guard  # noqa: E402

# Property tests are the same on every run (CI passes or fails the same way on one commit) and
# keep no example database in the checkout; HYPOTHESIS_PROFILE=thorough draws more, at random.
settings.register_profile("deterministic", derandomize=True, database=None, deadline=None)
settings.register_profile("thorough", max_examples=300, database=None, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))

# No test reads beside the checkout (``../shared``): a fresh clone must pass the same tests.
install_guard()

TEST_PASSWORD = factories.TEST_PASSWORD


def pytest_report_header(config):
    return f"database: {TEST_DATABASE_URL or 'SQLite (temporary file)'}"


def _worker_id(config) -> str:
    """pytest-xdist's worker ("gw0", "gw1", ...), or "master" when the suite runs in one
    process."""
    return getattr(config, "workerinput", {}).get("workerid", "master")


@pytest.fixture(scope="session")
def database_url(request, tmp_path_factory) -> Iterator[str]:
    if not TEST_DATABASE_URL:
        # A file, not :memory:, so concurrency tests and the browser tests' server threads
        # share it (each xdist worker has its own temporary folder, so its own file).
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    worker = _worker_id(request.config)
    if worker == "master":
        yield TEST_DATABASE_URL
        return
    # Under pytest-xdist every worker empties tables between tests: each gets a database of its
    # own on the same server ("test_gw0", ...), dropped afterwards.
    url = make_url(TEST_DATABASE_URL)
    name = f"{url.database}_{worker}"
    admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def empty_database_url(database_url: str, tmp_path) -> Iterator[str]:
    """A new, empty database on the suite's server (a SQLite file, or a PostgreSQL database
    dropped afterwards), for tests that build their own schema or break connections."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"scratch_{uuid.uuid4().hex[:8]}"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class EnglishClient(FlaskClient):
    """Test clients ask for English unless a test sends its own Accept-Language header, so
    assertions can use the message ids; the Dutch pages are tested separately."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"

    def open(self, *args, **kwargs):
        # Flask runs a request inside the test's app context when one is pushed, so ``g``
        # (where Flask-Login caches the user and Flask-Babel the locale) would leak from one
        # request, and one client, into the next. Start every request with an empty ``g``.
        if has_app_context():
            for name in list(vars(g)):
                delattr(g, name)
        return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def _session_app(database_url: str) -> Iterator[Flask]:
    app = create_app("testing", DATABASE_URL=database_url)
    app.test_client_class = EnglishClient
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def _empty_all_tables() -> None:
    tables = list(reversed(db.metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def app(_session_app: Flask) -> Iterator[Flask]:
    """The app, with an app context pushed and every table emptied after the test."""
    with _session_app.app_context():
        yield _session_app
        db.session.remove()
        _empty_all_tables()
        db.session.remove()
        # Ids start again after emptying: what a process keeps per round must go too.
        ballot_box.forget_all()
        weighting.forget_published()


@pytest.fixture
def make(app) -> factories.Factories:
    return factories.Factories()


@pytest.fixture
def client_for(app: Flask) -> Callable[..., FlaskClient]:
    """A fresh test client logged in (through the real login form) as the given user."""

    def _client_for(user=None, password: str = TEST_PASSWORD) -> FlaskClient:
        client = app.test_client()
        if user is not None:
            response = client.post(
                "/account/login", data={"email": user.email, "password": password}
            )
            assert response.status_code == 302, f"login as {user.email} failed"
        return client

    return _client_for


@pytest.fixture(autouse=True)
def _reads_stay_in_the_repository() -> Iterator[None]:
    """Fail a test that read outside the repository, even where the error it got was caught."""
    seen = len(VIOLATIONS)
    yield
    if len(VIOLATIONS) > seen:
        pytest.fail("\n".join(VIOLATIONS[seen:]), pytrace=False)


def pytest_sessionstart(session):
    """Compile the message catalogues when they are missing or older than their sources, so
    running pytest directly (not only through ``make test``) shows the Dutch pages."""
    from pathlib import Path

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po_path in Path(__file__).resolve().parent.parent.glob("translations/*/LC_MESSAGES/*.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file)
        with mo_path.open("wb") as mo_file:
            write_mo(mo_file, catalog)
