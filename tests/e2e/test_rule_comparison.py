"""Staff compare the counting rules on a round's own ballots in real Chromium, then the public
sees the same comparison once the results are published."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from buurtbudget.extensions import db
from buurtbudget.models._base import utcnow
from buurtbudget.services.voting import casting, counting
from tests.factories import TEST_PASSWORD


def test_staff_compare_the_rules_and_the_public_sees_them_after_publication(app, make, page):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        municipality = make.municipality("Delft")
        area = make.area(municipality, name="Tanthof", inhabitants=1_000)
        voting_round = make.voting_round(
            area, costs=(400_00, 300_00, 500_00), budget_cents=800_00, title="Tanthof 2026"
        )
        a, b, c = (p.id for p in voting_round.projects)
        for index, choices in enumerate([{a: 1}, {a: 1, b: 1}, {c: 1}, {b: 1, c: 1}, {a: 1}]):
            casting.cast_ballot(make.resident(area, birth_year=1960 + index), voting_round, choices)
        voting_round.voting_closes_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        admin = make.administrator(municipality, email="beheer@example.org")
        counting.close_round(admin, voting_round)

        page.goto("/account/login")
        page.get_by_label("E-mailadres").fill(admin.email)
        page.get_by_label("Wachtwoord").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Inloggen").click()
        page.goto(f"/rounds/{voting_round.id}/results")
        page.get_by_role("link", name="De telregels vergelijken").click()
        expect(
            page.get_by_role("heading", name="Regels vergeleken voor Tanthof 2026")
        ).to_be_visible()
        summary = page.locator("#rule-summary")
        for label in (
            "Meeste stemmen eerst (greedy)",
            "Methode van gelijke delen (Method of Equal Shares)",
            "Methode van gelijke delen met Add1-aanvulling",
        ):
            expect(summary.get_by_role("rowheader", name=label, exact=True)).to_be_visible()
        expect(page.locator("#area-money")).to_contain_text("Tanthof")
        expect(page.get_by_text("Alleen medewerkers zien deze vergelijking")).to_be_visible()
        with page.expect_download() as download:
            page.get_by_role("link", name="De vergelijking downloaden (CSV)").click()
        assert download.value.suggested_filename == f"round-{voting_round.id}-rule-comparison.csv"

        counting.publish_results(admin, voting_round)
        page.context.clear_cookies()
        page.goto(f"/rounds/{voting_round.id}/comparison")
        expect(
            page.get_by_role("heading", name="Regels vergeleken voor Tanthof 2026")
        ).to_be_visible()
        expect(page.get_by_text("Alleen medewerkers zien deze vergelijking")).to_have_count(0)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
