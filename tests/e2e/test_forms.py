"""A form that comes back with errors shows a summary at the top with a link to each field,
and the focus moves to it (GOV.UK / NL Design System pattern)."""

from __future__ import annotations

from playwright.sync_api import expect


def test_error_summary_takes_the_focus_and_links_to_each_field(app, make, page):
    make.area(name="Buitenhof", postcode="2625AA")
    page.goto("/account/register")
    page.get_by_label("E-mailadres").fill("geen-adres")
    page.get_by_role("button", name="Account aanmaken").click()

    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("heading", name="Er is een probleem")).to_be_visible()
    links = summary.get_by_role("link")
    assert links.count() >= 3  # name, e-mail, postcode, ... each with its own link
    email_link = summary.get_by_role("link", name="E-mailadres", exact=False)
    email_link.click()
    expect(page.get_by_label("E-mailadres")).to_be_focused()
