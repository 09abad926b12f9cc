"""Telling the residents of an area what is happening: a round opened, closes in two days, or
has results; and the newsletter staff write for an area.

Each resident is told according to their own preferences: in the app (a notification) when
``news_in_app``, by e-mail when ``news_by_email`` and their address is confirmed. The
``flask send-mail`` worker calls :func:`announce_due` before sending the queue, so the round
announcements need no request; a unique row per round and moment (RoundAnnouncement) makes
each go out once, also with several workers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from buurtbudget.extensions import db
from buurtbudget.models import Area, Notification, RoundAnnouncement, User, VotingRound
from buurtbudget.models._base import utcnow
from buurtbudget.services import audit, mail, notifications
from buurtbudget.services.permissions import can_manage_area, require
from buurtbudget.services.validation import clean_text

CLOSING_NOTICE = timedelta(days=2)
# Moments further back than this are not announced any more (e.g. when the worker first runs
# on a database with old rounds).
STALE_AFTER = timedelta(days=7)
OPENED, CLOSING, RESULTS = "opened", "closing", "results"
KINDS = {
    OPENED: notifications.ROUND_OPENED,
    CLOSING: notifications.ROUND_CLOSING,
    RESULTS: notifications.ROUND_RESULTS,
}
SUBJECT_MAX = 120
BODY_MAX = 5000


def set_preferences(user: User, *, in_app: bool, by_email: bool) -> None:
    user.news_in_app = bool(in_app)
    user.news_by_email = bool(by_email)
    db.session.commit()


def residents_of(area_ids: list[int]):
    """Active accounts living in one of ``area_ids``."""
    return db.session.scalars(
        select(User)
        .where(
            User.home_area_id.in_(area_ids),
            User.is_active_account.is_(True),
            User.deleted_at.is_(None),
        )
        .order_by(User.id)
    )


def _tell(residents, kind: str, **params) -> int:
    """Add a notification per resident who wants one, and queue the e-mails (not committed)."""
    told = 0
    default_locale = current_app.config["BABEL_DEFAULT_LOCALE"]
    for user in residents:
        if not (user.news_in_app or (user.news_by_email and user.email_confirmed)):
            continue
        notification = Notification(user=user, kind=kind, params=params)
        if user.news_by_email and user.email_confirmed:
            with force_locale(user.locale or default_locale):
                subject, body = notifications.email_text(notification)
            mail.queue(user.email, subject, body)
        if user.news_in_app:
            db.session.add(notification)
        told += 1
    return told


def _due(now: datetime) -> list[tuple[VotingRound, str]]:
    announced = {
        (round_id, kind)
        for round_id, kind in db.session.execute(
            select(RoundAnnouncement.round_id, RoundAnnouncement.kind)
        )
    }
    due = []
    recent = now - STALE_AFTER
    for voting_round in db.session.scalars(select(VotingRound).order_by(VotingRound.id)):
        opens, closes = voting_round.voting_opens_at, voting_round.voting_closes_at
        running = (
            voting_round.closed_at is None
            and opens is not None
            and closes is not None
            and opens <= now < closes
        )
        if running and opens >= recent:
            due.append((voting_round, OPENED))
        if running and closes - CLOSING_NOTICE <= now:
            due.append((voting_round, CLOSING))
        published = voting_round.results_published_at
        if published is not None and recent <= published <= now:
            due.append((voting_round, RESULTS))
    return [(r, kind) for r, kind in due if (r.id, kind) not in announced]


def _local_date(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return moment.astimezone(zone).date().isoformat()


def announce_due(now: datetime | None = None, progress: Callable[[str], None] | None = None) -> int:
    """Tell residents about every round moment not announced yet; the number of rounds told."""
    now = now or utcnow()
    count = 0
    for voting_round, moment in _due(now):
        db.session.add(RoundAnnouncement(round_id=voting_round.id, kind=moment))
        try:
            db.session.flush()
        except IntegrityError:  # another worker announced it just now
            db.session.rollback()
            continue
        announcement = db.session.scalar(
            select(RoundAnnouncement).where(
                RoundAnnouncement.round_id == voting_round.id, RoundAnnouncement.kind == moment
            )
        )
        closes = voting_round.voting_closes_at
        announcement.recipients = _tell(
            residents_of(sorted(voting_round.area_ids)),
            KINDS[moment],
            round_id=voting_round.id,
            title=voting_round.title,
            areas=", ".join(a.name for a in voting_round.areas),
            closes_on=_local_date(closes),
        )
        db.session.commit()
        count += 1
        if progress is not None:
            progress(f"round {voting_round.id} {moment}: {announcement.recipients} residents told")
    return count


def send_newsletter(actor: User, area: Area, subject: str, body: str) -> int:
    """Staff of the area send a newsletter to its residents; the number of residents told."""
    require(
        can_manage_area(actor, area),
        _l("Only the area's coordinators and the municipality's administrators can do this."),
    )
    subject = clean_text(subject, SUBJECT_MAX, "subject", required=True)
    body = clean_text(body, BODY_MAX, "body", required=True)
    told = _tell(
        residents_of([area.id]),
        notifications.NEWSLETTER,
        area=area.name,
        area_id=area.id,
        subject=subject,
        body=body,
    )
    audit.record(
        actor,
        "area.newsletter_sent",
        area,
        municipality_id=area.municipality_id,
        area_id=area.id,
        subject=subject,
        recipients=told,
    )
    db.session.commit()
    return told
