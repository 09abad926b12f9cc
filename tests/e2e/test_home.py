"""The vote is one click from the home page for a resident of an area with an open round."""

from __future__ import annotations

from playwright.sync_api import expect

from buurtbudget.extensions import db
from tests.factories import TEST_PASSWORD


def test_the_vote_is_one_click_from_the_home_page(app, make, page):
    app.config["WTF_CSRF_ENABLED"] = True  # the browser posts real CSRF tokens
    try:
        municipality = make.municipality("Delft")
        area = make.area(municipality, name="Tanthof")
        make.area(municipality, name="Buitenhof")
        make.voting_round(area, costs=(300_00, 500_00), title="Tanthof 2026")
        resident = make.resident(area, email="noor@example.org", birth_year=1994)

        page.goto("/account/login")
        page.get_by_label("E-mailadres").fill(resident.email)
        page.get_by_label("Wachtwoord").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Inloggen").click()
        page.goto("/")
        expect(page.get_by_role("heading", name="Uw wijk: Tanthof")).to_be_visible()

        page.get_by_role("link", name="Stem in Tanthof 2026").click()  # the one click
        expect(page.get_by_role("heading", name="Uw stem")).to_be_visible()
        expect(page.get_by_label("Project 1")).to_be_visible()
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
        db.session.remove()
