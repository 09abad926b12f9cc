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
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select, update

from buurtbudget.domain.households import format_household_list, parse_household_list
from buurtbudget.extensions import db
from buurtbudget.models import (
    Area,
    BackgroundJob,
    BudgetPeriod,
    JobStatus,
    Municipality,
    User,
    VotingRound,
)
from buurtbudget.models._base import utcnow
from buurtbudget.services import audit, cheque_letters, cheques, sealed_files
from buurtbudget.services.errors import NotFound, ServiceError, ValidationFailed
from buurtbudget.services.permissions import is_admin_of, require
from buurtbudget.services.voting import counting, pabulib, rounds
from buurtbudget.services.whole_files import written_whole

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
    run: Callable[[BackgroundJob, User, VotingRound | None, Report], str | None]


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
    require(rounds.can_export_unpublished(actor, voting_round))
    total = counting.ballot_count(voting_round)
    report("exporting", 0, total)
    text = pabulib.export_round(voting_round)
    name = f"job-{job.id}-round-{voting_round.id}.pb"
    folder = results_folder()
    folder.mkdir(parents=True, exist_ok=True)
    with written_whole(folder / name) as out:
        out.write(text.encode("utf-8"))
    report("exporting", total, total)
    return name


IMPORT = "round.import"


def _import(job: BackgroundJob, actor: User, _round: None, report: Report) -> None:
    """The import screen's pabulib.import_round, as the administrator who uploaded the file
    (it checks again that they still are one). Its progress is written from a connection of
    its own, as the import is one transaction that must not be committed half-way."""
    params = job.params or {}
    municipality = db.session.get(Municipality, job.municipality_id)
    area = db.session.get(Area, params["area_id"]) if params.get("area_id") else None
    content = (uploads_folder() / params["upload"]).read_bytes()
    report("importing", 0, 0)
    imported = pabulib.import_round(
        actor,
        municipality,
        content,
        source_name=params.get("source_name", ""),
        areas=[area] if area else [],
        rule_name=params.get("rule_name") or None,
        progress=_report_outside(job),
    )
    db.session.execute(
        update(BackgroundJob)
        .where(BackgroundJob.id == job.id, BackgroundJob.attempts == job.attempts)
        .values(round_id=imported.id, step="importing", done=1, total=1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _report_outside(job: BackgroundJob) -> Report | None:
    """Progress written from another connection, beside the step's open transaction. Only on
    PostgreSQL: SQLite has one writer at a time, so there the page shows the import as one
    step."""
    if db.engine.dialect.name != "postgresql":
        return None
    job_id, attempt, engine = job.id, job.attempts, db.engine
    lease = timedelta(seconds=int(current_app.config["JOB_LEASE_SECONDS"]))

    def report(step: str, done: int, total: int) -> None:
        with engine.begin() as connection:
            connection.execute(
                update(BackgroundJob)
                .where(BackgroundJob.id == job_id, BackgroundJob.attempts == attempt)
                .values(step=step, done=done, total=total, lease_until=utcnow() + lease)
            )

    return report


def _only_through_its_start(user: User | None, _round: None) -> bool:
    """Municipality-wide steps are started only by start_import and start_cheque_issue, which
    check the municipality (and can_see does for their pages)."""
    return False


CHEQUES = "cheques.issue"
# How often (in letters) the job writes how far it is.
LETTERS_REPORT_EVERY = 200


def _issue_cheques(job: BackgroundJob, actor: User, _round: None, report: Report) -> str | None:
    """The issue screen's cheques.issue_cheques, as the administrator who confirmed it (it
    checks again that they still are one, and audits and books it as the screen does). The
    letters are written first, SEALED to the public key stored with the job (its private half
    is only in the requester's session): the codes are never on disk in clear. As on the
    screen, nothing is issued unless the letters file is complete, and a failure leaves no
    file."""
    params = job.params or {}
    period = db.session.get(BudgetPeriod, params.get("period_id") or 0)
    if period is None:
        raise NotFound(_l("We could not find this budget period."))
    households = parse_household_list((uploads_folder() / params["upload"]).read_text("utf-8"))
    public_key = bytes.fromhex(params["public_key"])
    letters, redeem_page = params["letters"], params["redeem_page"]
    folder = results_folder()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"job-{job.id}-letters.{letters}.sealed"
    report("letters", 0, len(households))

    def write_letters(issued: list[cheques.IssuedCheque]) -> None:
        total = len(issued)
        report("letters", 0, total)
        sealed_files.write_sealed(
            path,
            public_key,
            lambda out: cheque_letters.write_letters(
                issued,
                out,
                period,
                redeem_page,
                letters,
                progress=lambda done: report("letters", done, total),
                progress_every=LETTERS_REPORT_EVERY,
            ),
        )

    try:
        issued = cheques.issue_cheques(actor, period, households, write_letters=write_letters)
    except BaseException:
        path.unlink(missing_ok=True)  # letters of cheques that were not issued
        raise
    if not issued:
        report("letters", 0, 0)
        return None
    report("letters", len(issued), len(issued))
    return path.name


STEPS: dict[str, Step] = {
    "round.close": Step(_l("Close the round and count the votes"), rounds.can_manage_round, _close),
    "round.publish": Step(_l("Publish the results"), rounds.can_manage_round, _publish),
    "round.export": Step(
        _l("Export the round as a .pb file"), rounds.can_export_unpublished, _export
    ),
    IMPORT: Step(_l("Import a pabulib file"), _only_through_its_start, _import),
    CHEQUES: Step(
        _l("Issue cheques and write their letters"), _only_through_its_start, _issue_cheques
    ),
}


def results_folder() -> Path:
    configured = current_app.config.get("JOB_RESULTS_FOLDER")
    return Path(configured) if configured else Path(current_app.instance_path) / "job-results"


def uploads_folder() -> Path:
    """Where uploads wait for their job (imports), under random names; each is deleted when
    its job ends."""
    configured = current_app.config.get("JOB_UPLOADS_FOLDER")
    return Path(configured) if configured else Path(current_app.instance_path) / "job-uploads"


def _municipality_id(job: BackgroundJob) -> int:
    return job.municipality_id if job.voting_round is None else job.voting_round.municipality_id


def _discard_upload(job: BackgroundJob) -> None:
    name = (job.params or {}).get("upload")
    if name:
        (uploads_folder() / name).unlink(missing_ok=True)


def runs_as_job(voting_round: VotingRound) -> bool:
    """Whether the round is large enough (config LONG_STEP_BALLOTS) that its long steps run
    as background jobs rather than in the request."""
    return counting.needs_the_command_line(voting_round, current_app.config["LONG_STEP_BALLOTS"])


# Asking and looking --------------------------------------------------------------------------


def can_see(user: User | None, job: BackgroundJob) -> bool:
    """A job and its file are for whoever may do its step on that round now (the requester
    while they still may, and their colleagues): nobody else learns it exists."""
    if user is None:
        return False
    if job.kind in (IMPORT, CHEQUES):
        return is_admin_of(user, job.municipality_id)
    step = STEPS.get(job.kind)
    return step is not None and step.may(user, job.voting_round)


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
    would show other results), while its file is kept."""
    counted = [entry.at for entry in counting.counts_of(voting_round)]
    query = select(BackgroundJob).where(
        BackgroundJob.kind == "round.export",
        BackgroundJob.round_id == voting_round.id,
        BackgroundJob.status == JobStatus.DONE,
    )
    if counted:
        query = query.where(BackgroundJob.started_at >= max(counted))
    job = db.session.scalar(query.order_by(BackgroundJob.id.desc()).limit(1))
    return job if job is not None and result_path(job) is not None else None


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


# A .pb file is text that starts with its META section (https://pabulib.org/format).
PB_SIGNATURE = b"META"


def start_import(
    actor: User,
    municipality: Municipality,
    content: bytes,
    *,
    source_name: str = "",
    area: Area | None = None,
    rule_name: str | None = None,
) -> BackgroundJob:
    """Queue the import of an uploaded pabulib file as ``actor`` (an administrator of the
    municipality): the file is checked for its size and kind, stored under a random name in
    the instance folder, and imported by a worker (``_import``)."""
    require(is_admin_of(actor, municipality.id))
    limit = int(current_app.config["PB_IMPORT_MAX_BYTES"])
    if len(content) > limit:
        raise ValidationFailed(
            _l("The file is larger than %(limit)s MB.", limit=limit // (1024 * 1024)),
            field="file",
        )
    if not content.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(PB_SIGNATURE):
        raise ValidationFailed(
            _l("This is not a pabulib file: such a file is text that starts with META."),
            field="file",
        )
    if area is not None and area.municipality_id != municipality.id:
        raise ValidationFailed(_l("This is not a valid choice."), field="area")
    return _queue_with_upload(
        actor,
        content,
        ".pb",
        kind=IMPORT,
        municipality_id=municipality.id,
        params={
            "source_name": source_name[:200],
            "area_id": area.id if area else None,
            "rule_name": rule_name or None,
        },
        total=0,
        audited={"source": source_name[:200] or None},
    )


def _queue_with_upload(
    actor: User,
    upload: bytes,
    suffix: str,
    *,
    kind: str,
    municipality_id: int,
    params: dict,
    total: int,
    audited: dict,
) -> BackgroundJob:
    """Queue a job of ``kind`` whose input waits in the uploads folder under a random name
    (``params["upload"]``), audited with ``audited``; the file goes if the job is not stored.
    The job is then started (:func:`kick`)."""
    folder = uploads_folder()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}{suffix}"
    (folder / name).write_bytes(upload)
    try:
        job = BackgroundJob(
            kind=kind,
            municipality_id=municipality_id,
            requested_by=actor,
            params={"upload": name, **params},
            total=total,
        )
        db.session.add(job)
        db.session.flush()
        audit.record(
            actor, "job.queued", job, municipality_id=municipality_id, kind=kind, **audited
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        (folder / name).unlink(missing_ok=True)
        raise
    kick(job)
    return job


def start_cheque_issue(
    actor: User,
    period: BudgetPeriod,
    households: list[cheques.Household],
    *,
    letters: str,
    redeem_page: str,
    public_key: bytes,
) -> BackgroundJob:
    """Queue issuing cheques to a long list of households, with their letters, as ``actor``
    (an administrator of the period's municipality). The list waits under a random name in
    the uploads folder (deleted when the job ends); the job stores only the PUBLIC key the
    letters are sealed to."""
    require(is_admin_of(actor, period.municipality_id))
    cheques.cheque_pot(period)  # refused now rather than by the job: no cheques here
    if letters not in cheque_letters.LETTER_FORMATS:
        raise ValidationFailed(_l("Choose the letters as PDF or CSV."))
    return _queue_with_upload(
        actor,
        format_household_list(households).encode("utf-8"),
        ".txt",
        kind=CHEQUES,
        municipality_id=period.municipality_id,
        params={
            "period_id": period.id,
            "letters": letters,
            "redeem_page": redeem_page,
            "public_key": public_key.hex(),
        },
        total=len(households),
        audited={"period_id": period.id, "households": len(households)},
    )


def letters_path(job: BackgroundJob) -> Path | None:
    """A cheque job's sealed letters file, while it is there (until downloaded or expired)."""
    return result_path(job) if job.kind == CHEQUES else None


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
        _discard_upload(job)
        audit.record(
            job.requested_by,
            "job.failed",
            job,
            municipality_id=_municipality_id(job),
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
    result, message, failed, failure = None, None, False, None
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
        # A refused file's problem as data, so its page shows it in the reader's language.
        failure = getattr(error, "failure", None)
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
    if failure is not None:
        job.params = {**(job.params or {}), "failure": failure}
    _discard_upload(job)  # done or failed: an import's upload is not needed again
    audit.record(
        job.requested_by,
        "job.failed" if failed else "job.done",
        job,
        municipality_id=_municipality_id(job),
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


def expired(job: BackgroundJob) -> bool:
    """A finished job whose file has been cleaned away (``clean``)."""
    return job.status is JobStatus.DONE and bool(job.result_file) and result_path(job) is None


# An upload no queued or running job names, older than this, was left by a process that died
# between writing it and storing its job (the job's own end deletes its upload).
STRAY_UPLOAD_AGE = timedelta(hours=1)


def clean(now: datetime | None = None) -> int:
    """Delete the jobs' files (and ``.partial`` leftovers of a write that died with its
    process) written more than config JOB_RESULTS_KEEP_HOURS ago, and uploads that no waiting
    or running job needs (:data:`STRAY_UPLOAD_AGE`): an address list or a ballot file should
    not outlive its job. Returns how many files were deleted."""
    now = now or utcnow()
    keep = timedelta(hours=float(current_app.config["JOB_RESULTS_KEEP_HOURS"]))
    removed = _delete_older(results_folder(), (now - keep).timestamp())
    active = db.session.scalars(
        select(BackgroundJob.params).where(
            BackgroundJob.status.in_((JobStatus.QUEUED, JobStatus.RUNNING))
        )
    )
    needed = {(params or {}).get("upload") for params in active}
    removed += _delete_older(uploads_folder(), (now - STRAY_UPLOAD_AGE).timestamp(), needed)
    return removed


def _delete_older(folder: Path, before: float, keep: set | frozenset = frozenset()) -> int:
    """Delete the files in ``folder`` last written before ``before`` (a timestamp), except
    those named in ``keep``; returns how many."""
    if not folder.is_dir():
        return 0
    removed = 0
    for path in folder.iterdir():
        if path.is_file() and path.name not in keep and path.stat().st_mtime < before:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
