"""A resident proposes an initiative, the coordinator reviews and accepts it with a checked
cost, and another resident finds it open for support: in real Chromium, in Dutch."""

from __future__ import annotations

from playwright.sync_api import expect

from buurtbudget.extensions import db
from tests.factories import TEST_PASSWORD


def _log_in(page, user) -> None:
    page.goto("/account/login")
    page.get_by_label("E-mailadres").fill(user.email)
    page.get_by_label("Wachtwoord").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Inloggen").click()
    expect(page.get_by_role("button", name="Uitloggen")).to_be_visible()


def _log_out(page) -> None:
    page.get_by_role("button", name="Uitloggen").click()
    expect(page.get_by_text("U bent uitgelogd.")).to_be_visible()


def test_propose_review_and_open(app, make, page):
    app.config["WTF_CSRF_ENABLED"] = True  # the browser posts real CSRF tokens
    try:
        area = make.area(name="Wippolder")
        make.theme(area.municipality, name="Groen")
        make.theme(area.municipality, name="Spelen")
        initiator = make.resident(area, display_name="Noor")
        coordinator = make.coordinator(area, display_name="Wijkcoördinator Wippolder")
        neighbour = make.resident(area, display_name="Daan")

        _log_in(page, initiator)
        page.get_by_role("link", name="Initiatieven").first.click()
        page.get_by_role("link", name="Een initiatief indienen").click()
        page.get_by_label("Titel").fill("Bloembakken op de Mekelweg")
        page.get_by_label("Beschrijving").fill("Tien bloembakken, onderhouden door de buren.")
        page.get_by_label("Groen").check()
        page.get_by_label("Aangevraagd bedrag in euro").fill("1.250,00")
        page.get_by_label("Vrijwilligersuren").fill("20")
        page.get_by_role("button", name="Opslaan en indienen ter beoordeling").click()
        expect(page.get_by_text("Uw initiatief is ingediend ter beoordeling.")).to_be_visible()
        expect(page.locator(".money-block")).to_contain_text("1.250,00")
        _log_out(page)

        _log_in(page, coordinator)
        page.get_by_role("link", name="Beheer").click()
        page.get_by_role("link", name="Haalbaarheidstoetsen").click()
        page.get_by_role("link", name="Bloembakken op de Mekelweg").click()
        page.locator("summary", has_text="Beoordeling starten").click()
        page.get_by_role("button", name="Beoordeling starten").click()
        expect(page.get_by_text("De status is nu: In behandeling.")).to_be_visible()
        page.locator("summary", has_text="Accepteren: open voor steun").click()
        page.get_by_label("Getoetste kosten in euro").fill("1.100,00")
        page.get_by_role("button", name="Accepteren: open voor steun").click()
        expect(page.get_by_text("De status is nu: Open voor steun.")).to_be_visible()
        _log_out(page)

        _log_in(page, neighbour)
        page.get_by_role("link", name="Initiatieven").first.click()
        page.get_by_role("link", name="Bloembakken op de Mekelweg").click()
        expect(page.locator(".badge").first).to_have_text("Open voor steun")
        money = page.locator(".money-block")
        expect(money).to_contain_text("1.250,00")
        expect(money).to_contain_text("1.100,00")
        history = page.locator("section", has=page.get_by_role("heading", name="Geschiedenis"))
        expect(history).to_contain_text("Wijkcoördinator Wippolder")
        page.get_by_label("Uw reactie").fill("Mooi plan, ik help met water geven.")
        page.get_by_role("button", name="Reactie plaatsen").click()
        expect(page.get_by_text("Uw reactie is geplaatst.")).to_be_visible()
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
        db.session.remove()
