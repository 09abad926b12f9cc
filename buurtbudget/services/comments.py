"""Comments on initiatives, with moderation: hiding with a reason and abuse reports."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from buurtbudget.domain import initiative_lifecycle as lifecycle
from buurtbudget.extensions import db
from buurtbudget.models import Comment, CommentReport, Initiative, Role, User
from buurtbudget.models._base import utcnow
from buurtbudget.services import account_email, audit, notifications
from buurtbudget.services.errors import Conflict
from buurtbudget.services.initiatives import managed_area_ids, require_view
from buurtbudget.services.permissions import can_manage_area, require
from buurtbudget.services.validation import clean_text

BODY_MAX = 2000
REASON_MAX = 500


def can_comment(user: User | None, initiative: Initiative) -> bool:
    """Residents of the municipality and the area's staff, while the initiative is open or
    being carried out."""
    if user is None or not user.is_authenticated:
        return False
    if initiative.status not in lifecycle.COMMENTABLE_STATUSES:
        return False
    is_resident = (
        user.home_area_id is not None and user.municipality_id == initiative.municipality_id
    )
    return is_resident or can_manage_area(user, initiative.area)


def add_comment(actor: User, initiative: Initiative, body: str) -> Comment:
    require_view(actor, initiative)
    account_email.require_confirmed_email(actor)
    require(
        can_comment(actor, initiative),
        _l("Residents of the municipality can comment while an initiative is open."),
    )
    comment = Comment(
        initiative=initiative, author=actor, body=clean_text(body, BODY_MAX, "body", required=True)
    )
    db.session.add(comment)
    sent = []
    if initiative.initiator_user_id != actor.id:
        sent.append(
            notifications.notify(
                initiative.initiator,
                notifications.NEW_COMMENT,
                initiative,
                title=initiative.title,
                name=actor.display_name,
            )
        )
    db.session.commit()
    notifications.deliver(sent)
    return comment


ROLE_BADGES = {
    Role.ADMINISTRATOR: _l("Municipality"),
    Role.COORDINATOR: _l("Area coordinator"),
    Role.COUNCIL_MEMBER: _l("Area council"),
}


def author_role(comment: Comment):
    """The role the author holds for the initiative's area (or municipality), shown beside
    their name, so a resident cannot pass for staff by the name alone; None for residents."""
    area = comment.initiative.area
    for role in (Role.ADMINISTRATOR, Role.COORDINATOR, Role.COUNCIL_MEMBER):
        for held in comment.author.roles:
            if held.role is not role:
                continue
            if role is Role.ADMINISTRATOR and held.municipality_id == area.municipality_id:
                return ROLE_BADGES[role]
            if role is not Role.ADMINISTRATOR and held.area_id == area.id:
                return ROLE_BADGES[role]
    return None


def can_moderate(user: User | None, comment: Comment) -> bool:
    return can_manage_area(user, comment.initiative.area)


def hide_comment(actor: User, comment: Comment, reason: str) -> None:
    """A coordinator of the area hides a comment; readers see the reason instead."""
    require(can_moderate(actor, comment))
    if comment.is_hidden:
        raise Conflict(_l("This comment is already hidden."))
    now = utcnow()
    comment.hidden_reason = clean_text(reason, REASON_MAX, "reason", required=True)
    comment.hidden_at = now
    comment.hidden_by = actor
    for report in comment.reports:
        if report.resolved_at is None:
            report.resolved_at, report.resolved_by_id = now, actor.id
    audit.record(
        actor,
        "comment.hidden",
        comment,
        municipality_id=comment.initiative.municipality_id,
        initiative_id=comment.initiative_id,
        reason=comment.hidden_reason,
    )
    db.session.commit()


def report_comment(actor: User, comment: Comment, reason: str = "") -> CommentReport:
    """Any logged-in user who can see the comment reports it, once."""
    require(actor is not None and actor.is_authenticated)
    require_view(actor, comment.initiative)
    reason = clean_text(reason, REASON_MAX, "reason")
    already = _l("You have already reported this comment.")
    if any(r.reporter_id == actor.id for r in comment.reports):
        raise Conflict(already)
    report = CommentReport(comment=comment, reporter=actor, reason=reason)
    db.session.add(report)
    try:
        db.session.commit()
    except IntegrityError:  # a second, simultaneous report by the same user
        db.session.rollback()
        raise Conflict(already) from None
    return report


def dismiss_reports(actor: User, comment: Comment) -> int:
    """The moderator keeps the comment visible and closes its open reports."""
    require(can_moderate(actor, comment))
    now = utcnow()
    open_reports = [r for r in comment.reports if r.resolved_at is None]
    for report in open_reports:
        report.resolved_at, report.resolved_by_id = now, actor.id
    audit.record(
        actor,
        "comment.reports_dismissed",
        comment,
        municipality_id=comment.initiative.municipality_id,
        reports=len(open_reports),
    )
    db.session.commit()
    return len(open_reports)


def open_reports_query(user: User) -> Select:
    """Open reports on comments in the areas ``user`` manages, oldest first."""
    return (
        select(CommentReport)
        .join(Comment, Comment.id == CommentReport.comment_id)
        .join(Initiative, Initiative.id == Comment.initiative_id)
        .where(
            CommentReport.resolved_at.is_(None),
            Initiative.area_id.in_(managed_area_ids(user)),
        )
        .options(
            selectinload(CommentReport.comment).selectinload(Comment.initiative),
            selectinload(CommentReport.reporter),
        )
        .order_by(CommentReport.created_at, CommentReport.id)
    )
