"""Comments with moderation, attachments with type and size limits, and the mail backends."""

from __future__ import annotations

import io
import logging
import smtplib
from datetime import UTC, datetime, timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from buurtbudget.extensions import db
from buurtbudget.models import Attachment, Notification
from buurtbudget.services import attachments, comments, mail
from buurtbudget.services.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tests import mail_helpers
from tests.initiative_world import build_world
from tests.mail_helpers import queued

smtp_inbox = mail_helpers.smtp_inbox  # a fixture: a real SMTP server on 127.0.0.1


def _png() -> bytes:
    """A real PNG: uploads are decoded (and written anew without metadata)."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), "orange").save(out, "PNG")
    return out.getvalue()


PNG = _png()
PDF = b"%PDF-1.7\n" + b"x" * 100


@pytest.fixture
def world(make):
    return build_world(make)


@pytest.fixture
def uploads(app, tmp_path):
    app.config["UPLOAD_FOLDER"] = str(tmp_path)
    yield tmp_path
    app.config["UPLOAD_FOLDER"] = ""


# Comments ------------------------------------------------------------------------------------


def test_residents_of_the_municipality_comment_on_open_initiatives(world, make, caplog):
    caplog.set_level(logging.INFO, logger="buurtbudget.mail")
    initiative = make.initiative(world.area, world.initiator, status="open")
    comment = comments.add_comment(world.resident_other_area, initiative, "  Mooi plan!  ")
    assert comment.body == "Mooi plan!"
    note = db.session.scalar(select(Notification).where(Notification.user_id == world.initiator.id))
    assert note.params == {"title": initiative.title, "name": "Bram"}
    assert world.initiator.email in caplog.text
    comments.add_comment(world.coordinator, initiative, "Wij denken mee.")
    for role in ("admin_other_municipality", "coordinator_other_area"):
        with pytest.raises(PermissionDenied):
            comments.add_comment(world.people[role], initiative, "Hallo")
    with pytest.raises(ValidationFailed) as caught:
        comments.add_comment(world.resident, initiative, "x" * 2001)
    assert caught.value.field == "body"
    with pytest.raises(ValidationFailed):
        comments.add_comment(world.resident, initiative, "   ")


def test_no_comments_outside_the_open_period(world, make):
    for status in ("submitted", "in_review", "rejected", "completed", "cancelled"):
        initiative = make.initiative(world.area, world.initiator, status=status)
        with pytest.raises(PermissionDenied):
            comments.add_comment(world.resident, initiative, "Hallo")


def test_comments_on_drafts_are_not_found(world, make):
    initiative = make.initiative(world.area, world.initiator, status="draft")
    with pytest.raises(NotFound):
        comments.add_comment(world.resident, initiative, "Hallo")


def test_area_staff_hide_with_a_reason_which_closes_reports(world, make):
    initiative = make.initiative(world.area, world.initiator, status="open")
    comment = make.comment(initiative, world.resident, "Scheldwoorden")
    comments.report_comment(world.initiator, comment, "Beledigend")
    for role in ("coordinator_other_area", "admin_other_municipality", "council_member"):
        with pytest.raises(PermissionDenied):
            comments.hide_comment(world.people[role], comment, "Ongepast")
    with pytest.raises(ValidationFailed) as caught:
        comments.hide_comment(world.coordinator, comment, " ")
    assert caught.value.field == "reason"
    comments.hide_comment(world.coordinator, comment, "Beledigend taalgebruik")
    assert comment.is_hidden and comment.hidden_by == world.coordinator
    assert comment.hidden_reason == "Beledigend taalgebruik"
    assert comment.reports[0].resolved_by_id == world.coordinator.id
    with pytest.raises(Conflict):
        comments.hide_comment(world.admin, comment, "Nog eens")


def test_reports_once_per_user_and_listed_for_the_areas_staff(world, make):
    initiative = make.initiative(world.area, world.initiator, status="open")
    elsewhere = make.initiative(world.other_area, status="open")
    comment = make.comment(initiative, world.resident)
    other = make.comment(elsewhere, world.resident_other_area)
    comments.report_comment(world.initiator, comment, "Spam")
    comments.report_comment(world.resident_other_area, comment)
    comments.report_comment(world.initiator, other, "Spam")
    with pytest.raises(Conflict):
        comments.report_comment(world.initiator, comment, "Nog eens")
    with pytest.raises(ValidationFailed):
        comments.report_comment(world.council_member, comment, "x" * 501)

    def listed(user):
        return [
            (r.comment_id, r.reporter_id)
            for r in db.session.scalars(comments.open_reports_query(user))
        ]

    assert listed(world.coordinator) == [
        (comment.id, world.initiator.id),
        (comment.id, world.resident_other_area.id),
    ]
    assert listed(world.coordinator_other_area) == [(other.id, world.initiator.id)]
    assert len(listed(world.admin)) == 3
    assert listed(world.admin_other_municipality) == []
    with pytest.raises(PermissionDenied):
        comments.dismiss_reports(world.coordinator_other_area, comment)
    assert comments.dismiss_reports(world.coordinator, comment) == 2
    assert listed(world.coordinator) == []
    assert not comment.is_hidden


# Attachments ---------------------------------------------------------------------------------


def test_images_and_pdfs_are_stored_under_random_names(world, make, uploads):
    initiative = make.initiative(world.area, world.initiator, status="draft")
    image = attachments.add_attachment(
        world.initiator, initiative, io.BytesIO(PNG), "C:\\fotos\\../speeltuin.png"
    )
    document = attachments.add_attachment(
        world.coordinator, initiative, io.BytesIO(PDF), "begroting.PDF"
    )
    assert (image.content_type, image.original_name, image.size_bytes) == (
        "image/png",
        "speeltuin.png",
        len(PNG),
    )
    assert document.content_type == "application/pdf" and not document.is_image
    assert image.stored_name.endswith(".png") and "speeltuin" not in image.stored_name
    assert (uploads / image.stored_name).read_bytes() == PNG
    assert attachments.require_download(world.initiator, image) == uploads / image.stored_name
    with pytest.raises(NotFound):  # drafts' files are private
        attachments.require_download(world.resident, image)
    attachments.remove_attachment(world.initiator, image)
    assert not (uploads / image.stored_name).exists()
    assert [a.id for a in initiative.attachments] == [document.id]


REFUSED_UPLOADS = [
    (b"<svg onload=alert(1)>", "Only PNG, JPEG and WebP"),
    (b"GIF89a" + b"\x00" * 10, "Only PNG, JPEG and WebP"),
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "cannot be read"),
    (PNG + b"\x00" * 1024, "larger than 1 kB"),
]


def test_uploads_are_judged_by_content_and_size(app, world, make, uploads):
    initiative = make.initiative(world.area, world.initiator, status="draft")
    app.config["ATTACHMENT_MAX_BYTES"] = 1024
    wrong = []
    try:
        for content, message in REFUSED_UPLOADS:
            with pytest.raises(ValidationFailed) as caught:
                attachments.add_attachment(
                    world.initiator, initiative, io.BytesIO(content), "a.png"
                )
            with force_locale("en"):
                text = str(caught.value.message)
            if caught.value.field != "file" or message not in text:
                wrong.append((content[:10], caught.value.field, text))
    finally:
        app.config["ATTACHMENT_MAX_BYTES"] = 5 * 1024 * 1024
    assert wrong == []
    assert list(uploads.iterdir()) == []
    assert db.session.scalar(select(Attachment.id)) is None


def test_attachment_count_and_rights(app, world, make, uploads):
    app.config["ATTACHMENTS_PER_INITIATIVE"] = 2
    try:
        initiative = make.initiative(world.area, world.initiator, status="open")
        for _ in range(2):
            attachments.add_attachment(world.initiator, initiative, io.BytesIO(PNG), "x.png")
        with pytest.raises(Conflict):
            attachments.add_attachment(world.initiator, initiative, io.BytesIO(PNG), "x.png")
    finally:
        app.config["ATTACHMENTS_PER_INITIATIVE"] = 8
    for role in ("resident", "council_member", "coordinator_other_area"):
        with pytest.raises(PermissionDenied):
            attachments.add_attachment(world.people[role], initiative, io.BytesIO(PNG), "x.png")
    closed = make.initiative(world.area, world.initiator, status="completed")
    with pytest.raises(PermissionDenied):
        attachments.add_attachment(world.initiator, closed, io.BytesIO(PNG), "x.png")


# Mail ----------------------------------------------------------------------------------------


def test_send_only_queues_and_the_console_worker_logs_the_message(app, caplog):
    caplog.set_level(logging.INFO, logger="buurtbudget.mail")
    assert app.config["MAIL_BACKEND"] == "console"
    assert mail.send("iris@example.org", "Onderwerp", "De tekst.\n")
    [message] = queued()
    assert (message.to_address, message.sent_at) == ("iris@example.org", None)
    assert "e-mail to iris@example.org: Onderwerp\nDe tekst." not in caplog.text
    report = mail.send_due()
    assert (report.sent, report.retrying, report.given_up) == (1, 0, 0)
    assert "e-mail to iris@example.org: Onderwerp\nDe tekst." in caplog.text
    assert queued()[0].sent_at is not None
    assert mail.send_due().handled == 0  # sent once, not again


class FakeSMTP:
    sent: list = []

    def __init__(self, host, port, timeout):
        self.calls = [("connect", host, port)]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def starttls(self):
        self.calls.append(("starttls",))

    def login(self, user, password):
        self.calls.append(("login", user, password))

    def send_message(self, message):
        FakeSMTP.sent.append((self.calls, message))


def test_smtp_backend_uses_the_configured_server(app, monkeypatch):
    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    FakeSMTP.sent = []
    settings = {
        "MAIL_BACKEND": "smtp",
        "MAIL_SERVER": "smtp.example.org",
        "MAIL_PORT": 587,
        "MAIL_USE_TLS": True,
        "MAIL_USERNAME": "bb",
        "MAIL_PASSWORD": "geheim",
    }
    saved = {key: app.config[key] for key in settings}
    app.config.update(settings)
    try:
        assert mail.send("iris@example.org", "Onderwerp", "Tekst")
        assert mail.send_due().sent == 1
    finally:
        app.config.update(saved)
    [(calls, message)] = FakeSMTP.sent
    assert calls == [("connect", "smtp.example.org", 587), ("starttls",), ("login", "bb", "geheim")]
    assert (message["To"], message["Subject"]) == ("iris@example.org", "Onderwerp")
    assert message["From"] == app.config["MAIL_DEFAULT_SENDER"]


def test_a_failing_mail_server_is_retried_later_then_given_up(app, monkeypatch, caplog):
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("no server")

    monkeypatch.setattr(smtplib, "SMTP", refuse)
    app.config.update(MAIL_BACKEND="smtp", MAIL_MAX_ATTEMPTS=3, MAIL_RETRY_SECONDS=60)
    clock = [datetime.now(UTC) + timedelta(seconds=1)]
    try:
        assert mail.send("iris@example.org", "Onderwerp", "Tekst") is True
        assert mail.send_due(now=lambda: clock[0]).retrying == 1
        [message] = queued()
        assert message.attempts == 1 and "no server" in message.last_error
        assert message.next_attempt_at == clock[0] + timedelta(seconds=60)
        assert mail.send_due(now=lambda: clock[0]).handled == 0  # not due yet
        clock[0] += timedelta(seconds=60)
        assert mail.send_due(now=lambda: clock[0]).retrying == 1
        assert queued()[0].next_attempt_at == clock[0] + timedelta(seconds=120)  # doubled
        clock[0] += timedelta(seconds=120)
        assert mail.send_due(now=lambda: clock[0]).given_up == 1
        assert queued()[0].failed_at is not None
        clock[0] += timedelta(days=1)
        assert mail.send_due(now=lambda: clock[0]).handled == 0
    finally:
        app.config.update(MAIL_BACKEND="console", MAIL_MAX_ATTEMPTS=5, MAIL_RETRY_SECONDS=60)
    assert "could not send e-mail to iris@example.org" in caplog.text


def test_an_unknown_backend_is_a_configuration_error(app):
    app.config["MAIL_BACKEND"] = "pigeon"
    try:
        with pytest.raises(RuntimeError, match="pigeon"):
            mail.send("iris@example.org", "Onderwerp", "Tekst")
    finally:
        app.config["MAIL_BACKEND"] = "console"


def test_the_worker_sends_through_a_real_smtp_server_and_retries_when_it_is_down(
    app, smtp_inbox, runner_app
):
    mail.send("iris@example.org", "Onderwerp", "De tekst met een ë.")
    port = app.config["MAIL_PORT"]
    app.config["MAIL_PORT"] = _closed_port()
    try:
        assert mail.send_due().retrying == 1  # nothing listens there: queued for later
    finally:
        app.config["MAIL_PORT"] = port
    assert smtp_inbox.messages == []
    message = queued()[0]
    message.next_attempt_at = message.created_at  # due again now
    db.session.commit()
    result = runner_app.invoke(args=["send-mail", "--once"])
    assert result.exit_code == 0, result.output
    assert "sent 1, will retry 0, gave up 0" in result.output
    [received] = smtp_inbox.to("iris@example.org")
    assert received["Subject"] == "Onderwerp"
    assert received.get_content().strip() == "De tekst met een ë."
    assert queued()[0].attempts == 2


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def runner_app(app):
    return app.test_cli_runner()


def test_parallel_workers_send_every_message_exactly_once(app):
    """Several `flask send-mail` workers on one queue: each message is claimed by one."""
    import threading
    import time
    from collections import Counter

    delivered: Counter = Counter()
    lock = threading.Lock()

    def record(config, message):
        time.sleep(0.002)  # as a mail server takes its time, so the workers overlap
        with lock:
            delivered[message["Subject"]] += 1

    for n in range(40):
        mail.queue("iris@example.org", f"Bericht {n}", "Tekst")
    db.session.commit()
    mail.BACKENDS["record"] = record
    app.config["MAIL_BACKEND"] = "record"
    reports, errors = [], []
    barrier = threading.Barrier(4)

    def worker() -> None:
        with app.app_context():
            try:
                barrier.wait()
                reports.append(mail.send_due())
            except Exception as error:  # noqa: BLE001 - reported to the test
                errors.append(repr(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        app.config["MAIL_BACKEND"] = "console"
        del mail.BACKENDS["record"]
    assert errors == []
    assert sum(report.sent for report in reports) == 40
    assert delivered == Counter({f"Bericht {n}": 1 for n in range(40)})
    assert all(m.sent_at is not None and m.attempts == 1 for m in queued())
