"""Fixtures shared by the web tests of several features."""

from __future__ import annotations

from datetime import date

import pytest

from buurtbudget.app import create_app
from buurtbudget.extensions import db
from buurtbudget.services import cheques


@pytest.fixture
def uploads(app, tmp_path):
    """Uploaded files go to a folder of the test's own."""
    app.config["UPLOAD_FOLDER"] = str(tmp_path)
    yield tmp_path
    app.config["UPLOAD_FOLDER"] = ""


@pytest.fixture
def csrf_app(app):
    """A second app on the test database with CSRF protection on, as in production."""
    secured = create_app("testing", DATABASE_URL=app.config["DATABASE_URL"], WTF_CSRF_ENABLED=True)
    secured.test_client_class = app.test_client_class
    with secured.app_context():
        yield secured
        db.session.remove()
        db.engine.dispose()  # its own pool: left open, its connections leak (ResourceWarning)


@pytest.fixture
def ede(app, make):
    """An Ede area on household cheques: two cheques issued, an open initiative of EUR 15."""
    municipality = make.municipality("Ede")
    area = make.area(municipality, name="Veldhuizen", households=300, year=date.today().year)
    period = make.budget_period(area, "household_cheques")
    issued = cheques.issue_cheques(None, period, [cheques.Household("6712AA", n) for n in (1, 2)])
    return {
        "area": area,
        "period": period,
        "cheques": issued,
        "admin": make.administrator(municipality),
        "resident": make.resident(area),
        "initiative": make.budget_initiative(area, cost_cents=1_500, title="Straatfeest"),
    }
