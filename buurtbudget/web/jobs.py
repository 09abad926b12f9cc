"""A background job's page (services/jobs.py): its progress, read from its record, followed by
static/js/jobs.js through the JSON view, then its result. Only for who may do its step on the
round: anyone else gets a 404, as for a job that does not exist."""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, render_template, send_file, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from buurtbudget.extensions import db
from buurtbudget.models import BackgroundJob, BudgetPeriod, JobStatus
from buurtbudget.services import audit, cheque_letters, file_messages, jobs, sealed_files
from buurtbudget.services.errors import NotFound, PermissionDenied
from buurtbudget.web.sealed import seal, unseal
from buurtbudget.web.security import staff_required
from buurtbudget.web.voting_staff import not_funded_warnings

bp = Blueprint("jobs", __name__, url_prefix="/staff/jobs")


def _job(job_id: int) -> BackgroundJob:
    job = db.session.get(BackgroundJob, job_id)
    if job is None or not jobs.can_see(current_user, job):
        abort(404)
    return job


def _failure(job: BackgroundJob) -> str:
    if job.message == jobs.INTERRUPTED:
        return _("The step was interrupted too often and has stopped. Start it again.")
    failure = (job.params or {}).get("failure")
    if failure:  # a refused file: its problem in the reader's language
        return file_messages.not_a_pabulib_file(failure)
    if job.message:
        return _(job.message)  # stored as the message id (services.jobs.run)
    return _("It failed because of an error on our side, which has been logged. Try again later.")


def _warnings(job: BackgroundJob) -> list[str]:
    """A publish job's winners that were not funded, as its audit entry names them."""
    if job.kind != "round.publish" or job.status is not JobStatus.DONE:
        return []
    entry = audit.latest("round.results_published", "VotingRound", job.round_id)
    named = set(entry.details.get("not_funded", ())) if entry is not None else set()
    return not_funded_warnings(
        [p for p in job.voting_round.projects if p.external_id in named and p.initiative]
    )


# Cheque letters sealed by a job: the private keys, each sealed (web/sealed.py) in the session
# of the staff member who confirmed issuing, by job id. Nobody else, and no other session of
# theirs, has them.
LETTER_KEYS = "letter_keys"
KEEP_LETTER_KEYS = 5


def keep_letters_key(job: BackgroundJob, private_key: bytes) -> None:
    keys = dict(session.get(LETTER_KEYS) or {})
    keys[str(job.id)] = seal(f"{job.requested_by_id}:{job.id}:{private_key.hex()}")
    session[LETTER_KEYS] = dict(list(keys.items())[-KEEP_LETTER_KEYS:])


def _letters_key(job: BackgroundJob) -> bytes | None:
    """The job's private key, for the staff member who asked for it, in that session."""
    if current_user.id != job.requested_by_id:
        return None
    opened = unseal((session.get(LETTER_KEYS) or {}).get(str(job.id)))
    if opened is None:
        return None
    user_id, job_id, key = opened.split(":")
    if (int(user_id), int(job_id)) != (current_user.id, job.id):
        return None
    return bytes.fromhex(key)


def _forget_letters_key(job: BackgroundJob) -> None:
    keys = session.get(LETTER_KEYS) or {}
    if str(job.id) in keys:
        session[LETTER_KEYS] = {k: v for k, v in keys.items() if k != str(job.id)}


def _letters_status(job: BackgroundJob) -> dict:
    """A cheque job's letters: downloadable here, only by its requester elsewhere, or gone."""
    letters, url = None, None
    if job.status is JobStatus.DONE:
        if not job.result_file:
            letters = "none"  # every household in the list had a cheque already
        elif jobs.letters_path(job) is None:
            letters = "gone"
            _forget_letters_key(job)
        elif _letters_key(job) is not None:
            letters, url = "ready", url_for("jobs.letters", job_id=job.id)
        else:
            letters = "not_here"
    return {"letters": letters, "result_url": url, "expired": False}


def _status(job: BackgroundJob) -> dict:
    """What the page shows, for the template and the JSON view alike."""
    result_url, expired = None, jobs.expired(job)
    if job.kind == jobs.CHEQUES:
        return {**_base_status(job), **_letters_status(job)}
    if job.status is JobStatus.DONE:
        if jobs.result_path(job) is not None:
            result_url = url_for("jobs.result", job_id=job.id)
        elif expired:  # its file was cleaned away: the page offers to write it again
            result_url = url_for("voting.export", round_id=job.round_id)
        else:
            result_url = url_for("voting.results", round_id=job.round_id)
    return {
        **_base_status(job),
        "result_url": result_url,
        "expired": expired,
        "warnings": _warnings(job),
    }


def _base_status(job: BackgroundJob) -> dict:
    return {
        "status": job.status.value,
        "step": job.step,
        "done": job.done,
        "total": job.total,
        "finished": job.finished,
        "failure": _failure(job) if job.status is JobStatus.FAILED else None,
        "warnings": [],
    }


@bp.app_template_global()
def jobs_in_progress(voting_round) -> list[tuple[BackgroundJob, object]]:
    """The round's queued and running jobs this user may follow, with their titles (the
    round's page links to them, so a staff member who left a job's page finds it again)."""
    return [
        (job, jobs.STEPS[job.kind].title)
        for job in jobs.in_progress(voting_round)
        if jobs.can_see(current_user, job)
    ]


@bp.route("/<int:job_id>")
@staff_required
def show(job_id: int):
    job = _job(job_id)
    jobs.kick(job)  # without a worker: take up a job whose thread died
    return render_template(
        "jobs/show.html",
        job=job,
        title=jobs.STEPS[job.kind].title,
        state=_status(job),
        fragment=render_template("jobs/_status.html", job=job, state=_status(job)),
    )


@bp.route("/<int:job_id>/status")
@staff_required
def status(job_id: int):
    job = _job(job_id)
    state = _status(job)
    response = jsonify(
        {**state, "html": render_template("jobs/_status.html", job=job, state=state)}
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/<int:job_id>/result")
@staff_required
def result(job_id: int):
    job = _job(job_id)
    path = jobs.result_path(job)
    if path is None or job.kind == jobs.CHEQUES:  # sealed letters: only through ``letters``
        abort(404)
    response = send_file(
        path,
        mimetype="text/plain",
        as_attachment=True,
        download_name=f"round-{job.round_id}.pb",
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/<int:job_id>/letters")
@staff_required
def letters(job_id: int):
    """The letters of a cheque job, decrypted with the private key from the session of the
    staff member who confirmed issuing, streamed, then deleted: a colleague, or the same
    person in another session, gets a page saying so, never the file."""
    job = _job(job_id)
    if job.kind != jobs.CHEQUES:
        abort(404)
    path = jobs.letters_path(job)
    if path is None:
        _forget_letters_key(job)
        raise NotFound(
            _("The letters are no longer here: they have been downloaded, or they have expired.")
        )
    key = _letters_key(job)
    if key is None:
        raise PermissionDenied(
            _(
                "Only %(name)s can download these letters, in the session in which they"
                " confirmed issuing the cheques.",
                name=job.requested_by.display_name,
            )
        )
    chunks = sealed_files.read_sealed(path, key)
    try:
        first = next(chunks, b"")
    except sealed_files.SealedFileError:
        raise PermissionDenied(
            _("These letters cannot be opened with the key of this session.")
        ) from None
    period = db.session.get(BudgetPeriod, (job.params or {}).get("period_id") or 0)
    kind = (job.params or {}).get("letters", "pdf")
    name = cheque_letters.file_name(period, kind) if period else f"cheques-{job.id}.{kind}"
    audit.record(
        current_user,
        "cheque.letters_downloaded",
        job,
        municipality_id=job.municipality_id,
        period_id=period.id if period else None,
    )
    db.session.commit()

    def stream():
        yield first
        yield from chunks
        # Handed over whole: the only copy of the codes is now the staff member's.
        path.unlink(missing_ok=True)

    return Response(
        stream(),
        mimetype=cheque_letters.MIMETYPES[kind],
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )
