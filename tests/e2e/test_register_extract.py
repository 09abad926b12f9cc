"""Issue 14 item 2 in real Chromium: a coordinator opens the round's register extract page,
uploads the municipality's extract, sees the check (counts per area), confirms and sees the
new electorate; a file with a bad line shows the line and changes nothing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from buurtbudget.extensions import db
from buurtbudget.models import Elector, Role
from tests.e2e.sweep import AXE_RUN_SCRIPT, AXE_SCRIPT, AXE_TAGS, OVERFLOW_SCRIPT
from tests.factories import TEST_PASSWORD

HEADER = "persoonssleutel;geboortedatum;postcode;huisnummer;huisletter;toevoeging;straat\n"


@pytest.fixture
def page(_playwright_browser, app_server):
    """A Dutch browser at 320 CSS pixels that may add axe-core to a page (the page sweep sees
    this page only before a file is uploaded; the check's tables are checked here)."""
    context = _playwright_browser.new_context(
        base_url=app_server,
        locale="nl-NL",
        bypass_csp=True,
        viewport={"width": 320, "height": 800},
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def _accessible(page) -> None:
    """No sideways scrolling at 320 px (WCAG 1.4.10) and no axe-core violation."""
    assert page.evaluate(OVERFLOW_SCRIPT) is None, page.url
    if AXE_SCRIPT.exists():
        page.add_script_tag(content=AXE_SCRIPT.read_text(encoding="utf-8"))
        assert page.evaluate(AXE_RUN_SCRIPT, [AXE_TAGS, []]) == []


def test_coordinator_uploads_checks_and_confirms_a_register_extract(app, make, page, tmp_path):
    app.config["WTF_CSRF_ENABLED"] = True  # the browser posts real CSRF tokens
    try:
        delft = make.municipality("Delft")
        tanthof = make.area(delft, name="Tanthof", postcode="2625AA")
        buitenhof = make.area(delft, name="Buitenhof", postcode="2624AA")
        voting_round = make.voting_round(
            [tanthof, buitenhof], phase="proposals", electorate=False, title="Tanthof 2026"
        )
        coordinator = make.user(
            None,
            municipality=delft,
            roles=((Role.COORDINATOR, tanthof), (Role.COORDINATOR, buitenhof)),
        )
        bad = tmp_path / "brp-fout.csv"
        bad.write_text(HEADER + "BSN-1;1980;2625AA;1;;;\nBSN-2;1980;2625AA;77;;;\n", "utf-8")
        good = tmp_path / "brp.csv"
        good.write_text(
            HEADER
            + "BSN-1;1980-05-17;2625AA;1;;;Kruithuisweg\n"
            + "BSN-2;1981;2625AA;12;a;;Kruithuisweg\n"
            + "BSN-3;1990;2624AA;3;;;Buitenhofdreef\n",
            "utf-8",
        )
        reference = (date.today() - timedelta(days=2)).isoformat()

        page.goto("/account/login")
        page.get_by_label("E-mailadres").fill(coordinator.email)
        page.get_by_label("Wachtwoord").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Inloggen").click()
        page.goto(f"/rounds/{voting_round.id}")
        page.get_by_role("link", name="Kiezersregister (registeruittreksel)").click()
        expect(
            page.get_by_role("heading", name="Kiezersregister (registeruittreksel)")
        ).to_be_visible()
        expect(page.get_by_text("nog geen registeruittreksel ingelezen")).to_be_visible()

        # A file with an address that is not in the address file: its line, nothing imported.
        page.get_by_label("Registeruittreksel (CSV)").set_input_files(str(bad))
        page.get_by_label("Peildatum van het uittreksel").fill(reference)
        page.get_by_role("button", name="Controleer het bestand").click()
        expect(page.get_by_text("1 regel van het bestand is geweigerd")).to_be_visible()
        refused = page.get_by_role("region", name="Geweigerde regels")
        expect(refused.get_by_role("row").nth(1)).to_contain_text(
            "adres 2625AA 77 staat niet in het adressenbestand"
        )
        expect(refused.get_by_role("row").nth(1).get_by_role("cell").first).to_have_text("3")
        expect(page.get_by_role("button", name="Bevestig", exact=False)).to_have_count(0)
        _accessible(page)

        page.get_by_label("Registeruittreksel (CSV)").set_input_files(str(good))
        page.get_by_label("Peildatum van het uittreksel").fill(reference)
        page.get_by_role("button", name="Controleer het bestand").click()
        check = page.get_by_role("region", name="Kiezers per wijk in het bestand")
        expect(check.get_by_role("row", name="Tanthof")).to_contain_text("2")
        expect(check.get_by_role("row", name="Buitenhof")).to_contain_text("1")
        db.session.expire_all()
        assert db.session.scalar(select(func.count()).select_from(Elector)) == 0
        _accessible(page)
        page.get_by_role("button", name="Bevestig: vervang de kiezers door 3 kiezers").click()

        expect(page.get_by_text("De kiezers zijn vervangen: 3 kiezers.")).to_be_visible()
        current = page.get_by_role("region", name="Kiezers per wijk")
        expect(current.get_by_role("row", name="Tanthof")).to_contain_text("2")
        expect(current.get_by_role("row", name="Buitenhof")).to_contain_text("1")
        expect(current.get_by_role("row", name="Totaal")).to_contain_text("3")
        expect(page.get_by_text(f"door {coordinator.display_name}; peildatum")).to_be_visible()
        db.session.expire_all()
        assert db.session.scalar(select(func.count()).select_from(Elector)) == 3
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
        db.session.remove()
