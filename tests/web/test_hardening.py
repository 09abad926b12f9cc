"""Production hardening: configuration, headers and cookies, the append-only audit log and
ledger in the database itself, and clear 4xx answers to forged or oversized requests."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from buurtbudget.app import create_app
from buurtbudget.extensions import db
from buurtbudget.models import AuditEntry, LedgerEntry
from buurtbudget.models.audit import AuditLogIsAppendOnly
from buurtbudget.models.budget import LedgerIsAppendOnly

TEMPLATES = Path(__file__).resolve().parents[2] / "buurtbudget" / "templates"


@pytest.fixture
def production_app(app):
    production = create_app(
        "production",
        SECRET_KEY="a-long-random-production-key-for-this-test",
        DATABASE_URL=app.config["DATABASE_URL"],
    )
    production.test_client_class = app.test_client_class
    with production.app_context():
        yield production
        db.session.remove()
        db.engine.dispose()


def test_production_refuses_to_start_without_secret_key():
    with pytest.raises(RuntimeError, match="SECRET_KEY is not set"):
        create_app("production", DATABASE_URL="sqlite://")


def test_production_sends_hsts_and_secure_cookies(production_app):
    response = production_app.test_client().get("/account/login")
    assert response.status_code == 200
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("session=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert production_app.config["REMEMBER_COOKIE_SECURE"] is True
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp


def test_development_and_testing_send_no_hsts(app, client):
    assert "Strict-Transport-Security" not in client.get("/").headers


def test_templates_contain_no_inline_script_or_style():
    """The CSP would block them in the browser; this finds them before a user does."""
    offenders = []
    for template in TEMPLATES.rglob("*.html"):
        source = template.read_text()
        for pattern in (r"<script(?![^>]*\bsrc=)[^>]*>", r"\son[a-z]+\s*=", r"\sstyle\s*="):
            if re.search(pattern, source, re.IGNORECASE):
                offenders.append(f"{template.relative_to(TEMPLATES)}: {pattern}")
    assert offenders == []


# Append-only tables -------------------------------------------------------------------------


@pytest.fixture
def ledger_entry(make):
    area = make.area()
    make.budget_period(area)  # the period's allocation is a ledger entry, with its audit entry
    return db.session.scalars(select(LedgerEntry)).first()


def test_orm_refuses_to_change_audit_and_ledger_rows(app, ledger_entry):
    audit_entry = db.session.scalars(select(AuditEntry)).first()
    audit_entry.action = "forged"
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(LedgerEntry, ledger_entry.id))
    with pytest.raises(LedgerIsAppendOnly):
        db.session.flush()
    db.session.rollback()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entry SET action = 'forged'",
        "DELETE FROM audit_entry",
        "UPDATE ledger_entry SET amount_cents = amount_cents + 1",
        "DELETE FROM ledger_entry",
    ],
)
def test_database_refuses_raw_changes_to_audit_and_ledger_rows(app, ledger_entry, statement):
    """A trigger (models/append_only.py, and its migration) guards the rows even from SQL that
    passes the ORM by. PostgreSQL only: SQLite keeps the ORM guard."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the append-only trigger exists on PostgreSQL only")
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text(statement))
    db.session.rollback()
    assert db.session.get(LedgerEntry, ledger_entry.id).amount_cents == ledger_entry.amount_cents


# Forged and oversized requests ------------------------------------------------------------------


def test_forged_csrf_token_is_refused_on_every_kind_of_post(csrf_app, make):
    """Logged in, with a session of their own, but posting a token from elsewhere."""
    area = make.area()
    resident = make.resident(area)
    voting_round = make.voting_round(area, costs=(100_00,))
    initiative = make.open_initiative(area)
    client = csrf_app.test_client()
    page = client.get("/account/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    login = {"email": resident.email, "password": "correct horse battery", "csrf_token": token}
    assert client.post("/account/login", data=login).status_code == 302
    targets = [
        "/account/password",
        f"/rounds/{voting_round.id}/ballot/confirm",
        f"/initiatives/{initiative.id}/comments",
        "/groups/new",
        "/account/logout",
    ]
    for url in targets:
        for forged in ("", "forged", token[:-2] + "xx"):
            response = client.post(url, data={"csrf_token": forged})
            assert response.status_code == 400, url
            assert b"The form expired or was sent from elsewhere" in response.data


def test_oversized_request_gets_the_413_page(app, make, client_for):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    try:
        client = client_for(make.resident())
        response = client.post(
            "/account/password",
            data={"upload": (io.BytesIO(b"x" * 4096), "big.pdf")},
            content_type="multipart/form-data",
        )
    finally:
        app.config["MAX_CONTENT_LENGTH"] = 10 * 1024 * 1024
    assert response.status_code == 413
    assert b"The file is too large" in response.data


def test_nul_characters_are_refused_with_a_clear_400(app, client):
    response = client.post("/account/login", data={"email": "a\x00@b.nl", "password": "x"})
    assert response.status_code == 400
    assert b"The form contains a character that is not allowed" in response.data
    assert client.get("/rounds?page=\x00").status_code == 400


def test_other_residents_objects_by_id_are_refused(app, make, client_for):
    area = make.area()
    owner, other = make.resident(area), make.resident(area)
    draft = make.initiative(area, initiator=owner, status="draft")
    granted = make.budget_initiative(area, initiator=owner)
    client = client_for(other)
    refused = {
        ("GET", f"/initiatives/{draft.id}"),
        ("GET", f"/initiatives/{draft.id}/edit"),
        ("POST", f"/initiatives/{draft.id}/edit"),
        ("POST", f"/initiatives/{draft.id}/status"),
        ("POST", f"/budgets/initiatives/{granted.id}/payouts"),
    }
    for method, url in sorted(refused):
        status = client.open(url, method=method, data={"title": "Overgenomen"}).status_code
        assert status in (403, 404), f"{method} {url}: {status}"
    assert db.session.get(type(draft), draft.id).title != "Overgenomen"
