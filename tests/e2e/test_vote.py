"""A resident votes in real Chromium: logs in, opens the round, picks projects while the live
counter follows, confirms, sees the receipt; voting again is refused."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import func, select

from buurtbudget.extensions import db
from buurtbudget.models import Ballot, RoundProject, VoterRecord
from tests.factories import TEST_PASSWORD


def test_a_resident_votes_once(app, make, page):
    app.config["WTF_CSRF_ENABLED"] = True  # the browser posts real CSRF tokens
    try:
        area = make.area(name="Tanthof")
        voting_round = make.voting_round(
            area, costs=(300_00, 500_00, 700_00), max_projects=2, title="Tanthof 2026"
        )
        resident = make.resident(area, email="noor@example.org", birth_year=1994)
        names = [p.name for p in voting_round.projects]

        page.goto("/account/login")
        page.get_by_label("E-mailadres").fill(resident.email)
        page.get_by_label("Wachtwoord").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Inloggen").click()

        page.get_by_role("link", name="Stemmen", exact=True).click()
        page.get_by_role("link", name="Tanthof 2026").click()
        page.get_by_role("link", name="Nu stemmen").click()
        expect(page.get_by_role("heading", name="Uw stem")).to_be_visible()

        summary = page.locator("#ballot-summary")
        expect(summary).to_have_attribute("aria-live", "polite")
        expect(summary).to_contain_text("U koos 0 projecten, samen € 0,00.")
        page.get_by_label(names[0]).check()
        expect(summary).to_contain_text("U koos 1 projecten, samen € 300,00.")
        expect(summary).to_contain_text("Over van het budget van € 10.000,00: € 9.700,00.")
        page.get_by_label(names[1]).check()
        page.get_by_label(names[2]).check()
        expect(summary).to_contain_text("Dat zijn meer dan de 2 projecten die u mag kiezen.")
        page.get_by_label(names[2]).uncheck()
        expect(summary).not_to_contain_text("meer dan de 2 projecten")
        expect(summary).to_contain_text("samen € 800,00")

        page.get_by_role("button", name="Mijn stem controleren").click()
        expect(page.get_by_role("heading", name="Controleer uw stem")).to_be_visible()
        expect(page.get_by_text("Samen: € 800,00.")).to_be_visible()
        page.get_by_role("button", name="Mijn stem bevestigen").click()

        expect(page.get_by_role("heading", name="Uw stem is geteld")).to_be_visible()
        expect(page.get_by_text("Bedankt! Uw stem is geteld.")).to_be_visible()

        page.goto(f"/rounds/{voting_round.id}/ballot")
        expect(page.get_by_text("U hebt al gestemd in deze stemronde.")).to_be_visible()
        expect(page.get_by_text("U hebt gestemd in deze stemronde. Bedankt!")).to_be_visible()

        db.session.expire_all()
        assert db.session.scalar(select(func.count()).select_from(Ballot)) == 1
        assert db.session.scalar(select(func.count()).select_from(VoterRecord)) == 1
        ballot = db.session.scalars(select(Ballot)).one()
        chosen = sorted(db.session.get(RoundProject, pid).name for pid in ballot.choices)
        assert chosen == sorted(names[:2])
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
        db.session.remove()
