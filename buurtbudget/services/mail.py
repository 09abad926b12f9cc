"""E-mail: a queue in the database, emptied by the ``flask send-mail`` worker.

Requests and services only add messages to the queue (:func:`queue` inside a transaction,
:func:`send` as one call that also commits), so a slow or absent mail server never holds up a
page or undoes a change. The worker (:func:`send_due`) hands each due message to the backend
chosen by ``MAIL_BACKEND``:

* ``console`` (default): writes the message to the ``buurtbudget.mail`` logger, so a demo or a
  developer machine needs no mail server;
* ``smtp``: sends it with the standard library's smtplib to ``MAIL_SERVER``:``MAIL_PORT``
  (STARTTLS with ``MAIL_USE_TLS``, login with ``MAIL_USERNAME``/``MAIL_PASSWORD`` when set).

A message that fails is tried again after ``MAIL_RETRY_SECONDS``, doubling each time, and given
up (``failed_at``) after ``MAIL_MAX_ATTEMPTS`` tries. Several workers may run: each claims a
message with one conditional UPDATE before sending it, so no message goes out twice.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from flask import current_app
from sqlalchemy import select, update

from buurtbudget.extensions import db
from buurtbudget.models import OutgoingMail
from buurtbudget.models._base import utcnow

log = logging.getLogger("buurtbudget.mail")


def _build(config: Mapping[str, Any], to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = config["MAIL_DEFAULT_SENDER"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    return message


def console_backend(config: Mapping[str, Any], message: EmailMessage) -> None:
    log.info(
        "e-mail to %s: %s\n%s", message["To"], message["Subject"], message.get_content().strip()
    )


def smtp_backend(config: Mapping[str, Any], message: EmailMessage) -> None:
    with smtplib.SMTP(config["MAIL_SERVER"], int(config["MAIL_PORT"]), timeout=10) as smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.send_message(message)


BACKENDS: dict[str, Callable[[Mapping[str, Any], EmailMessage], None]] = {
    "console": console_backend,
    "smtp": smtp_backend,
}


def _backend() -> Callable[[Mapping[str, Any], EmailMessage], None]:
    config = current_app.config
    backend = BACKENDS.get(config["MAIL_BACKEND"])
    if backend is None:
        raise RuntimeError(
            f"MAIL_BACKEND {config['MAIL_BACKEND']!r} is unknown; choose one of {sorted(BACKENDS)}"
        )
    return backend


# Adding to the queue ----------------------------------------------------------------------


def queue(to: str, subject: str, body: str) -> OutgoingMail:
    """Add one message to the queue in the current transaction (not committed): it goes out
    only if the caller's change commits."""
    _backend()  # a misconfigured backend fails where it is noticed, not in the worker only
    message = OutgoingMail(to_address=to, subject=subject[:255], body=body)
    db.session.add(message)
    log.info("queued e-mail to %s: %s", to, subject)
    return message


def send(to: str, subject: str, body: str) -> bool:
    """Queue one message and commit: the one-call API for code that runs after its own
    commit. The worker sends it; returns True once it is queued."""
    queue(to, subject, body)
    db.session.commit()
    return True


# The worker -------------------------------------------------------------------------------


@dataclass
class SendReport:
    sent: int = 0
    retrying: int = 0
    given_up: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.retrying + self.given_up


# A claimed message is due again after this long if its worker died while sending it.
CLAIM_SECONDS = 300


def _next_due(now: datetime) -> tuple[int, int] | None:
    row = db.session.execute(
        select(OutgoingMail.id, OutgoingMail.attempts)
        .where(
            OutgoingMail.sent_at.is_(None),
            OutgoingMail.failed_at.is_(None),
            OutgoingMail.next_attempt_at <= now,
        )
        .order_by(OutgoingMail.next_attempt_at, OutgoingMail.id)
        .limit(1)
    ).first()
    return (row.id, row.attempts) if row is not None else None


def _claim(message_id: int, attempts: int, now: datetime) -> bool:
    """Take the message for this worker: one conditional UPDATE, so of several workers that
    saw it due, exactly one wins (on SQLite and PostgreSQL alike)."""
    claimed = db.session.execute(
        update(OutgoingMail)
        .where(
            OutgoingMail.id == message_id,
            OutgoingMail.attempts == attempts,
            OutgoingMail.sent_at.is_(None),
            OutgoingMail.failed_at.is_(None),
        )
        .values(attempts=attempts + 1, next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return claimed == 1


def send_due(
    limit: int | None = None,
    *,
    now: Callable[[], datetime] = utcnow,
    progress: Callable[[OutgoingMail, str], None] | None = None,
) -> SendReport:
    """Send every due message (at most ``limit``), one transaction per message."""
    config = current_app.config
    backend = _backend()
    report = SendReport()
    while limit is None or report.handled < limit:
        moment = now()
        due = _next_due(moment)
        if due is None:
            db.session.rollback()
            break
        if not _claim(*due, moment):
            continue  # another worker took it
        message = db.session.get(OutgoingMail, due[0], populate_existing=True)
        try:
            backend(config, _build(config, message.to_address, message.subject, message.body))
        except (OSError, smtplib.SMTPException) as error:
            log.warning("could not send e-mail to %s: %s", message.to_address, error)
            message.last_error = f"{type(error).__name__}: {error}"[:500]
            if message.attempts >= int(config["MAIL_MAX_ATTEMPTS"]):
                message.failed_at = moment
                report.given_up += 1
                outcome = "given up"
            else:
                delay = int(config["MAIL_RETRY_SECONDS"]) * 2 ** (message.attempts - 1)
                message.next_attempt_at = moment + timedelta(seconds=delay)
                report.retrying += 1
                outcome = "retry"
        else:
            message.sent_at = moment
            message.last_error = None
            report.sent += 1
            outcome = "sent"
        db.session.commit()
        if progress is not None:
            progress(message, outcome)
    return report
