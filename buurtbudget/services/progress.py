"""Progress of funded initiatives: a responsible person (the initiator or staff of the area),
planned start and end, milestones, and public progress updates with photos (uploaded through
services.attachments, so every check on uploads applies). A running initiative past its
planned end or a milestone's due date is late (domain.progress.is_late); the dashboards flag
it. Completing an initiative records its final cost (services.initiatives)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import BinaryIO

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from buurtbudget.domain import progress as rules
from buurtbudget.domain.initiative_lifecycle import Status
from buurtbudget.extensions import db
from buurtbudget.models import Initiative, Milestone, ProgressUpdate, Role, RoleAssignment, User
from buurtbudget.services import attachments, audit
from buurtbudget.services.errors import Conflict, ValidationFailed
from buurtbudget.services.initiatives import is_initiator
from buurtbudget.services.permissions import can_manage_area, require

RUNNING = (Status.SELECTED, Status.IN_EXECUTION)
PLANNABLE = (Status.OPEN, Status.SELECTED, Status.IN_EXECUTION)
TITLE_MAX = 200
BODY_MAX = 5000
PHOTOS_MAX = 4


def can_report(user: User | None, initiative: Initiative) -> bool:
    """The initiator, the responsible person and the area's staff, while it is not closed."""
    if user is None or not user.is_authenticated or initiative.status not in PLANNABLE:
        return False
    return (
        is_initiator(user, initiative)
        or initiative.responsible_user_id == user.id
        or can_manage_area(user, initiative.area)
    )


def may_be_responsible(user: User, initiative: Initiative) -> bool:
    """The initiator, or staff of the area (a coordinator of it, an administrator)."""
    return user.id == initiative.initiator_user_id or can_manage_area(user, initiative.area)


def responsible_choices(initiative: Initiative) -> list[User]:
    staff = db.session.scalars(
        select(User)
        .where(
            User.id.in_(
                select(RoleAssignment.user_id).where(
                    (
                        (RoleAssignment.role == Role.COORDINATOR)
                        & (RoleAssignment.area_id == initiative.area_id)
                    )
                    | (
                        (RoleAssignment.role == Role.ADMINISTRATOR)
                        & (RoleAssignment.municipality_id == initiative.area.municipality_id)
                    )
                )
            )
        )
        .order_by(User.display_name, User.id)
    ).all()
    return [initiative.initiator, *[u for u in staff if u.id != initiative.initiator_user_id]]


def set_plan(
    actor: User,
    initiative: Initiative,
    responsible: User | None,
    start: date | None,
    end: date | None,
) -> None:
    require(can_report(actor, initiative))
    if responsible is not None and not may_be_responsible(responsible, initiative):
        raise ValidationFailed(
            _l("The responsible person is the initiator or staff of the area."),
            field="responsible",
        )
    if start is not None and end is not None and end < start:
        raise ValidationFailed(_l("The end cannot be before the start."), field="end")
    initiative.responsible_user_id = responsible.id if responsible else None
    initiative.planned_start_on, initiative.planned_end_on = start, end
    audit.record(
        actor,
        "initiative.plan_set",
        initiative,
        municipality_id=initiative.municipality_id,
        responsible_user_id=initiative.responsible_user_id,
        planned_start_on=start.isoformat() if start else None,
        planned_end_on=end.isoformat() if end else None,
    )
    db.session.commit()


def add_milestone(actor: User, initiative: Initiative, title: str, due_on: date) -> Milestone:
    require(can_report(actor, initiative))
    title = (title or "").strip()
    if not title or len(title) > TITLE_MAX:
        raise ValidationFailed(_l("Give the milestone a title (at most 200 characters)."))
    if due_on is None:
        raise ValidationFailed(_l("Enter the date it is due."), field="due_on")
    milestone = Milestone(initiative=initiative, title=title, due_on=due_on)
    db.session.add(milestone)
    db.session.flush()
    audit.record(
        actor,
        "initiative.milestone_added",
        milestone,
        municipality_id=initiative.municipality_id,
        initiative_id=initiative.id,
        due_on=due_on.isoformat(),
    )
    db.session.commit()
    return milestone


def complete_milestone(actor: User, milestone: Milestone, done_on: date | None = None) -> None:
    require(can_report(actor, milestone.initiative))
    if milestone.done_on is not None:
        raise Conflict(_l("This milestone is already done."))
    milestone.done_on = done_on or date.today()
    audit.record(
        actor,
        "initiative.milestone_done",
        milestone,
        municipality_id=milestone.initiative.municipality_id,
        initiative_id=milestone.initiative_id,
    )
    db.session.commit()


def post_update(
    actor: User, initiative: Initiative, body: str, photos: list[tuple[BinaryIO, str]]
) -> ProgressUpdate:
    """A public progress update; each photo goes through services.attachments (file type,
    size, number per initiative) and must be an image."""
    require(can_report(actor, initiative))
    body = (body or "").strip()
    if not body or len(body) > BODY_MAX:
        raise ValidationFailed(_l("Write what happened (at most 5000 characters)."), field="body")
    if len(photos) > PHOTOS_MAX:
        raise ValidationFailed(_l("Add at most 4 photos."), field="photos")
    stored = []
    try:
        for stream, filename in photos:
            attachment = attachments.add_attachment(actor, initiative, stream, filename)
            stored.append(attachment)
            if not attachment.content_type.startswith("image/"):
                raise ValidationFailed(_l("Photos must be PNG, JPEG or WebP images."))
    except Exception:
        for attachment in stored:
            attachments.remove_attachment(actor, attachment)
        raise
    update = ProgressUpdate(initiative=initiative, author=actor, body=body, photos=stored)
    db.session.add(update)
    db.session.flush()
    audit.record(
        actor,
        "initiative.progress_update",
        update,
        municipality_id=initiative.municipality_id,
        initiative_id=initiative.id,
        photos=len(stored),
    )
    db.session.commit()
    return update


@dataclass
class Progress:
    initiative: Initiative
    milestones: list[Milestone]
    updates: list[ProgressUpdate]
    late: bool


def progress_of(initiative: Initiative, today: date | None = None) -> Progress:
    milestones = list(
        db.session.scalars(
            select(Milestone)
            .where(Milestone.initiative_id == initiative.id)
            .order_by(Milestone.due_on, Milestone.id)
        )
    )
    updates = list(
        db.session.scalars(
            select(ProgressUpdate)
            .where(ProgressUpdate.initiative_id == initiative.id)
            .order_by(ProgressUpdate.created_at.desc(), ProgressUpdate.id.desc())
        )
    )
    late = rules.is_late(
        initiative.status in RUNNING,
        initiative.planned_end_on,
        [(m.due_on, m.done_on) for m in milestones],
        today or date.today(),
    )
    return Progress(initiative, milestones, updates, late)


def late_initiatives(area_ids: list[int], today: date | None = None) -> dict[int, list]:
    """Running initiatives that are late, per area id."""
    today = today or date.today()
    running = db.session.scalars(
        select(Initiative)
        .where(Initiative.area_id.in_(area_ids or [-1]), Initiative.status.in_(RUNNING))
        .order_by(Initiative.title, Initiative.id)
    ).all()
    due: dict[int, list[tuple[date, date | None]]] = defaultdict(list)
    for initiative_id, due_on, done_on in db.session.execute(
        select(Milestone.initiative_id, Milestone.due_on, Milestone.done_on).where(
            Milestone.initiative_id.in_([i.id for i in running] or [-1])
        )
    ):
        due[initiative_id].append((due_on, done_on))
    late: dict[int, list] = defaultdict(list)
    for initiative in running:
        if rules.is_late(True, initiative.planned_end_on, due[initiative.id], today):
            late[initiative.area_id].append(initiative)
    return late
