"""Working groups: created by residents or staff around a theme in an area; join, leave,
discuss, and propose initiatives as a group (services.initiatives checks membership)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from buurtbudget.extensions import db
from buurtbudget.models import (
    Area,
    Theme,
    User,
    WorkingGroup,
    WorkingGroupMember,
    WorkingGroupMessage,
)
from buurtbudget.models._base import utcnow
from buurtbudget.services import account_email, audit
from buurtbudget.services.errors import Conflict, ValidationFailed
from buurtbudget.services.permissions import can_manage_area, require
from buurtbudget.services.validation import clean_text

NAME_MAX = 120
DESCRIPTION_MAX = 2000
MESSAGE_MAX = 2000


def today() -> date:
    return utcnow().date()


@dataclass
class GroupData:
    area_id: int | None
    theme_id: int | None
    name: str
    description: str = ""
    starts_on: date | None = None
    ends_on: date | None = None


def is_area_resident(user: User | None, area: Area) -> bool:
    return user is not None and user.is_authenticated and user.home_area_id == area.id


def can_create_in(user: User | None, area: Area) -> bool:
    return is_area_resident(user, area) or can_manage_area(user, area)


def can_join(user: User | None, group: WorkingGroup) -> bool:
    """Residents of the group's area, while the group has not ended."""
    return (
        is_area_resident(user, group.area)
        and not group.has_member(user)
        and not group.has_ended_by(today())
    )


def can_read_discussion(user: User | None, group: WorkingGroup) -> bool:
    return group.has_member(user) or can_manage_area(user, group.area)


def can_see_members(user: User | None, group: WorkingGroup) -> bool:
    """Who is in a working group is known to its members and the area's staff only."""
    return can_read_discussion(user, group)


def can_post(user: User | None, group: WorkingGroup) -> bool:
    return can_read_discussion(user, group) and not group.has_ended_by(today())


def create_group(actor: User, data: GroupData) -> WorkingGroup:
    area = db.session.get(Area, data.area_id) if data.area_id else None
    if area is None:
        raise ValidationFailed(_l("Choose an area."), field="area_id")
    require(
        can_create_in(actor, area),
        _l("Residents of the area and its staff can start a working group."),
    )
    account_email.require_confirmed_email(actor)
    theme = db.session.get(Theme, data.theme_id) if data.theme_id else None
    if theme is None or theme.municipality_id != area.municipality_id or not theme.is_active:
        raise ValidationFailed(_l("Choose a theme of this municipality."), field="theme_id")
    starts_on = data.starts_on or today()
    if data.ends_on is not None and data.ends_on < starts_on:
        raise ValidationFailed(_l("The end date must not be before the start."), field="ends_on")
    group = WorkingGroup(
        area=area,
        theme=theme,
        name=clean_text(data.name, NAME_MAX, "name", required=True),
        description=clean_text(data.description, DESCRIPTION_MAX, "description", required=False),
        starts_on=starts_on,
        ends_on=data.ends_on,
        created_by=actor,
    )
    if is_area_resident(actor, area):
        group.memberships.append(WorkingGroupMember(user=actor))
    db.session.add(group)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(
            _l("This area already has a working group with this name."), field="name"
        ) from None
    audit.record(
        actor,
        "working_group.created",
        group,
        municipality_id=area.municipality_id,
        area_id=area.id,
        theme_id=theme.id,
    )
    db.session.commit()
    return group


def join(actor: User, group: WorkingGroup) -> None:
    if group.has_member(actor):
        raise Conflict(_l("You are already a member of this working group."))
    if group.has_ended_by(today()):
        raise Conflict(_l("This working group has ended."))
    require(can_join(actor, group), _l("Only residents of the area can join this working group."))
    account_email.require_confirmed_email(actor)
    group.memberships.append(WorkingGroupMember(user=actor))
    try:
        db.session.commit()
    except IntegrityError:  # joined twice at the same moment
        db.session.rollback()
        raise Conflict(_l("You are already a member of this working group.")) from None


def leave(actor: User, group: WorkingGroup) -> None:
    membership = next((m for m in group.memberships if m.user_id == actor.id), None)
    if membership is None:
        raise Conflict(_l("You are not a member of this working group."))
    group.memberships.remove(membership)
    db.session.commit()


def post_message(actor: User, group: WorkingGroup, body: str) -> WorkingGroupMessage:
    require(can_post(actor, group), _l("Only members can write in an active working group."))
    account_email.require_confirmed_email(actor)
    message = WorkingGroupMessage(
        group=group, author=actor, body=clean_text(body, MESSAGE_MAX, "body", required=True)
    )
    db.session.add(message)
    db.session.commit()
    return message


def list_query(*, area_id: int | None = None, theme_id: int | None = None) -> Select:
    query = select(WorkingGroup).options(
        selectinload(WorkingGroup.area),
        selectinload(WorkingGroup.theme),
        selectinload(WorkingGroup.memberships),
    )
    if area_id:
        query = query.where(WorkingGroup.area_id == area_id)
    if theme_id:
        query = query.where(WorkingGroup.theme_id == theme_id)
    return query.order_by(WorkingGroup.name, WorkingGroup.id)


def groups_to_propose_for(user: User) -> list[WorkingGroup]:
    """The active groups of the user's area the user belongs to (choices on the form)."""
    if user.home_area_id is None:
        return []
    groups = db.session.scalars(
        select(WorkingGroup)
        .join(WorkingGroupMember, WorkingGroupMember.group_id == WorkingGroup.id)
        .where(WorkingGroupMember.user_id == user.id, WorkingGroup.area_id == user.home_area_id)
        .order_by(WorkingGroup.name)
    )
    return [g for g in groups if not g.has_ended_by(today())]
