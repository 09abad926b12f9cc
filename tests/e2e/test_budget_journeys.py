"""One journey per budget model, in real Chromium and through the screens only: people,
areas and themes are set up with the factories, everything after that (the budget model, the
period, agendas, programmes, meetings, decisions, cheques, registration, pooling, payouts and
the area report) is done by clicking and typing as the people concerned would. Each journey
ends on the dashboard and asserts the ledger totals it shows, and checks them against the
ledger itself."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import expect

from buurtbudget.extensions import db
from buurtbudget.models import BudgetPeriod, Initiative
from buurtbudget.services import cheques, ledger
from tests.factories import TEST_PASSWORD

THIS_YEAR = date.today().year
PDF = b"%PDF-1.4\n% a receipt\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


@pytest.fixture
def browser_page(_playwright_browser, app_server, app):
    """An English-speaking browser, with real CSRF tokens."""
    app.config["WTF_CSRF_ENABLED"] = True
    context = _playwright_browser.new_context(base_url=app_server, locale="en-GB")
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
        app.config["WTF_CSRF_ENABLED"] = False
        db.session.remove()


AMOUNTS_TYPED = {
    "area_programme": [("Bottleneck fund per area and period (EUR)", "5.000,00")],
    "council_budget": [],
    "household_cheques": [("Value of one cheque (EUR)", "7,50")],
}


def log_in(page, user) -> None:
    page.goto("/account/login")
    page.get_by_label("E-mail address").fill(user.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def log_out(page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()


def flash(page, text: str) -> None:
    expect(page.locator(".flashes")).to_contain_text(text)


def mail_merge_rows(download) -> list[dict[str, str]]:
    """The rows of a downloaded mail-merge CSV (UTF-8 with a byte order mark, ';')."""
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


def choose_model_and_open_period(page, admin, area, kind: str, half_label: str) -> BudgetPeriod:
    log_in(page, admin)
    page.goto(f"/staff/budgets/model?kind={kind}")
    # The amounts as a Dutch administrator types them (the form shows the defaults in the
    # page's language, and amounts are read the Dutch way only).
    for label, amount in AMOUNTS_TYPED[kind]:
        page.get_by_label(label).fill(amount)
    page.get_by_role("button", name="Save the budget model").click()
    flash(page, "The budget model has been saved.")
    page.goto("/staff/budgets/periods/new")
    page.get_by_label("Area").select_option(label=area.name)
    page.get_by_label("Year").fill(str(THIS_YEAR))
    page.get_by_label("Period").select_option(label=half_label)
    page.get_by_role("button", name="Show the calculation").click()
    page.get_by_role("button", name=re.compile("Confirm: open these periods")).click()
    flash(page, "1 budget periods have been opened.")
    db.session.expire_all()
    return db.session.query(BudgetPeriod).filter_by(area_id=area.id).one()


def request_payout(page, initiative, amount: str, what: str) -> None:
    page.goto(f"/budgets/initiatives/{initiative.id}/payouts")
    page.get_by_label("Amount (EUR)").fill(amount)
    page.get_by_label("What was the money spent on?").fill(what)
    page.get_by_label("Receipts (PDF or photo)").set_input_files(
        files=[{"name": "bon.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    page.get_by_role("button", name="Send the request").click()
    flash(page, "Your payout request has been sent")


def approve_payout(page, expected_flash: str) -> None:
    page.goto("/budgets/payouts")
    page.get_by_role("button", name=re.compile("^Approve")).first.click()
    flash(page, expected_flash)


def dashboard_totals(page, area) -> dict[str, str]:
    page.goto(f"/monitoring/areas/{area.id}/council")
    return {
        name: page.locator(f"#figure-{name}").inner_text().strip()
        for name in ("budget", "committed", "paid", "available")
    }


def ledger_totals(period: BudgetPeriod) -> dict[str, int]:
    db.session.expire_all()
    balances = [ledger.account_balance(account) for account in period.accounts]
    return {
        "budget": sum(b.budget for b in balances),
        "committed": sum(b.committed for b in balances),
        "paid": sum(b.paid for b in balances),
        "available": sum(b.available for b in balances),
    }


def euros(cents: int) -> str:
    return f"€{cents // 100:,}.{cents % 100:02d}"


def test_delft_period_agenda_programme_selection_payout_and_wijkverslag(make, browser_page):
    page = browser_page
    delft = make.municipality("Delft")
    area = make.area(delft, name="Buitenhof", inhabitants=1_000, year=THIS_YEAR)
    make.theme(delft, name="Groen")
    make.theme(delft, name="Spelen")
    admin = make.administrator(delft)
    coordinator = make.coordinator(area, display_name="Coördinator Buitenhof")
    second = make.coordinator(area, display_name="Tweede coördinator")
    member = make.council_member(area, display_name="Wijkraadslid")
    initiator = make.resident(area, display_name="Noor")

    period = choose_model_and_open_period(page, admin, area, "area_programme", "The whole year")
    log_out(page)

    # The coordinator sets the area agenda after the April analysis.
    log_in(page, coordinator)
    page.goto(f"/areas/{area.id}/agenda/edit")
    page.get_by_label("Groen").check()
    page.get_by_label("Spelen").check()
    page.get_by_role("button", name="Save agenda").click()
    flash(page, "The area agenda has been saved.")
    log_out(page)

    # A resident proposes an initiative; the coordinator checks its cost.
    log_in(page, initiator)
    page.get_by_role("link", name="Initiatives").first.click()
    page.get_by_role("link", name="Propose an initiative").click()
    page.get_by_label("Title").fill("Speeltuin Buitenhof")
    page.get_by_label("Description").fill("Een klimrek en twee bankjes op het plein.")
    page.get_by_label("Spelen").check()
    page.get_by_label("Requested amount in euros").fill("1.500,00")
    page.get_by_role("button", name="Save and submit for review").click()
    flash(page, "submitted for review")
    log_out(page)
    initiative = db.session.query(Initiative).filter_by(title="Speeltuin Buitenhof").one()

    log_in(page, coordinator)
    page.goto(f"/initiatives/{initiative.id}")
    page.locator("summary", has_text="Start review").click()
    page.get_by_role("button", name="Start review").click()
    page.locator("summary", has_text="Accept: open for support").click()
    page.get_by_label("Checked cost in euros").fill("1.400,00")
    page.get_by_role("button", name="Accept: open for support").click()
    flash(page, "The status is now: Open for support.")

    # The area programme: an indicative line, then the selection grants the checked cost.
    page.goto(f"/budgets/periods/{period.id}")
    page.get_by_label("Initiative", exact=True).select_option(label="Speeltuin Buitenhof")
    page.get_by_label("Indicative amount (EUR)").fill("1.500,00")
    page.get_by_role("button", name="Save", exact=True).click()
    flash(page, "The area programme has been updated.")
    page.goto(f"/initiatives/{initiative.id}")
    page.locator("summary", has_text="Mark as selected").click()
    page.get_by_label("How is it funded?").select_option("programme")
    page.get_by_role("button", name="Mark as selected").click()
    flash(page, "€1,400.00 was granted from the area budget")
    page.goto(f"/budgets/periods/{period.id}")
    line = page.locator("#programme tbody tr", has_text="Speeltuin Buitenhof")
    expect(line).to_contain_text("€1,400.00")  # granted
    expect(line).to_contain_text("€100.00")  # left of the indicative line
    log_out(page)

    # A payout above the threshold needs a second approver.
    log_in(page, initiator)
    request_payout(page, initiative, "1.200,00", "Klimrek geleverd en geplaatst")
    log_out(page)
    log_in(page, coordinator)
    approve_payout(page, "A second coordinator must approve")
    log_out(page)
    log_in(page, second)
    approve_payout(page, "Approved and booked as paid.")
    log_out(page)

    # The wijkverslag: the coordinator writes it, the area council publishes it.
    log_in(page, coordinator)
    page.goto(f"/budgets/periods/{period.id}/report")
    page.get_by_label("Account by the coordinator").fill("Buitenhof kreeg een speeltuin.")
    page.get_by_role("button", name="Save the report").click()
    flash(page, "The area report has been saved.")
    log_out(page)
    log_in(page, member)
    page.goto(f"/budgets/periods/{period.id}/report")
    page.get_by_role("button", name="Publish the area report").click()
    flash(page, "The area report is published")
    totals = dashboard_totals(page, area)
    log_out(page)
    page.goto("/budgets/reports")
    page.get_by_role("link", name=re.compile("Buitenhof")).click()
    expect(page.get_by_text("Buitenhof kreeg een speeltuin.")).to_be_visible()

    # EUR 10,000 (1,000 inhabitants x EUR 10) + the EUR 5,000 knelpuntenpot; EUR 1,400
    # granted, of which EUR 1,200 paid.
    assert totals == {
        "budget": "€15,000.00",
        "committed": "€200.00",
        "paid": "€1,200.00",
        "available": "€13,600.00",
    }
    assert totals == {k: euros(v) for k, v in ledger_totals(period).items()}


def test_zaanstad_meeting_decisions_payout_and_report_with_spend_split(make, browser_page):
    page = browser_page
    zaanstad = make.municipality("Zaanstad")
    area = make.area(zaanstad, name="Poelenburg", inhabitants=8_000, year=THIS_YEAR)
    admin = make.administrator(zaanstad)
    coordinator = make.coordinator(area, display_name="Wijkmanager Poelenburg")
    member = make.council_member(area, display_name="Voorzitter wijkraad")
    others = [make.council_member(area, display_name=n) for n in ("Penningmeester", "Secretaris")]
    garden = make.budget_initiative(area, cost_cents=2_500_00, title="Buurttuin")

    period = choose_model_and_open_period(page, admin, area, "council_budget", "The whole year")
    log_out(page)

    # The area council decides in a recorded public meeting, with a quorum present.
    log_in(page, member)
    page.goto(f"/budgets/areas/{area.id}/meetings/new")
    page.get_by_label("Date of the meeting").fill(date.today().isoformat())
    page.get_by_label("Number of attendees").fill("15")
    for present in (member, *others):  # the quorum, recorded by name
        page.get_by_label(present.display_name).check()
    page.get_by_label("Location").fill("Wijkcentrum De Poelenburcht")
    page.get_by_role("button", name="Record the meeting").click()
    page.get_by_label("Decision").fill("Buurttuin aanleggen")
    page.get_by_label("Amount (EUR)").fill("2.500,00")
    page.get_by_label("Kind of spending").select_option(label="Physical")
    page.get_by_label("Initiative", exact=True).select_option(label="Buurttuin")
    page.get_by_role("button", name="Record the decision").click()
    expect(page.locator("main")).to_contain_text("Buurttuin aanleggen: €2,500.00")
    page.get_by_label("Decision").fill("Buurtmaaltijden voor nieuwe bewoners")
    page.get_by_label("Amount (EUR)").fill("1.000,00")
    page.get_by_label("Kind of spending").select_option(label="Social")
    page.get_by_role("button", name="Record the decision").click()
    expect(page.locator("main")).to_contain_text("Buurtmaaltijden voor nieuwe bewoners: €1,000.00")
    log_out(page)

    # The initiator asks for part of the grant; the coordinator approves.
    log_in(page, garden.initiator)
    request_payout(page, garden, "800,00", "Plantenbakken en aarde")
    log_out(page)
    log_in(page, coordinator)
    approve_payout(page, "Approved and booked as paid.")
    page.goto(f"/budgets/periods/{period.id}/report")
    page.get_by_label("Account by the coordinator").fill(
        "Poelenburg koos voor groen en ontmoeting."
    )
    page.get_by_role("button", name="Save the report").click()
    flash(page, "The area report has been saved.")
    log_out(page)

    log_in(page, member)
    page.goto(f"/budgets/periods/{period.id}/report")
    page.get_by_role("button", name="Publish the area report").click()
    flash(page, "The area report is published")
    # The report splits the money granted into physical and social spending.
    split = page.locator("main").inner_text()
    assert re.search(r"Physical\s+€2,500\.00", split), split
    assert re.search(r"Social\s+€1,000\.00", split), split
    totals = dashboard_totals(page, area)

    # EUR 40,000 (8,000 inhabitants x EUR 5); EUR 2,500 granted to the garden (EUR 800 paid)
    # and EUR 1,000 spent directly by decision.
    assert totals == {
        "budget": "€40,000.00",
        "committed": "€1,700.00",
        "paid": "€1,800.00",
        "available": "€36,500.00",
    }
    assert totals == {k: euros(v) for k, v in ledger_totals(period).items()}


def test_ede_cheques_qr_landing_registration_pooling_payout_and_report(make, browser_page):
    page = browser_page
    ede = make.municipality("Ede")
    area = make.area(ede, name="Veldhuizen", households=300, year=THIS_YEAR, postcode="6712AA")
    admin = make.administrator(ede)
    coordinator = make.coordinator(area, display_name="Wijkcoördinator Veldhuizen")
    neighbour = make.resident(area, display_name="Buurvrouw")
    party = make.budget_initiative(area, cost_cents=15_00, title="Straatfeest")  # two cheques
    half = "First half-year" if date.today().month <= 6 else "Second half-year"

    period = choose_model_and_open_period(page, admin, area, "household_cheques", half)
    page.goto(f"/staff/budgets/periods/{period.id}/cheques/issue")
    page.get_by_label("Addresses of the households").fill("6712AA;1\n6712AA;2\n6712AA;3\n")
    page.get_by_role("button", name="Check the list").click()
    # Confirming downloads the letters: the only place the codes exist in clear.
    with page.expect_download() as download:
        page.get_by_role("button", name=re.compile("Confirm: issue 3 cheques .* \\(CSV\\)")).click()
    codes = [row["chequecode"] for row in mail_merge_rows(download.value)]
    assert len(codes) == 3
    log_out(page)

    # A household without an account scans the QR code, registers and pools its cheque.
    page.goto(f"/budgets/cheques/redeem?code={codes[0]}")
    page.get_by_role("link", name="Register").last.click()
    page.get_by_label("Name shown to others").fill("Familie Jansen")
    page.get_by_label("E-mail address").fill("jansen@example.org")
    page.get_by_label("Postcode").fill("6712 AA")
    page.get_by_label("House number").fill("1")
    page.get_by_label("Year of birth").fill("1984")
    page.get_by_label("Password", exact=True).fill(TEST_PASSWORD)
    page.get_by_label("Repeat password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_label("Cheque code")).to_have_value(codes[0])
    page.get_by_label("Initiative").select_option(label="Straatfeest")
    page.get_by_role("button", name="Pool my cheque").click()
    flash(page, "Thank you! Your cheque of €7.50 is pooled.")
    log_out(page)

    # A neighbour with an account logs in from the landing page; the pool reaches the cost.
    page.goto(f"/budgets/cheques/redeem?code={codes[1]}")
    page.get_by_role("link", name="Log in").last.click()
    page.get_by_label("E-mail address").fill(neighbour.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_label("Cheque code")).to_have_value(codes[1])
    page.get_by_label("Initiative").select_option(label="Straatfeest")
    page.get_by_role("button", name="Pool my cheque").click()
    flash(page, "Thank you! Your cheque of €7.50 is pooled.")
    expect(page.locator(".badge").first).to_have_text("Selected")
    log_out(page)

    log_in(page, party.initiator)
    request_payout(page, party, "15,00", "Springkussen gehuurd")
    log_out(page)
    log_in(page, coordinator)
    approve_payout(page, "Approved and booked as paid.")
    # No area council in the cheque model: the coordinator publishes the report.
    page.goto(f"/budgets/periods/{period.id}/report")
    page.get_by_label("Account by the coordinator").fill("Twee huishoudens spaarden samen.")
    page.get_by_label("Publish the report").check()
    page.get_by_role("button", name="Save the report").click()
    flash(page, "The area report has been saved.")
    totals = dashboard_totals(page, area)

    # 300 households x EUR 7.50; three cheques issued, two pooled (EUR 15, paid out), the
    # third still in circulation (committed).
    assert totals == {
        "budget": "€2,250.00",
        "committed": "€7.50",
        "paid": "€15.00",
        "available": "€2,227.50",
    }
    assert totals == {k: euros(v) for k, v in ledger_totals(period).items()}


def test_ede_lost_letter_is_reprinted_with_a_new_code_that_voids_the_old(make, browser_page):
    page = browser_page
    ede = make.municipality("Ede")
    area = make.area(ede, name="Veldhuizen", households=300, year=THIS_YEAR, postcode="6712AA")
    admin = make.administrator(ede)
    resident = make.resident(area, display_name="Buurman")
    party = make.budget_initiative(area, cost_cents=30_00, title="Straatfeest")
    period = make.budget_period(area, "household_cheques")
    lost, pooled = cheques.issue_cheques(
        None, period, [cheques.Household("6712AA", n) for n in (1, 2)]
    )
    cheques.redeem(resident, pooled.code, party)

    log_in(page, admin)
    page.goto(f"/budgets/periods/{period.id}/cheques")
    expect(page.get_by_role("link", name="Reprint letter (new code)")).to_have_count(1)
    page.get_by_role("link", name="Reprint letter (new code)").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Reprint the cheque letter of 6712 AA, 1"
    )
    expect(page.locator("main")).to_contain_text("stops working at once")
    page.get_by_role("button", name="Yes, give this cheque a new code and print the letter").click()
    expect(page.locator(".callout")).to_contain_text("shown only this once")
    new_code = page.locator(".cheque-code").inner_text().strip()
    assert new_code and new_code != lost.printed_code
    expect(page.locator(".qr-code")).to_be_visible()
    # A pooled cheque has no value left to reprint: the page says so and offers no button.
    page.goto(f"/budgets/cheques/{pooled.cheque.id}/reprint")
    expect(page.get_by_role("alert")).to_have_text(
        "This cheque has already been pooled: its letter cannot be reprinted."
    )
    expect(page.get_by_role("button", name=re.compile("new code"))).to_have_count(0)
    log_out(page)

    # The household types the code of the old letter: refused; the new letter's code pools.
    log_in(page, resident)
    page.goto(f"/budgets/initiatives/{party.id}/cheques")
    page.get_by_label("Cheque code").fill(lost.printed_code)
    page.get_by_role("button", name="Pool my cheque").click()
    expect(page.locator("main")).to_contain_text("This cheque code is not valid.")
    page.get_by_label("Cheque code").fill(new_code)
    page.get_by_role("button", name="Pool my cheque").click()
    flash(page, "Thank you! Your cheque of €7.50 is pooled.")
    assert ledger.initiative_totals(party).pooled == 2 * 750
