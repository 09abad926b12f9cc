"""A resident tries to register under a look-alike of the area coordinator's name (Cyrillic
'о' for 'o'), reads why it is refused, and registers under her own name with diacritics."""

from __future__ import annotations

from playwright.sync_api import expect

from buurtbudget.extensions import db


def test_a_look_alike_of_the_coordinators_name_is_refused_in_the_browser(app, make, page):
    app.config["WTF_CSRF_ENABLED"] = True  # the browser posts real CSRF tokens
    try:
        area = make.area(name="Tanthof", postcode="2625AA")
        make.coordinator(area, display_name="Wijkcoördinator Tanthof")
        page.goto("/account/register")
        page.get_by_label("Naam die anderen zien").fill("Wijkc\u043e\u043erdinator Tanthof")
        page.get_by_label("E-mailadres").fill("zoe@example.org")
        page.get_by_label("Postcode").fill("2625 aa")
        page.get_by_label("Huisnummer").fill("17")
        page.get_by_label("Geboortejaar").fill("1994")
        page.get_by_label("Wachtwoord", exact=True).fill("een goed wachtwoord")
        page.get_by_label("Herhaal wachtwoord").fill("een goed wachtwoord")
        page.get_by_role("button", name="Account aanmaken").click()
        message = "Deze naam wordt gebruikt door een medewerker of wijkraadslid."
        expect(page.get_by_text(message).first).to_be_visible()
        name = page.get_by_label("Naam die anderen zien")
        expect(name).to_have_attribute("aria-invalid", "true")
        name.fill("Zoë Één")
        page.get_by_label("Wachtwoord", exact=True).fill("een goed wachtwoord")
        page.get_by_label("Herhaal wachtwoord").fill("een goed wachtwoord")
        page.get_by_role("button", name="Account aanmaken").click()
        expect(page.get_by_text("Welkom! U woont in Tanthof.")).to_be_visible()
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
        db.session.remove()
