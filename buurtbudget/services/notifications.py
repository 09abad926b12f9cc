"""In-app notifications, also sent by e-mail (services.mail) in the reader's language.

Services add notifications with :func:`notify` inside their transaction and, after their
commit, hand them to :func:`deliver`, so no e-mail goes out for a change that was rolled back.
Texts are stored as a ``kind`` plus parameters and rendered when shown or sent, so each
reader sees them in their own language.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from flask import current_app
from flask_babel import force_locale, format_currency, format_date
from flask_babel import gettext as _
from sqlalchemy import func, select, update

from buurtbudget.extensions import db
from buurtbudget.models import Initiative, Notification, User
from buurtbudget.models._base import utcnow
from buurtbudget.services import mail
from buurtbudget.services.status_labels import status_label

STATUS_CHANGED = "initiative.status_changed"
SUBMITTED_FOR_REVIEW = "initiative.submitted"
NEW_COMMENT = "initiative.commented"
# Outreach to the residents of an area (services/outreach.py).
ROUND_OPENED = "round.opened"
ROUND_CLOSING = "round.closing"
ROUND_RESULTS = "round.results"
NEWSLETTER = "area.newsletter"
# Along the money path (services.payouts): to the coordinators who may approve, to the second
# approver, and to the initiator when the request is paid or refused.
PAYOUT_REQUESTED = "payout.requested"
PAYOUT_SECOND_NEEDED = "payout.second_needed"
PAYOUT_APPROVED = "payout.approved"
PAYOUT_REJECTED = "payout.rejected"


def notify(user: User, kind: str, initiative: Initiative | None = None, **params) -> Notification:
    """Add a notification for ``user`` to the session (not committed)."""
    notification = Notification(user=user, kind=kind, initiative=initiative, params=params)
    db.session.add(notification)
    return notification


def render(notification: Notification) -> str:
    """The notification's text in the current language."""
    params = notification.params
    if notification.kind == STATUS_CHANGED:
        text = _(
            "Your initiative “%(title)s” now has the status: %(status)s.",
            title=params.get("title", ""),
            status=status_label(params.get("status", "")),
        )
        if params.get("reason"):
            text += " " + _("Reason: %(reason)s", reason=params["reason"])
        return text
    if notification.kind == SUBMITTED_FOR_REVIEW:
        return _(
            "The initiative “%(title)s” in %(area)s awaits your review.",
            title=params.get("title", ""),
            area=params.get("area", ""),
        )
    if notification.kind == NEW_COMMENT:
        return _(
            "%(name)s commented on your initiative “%(title)s”.",
            name=params.get("name", ""),
            title=params.get("title", ""),
        )
    if notification.kind in PAYOUT_TEXTS:
        return _payout_text(notification.kind, params)
    if notification.kind == ROUND_OPENED:
        return _(
            "Voting has opened in “%(title)s” for %(areas)s: you can vote until %(closes)s.",
            title=params.get("title", ""),
            areas=params.get("areas", ""),
            closes=_date(params.get("closes_on")),
        )
    if notification.kind == ROUND_CLOSING:
        return _(
            "Two days left: voting in “%(title)s” closes on %(closes)s. Have you voted?",
            title=params.get("title", ""),
            closes=_date(params.get("closes_on")),
        )
    if notification.kind == ROUND_RESULTS:
        return _("The results of “%(title)s” have been published.", title=params.get("title", ""))
    if notification.kind == NEWSLETTER:
        return _(
            "Newsletter for %(area)s: %(subject)s",
            area=params.get("area", ""),
            subject=params.get("subject", ""),
        )

    return notification.kind


def _payout_text(kind: str, params: dict) -> str:
    amount = format_currency(Decimal(int(params.get("amount_cents", 0))) / 100, "EUR")
    title = params.get("title", "")
    if kind == PAYOUT_REQUESTED:
        return _(
            "A payout of %(amount)s for “%(title)s” awaits your approval.",
            amount=amount,
            title=title,
        )
    if kind == PAYOUT_SECOND_NEEDED:
        return _(
            "A payout of %(amount)s for “%(title)s” was approved once and awaits a second"
            " approver.",
            amount=amount,
            title=title,
        )
    if kind == PAYOUT_APPROVED:
        return _(
            "Your payout request of %(amount)s for “%(title)s” was approved and paid.",
            amount=amount,
            title=title,
        )
    return _(
        "Your payout request of %(amount)s for “%(title)s” was refused. Reason: %(reason)s",
        amount=amount,
        title=title,
        reason=params.get("reason", ""),
    )


PAYOUT_TEXTS = (PAYOUT_REQUESTED, PAYOUT_SECOND_NEEDED, PAYOUT_APPROVED, PAYOUT_REJECTED)


def _date(iso: str | None) -> str:
    if not iso:
        return ""
    from datetime import date

    return format_date(date.fromisoformat(iso), format="long")


def link_target(notification: Notification) -> tuple[str, dict] | None:
    """The endpoint and values a notification links to, if any."""
    if notification.initiative_id is not None:
        return "initiatives.detail", {"initiative_id": notification.initiative_id}
    round_id = notification.params.get("round_id")
    if round_id is not None:
        if notification.kind == ROUND_RESULTS:
            return "voting.results", {"round_id": round_id}
        return "voting.detail", {"round_id": round_id}
    return None


def _link(notification: Notification) -> str | None:
    from buurtbudget.services.account_email import external_url

    target = link_target(notification)
    if target is None:
        return None
    endpoint, values = target
    return external_url(endpoint, **values)


def email_text(notification: Notification) -> tuple[str, str]:
    """Subject and body of a notification's e-mail, in the current language."""
    text = render(notification)
    subject = _("Buurtbudget: %(text)s", text=_shorten(text))
    body = text
    if notification.kind == NEWSLETTER:
        subject = _("Buurtbudget: %(text)s", text=_shorten(notification.params.get("subject", "")))
        body += "\n\n" + notification.params.get("body", "")
    link = _link(notification)
    if link:
        body += "\n\n" + link
    return subject, body


def deliver(notifications: Iterable[Notification]) -> None:
    """Queue e-mails of committed notifications, each in its reader's language, to confirmed
    addresses (services/mail.py sends them)."""
    queued = False
    for notification in notifications:
        user = notification.user
        if not user.is_active or not user.email_confirmed:
            continue
        with force_locale(user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
            subject, body = email_text(notification)
        mail.queue(user.email, subject, body)
        queued = True
    if queued:
        db.session.commit()


def _shorten(text: str, length: int = 80) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def unread_count(user: User) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
    )


def for_user(user: User):
    """The query of a user's notifications, newest first (for db.paginate)."""
    return (
        select(Notification)
        .where(Notification.user_id == user.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
    )


def mark_all_read(user: User) -> int:
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    db.session.commit()
    return result.rowcount
