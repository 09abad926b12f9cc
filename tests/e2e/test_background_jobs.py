"""In real Chromium: a coordinator closes a round above LONG_STEP_BALLOTS (here 2). Counting
runs as a background job: the job's page follows it in its live region (polling its status)
while a worker takes it up and finishes it, then links to the results. The coordinator then
has the round's .pb file written in the background (by a thread of the web process, as in the
demo) and downloads it."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from buurtbudget.extensions import db
from buurtbudget.services import jobs
from buurtbudget.services.voting import casting, pabulib
from tests.e2e.sweep import AXE_RUN_SCRIPT, AXE_SCRIPT, AXE_TAGS
from tests.factories import TEST_PASSWORD
from tests.voting_world import tanthof_round
from tests.web.test_voting import _end_voting


def _axe_violations(page) -> list[str]:
    # Evaluated through the browser's debugging protocol, so the page's CSP (which the
    # polling script must live with) stays on.
    page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8") + "\n;undefined")
    assert page.evaluate("() => typeof axe.run") == "function"
    return page.evaluate(AXE_RUN_SCRIPT, [AXE_TAGS, []])


def test_a_coordinator_counts_and_exports_a_large_round(app, make, page, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    monkeypatch.setitem(app.config, "LONG_STEP_BALLOTS", 2)
    world = tanthof_round(make, title="Stad kiest")
    voting_round, coordinator = world["round"], world["coordinator"]
    first, second, _third = world["projects"]
    for choices in ({first: 1}, {second: 1}, {first: 1, second: 1}):
        casting.cast_ballot(make.resident(world["area"]), voting_round, choices)
    _end_voting(voting_round)
    round_id = voting_round.id

    page.goto("/account/login")
    page.get_by_label("E-mailadres").fill(coordinator.email)
    page.get_by_label("Wachtwoord").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Inloggen").click()
    page.goto(f"/rounds/{round_id}")
    page.get_by_role("link", name="Stemronde afsluiten en de stemmen tellen").click()
    expect(page.get_by_text("Deze ronde heeft 3 stembiljetten")).to_be_visible()
    page.get_by_role("button", name="Afsluiten en tellen").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Stemronde afsluiten en de stemmen tellen"
    )
    status = page.get_by_role("status")
    expect(status).to_have_attribute("aria-live", "polite")
    expect(status).to_contain_text("Wacht op zijn beurt")
    assert _axe_violations(page) == []
    # A worker (as `flask jobs work` would) takes the job: the page shows it without a reload.
    job = jobs.claim()
    expect(status).to_contain_text("0 van 3 klaar")
    jobs.run(job)
    expect(status).to_contain_text("Klaar: 3 van 3.")
    assert _axe_violations(page) == []
    status.get_by_role("link", name="Bekijk de uitslag").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Uitslag van Stad kiest")

    # The export: written by a thread of the web process (the demo's way, no worker).
    monkeypatch.setitem(app.config, "JOBS_IN_WEB_PROCESS", True)
    page.goto(f"/rounds/{round_id}")
    page.get_by_role("link", name="Downloaden als pabulib-bestand (.pb)").click()
    page.get_by_role("button", name="Het bestand schrijven").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("De ronde als .pb-bestand exporteren")
    link = page.get_by_role("status").get_by_role("link", name="Het .pb-bestand downloaden")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == f"round-{round_id}.pb"
    db.session.expire_all()
    written = Path(download.value.path()).read_text(encoding="utf-8")
    assert written == pabulib.export_round(db.session.get(type(voting_round), round_id))
