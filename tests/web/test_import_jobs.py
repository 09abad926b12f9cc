"""Importing a large pabulib file from the import screen (above PB_IMPORT_IN_REQUEST_BYTES,
here 1,000 bytes): the upload is checked, stored under a random name in the instance folder
and imported by a background job as the administrator who uploaded it; the job's page links
to the new round, and the stored upload is gone once the job ends, done or failed."""

from __future__ import annotations

import html
import io

import pytest
from sqlalchemy import func, select

from buurtbudget.extensions import db
from buurtbudget.models import (
    AuditEntry,
    BackgroundJob,
    JobStatus,
    Role,
    RoleAssignment,
    VotingRound,
)
from buurtbudget.services import jobs
from buurtbudget.services.voting import pabulib
from tests.web.test_long_steps import _job_id
from tests.web.test_voting import PABULIB, _text

URL = "/staff/rounds/import"
FILE = PABULIB / "Poland_Warszawa_2019_Rembertow.pb"  # 48 kB


@pytest.fixture
def world(app, make, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "PB_IMPORT_IN_REQUEST_BYTES", 1_000)
    monkeypatch.setitem(app.config, "JOB_UPLOADS_FOLDER", str(tmp_path / "uploads"))
    municipality = make.municipality()
    return {
        "municipality": municipality,
        "admin": make.administrator(municipality),
        "other_admin": make.administrator(make.municipality()),
        "area": make.area(municipality),
    }


def _upload(client, content: bytes, *, area: int = 0, rule: str = "", name: str = "x.pb"):
    return client.post(
        URL,
        data={"file": (io.BytesIO(content), name), "area": str(area), "rule_name": rule},
        content_type="multipart/form-data",
    )


def _rounds() -> int:
    return db.session.scalar(select(func.count()).select_from(VotingRound))


def _uploads() -> list[str]:
    folder = jobs.uploads_folder()
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_a_large_file_is_imported_by_a_job_as_the_screen_would(app, client_for, world):
    admin = client_for(world["admin"])
    content = FILE.read_bytes()
    job_id = _job_id(_upload(admin, content, area=world["area"].id, name="rembertow.pb"))
    assert _rounds() == 0  # nothing imported in the request
    (stored,) = _uploads()
    assert len(stored) == 35 and "rembertow" not in stored  # a random name
    page = _text(admin.get(f"/staff/jobs/{job_id}"))
    assert "Import a pabulib file" in page and "Waiting for its turn" in page

    job = jobs.work_once()
    assert job.id == job_id and job.status is JobStatus.DONE, job.message
    assert _uploads() == []  # the upload is deleted once imported
    imported = db.session.get(VotingRound, job.round_id)
    assert imported.is_published and imported.areas == [world["area"]]
    # The same round the screen's own import (in the request) makes.
    same = pabulib.import_round(
        world["admin"], world["municipality"], content, source_name="rembertow.pb"
    )
    assert [(p.external_id, p.votes, p.selected) for p in imported.projects] == [
        (p.external_id, p.votes, p.selected) for p in same.projects
    ]
    status = admin.get(f"/staff/jobs/{job_id}/status").get_json()
    assert status["finished"] and status["result_url"] == f"/rounds/{imported.id}/results"
    assert "The file has been imported as a closed round." in status["html"]
    entry = db.session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "round.imported", AuditEntry.object_id == imported.id
        )
    ).one()
    assert entry.actor_id == world["admin"].id


def test_the_upload_is_checked_before_it_is_stored(app, client_for, world, monkeypatch):
    admin = client_for(world["admin"])
    not_pb = _upload(admin, b"%PDF-1.7\n" + b"x" * 2_000)
    assert not_pb.status_code == 400 and "starts with META" in _text(not_pb)
    monkeypatch.setitem(app.config, "PB_IMPORT_MAX_BYTES", 10_000)
    too_large = _upload(admin, FILE.read_bytes())
    assert too_large.status_code == 400 and "The file is larger than" in _text(too_large)
    assert _uploads() == [] and not db.session.scalars(select(BackgroundJob)).all()


def test_a_broken_file_fails_with_the_imports_message_and_is_deleted(client_for, world):
    admin = client_for(world["admin"])
    content = FILE.read_bytes().replace(b"PROJECTS", b"PROJEKTS", 1)
    job_id = _job_id(_upload(admin, content))
    job = jobs.work_once()
    assert job.id == job_id and job.status is JobStatus.FAILED
    assert job.message.startswith("This is not a valid pabulib file")
    assert _uploads() == [] and _rounds() == 0
    page = _text(admin.get(f"/staff/jobs/{job_id}"))
    assert "This is not a valid pabulib file" in page and "Import a file again" in page


def test_the_job_checks_the_permission_again_when_it_runs(client_for, world):
    admin = world["admin"]
    job_id = _job_id(_upload(client_for(admin), FILE.read_bytes()))
    db.session.execute(
        RoleAssignment.__table__.delete().where(
            RoleAssignment.user_id == admin.id, RoleAssignment.role == Role.ADMINISTRATOR
        )
    )
    db.session.commit()
    job = jobs.work_once()
    assert job.id == job_id and job.status is JobStatus.FAILED
    assert job.message == "You do not have permission to do this."
    assert _rounds() == 0 and _uploads() == []


def test_only_the_municipalitys_administrators_see_the_job(client_for, make, world):
    job_id = _job_id(_upload(client_for(world["admin"]), FILE.read_bytes()))
    colleague = client_for(make.administrator(world["municipality"]))
    assert colleague.get(f"/staff/jobs/{job_id}").status_code == 200
    outsider = client_for(world["other_admin"])
    assert outsider.get(f"/staff/jobs/{job_id}").status_code == 404
    assert outsider.get(f"/staff/jobs/{job_id}/status").status_code == 404
    coordinator = client_for(make.coordinator(world["area"]))
    assert coordinator.get(f"/staff/jobs/{job_id}").status_code == 404


def test_on_postgresql_the_page_sees_the_ballots_written_but_not_a_half_round(
    client_for, world, monkeypatch
):
    """Progress is written beside the import's one transaction: the job's record moves on
    while nothing of the round is committed yet."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: there the import is one step")
    monkeypatch.setattr(pabulib, "WRITE_BATCH", 100)
    seen = []
    report_outside = jobs._report_outside

    def watched(job):
        report = report_outside(job)

        def report_and_look(step, done, total):
            report(step, done, total)
            with db.engine.connect() as other:  # as the job's page would read it
                row = other.execute(
                    select(BackgroundJob.step, BackgroundJob.done, BackgroundJob.total).where(
                        BackgroundJob.id == job.id
                    )
                ).one()
                rounds = other.scalar(select(func.count()).select_from(VotingRound))
            seen.append((*row, rounds))

        return report_and_look

    monkeypatch.setattr(jobs, "_report_outside", watched)
    _job_id(_upload(client_for(world["admin"]), FILE.read_bytes()))
    assert jobs.work_once().status is JobStatus.DONE
    assert ("ballots", 100, 740, 0) in seen and ("ballots", 740, 740, 0) in seen
    assert ("counting", 0, 1, 0) in seen
    assert _rounds() == 1


SMALL_BAD = (
    b"META\nkey;value\nbudget;100\nvote_type;approval\nPROJECTS\nproject_id;cost\na;1\n"
    b"VOTES\nvoter_id;vote\nx;a\nx;a\n"
)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("nl", "Dit is geen geldig pabulib-bestand: regel 11: voter_id 'x' komt twee keer voor"),
        ("en", "This is not a valid pabulib file: line 11: duplicate voter_id 'x'"),
    ],
)
def test_a_refused_file_is_explained_in_the_readers_language(client_for, world, language, expected):
    admin = client_for(world["admin"])
    response = admin.post(
        URL,
        data={"file": (io.BytesIO(SMALL_BAD), "x.pb"), "area": "0", "rule_name": ""},
        content_type="multipart/form-data",
        headers={"Accept-Language": language},
    )
    assert response.status_code == 400
    assert expected in html.unescape(_text(response))
    assert _rounds() == 0


def test_a_refused_files_own_text_is_escaped_on_the_page(client_for, world):
    admin = client_for(world["admin"])
    content = SMALL_BAD.replace(b"x;a", b"<b>x</b>;a")
    response = admin.post(
        URL,
        data={"file": (io.BytesIO(content), "x.pb"), "area": "0", "rule_name": ""},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "&lt;b&gt;x&lt;/b&gt;" in _text(response) and "<b>x</b>" not in _text(response)


def test_a_jobs_refused_file_is_explained_in_the_readers_language(client_for, world):
    """The job ran without a reader; its page tells each visitor the problem in their own
    language, with the line."""
    admin = client_for(world["admin"])
    original = FILE.read_bytes()
    line = original[: original.index(b"PROJECTS")].count(b"\n") + 1
    job_id = _job_id(_upload(admin, original.replace(b"PROJECTS", b"PROJEKTS", 1)))
    assert jobs.work_once().status is JobStatus.FAILED
    dutch = _text(admin.get(f"/staff/jobs/{job_id}", headers={"Accept-Language": "nl"}))
    assert (
        f"Dit is geen geldig pabulib-bestand: regel {line}: een META-regel moet 2 velden "
        "hebben (sleutel;waarde), gevonden: 1"
    ) in html.unescape(dutch)
    english = _text(admin.get(f"/staff/jobs/{job_id}", headers={"Accept-Language": "en"}))
    assert (
        f"This is not a valid pabulib file: line {line}: META row must have 2 fields "
        "(key;value), found 1"
    ) in html.unescape(english)
    status = admin.get(f"/staff/jobs/{job_id}/status", headers={"Accept-Language": "nl"})
    assert f"regel {line}: een META-regel" in str(status.get_json())


def test_a_files_rule_named_in_a_refusal_is_escaped_on_the_page(client_for, world):
    """The message is a lazy translation, which Jinja took for safe HTML: the file's META rule
    came onto the page as markup."""
    admin = client_for(world["admin"])
    content = SMALL_BAD.replace(b"x;a\nx;a\n", b"x;a\n").replace(
        b"vote_type;approval\n", b"vote_type;approval\nrule;<i>r</i>\n"
    )
    response = admin.post(
        URL,
        data={"file": (io.BytesIO(content), "x.pb"), "area": "0", "rule_name": ""},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "&lt;i&gt;r&lt;/i&gt;" in _text(response) and "<i>r</i>" not in _text(response)
