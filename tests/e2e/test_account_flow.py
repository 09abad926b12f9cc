"""A person registers in their area, confirms the e-mail address through the mailed link, logs
out and in again, switches language, and sets a new password through a reset link."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from buurtbudget.extensions import db
from tests.mail_helpers import link_in, queued


def test_register_login_and_switch_language(app, make, page):
    app.config["WTF_CSRF_ENABLED"] = True  # the browser posts real CSRF tokens
    try:
        make.area(name="Buitenhof", postcode="2625AA")
        page.goto("/")
        expect(page.locator("html")).to_have_attribute("lang", "nl")
        page.get_by_role("link", name="Registreren").first.click()

        page.get_by_label("Naam die anderen zien").fill("Noor")
        page.get_by_label("E-mailadres").fill("noor@example.org")
        page.get_by_label("Postcode").fill("2625 aa")
        page.get_by_label("Huisnummer").fill("17")
        page.get_by_label("Geboortejaar").fill("1994")
        page.get_by_label("Wachtwoord", exact=True).fill("een goed wachtwoord")
        page.get_by_label("Herhaal wachtwoord").fill("een goed wachtwoord")
        page.get_by_role("button", name="Account aanmaken").click()
        expect(page.get_by_text("Welkom! U woont in Buitenhof.")).to_be_visible()
        page.get_by_role("link", name="Mijn account").click()
        expect(page.get_by_text("nog niet bevestigd")).to_be_visible()
        # The confirmation e-mail waits in the queue: open its link, as the resident would.
        [mail] = [m for m in queued("noor@example.org") if "/account/confirm/" in m.body]
        page.goto(link_in(mail.body, "/account/confirm/"))
        expect(page.get_by_text("Dank u: uw e-mailadres is bevestigd.")).to_be_visible()
        page.get_by_role("link", name="Mijn account").click()
        expect(page.get_by_text("(bevestigd)")).to_be_visible()

        page.get_by_role("button", name="Uitloggen").click()
        expect(page.get_by_text("U bent uitgelogd.")).to_be_visible()

        page.get_by_role("link", name="Inloggen").first.click()
        page.get_by_label("E-mailadres").fill("noor@example.org")
        page.get_by_label("Wachtwoord").fill("een goed wachtwoord")
        page.get_by_role("button", name="Inloggen").click()
        expect(page.get_by_role("link", name="Mijn account")).to_be_visible()

        page.get_by_role("link", name="Mijn account").click()
        expect(page.get_by_role("heading", name="Mijn account")).to_be_visible()
        page.get_by_role("button", name="English").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.get_by_role("heading", name="My account")).to_be_visible()
        expect(page).to_have_url(re.compile(r"/account/password$"))
        page.get_by_role("button", name="Nederlands").click()
        expect(page.get_by_role("heading", name="Mijn account")).to_be_visible()

        # Forgot the password: a reset link, used once.
        page.get_by_role("button", name="Uitloggen").click()
        page.get_by_role("link", name="Inloggen").first.click()
        page.get_by_role("link", name="Wachtwoord vergeten?").click()
        page.get_by_label("E-mailadres").fill("noor@example.org")
        page.get_by_role("button", name="Stuur de link").click()
        expect(page.get_by_text("Als er een account met dit adres is")).to_be_visible()
        [mail] = [m for m in queued("noor@example.org") if "/account/reset/" in m.body]
        page.goto(link_in(mail.body, "/account/reset/"))
        page.get_by_label("Nieuw wachtwoord", exact=True).fill("nog een goed wachtwoord")
        page.get_by_label("Herhaal nieuw wachtwoord").fill("nog een goed wachtwoord")
        page.get_by_role("button", name="Wachtwoord instellen").click()
        expect(page.get_by_text("Uw wachtwoord is ingesteld.")).to_be_visible()
        page.get_by_label("E-mailadres").fill("noor@example.org")
        page.get_by_label("Wachtwoord").fill("nog een goed wachtwoord")
        page.get_by_role("button", name="Inloggen").click()
        expect(page.get_by_role("link", name="Mijn account")).to_be_visible()
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
        db.session.remove()
