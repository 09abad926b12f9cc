"""Reading the mail queue and a real local SMTP server (aiosmtpd) for the tests."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from buurtbudget.extensions import db
from buurtbudget.models import OutgoingMail

LINK = re.compile(r"https?://\S+")


def queued(to: str | None = None) -> list[OutgoingMail]:
    """The messages in the queue (to ``to``), oldest first."""
    query = select(OutgoingMail).order_by(OutgoingMail.id)
    if to is not None:
        query = query.where(OutgoingMail.to_address == to)
    db.session.expire_all()
    return list(db.session.scalars(query))


def link_in(body: str, path_part: str) -> str:
    """The path (with query) of the first link in ``body`` containing ``path_part``."""
    for url in LINK.findall(body):
        if path_part in url:
            return "/" + url.split("/", 3)[3]
    raise AssertionError(f"no link with {path_part!r} in:\n{body}")


@dataclass
class Inbox:
    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in m["To"]]


class _Collect:
    def __init__(self, inbox: Inbox):
        self.inbox = inbox

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        self.inbox.messages.append(message)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_inbox(app) -> Iterator[Inbox]:
    """A real SMTP server on 127.0.0.1, with the app's smtp backend pointed at it."""
    from aiosmtpd.controller import Controller

    inbox = Inbox("127.0.0.1", _free_port())
    controller = Controller(_Collect(inbox), hostname=inbox.host, port=inbox.port)
    controller.start()
    saved = {k: app.config[k] for k in ("MAIL_BACKEND", "MAIL_SERVER", "MAIL_PORT")}
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER=inbox.host, MAIL_PORT=inbox.port)
    try:
        yield inbox
    finally:
        app.config.update(saved)
        controller.stop()
