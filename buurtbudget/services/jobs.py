"""Background jobs: steps on a large round that can take longer than a web worker may hold a
request (gunicorn: 30 s), i.e. counting (closing), exporting its .pb file and publishing
with grants, once the round has more than config LONG_STEP_BALLOTS ballots.

A staff member starts the step on a screen; it becomes a ``BackgroundJob`` row and the page
follows its progress. ``flask jobs work`` (next to gunicorn in production) claims queued jobs
and runs them; in the demo (config JOBS_IN_WEB_PROCESS) a thread of the web process does.
The job runs as the staff member who asked for it, through the same service call as the
screen or the command (counting.close_round, publish_results, pabulib.export_round), so every
permission, the four eyes of publishing and the audit entries are checked and written again
when it runs, not only when it was asked for.

Why a table and not RQ (Redis, which production has): the tests and the demo run on SQLite
without Redis; a row is durable with the data it is about and written in the same database
as the audit trail, so a job and its step commit together; and the mail queue already works
this way (services/mail.py). Claiming: SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL (other
workers pass a row being claimed), then one conditional UPDATE that only the first worker wins
(the only guard on SQLite, which has no row locks). A worker that dies leaves its job
"running" until its lease ends (JOB_LEASE_SECONDS; a live worker keeps renewing it): then it is
taken again, up to JOB_MAX_ATTEMPTS tries, after which it fails with a message saying so."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select, update

from buurtbudget.extensions import db
from buurtbudget.models import BackgroundJob, JobStatus, Phase, User, VotingRound
from buurtbudget.models._base import utcnow
from buurtbudget.services import audit
from buurtbudget.services.errors import ServiceError
from buurtbudget.services.permissions import require
from buurtbudget.services.voting import counting, pabulib, rounds

log = logging.getLogger(__name__)

# Stored as the message of a job whose worker stopped JOB_MAX_ATTEMPTS times (shown translated).
INTERRUPTED = "The step was interrupted too often and has stopped. Start it again."

Report = Callable[[str, int, int], None]
"""``report(step, done, total)``: how far the job is (the signature of pabulib.Progress)."""


@dataclass(frozen=True)
class Step:
    title: object  # lazy text, e.g. "Count the votes"
    # Who may start the step, follow it and fetch its file: the same as on its own screen.
    may: Callable[[User | None, VotingRound], bool]
    # Does the step as ``actor``; returns the name of the file it wrote, if any.
    run: Callable[[BackgroundJob, User, VotingRound, Report], str | None]


def _may_export(user: User | None, voting_round: VotingRound) -> bool:
    """As the export on the round's page: its staff once voting has ended (web/voting.py)."""
    return rounds.can_enter_paper_ballots(user, voting_round) and voting_round.phase() in (
        Phase.COUNTING,
        Phase.RESULTS,
    )


def _close(job: BackgroundJob, actor: User, voting_round: VotingRound, report: Report) -> None:
    total = counting.ballot_count(voting_round)
    report("counting", 0, total)
    counting.close_round(actor, voting_round)
    report("counting", total, total)


def _publish(job: BackgroundJob, actor: User, voting_round: VotingRound, report: Report) -> None:
    report("publishing", 0, 1)
    counting.publish_results(actor, voting_round)
    report("publishing", 1, 1)


def _export(job: BackgroundJob, actor: User, voting_round: VotingRound, report: Report) -> str:
    require(_may_export(actor, voting_round))
    total = counting.ballot_count(voting_round)
    report("exporting", 0, total)
    text = pabulib.export_round(voting_round)
    name = f"job-{job.id}-round-{voting_round.id}.pb"
    folder = results_folder()
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"{name}.partial"
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, folder / name)  # the file appears whole or not at all
    report("exporting", total, total)
    return name


STEPS: dict[str, Step] = {
    "round.close": Step(_l("Close the round and count the votes"), rounds.can_manage_round, _close),
    "round.publish": Step(_l("Publish the results"), rounds.can_manage_round, _publish),
    "round.export": Step(_l("Export the round as a .pb file"), _may_export, _export),
}


def results_folder() -> Path:
    configured = current_app.config.get("JOB_RESULTS_FOLDER")
    return Path(configured) if configured else Path(current_app.instance_path) / "job-results"


def runs_as_job(voting_round: VotingRound) -> bool:
    """Whether the round is large enough (config LONG_STEP_BALLOTS) that its long steps run
    as background jobs rather than in the request."""
    return counting.needs_the_command_line(voting_round, current_app.config["LONG_STEP_BALLOTS"])


# Asking and looking --------------------------------------------------------------------------


def can_see(user: User | None, job: BackgroundJob) -> bool:
    """A job and its file are for whoever may do its step on that round now (the requester
    while they still may, and their colleagues): nobody else learns it exists."""
    step = STEPS.get(job.kind)
    return step is not None and user is not None and step.may(user, job.voting_round)


def in_progress(voting_round: VotingRound) -> list[BackgroundJob]:
    return list(
        db.session.scalars(
            select(BackgroundJob)
            .where(
                BackgroundJob.round_id == voting_round.id,
                BackgroundJob.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)),
            )
            .order_by(BackgroundJob.id)
        )
    )


def active_job(kind: str, voting_round: VotingRound) -> BackgroundJob | None:
    return db.session.scalar(
        select(BackgroundJob)
        .where(
            BackgroundJob.kind == kind,
            BackgroundJob.round_id == voting_round.id,
            BackgroundJob.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)),
        )
        .order_by(BackgroundJob.id)
        .limit(1)
    )


def latest_export(voting_round: VotingRound) -> BackgroundJob | None:
    """The newest finished export of the round made after its last count (an older file
    would show other results)."""
    counted = [entry.at for entry in counting.counts_of(voting_round)]
    query = select(BackgroundJob).where(
        BackgroundJob.kind == "round.export",
        BackgroundJob.round_id == voting_round.id,
        BackgroundJob.status == JobStatus.DONE,
    )
    if counted:
        query = query.where(BackgroundJob.started_at >= max(counted))
    return db.session.scalar(query.order_by(BackgroundJob.id.desc()).limit(1))


def start(actor: User, kind: str, voting_round: VotingRound) -> BackgroundJob:
    """Queue ``kind`` on the round as ``actor`` (who must be allowed to do it), or return the
    same step already queued or running, so a second click does not do it twice."""
    step = STEPS[kind]
    require(step.may(actor, voting_round))
    job = active_job(kind, voting_round)
    if job is not None:
        return job
    job = BackgroundJob(
        kind=kind,
        voting_round=voting_round,
        requested_by=actor,
        total=counting.ballot_count(voting_round),
    )
    db.session.add(job)
    db.session.flush()
    audit.record(actor, "job.queued", job, municipality_id=voting_round.municipality_id, kind=kind)
    db.session.commit()
    kick(job)
    return job


def kick(job: BackgroundJob) -> None:
    """Without a worker (config JOBS_IN_WEB_PROCESS, the demo): run the job in a thread of
    this process. Also called when its page is shown, so a job whose thread died with the
    process is taken up again once its lease has ended."""
    if not current_app.config["JOBS_IN_WEB_PROCESS"] or job.finished:
        return
    app = current_app._get_current_object()
    job_id = job.id

    def run_in_thread() -> None:
        with app.app_context():
            try:
                work_once(job_id=job_id)
            finally:
                db.session.remove()

    threading.Thread(target=run_in_thread, name=f"job-{job_id}", daemon=True).start()


# The worker ----------------------------------------------------------------------------------


def _claimable(now: datetime):
    return or_(
        BackgroundJob.status == JobStatus.QUEUED,
        and_(BackgroundJob.status == JobStatus.RUNNING, BackgroundJob.lease_until < now),
    )


def _give_up_stalled(now: datetime) -> int:
    """Jobs whose worker died on every allowed try fail, with a message saying so."""
    stalled = list(
        db.session.scalars(
            select(BackgroundJob).where(
                BackgroundJob.status == JobStatus.RUNNING,
                BackgroundJob.lease_until < now,
                BackgroundJob.attempts >= int(current_app.config["JOB_MAX_ATTEMPTS"]),
            )
        )
    )
    for job in stalled:
        job.status, job.message, job.finished_at = JobStatus.FAILED, INTERRUPTED, now
        audit.record(
            job.requested_by,
            "job.failed",
            job,
            municipality_id=job.voting_round.municipality_id,
            kind=job.kind,
            reason="interrupted",
        )
    db.session.commit()
    return len(stalled)


def claim(now: datetime | None = None, *, job_id: int | None = None) -> BackgroundJob | None:
    """Take the oldest queued job (or ``job_id``), or one whose worker died, for this worker."""
    now = now or utcnow()
    _give_up_stalled(now)
    query = (
        select(BackgroundJob.id, BackgroundJob.attempts)
        .where(_claimable(now))
        .order_by(BackgroundJob.id)
        .limit(1)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite renders no FOR UPDATE
    )
    if job_id is not None:
        query = query.where(BackgroundJob.id == job_id)
    row = db.session.execute(query).first()
    if row is None:
        db.session.rollback()
        return None
    lease = timedelta(seconds=int(current_app.config["JOB_LEASE_SECONDS"]))
    claimed = db.session.execute(
        update(BackgroundJob)
        .where(
            BackgroundJob.id == row.id,
            BackgroundJob.attempts == row.attempts,
            _claimable(now),
        )
        .values(
            status=JobStatus.RUNNING,
            attempts=row.attempts + 1,
            lease_until=now + lease,
            started_at=now,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if claimed != 1:
        return None  # another worker was first
    return db.session.get(BackgroundJob, row.id, populate_existing=True)


def run(job: BackgroundJob) -> BackgroundJob:
    """Do a claimed job as the staff member who asked for it, and record how it ended. A
    refusal of the step (a permission, the four eyes, a round already closed) is its message;
    any other error is logged with its traceback and the page says only that it failed."""
    job_id, attempt = job.id, job.attempts
    lease = timedelta(seconds=int(current_app.config["JOB_LEASE_SECONDS"]))

    def report(step: str, done: int, total: int) -> None:
        # Only between the step's own transactions: nothing of the step is pending here.
        db.session.execute(
            update(BackgroundJob)
            .where(BackgroundJob.id == job_id, BackgroundJob.attempts == attempt)
            .values(step=step, done=done, total=total, lease_until=utcnow() + lease)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()

    step = STEPS[job.kind]
    result, message, failed = None, None, False
    stop = threading.Event()
    beat = threading.Thread(
        target=_keep_lease, args=(db.engine, job_id, attempt, lease, stop), daemon=True
    )
    beat.start()
    try:
        result = step.run(job, job.requested_by, job.voting_round, report)
    except ServiceError as error:
        db.session.rollback()
        failed = True
        # Stored in English (the message id) and translated when shown.
        with force_locale("en"):
            message = str(error.message)[:500]
    except Exception:
        db.session.rollback()
        log.exception("background job %s (%s) failed", job_id, job.kind)
        failed = True
    finally:
        stop.set()
        beat.join()
    job = db.session.get(BackgroundJob, job_id, populate_existing=True)
    if job.attempts != attempt or job.status is not JobStatus.RUNNING:
        return job  # our lease ended and another worker took it over
    job.status = JobStatus.FAILED if failed else JobStatus.DONE
    job.message, job.result_file, job.finished_at = message, result, utcnow()
    audit.record(
        job.requested_by,
        "job.failed" if failed else "job.done",
        job,
        municipality_id=job.voting_round.municipality_id,
        kind=job.kind,
        message=message,
        result_file=result,
    )
    db.session.commit()
    return job


def _keep_lease(engine, job_id: int, attempt: int, lease: timedelta, stop: threading.Event):
    """While the step runs (one transaction of its own that reports nothing until it ends),
    renew the job's lease from another connection every quarter lease: so a lease can be
    short, and only a job whose worker really died is taken over."""
    while not stop.wait(lease.total_seconds() / 4):
        try:
            with engine.begin() as connection:
                connection.execute(
                    update(BackgroundJob)
                    .where(
                        BackgroundJob.id == job_id,
                        BackgroundJob.attempts == attempt,
                        BackgroundJob.status == JobStatus.RUNNING,
                    )
                    .values(lease_until=utcnow() + lease)
                )
        except Exception:  # a missed beat is made up by the next; the lease has room for it
            log.warning("could not renew the lease of job %s", job_id, exc_info=True)


def work_once(now: datetime | None = None, *, job_id: int | None = None) -> BackgroundJob | None:
    """Claim one job and do it; None when there was nothing to do."""
    job = claim(now, job_id=job_id)
    return run(job) if job is not None else None


def result_path(job: BackgroundJob) -> Path | None:
    if job.status is not JobStatus.DONE or not job.result_file:
        return None
    path = results_folder() / job.result_file
    return path if path.is_file() else None
