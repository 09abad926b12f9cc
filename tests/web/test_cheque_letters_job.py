"""Issuing cheques to a long list (above LONG_STEP_LETTERS, here 3 addresses): the confirm
step starts a background job instead of writing the letters in the request. The job writes the
letters SEALED to a public key whose private half is only in the session of the administrator
who confirmed (the codes are never on disk in clear), issues the cheques once the letters file
is complete, and the download decrypts, streams and deletes it, for that session only."""

from __future__ import annotations

import csv
import io
import re
import zlib

import pytest
from sqlalchemy import func, select

from buurtbudget.domain.budget import AccountKind, format_cheque_code, normalise_cheque_code
from buurtbudget.extensions import db
from buurtbudget.models import AuditEntry, BackgroundJob, Cheque, JobStatus, Role, RoleAssignment
from buurtbudget.services import cheque_letters, jobs, ledger, sealed_files
from buurtbudget.services.errors import Conflict
from tests.services.test_cheque_codes import _assert_nowhere_in_clear
from tests.web.test_long_steps import _job_id

ADDRESSES = "6712AA;1\n6712AA;2\n6712AA;3\n6712AB;4\n"  # four: above the threshold of 3


@pytest.fixture
def ede(app, make, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "LONG_STEP_LETTERS", 3)
    monkeypatch.setitem(app.config, "JOB_UPLOADS_FOLDER", str(tmp_path / "uploads"))
    monkeypatch.setitem(app.config, "JOB_RESULTS_FOLDER", str(tmp_path / "results"))
    municipality = make.municipality("Ede")
    area = make.area(municipality, name="Veldhuizen", households=4)
    period = make.budget_period(area, "household_cheques")  # 4 x EUR 7.50
    return {
        "municipality": municipality,
        "area": area,
        "period": period,
        "admin": make.administrator(municipality),
        "colleague": make.administrator(municipality),
        "outsider": make.administrator(make.municipality()),
        "resident": make.resident(area),
        "initiative": make.budget_initiative(area, cost_cents=10_000, title="Speeltuin"),
    }


def _url(ede) -> str:
    return f"/staff/budgets/periods/{ede['period'].id}/cheques/issue"


def _cheques(ede) -> int:
    account = ede["period"].account(AccountKind.AREA)
    return db.session.scalar(select(func.count(Cheque.id)).where(Cheque.account_id == account.id))


def _files(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def _pdf_text(pdf: bytes) -> bytes:
    return b"".join(
        zlib.decompress(stream)
        for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S)
        if stream[:1] == b"x"
    )


def _start(client, ede, letters: str = "pdf") -> int:
    response = client.post(_url(ede), data={"households": ADDRESSES, "confirm": letters})
    assert response.status_code == 302, response.status_code
    return _job_id(response)


@pytest.mark.parametrize("letters", ["pdf", "csv"])
def test_a_long_list_is_issued_by_a_job_whose_letters_only_the_requester_reads(
    ede, client_for, monkeypatch, letters
):
    admin = client_for(ede["admin"])
    preview = admin.post(_url(ede), data={"households": ADDRESSES}).text
    assert "This list is long: confirming writes the letters in the background" in preview
    job_id = _start(admin, ede, letters)
    assert _cheques(ede) == 0  # nothing issued in the request
    (upload,) = _files(jobs.uploads_folder())
    job = db.session.get(BackgroundJob, job_id)
    assert job.kind == "cheques.issue" and job.total == 4
    assert len(bytes.fromhex(job.params["public_key"])) == 32  # only the public key
    page = admin.get(f"/staff/jobs/{job_id}").text
    assert "Issue cheques and write their letters" in page and "Waiting for its turn" in page

    # Progress as the job goes: the page reads "Writing the letters: 2 of 4 done (letters)".
    monkeypatch.setattr(jobs, "LETTERS_REPORT_EVERY", 2)
    seen = []
    writers = {"pdf": "letters_pdf", "csv": "write_mail_merge"}
    real = getattr(cheque_letters, writers[letters])

    def watched(issued, *args, **kwargs):
        def items():
            for number, item in enumerate(issued, start=1):
                if number == 4:
                    seen.append(admin.get(f"/staff/jobs/{job_id}/status").get_json())
                yield item

        return real(items(), *args, **kwargs)

    monkeypatch.setattr(cheque_letters, writers[letters], watched)
    job = jobs.work_once()
    assert job.id == job_id and job.status is JobStatus.DONE, job.message
    assert seen[0]["status"] == "running" and (seen[0]["done"], seen[0]["total"]) == (2, 4)
    assert "Writing the letters: 2 of 4 done (letters)" in seen[0]["html"]
    assert _cheques(ede) == 4
    assert _files(jobs.uploads_folder()) == []  # the address list is gone
    (sealed,) = _files(jobs.results_folder())

    # The file on disk holds no code in clear (nor does the database).
    raw = (jobs.results_folder() / sealed).read_bytes()
    assert raw.startswith(sealed_files.MAGIC)

    status = admin.get(f"/staff/jobs/{job_id}/status").get_json()
    assert status["finished"] and status["result_url"] == f"/staff/jobs/{job_id}/letters"
    assert "4 cheques have been issued" in status["html"]
    download = admin.get(status["result_url"])
    assert download.status_code == 200
    assert download.headers["Cache-Control"] == "private, no-store"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    if letters == "pdf":
        assert download.mimetype == "application/pdf"
        assert len(re.findall(rb"/Type /Page\b(?!s)", download.data)) == 4
        printed = re.findall(rb"(?:[A-Z0-9]{4}-){4}[A-Z0-9]{1,4}", _pdf_text(download.data))
        printed = [p.decode() for p in dict.fromkeys(printed)]
    else:
        assert download.mimetype == "text/csv"
        rows = list(csv.DictReader(io.StringIO(download.text.lstrip("\ufeff")), delimiter=";"))
        assert [r["huisnummer"] for r in rows] == ["1", "2", "3", "4"]
        printed = [r["chequecode"] for r in rows]
    codes = [normalise_cheque_code(p) for p in printed]
    assert len(set(codes)) == 4
    for code in codes:
        for form in (code, format_cheque_code(code)):
            assert form.encode() not in raw and form.encode().lower() not in raw
    _assert_nowhere_in_clear(codes)
    # Downloaded once: the file is deleted, a second download says so.
    assert _files(jobs.results_folder()) == []
    again = admin.get(f"/staff/jobs/{job_id}/letters")
    assert again.status_code == 404 and "no longer here" in again.text
    with admin.session_transaction() as session:  # and the key is forgotten
        assert str(job_id) not in session.get("letter_keys", {})
    # The codes are the issued cheques': the redeem page accepts them.
    resident = client_for(ede["resident"])
    url = f"/budgets/initiatives/{ede['initiative'].id}/cheques"
    assert resident.post(url, data={"code": printed[0]}).status_code == 302
    assert (
        db.session.scalar(select(func.count(Cheque.id)).where(Cheque.redeemed_at.is_not(None))) == 1
    )
    actions = set(db.session.scalars(select(AuditEntry.action)))
    assert {"job.queued", "job.done", "cheque.letters_downloaded"} <= actions
    assert codes[0] not in str(list(db.session.scalars(select(AuditEntry.details))))


def test_nobody_else_and_no_other_session_downloads_the_letters(ede, client_for):
    job_id = _start(client_for(ede["admin"]), ede)
    assert jobs.work_once().status is JobStatus.DONE
    url = f"/staff/jobs/{job_id}/letters"
    colleague = client_for(ede["colleague"])
    page = colleague.get(f"/staff/jobs/{job_id}").text
    assert "4 cheques have been issued" in page and url not in page
    assert "can download these letters, in the session in which" in page
    refused = colleague.get(url)
    assert refused.status_code == 403 and "can download these letters" in refused.text
    assert colleague.get(f"/staff/jobs/{job_id}/result").status_code == 404  # not even sealed
    assert b"%PDF" not in refused.data
    # The same administrator, logged in again in another browser: no key there.
    elsewhere = client_for(ede["admin"])
    assert url not in elsewhere.get(f"/staff/jobs/{job_id}").text
    refused = elsewhere.get(url)
    assert refused.status_code == 403 and b"%PDF" not in refused.data
    # An administrator of another municipality does not learn the job exists.
    assert client_for(ede["outsider"]).get(url).status_code == 404
    assert len(_files(jobs.results_folder())) == 1  # still there for its requester


def test_a_failing_letters_writer_issues_nothing_and_leaves_no_file(ede, client_for, monkeypatch):
    admin = client_for(ede["admin"])
    job_id = _start(admin, ede)

    def broken(issued, *args, **kwargs):
        for number, _item in enumerate(issued, start=1):
            if number == 3:
                raise OSError("the disk is full")
        return b""

    monkeypatch.setattr(cheque_letters, "letters_pdf", broken)
    job = jobs.work_once()
    assert job.id == job_id and job.status is JobStatus.FAILED
    assert _cheques(ede) == 0
    assert _files(jobs.results_folder()) == [] and _files(jobs.uploads_folder()) == []
    page = admin.get(f"/staff/jobs/{job_id}").text
    assert "This step did not succeed" in page and "No cheques have been issued" in page
    assert admin.get(f"/staff/jobs/{job_id}/letters").status_code == 404


def test_a_failure_after_the_letters_are_written_leaves_no_file(ede, client_for, monkeypatch):
    """The letters file is complete but the cheques cannot be booked: nothing is issued and
    the file of codes that do not exist is deleted."""
    job_id = _start(client_for(ede["admin"]), ede)
    written = []
    write_sealed = sealed_files.write_sealed

    def write_and_look(path, *args):
        write_sealed(path, *args)
        written.append(path.is_file())

    def refuse(*args, **kwargs):
        raise Conflict("Cheques were issued to this list at the same time.")

    monkeypatch.setattr(sealed_files, "write_sealed", write_and_look)
    monkeypatch.setattr(ledger, "post", refuse)
    job = jobs.work_once()
    assert job.id == job_id and job.status is JobStatus.FAILED and written == [True]
    assert _cheques(ede) == 0
    assert _files(jobs.results_folder()) == [] and _files(jobs.uploads_folder()) == []


def test_the_job_checks_the_permission_again_when_it_runs(ede, client_for):
    job_id = _start(client_for(ede["admin"]), ede)
    db.session.execute(
        RoleAssignment.__table__.delete().where(
            RoleAssignment.user_id == ede["admin"].id,
            RoleAssignment.role == Role.ADMINISTRATOR,
        )
    )
    db.session.commit()
    job = jobs.work_once()
    assert job.id == job_id and job.status is JobStatus.FAILED
    assert job.message == "You do not have permission to do this."
    assert _cheques(ede) == 0 and _files(jobs.results_folder()) == []


def test_at_the_threshold_the_letters_come_in_the_request(ede, client_for):
    admin = client_for(ede["admin"])
    three = "".join(ADDRESSES.splitlines(keepends=True)[:3])
    preview = admin.post(_url(ede), data={"households": three}).text
    assert "downloads their letters at once" in preview and "This list is long" not in preview
    response = admin.post(_url(ede), data={"households": three, "confirm": "pdf"})
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert _cheques(ede) == 3
    assert db.session.scalar(select(func.count(BackgroundJob.id))) == 0
    assert _files(jobs.uploads_folder()) == [] and _files(jobs.results_folder()) == []
