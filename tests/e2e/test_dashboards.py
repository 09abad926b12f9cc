"""Real Chromium opens the area dashboard (as a council member) and the municipality overview:
the charts are drawn from their tables and the "paid" figure equals what the ledger says."""

from __future__ import annotations

from datetime import date

from playwright.sync_api import expect

from buurtbudget.domain.budget import AccountKind, SpendKind
from buurtbudget.extensions import db
from buurtbudget.services import council, ledger
from buurtbudget.web.formatting import format_cents
from tests.conftest import TEST_PASSWORD

THIS_YEAR = date.today().year


def test_council_member_reads_where_the_money_went(app, make, page):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        municipality = make.municipality("Zaanstad")
        area = make.area(municipality, name="Poelenburg", inhabitants=8_000, year=THIS_YEAR)
        period = make.budget_period(area, "council_budget", year=THIS_YEAR)
        member = make.council_member(area, email="raadslid@example.org")
        quorum = [member, *make.council(area, 2)]
        meeting = council.record_meeting(member, area, date.today(), 15, present=quorum)
        garden = make.budget_initiative(area, cost_cents=2_500_00, title="Buurttuin")
        council.record_decision(
            member, meeting, "Buurttuin", 2_500_00, spend_kind=SpendKind.PHYSICAL, initiative=garden
        )
        council.record_decision(member, meeting, "Bankjes", 1_234_56, spend_kind="social")
        paid = ledger.account_balance(period.account(AccountKind.AREA)).paid
        assert paid == 1_234_56
        with app.test_request_context(headers={"Accept-Language": "nl"}):
            paid_text = format_cents(paid)  # "€ 1.234,56"

        page.goto("/account/login")
        page.get_by_label("E-mailadres").fill("raadslid@example.org")
        page.get_by_label("Wachtwoord").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Inloggen").click()
        page.goto(f"/monitoring/areas/{area.id}")
        page.get_by_role("link", name="Versie voor de wijkraad en wijkcoördinatoren").click()
        expect(page.locator("#figure-paid")).to_have_text(paid_text)
        expect(page.get_by_role("rowheader", name="Buurttuin")).to_be_visible()
        # Chart.js drew every chart (a canvas per figure); the tables stay beside them.
        expect(page.locator("#chart-budget canvas")).to_have_count(1)
        expect(page.locator("#chart-kind canvas")).to_have_count(1)
        expect(page.locator("#chart-budget table")).to_be_visible()

        page.get_by_role("link", name="Zaanstad").click()
        expect(page.locator("#figure-paid")).to_have_text(paid_text)
        expect(page.locator("#total-paid")).to_have_text(paid_text)
        expect(page.locator("#chart-per-inhabitant canvas")).to_have_count(1)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
        db.session.remove()
