"""In real Chromium: a coordinator switches the turnout correction on for a round before voting
opens; once it has opened the page shows the settings read-only with the reason and still
previews their effect; the votes are counted and published, and a resident opens "why projects
rank where they do" and sees the corrected rank next to the raw one."""

from __future__ import annotations

from playwright.sync_api import expect

from buurtbudget.extensions import db
from buurtbudget.models import Role
from buurtbudget.services.voting import counting
from tests.factories import TEST_PASSWORD
from tests.weighting_world import add_ballots, end_voting, open_voting


def _log_in(page, user) -> None:
    page.context.clear_cookies()
    page.goto("/account/login")
    page.get_by_label("E-mailadres").fill(user.email)
    page.get_by_label("Wachtwoord").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Inloggen").click()


def test_coordinator_switches_the_correction_on_and_a_resident_sees_why(app, make, page):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        municipality = make.municipality("Venray")
        dorp = make.area(municipality, name="Oostrum", inhabitants=1_000)
        wijk = make.area(municipality, name="Brukske", inhabitants=3_000)
        make.open_initiative(dorp, "Speeltuin Oostrum", 5_000_00)
        make.open_initiative(wijk, "Buurttuin Brukske", 5_000_00)
        voting_round = make.voting_round(
            [dorp, wijk], budget_cents=6_000_00, title="Venray 2026", phase="review"
        )
        projects = {p.name: p for p in voting_round.projects}
        coordinator = make.user(
            dorp,
            email="wijkcoordinator@example.org",
            roles=((Role.COORDINATOR, dorp), (Role.COORDINATOR, wijk)),
        )
        resident = make.resident(wijk, email="fatima@example.org")

        _log_in(page, coordinator)
        page.goto(f"/rounds/{voting_round.id}")
        page.get_by_role("link", name="Corrigeren voor verschillen in opkomst (weging)").click()
        page.get_by_label("Deze stemronde corrigeren voor verschillen in opkomst").check()
        page.get_by_label("Gewichten van de stemmen").select_option("area")
        page.get_by_label("Maximaal gewicht (keer het gemiddelde)").fill("5")
        page.get_by_role("button", name="Effect bekijken").click()
        expect(page.get_by_role("heading", name="Effect van deze instellingen")).to_be_visible()
        page.get_by_role("button", name="Opslaan").click()
        expect(page.get_by_text("De instellingen voor de weging zijn opgeslagen.")).to_be_visible()

        db.session.expire_all()
        assert voting_round.weighting_config["weighting"] == "post_stratification"
        open_voting(voting_round)
        add_ballots(
            voting_round,
            [(dorp, None, [projects["Speeltuin Oostrum"]])] * 30
            + [(wijk, None, [projects["Buurttuin Brukske"]])] * 10,
        )
        # Voting has opened: the settings are read-only, with the reason, and no save button.
        page.reload()
        expect(page.get_by_text("de weging en wat over het geld beslist liggen")).to_be_visible()
        expect(page.get_by_label("Maximaal gewicht (keer het gemiddelde)")).to_be_disabled()
        expect(page.get_by_label("Maximaal gewicht (keer het gemiddelde)")).to_have_value("5")
        expect(page.get_by_role("button", name="Opslaan")).to_have_count(0)
        # No preview of the votes so far while voting is open (the interim standing) ...
        expect(page.get_by_role("button", name="Effect bekijken")).to_have_count(0)
        expect(page.get_by_text("Zolang er gestemd wordt, ziet niemand")).to_be_visible()
        # ... once voting has ended their effect can be seen (a read).
        end_voting(voting_round)
        page.reload()
        page.get_by_role("button", name="Effect bekijken").click()
        preview = page.locator("table.ranking")
        expect(preview.locator("tbody tr").first).to_contain_text("Buurttuin Brukske")
        counting.close_round(None, voting_round)
        counting.publish_results(None, voting_round)

        _log_in(page, resident)
        page.goto(f"/rounds/{voting_round.id}/results")
        page.get_by_role("link", name="Waarom initiatieven op hun plaats staan").click()
        expect(
            page.get_by_role("heading", name="Waarom initiatieven op hun plaats staan")
        ).to_be_visible()
        garden = page.locator("table.ranking tbody tr").first
        expect(garden).to_contain_text("Buurttuin Brukske")
        # Corrected rank 1, raw rank 2 (10 votes against 30), weighted support 30.
        expect(garden.locator("td").nth(0)).to_have_text("1")
        expect(garden.locator("td").nth(2)).to_contain_text("2")
        expect(garden.locator("td").nth(4)).to_have_text("30,00")
        expect(garden).to_contain_text("Gekozen")
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
