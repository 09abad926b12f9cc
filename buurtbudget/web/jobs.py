"""A background job's page (services/jobs.py): its progress, read from its record, followed by
static/js/jobs.js through the JSON view, then its result. Only for who may do its step on the
round: anyone else gets a 404, as for a job that does not exist."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from buurtbudget.extensions import db
from buurtbudget.models import BackgroundJob, JobStatus
from buurtbudget.services import audit, file_messages, jobs
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


def _status(job: BackgroundJob) -> dict:
    """What the page shows, for the template and the JSON view alike."""
    result_url, expired = None, jobs.expired(job)
    if job.status is JobStatus.DONE:
        if jobs.result_path(job) is not None:
            result_url = url_for("jobs.result", job_id=job.id)
        elif expired:  # its file was cleaned away: the page offers to write it again
            result_url = url_for("voting.export", round_id=job.round_id)
        else:
            result_url = url_for("voting.results", round_id=job.round_id)
    return {
        "status": job.status.value,
        "step": job.step,
        "done": job.done,
        "total": job.total,
        "finished": job.finished,
        "failure": _failure(job) if job.status is JobStatus.FAILED else None,
        "result_url": result_url,
        "expired": expired,
        "warnings": _warnings(job),
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
    if path is None:
        abort(404)
    response = send_file(
        path,
        mimetype="text/plain",
        as_attachment=True,
        download_name=f"round-{job.round_id}.pb",
    )
    response.headers["Cache-Control"] = "no-store"
    return response
