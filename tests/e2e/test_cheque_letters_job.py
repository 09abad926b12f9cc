"""In real Chromium: an administrator issues cheques to a list longer than LONG_STEP_LETTERS
(here 3 addresses). Confirming starts a background job; its page follows the letters being
written (polling its status in its live region) while a worker writes them sealed, then offers
the download, which only this browser session can open; the file is deleted once downloaded."""

from __future__ import annotations

import re
import threading
import zlib
from pathlib import Path

from playwright.sync_api import expect

from buurtbudget.models import JobStatus
from buurtbudget.services import cheque_letters, cheques, jobs
from tests.e2e.job_worker import worker_runs_the_job
from tests.e2e.test_background_jobs import _axe_violations
from tests.factories import TEST_PASSWORD


def _printed_codes(pdf: bytes) -> list[str]:
    text = b"".join(
        zlib.decompress(stream)
        for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S)
        if stream[:1] == b"x"
    )
    found = re.findall(rb"(?:[A-Z0-9]{4}-){4}[A-Z0-9]{1,4}", text)
    return [code.decode() for code in dict.fromkeys(found)]


def test_an_administrator_issues_a_long_list_and_downloads_the_sealed_letters(
    app, make, page, monkeypatch, tmp_path
):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    monkeypatch.setitem(app.config, "LONG_STEP_LETTERS", 3)
    monkeypatch.setitem(app.config, "JOB_UPLOADS_FOLDER", str(tmp_path / "uploads"))
    monkeypatch.setitem(app.config, "JOB_RESULTS_FOLDER", str(tmp_path / "results"))
    monkeypatch.setattr(jobs, "LETTERS_REPORT_EVERY", 1)
    municipality = make.municipality("Ede")
    area = make.area(municipality, name="Veldhuizen", households=4)
    period = make.budget_period(area, "household_cheques")
    admin = make.administrator(municipality)
    writing, go_on = threading.Event(), threading.Event()
    letters_pdf = cheque_letters.letters_pdf

    def held(issued, *args, **kwargs):  # the worker waits after one letter until the page saw it
        def items():
            for number, item in enumerate(issued, start=1):
                if number == 2:
                    writing.set()
                    assert go_on.wait(20)
                yield item

        return letters_pdf(items(), *args, **kwargs)

    monkeypatch.setattr(cheque_letters, "letters_pdf", held)

    page.goto("/account/login")
    page.get_by_label("E-mailadres").fill(admin.email)
    page.get_by_label("Wachtwoord").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Inloggen").click()
    page.goto(f"/staff/budgets/periods/{period.id}/cheques/issue")
    page.get_by_label("Adressen van de huishoudens").fill(
        "6712AA;1\n6712AA;2\n6712AA;3\n6712AB;4\n"
    )
    page.get_by_role("button", name="Lijst controleren").click()
    page.get_by_role(
        "button", name="Bevestigen: 4 cheques uitgeven en de brieven downloaden (PDF)"
    ).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Cheques uitgeven en hun brieven schrijven"
    )
    expect(page.get_by_text("Deze lijst is lang")).to_be_visible()
    status = page.get_by_role("status")
    expect(status).to_have_attribute("aria-live", "polite")
    expect(status).to_contain_text("Wacht op zijn beurt")
    assert len(list(jobs.uploads_folder().iterdir())) == 1
    assert _axe_violations(page) == []

    # A worker (as `flask jobs work` would) takes the job; the page follows without a reload.
    with worker_runs_the_job(app, go_on) as ended:
        assert writing.wait(20)
        expect(status).to_contain_text("De brieven worden geschreven: 1 van 4 klaar (brieven)")
    assert ended["status"] is JobStatus.DONE
    expect(status).to_contain_text("Er zijn 4 cheques uitgegeven.")
    assert _axe_violations(page) == []
    assert list(jobs.uploads_folder().iterdir()) == []
    (sealed,) = jobs.results_folder().iterdir()
    raw = sealed.read_bytes()

    with page.expect_download() as download:
        status.get_by_role("link", name="De brieven downloaden (PDF)").click()
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF") and download.value.suggested_filename.endswith(".pdf")
    codes = _printed_codes(pdf)
    assert len(codes) == 4
    for code in codes:
        assert code.encode() not in raw and code.replace("-", "").encode() not in raw
        assert cheques.find_cheque(code).redeemed_at is None  # an issued cheque's code
    assert list(jobs.results_folder().iterdir()) == []  # deleted once downloaded
    page.reload()
    expect(page.get_by_role("status")).to_contain_text("De brieven zijn hier niet meer")
