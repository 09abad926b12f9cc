"""In real Chromium: a coordinator sets the counting rule of a round before voting opens; once it
has opened (nobody voted yet) the edit page shows the ballot, the rule, the limits, the areas
and the money read-only with the reason, and saving a new title leaves them as they were."""

from __future__ import annotations

from playwright.sync_api import expect

from buurtbudget.extensions import db
from tests.factories import TEST_PASSWORD
from tests.weighting_world import open_voting


def test_the_ballot_setup_is_read_only_once_voting_opened(app, make, page):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        municipality = make.municipality("Delft")
        tanthof = make.area(municipality, name="Tanthof")
        make.area(municipality, name="Buitenhof")
        voting_round = make.voting_round(
            tanthof, costs=(300_00, 500_00), max_projects=2, title="Tanthof kiest", phase="review"
        )
        coordinator = make.coordinator(tanthof, email="wijkcoordinator@example.org")

        page.goto("/account/login")
        page.get_by_label("E-mailadres").fill(coordinator.email)
        page.get_by_label("Wachtwoord").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Inloggen").click()

        # Before the opening: the rule changes.
        page.goto(f"/rounds/{voting_round.id}")
        page.get_by_role("link", name="Stemronde bewerken").click()
        rule = page.get_by_label("Telmethode")
        expect(rule).to_be_enabled()
        rule.select_option("mes")
        page.get_by_role("button", name="Opslaan").click()
        expect(page.get_by_text("De stemronde is opgeslagen.")).to_be_visible()
        db.session.expire_all()
        assert voting_round.rule_name == "mes"

        # Voting opens; nobody has voted yet.
        open_voting(voting_round)
        page.goto(f"/staff/rounds/{voting_round.id}/edit")
        expect(page.get_by_text("de wijken, het stembiljet, de telmethode")).to_be_visible()
        expect(rule).to_be_disabled()
        expect(rule).to_have_value("mes")
        expect(page.get_by_label("Hoogste aantal projecten")).to_be_disabled()
        expect(page.get_by_label("Hoogste aantal projecten")).to_have_value("2")
        expect(page.get_by_label("Tanthof", exact=True)).to_be_disabled()
        expect(page.get_by_label("Tanthof", exact=True)).to_be_checked()
        # What may change still can.
        page.get_by_label("Titel").fill("Tanthof beslist")
        page.get_by_role("button", name="Opslaan").click()
        expect(page.get_by_text("De stemronde is opgeslagen.")).to_be_visible()
        db.session.expire_all()
        assert voting_round.title == "Tanthof beslist"
        assert (voting_round.rule_name, voting_round.max_projects) == ("mes", 2)
        assert [area.name for area in voting_round.areas] == ["Tanthof"]
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
