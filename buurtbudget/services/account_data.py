"""A resident's own data: download it (JSON) and delete the account.

Deleting anonymises the account in place instead of removing its row: initiatives and comments
keep an author without a name, money records and the audit trail keep the account they point
to, and ballots were never linked to anyone (the voter record says only *that* the account
voted, which turnout needs). Name, e-mail, address, year of birth, memberships, notifications,
pending links and queued mail are removed, and the account can no longer log in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from buurtbudget.extensions import db
from buurtbudget.models import (
    AccountToken,
    AuditEntry,
    Comment,
    Initiative,
    Notification,
    OutgoingMail,
    User,
    VoterRecord,
    VotingRound,
    WorkingGroup,
    WorkingGroupMember,
    WorkingGroupMessage,
)
from buurtbudget.models._base import utcnow
from buurtbudget.services import audit
from buurtbudget.services.errors import Conflict, ValidationFailed

# Stored as the name of a deleted account: the same in both languages.
DELETED_NAME = "[verwijderd / deleted]"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def export(user: User) -> dict[str, Any]:
    """Everything stored about ``user`` that is theirs, as JSON-ready data."""
    initiatives = db.session.scalars(
        select(Initiative).where(Initiative.initiator_user_id == user.id).order_by(Initiative.id)
    )
    comments = db.session.scalars(
        select(Comment).where(Comment.author_id == user.id).order_by(Comment.id)
    )
    memberships = db.session.execute(
        select(WorkingGroup.id, WorkingGroup.name, WorkingGroupMember.joined_at)
        .join(WorkingGroupMember, WorkingGroupMember.group_id == WorkingGroup.id)
        .where(WorkingGroupMember.user_id == user.id)
        .order_by(WorkingGroup.id)
    )
    messages = db.session.scalars(
        select(WorkingGroupMessage)
        .where(WorkingGroupMessage.author_id == user.id)
        .order_by(WorkingGroupMessage.id)
    )
    voted = db.session.execute(
        select(VotingRound.id, VotingRound.title, VoterRecord.channel)
        .join(VoterRecord, VoterRecord.round_id == VotingRound.id)
        .where(VoterRecord.user_id == user.id)
        .order_by(VotingRound.id)
    )
    notes = db.session.scalars(
        select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
    )
    actions = db.session.scalars(
        select(AuditEntry).where(AuditEntry.actor_id == user.id).order_by(AuditEntry.id)
    )
    return {
        "exported_at": utcnow().isoformat(),
        "account": {
            "id": user.id,
            "email": user.email,
            "email_confirmed_at": _iso(user.email_confirmed_at),
            "display_name": user.display_name,
            "postcode": user.postcode,
            "house_number": user.house_number,
            "birth_year": user.birth_year,
            "municipality": user.municipality.name if user.municipality else None,
            "area": user.home_area.name if user.home_area else None,
            "language": user.locale,
            "created_at": _iso(user.created_at),
            "news_in_app": user.news_in_app,
            "news_by_email": user.news_by_email,
        },
        "roles": [
            {
                "role": r.role.value,
                "municipality": r.municipality.name,
                "area": r.area.name if r.area else None,
                "granted_at": _iso(r.granted_at),
            }
            for r in user.roles
        ],
        "initiatives": [
            {
                "id": i.id,
                "title": i.title,
                "description": i.description,
                "status": str(i.status),
                "requested_amount_cents": i.requested_amount_cents,
                "created_at": _iso(i.created_at),
            }
            for i in initiatives
        ],
        "comments": [
            {
                "initiative_id": c.initiative_id,
                "body": c.body,
                "created_at": _iso(c.created_at),
            }
            for c in comments
        ],
        "working_groups": [
            {"id": gid, "name": name, "joined_at": _iso(joined)}
            for gid, name, joined in memberships
        ],
        "working_group_messages": [
            {"group_id": m.group_id, "body": m.body, "created_at": _iso(m.created_at)}
            for m in messages
        ],
        # That you voted, never what: ballots are not linked to accounts.
        "rounds_voted_in": [
            {"round_id": rid, "title": title, "channel": str(channel)}
            for rid, title, channel in voted
        ],
        "notifications": [
            {"kind": n.kind, "params": n.params, "created_at": _iso(n.created_at)} for n in notes
        ],
        "actions": [
            {
                "at": _iso(a.at),
                "action": a.action,
                "object_type": a.object_type,
                "object_id": a.object_id,
            }
            for a in actions
        ],
    }


def delete_account(user: User, password: str, confirmed: bool) -> None:
    """Anonymise ``user`` after they confirmed with their password."""
    if not confirmed:
        raise ValidationFailed(
            _l("Tick the box to confirm that you want to delete your account."), field="confirm"
        )
    if not user.check_password(password):
        raise ValidationFailed(_l("The password is not correct."), field="password")
    if user.deleted_at is not None:
        raise Conflict(_l("This account has already been deleted."))
    old_email = user.email
    db.session.execute(delete(WorkingGroupMember).where(WorkingGroupMember.user_id == user.id))
    db.session.execute(delete(Notification).where(Notification.user_id == user.id))
    db.session.execute(delete(AccountToken).where(AccountToken.user_id == user.id))
    db.session.execute(
        delete(OutgoingMail).where(
            OutgoingMail.to_address == old_email, OutgoingMail.sent_at.is_(None)
        )
    )
    user.roles.clear()
    user.email = f"deleted-{user.id}@deleted.invalid"
    user.display_name = DELETED_NAME
    user.postcode = None
    user.house_number = None
    user.birth_year = None
    user.locale = None
    user.email_confirmed_at = None
    user.news_in_app = False
    user.news_by_email = False
    user.is_active_account = False
    user.deleted_at = utcnow()
    user.set_password(_unusable_password())  # also ends every session
    audit.record(user, "account.deleted", user, municipality_id=user.municipality_id)
    db.session.commit()


def _unusable_password() -> str:
    import secrets

    return secrets.token_urlsafe(48)
