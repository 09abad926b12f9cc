"""In real Chromium: an administrator imports a pabulib file larger than
PB_IMPORT_IN_REQUEST_BYTES (here 1,000 bytes) from the import screen. The upload becomes a
background job; its page follows it (polling its status) while a worker reads the file, then
links to the new round's results; the stored upload is gone afterwards."""

from __future__ import annotations

import threading

from playwright.sync_api import expect

from buurtbudget.models import JobStatus
from buurtbudget.services import jobs
from buurtbudget.services.voting import pabulib
from tests.e2e.job_worker import worker_runs_the_job
from tests.e2e.test_background_jobs import _axe_violations
from tests.factories import TEST_PASSWORD
from tests.web.test_voting import PABULIB


def test_an_administrator_imports_a_large_file_as_a_job(app, make, page, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    monkeypatch.setitem(app.config, "JOB_UPLOADS_FOLDER", str(tmp_path / "uploads"))
    monkeypatch.setitem(app.config, "PB_IMPORT_IN_REQUEST_BYTES", 1_000)
    municipality = make.municipality()
    admin = make.administrator(municipality)
    reading, go_on = threading.Event(), threading.Event()
    import_round = pabulib.import_round

    def held(*args, **kwargs):  # the worker waits inside the step until the page showed it
        reading.set()
        assert go_on.wait(20)
        return import_round(*args, **kwargs)

    monkeypatch.setattr(pabulib, "import_round", held)

    page.goto("/account/login")
    page.get_by_label("E-mailadres").fill(admin.email)
    page.get_by_label("Wachtwoord").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Inloggen").click()
    page.goto("/staff/rounds/import")
    page.get_by_label("pabulib-bestand (.pb)").set_input_files(
        str(PABULIB / "Poland_Warszawa_2019_Rembertow.pb")
    )
    page.get_by_role("button", name="Importeren").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Een pabulib-bestand importeren")
    expect(page.get_by_text("Dit bestand is groot")).to_be_visible()
    status = page.get_by_role("status")
    expect(status).to_contain_text("Wacht op zijn beurt")
    assert len(list(jobs.uploads_folder().iterdir())) == 1
    assert _axe_violations(page) == []

    # A worker (as `flask jobs work` would) takes the job; the page follows without a reload.
    with worker_runs_the_job(app, go_on) as ended:
        assert reading.wait(20)
        expect(status).to_contain_text("Het bestand wordt gelezen")
    assert ended["status"] is JobStatus.DONE
    expect(status).to_contain_text("Het bestand is geïmporteerd als afgesloten stemronde.")
    assert _axe_violations(page) == []
    assert list(jobs.uploads_folder().iterdir()) == []
    status.get_by_role("link", name="Bekijk de uitslag").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Uitslag van District PB in Warszawa, Rembertów"
    )
