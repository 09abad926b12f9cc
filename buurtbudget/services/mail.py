"""Sending e-mail through a backend chosen by the ``MAIL_BACKEND`` setting.

* ``console`` (default): writes the message to the ``buurtbudget.mail`` logger, so a demo or a
  developer machine needs no mail server;
* ``smtp``: sends it with the standard library's smtplib to ``MAIL_SERVER``:``MAIL_PORT``
  (STARTTLS with ``MAIL_USE_TLS``, login with ``MAIL_USERNAME``/``MAIL_PASSWORD`` when set).

Callers send after their database commit: a mail server that is down must not undo a change,
so :func:`send` logs a failure instead of raising it.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from typing import Any

from flask import current_app

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


def send(to: str, subject: str, body: str) -> bool:
    """Send one message; returns whether the backend accepted it."""
    config = current_app.config
    backend = BACKENDS.get(config["MAIL_BACKEND"])
    if backend is None:
        raise RuntimeError(
            f"MAIL_BACKEND {config['MAIL_BACKEND']!r} is unknown; choose one of {sorted(BACKENDS)}"
        )
    try:
        backend(config, _build(config, to, subject, body))
    except (OSError, smtplib.SMTPException):
        log.exception("could not send e-mail to %s", to)
        return False
    return True
