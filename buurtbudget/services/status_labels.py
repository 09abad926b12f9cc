"""The labels of an initiative's statuses, for services that show them (initiatives,
notifications) without importing each other."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from buurtbudget.domain.initiative_lifecycle import Status

STATUS_LABELS = {
    Status.DRAFT: _l("Draft"),
    Status.SUBMITTED: _l("Submitted"),
    Status.IN_REVIEW: _l("In review"),
    Status.REJECTED: _l("Rejected"),
    Status.OPEN: _l("Open for support"),
    Status.SELECTED: _l("Selected"),
    Status.IN_EXECUTION: _l("In execution"),
    Status.COMPLETED: _l("Completed"),
    Status.CANCELLED: _l("Cancelled"),
}


def status_label(status: Status | str) -> str:
    try:
        return str(STATUS_LABELS[Status(status)])
    except ValueError:
        return str(status)
