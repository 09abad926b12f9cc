"""Steps that would hold a web worker too long on a large round (config LONG_STEP_BALLOTS):
counting, publishing and exporting run as background jobs (services/jobs.py) that staff start
on a screen, whose page shows progress read from the job's record and then the result. Here
the limit is 2 ballots and the tests play the worker (``jobs.work_once``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from buurtbudget.extensions import db
from buurtbudget.models import AuditEntry, BackgroundJob, JobStatus, Role, RoleAssignment
from buurtbudget.models._base import utcnow
from buurtbudget.services import initiatives, jobs, whole_files
from buurtbudget.services.voting import casting, counting
from tests.voting_world import tanthof_round
from tests.web.test_voting import _end_voting, _text

VOTES = ({0: 1}, {1: 1}, {0: 1, 1: 1})


def _cast(make, area, voting_round) -> None:
    ids = [p.id for p in voting_round.projects]
    for choices in VOTES:
        casting.cast_ballot(
            make.resident(area), voting_round, {ids[k]: v for k, v in choices.items()}
        )


@pytest.fixture
def large(app, make, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "LONG_STEP_BALLOTS", 2)
    monkeypatch.setitem(app.config, "JOB_RESULTS_FOLDER", str(tmp_path / "job-results"))
    world = tanthof_round(make, title="Stad kiest")
    _cast(make, world["area"], world["round"])
    _end_voting(world["round"])
    return world


def _job_id(response) -> int:
    assert response.status_code == 302, _text(response)
    location = response.headers["Location"]
    assert "/staff/jobs/" in location
    return int(location.rsplit("/", 1)[1])


def _audited(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_closing_a_large_round_runs_as_a_job_with_the_commands_result(app, client_for, make, large):
    voting_round = large["round"]
    admin = client_for(large["admin"])
    confirm = admin.get(f"/staff/rounds/{voting_round.id}/close")
    assert "This round has 3 ballots: the step runs in the background" in _text(confirm)
    job_id = _job_id(admin.post(f"/staff/rounds/{voting_round.id}/close"))
    # A second click while it waits does not queue it twice.
    assert _job_id(admin.post(f"/staff/rounds/{voting_round.id}/close")) == job_id
    db.session.expire_all()
    assert not voting_round.is_closed  # nothing happened in the request
    page = _text(admin.get(f"/staff/jobs/{job_id}"))
    assert "Close the round and count the votes" in page and "Waiting for its turn" in page
    # The round's page leads back to it, for its staff only.
    running = "Close the round and count the votes: running in the background"
    assert running in _text(client_for(large["coordinator"]).get(f"/rounds/{voting_round.id}"))
    assert running not in _text(client_for(large["resident"]).get(f"/rounds/{voting_round.id}"))
    assert 'aria-live="polite"' in page

    job = jobs.work_once()
    assert job.id == job_id and job.status is JobStatus.DONE
    db.session.expire_all()
    assert voting_round.is_closed
    state = admin.get(f"/staff/jobs/{job_id}/status").get_json()
    assert state["finished"] and state["status"] == "done"
    assert state["result_url"] == f"/rounds/{voting_round.id}/results"
    # The step is audited as before, as the staff member who started it, and so is the job.
    (closed,) = _audited("round.closed")
    assert closed.actor_id == large["admin"].id and closed.details["ballots"] == 3
    assert [e.actor_id for e in _audited("job.done")] == [large["admin"].id]

    # The same ballots in a round closed with the command give the same result.
    twin_world = tanthof_round(make, title="Tweeling")
    twin = twin_world["round"]
    _cast(make, twin_world["area"], twin)
    _end_voting(twin)
    result = app.test_cli_runner().invoke(args=["rounds", "close", str(twin.id)])
    assert result.exit_code == 0, result.output
    db.session.expire_all()

    def outcome(r):
        return [(p.name, p.votes, p.selected) for p in r.projects], r.result_total_cost_cents

    assert outcome(voting_round) == outcome(twin)


def test_progress_numbers_come_from_the_records(client_for, large):
    voting_round = large["round"]
    admin = client_for(large["admin"])
    job_id = _job_id(admin.post(f"/staff/rounds/{voting_round.id}/close"))
    state = admin.get(f"/staff/jobs/{job_id}/status").get_json()
    assert (state["status"], state["done"], state["total"]) == ("queued", 0, 3)
    # A worker takes it and reports the first step; the page reads it from the record.
    job = jobs.claim()
    db.session.execute(BackgroundJob.__table__.update().values(step="counting", done=2, total=3))
    db.session.commit()
    state = admin.get(f"/staff/jobs/{job_id}/status").get_json()
    assert (state["status"], state["step"], state["done"], state["total"]) == (
        "running",
        "counting",
        2,
        3,
    )
    assert "Counting the votes: 2 of 3 done" in state["html"]
    jobs.run(job)
    state = admin.get(f"/staff/jobs/{job_id}/status").get_json()
    assert (state["status"], state["done"], state["total"]) == ("done", 3, 3)
    assert state["total"] == counting.ballot_count(voting_round)


def test_others_cannot_see_the_job_or_its_file(client_for, make, large):
    voting_round = large["round"]
    admin = client_for(large["admin"])
    assert "Write the file" in _text(admin.get(f"/rounds/{voting_round.id}/export.pb"))
    counting.close_round(None, voting_round)
    job_id = _job_id(admin.post(f"/staff/rounds/{voting_round.id}/export"))
    jobs.work_once()
    with admin.get(f"/staff/jobs/{job_id}/result") as download:
        assert download.status_code == 200
    elsewhere = make.administrator(make.municipality("Rijswijk"))
    coordinator_elsewhere = make.coordinator(make.area(make.municipality("Leiden")))
    for user in (elsewhere, coordinator_elsewhere):
        client = client_for(user)
        for path in ("", "/status", "/result"):
            assert client.get(f"/staff/jobs/{job_id}{path}").status_code == 404, (user, path)
        assert client.post(f"/staff/rounds/{voting_round.id}/export").status_code == 403
    resident = client_for(large["resident"])
    for path in ("", "/status", "/result"):
        assert resident.get(f"/staff/jobs/{job_id}{path}").status_code in (403, 404)
    # The public asks the municipality for a large round's file, even once it is published.
    make.publish(voting_round, large["admin"])
    anonymous = client_for(None).get(f"/rounds/{voting_round.id}/export.pb")
    assert anonymous.status_code == 409
    assert "Ask the municipality for the file" in _text(anonymous)


def test_the_exported_file_is_the_commands_file(app, client_for, large):
    voting_round = large["round"]
    counting.close_round(None, voting_round)
    admin = client_for(large["admin"])
    job_id = _job_id(admin.post(f"/staff/rounds/{voting_round.id}/export"))
    assert admin.get(f"/staff/jobs/{job_id}/result").status_code == 404  # not written yet
    jobs.work_once()
    page = _text(admin.get(f"/staff/jobs/{job_id}"))
    assert "Download the .pb file" in page
    with admin.get(f"/staff/jobs/{job_id}/result") as download:
        assert download.status_code == 200
        assert download.headers["Content-Disposition"].endswith(f"round-{voting_round.id}.pb")
        content = download.get_data(as_text=True)
    command = app.test_cli_runner().invoke(args=["pb", "export", str(voting_round.id)])
    assert command.exit_code == 0
    assert content == command.stdout
    # The round's export page now links to the file.
    assert f"/staff/jobs/{job_id}" in _text(admin.get(f"/rounds/{voting_round.id}/export.pb"))


def test_publishing_as_a_job_keeps_the_four_eyes(client_for, make, large):
    voting_round = large["round"]
    counting.close_round(None, voting_round)
    first, second = large["admin"], make.administrator(large["municipality"])
    counting.request_publication(first, voting_round)
    job_id = _job_id(client_for(first).post(f"/staff/rounds/{voting_round.id}/publish"))
    job = jobs.work_once()
    assert job.status is JobStatus.FAILED
    db.session.expire_all()
    assert not voting_round.is_published
    page = _text(client_for(first).get(f"/staff/jobs/{job_id}"))
    assert "You asked for this publication: a second staff member must publish." in page
    assert "Traceback" not in page

    # Meanwhile a winner's initiative is withdrawn: the job's page says it was not funded.
    winner = next(p for p in voting_round.projects if p.selected)
    initiative = winner.initiative
    initiatives.apply_status_change(initiative.initiator, initiative, "cancelled", "moved away")
    job_id = _job_id(client_for(second).post(f"/staff/rounds/{voting_round.id}/publish"))
    assert jobs.work_once().status is JobStatus.DONE
    page = _text(client_for(second).get(f"/staff/jobs/{job_id}"))
    assert f"“{winner.name}” won but is not funded" in page and "(now: Cancelled)" in page
    db.session.expire_all()
    assert voting_round.is_published
    (published,) = _audited("round.results_published")
    assert published.actor_id == second.id and published.details["requested_by_id"] == first.id


def test_the_job_checks_the_permission_again_when_it_runs(client_for, make, large):
    voting_round = large["round"]
    coordinator = large["coordinator"]
    job_id = _job_id(client_for(coordinator).post(f"/staff/rounds/{voting_round.id}/close"))
    # The coordinator loses the area before a worker gets to the job.
    db.session.execute(
        RoleAssignment.__table__.delete().where(
            RoleAssignment.user_id == coordinator.id, RoleAssignment.role == Role.COORDINATOR
        )
    )
    db.session.commit()
    job = jobs.work_once()
    assert job.id == job_id and job.status is JobStatus.FAILED
    assert job.message == "You do not have permission to do this."
    db.session.expire_all()
    assert not voting_round.is_closed and not _audited("round.closed")


def test_a_job_that_breaks_shows_a_clear_message_not_the_error(
    client_for, large, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(counting, "close_round", broken)
    admin = client_for(large["admin"])
    job_id = _job_id(admin.post(f"/staff/rounds/{large['round'].id}/close"))
    assert jobs.work_once().status is JobStatus.FAILED
    page = _text(admin.get(f"/staff/jobs/{job_id}"))
    assert "an error on our side, which has been logged" in page
    assert "secret internals" not in page and "RuntimeError" not in page
    assert "secret internals" in caplog.text  # logged with its traceback
    assert _audited("job.failed")


def test_the_page_is_in_dutch(client_for, large):
    admin = client_for(large["admin"])
    job_id = _job_id(admin.post(f"/staff/rounds/{large['round'].id}/close"))
    page = _text(admin.get(f"/staff/jobs/{job_id}", headers={"Accept-Language": "nl"}))
    assert "Stemronde afsluiten en de stemmen tellen" in page
    assert "Wacht op zijn beurt" in page


def _exported(client_for, large) -> tuple:
    voting_round = large["round"]
    counting.close_round(None, voting_round)
    admin = client_for(large["admin"])
    job_id = _job_id(admin.post(f"/staff/rounds/{voting_round.id}/export"))
    assert jobs.work_once().status is JobStatus.DONE
    return admin, job_id, voting_round


def test_a_failed_write_leaves_no_partial_file(app, client_for, large, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(whole_files.os, "replace", disk_full)
    voting_round = large["round"]
    counting.close_round(None, voting_round)
    _job_id(client_for(large["admin"]).post(f"/staff/rounds/{voting_round.id}/export"))
    assert jobs.work_once().status is JobStatus.FAILED
    assert list(jobs.results_folder().iterdir()) == []


def test_result_files_expire_and_the_page_offers_to_write_it_again(app, client_for, large):
    admin, job_id, voting_round = _exported(client_for, large)
    (written,) = jobs.results_folder().iterdir()
    leftover = jobs.results_folder() / "job-0-round-0.pb.partial"  # of a worker that died
    leftover.write_text("half")
    keep = timedelta(hours=app.config["JOB_RESULTS_KEEP_HOURS"])
    assert jobs.clean(utcnow() + keep - timedelta(minutes=1)) == 0  # not yet
    assert written.is_file()
    assert jobs.clean(utcnow() + keep + timedelta(minutes=1)) == 2
    assert list(jobs.results_folder().iterdir()) == []
    assert admin.get(f"/staff/jobs/{job_id}/result").status_code == 404
    page = _text(admin.get(f"/staff/jobs/{job_id}"))
    assert "The file has expired: files are kept for 48 hours." in page
    assert "Write the file again" in page and f"/rounds/{voting_round.id}/export.pb" in page
    # The export page no longer links to the deleted file; it offers to write it.
    export_page = _text(admin.get(f"/rounds/{voting_round.id}/export.pb"))
    assert f"/staff/jobs/{job_id}" not in export_page and "Write the file" in export_page


def test_the_worker_and_the_clean_command_delete_expired_files(app, client_for, large, monkeypatch):
    _exported(client_for, large)
    runner = app.test_cli_runner()
    assert "removed 0 expired" in runner.invoke(args=["jobs", "clean"]).output
    monkeypatch.setitem(app.config, "JOB_RESULTS_KEEP_HOURS", 0)
    result = runner.invoke(args=["jobs", "work", "--once"])
    assert result.exit_code == 0 and "removed 1 expired job file(s)" in result.output
    assert list(jobs.results_folder().iterdir()) == []
