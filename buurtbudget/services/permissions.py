"""Who may do what. Routes declare a role requirement; services call :func:`require` with the
concrete object, so object-level checks live in one place."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from buurtbudget.models import Area, Initiative, Role, User
from buurtbudget.services.errors import PermissionDenied


def is_admin_of(user: User | None, municipality_id: int | None) -> bool:
    if user is None or not user.is_authenticated:
        return False
    return municipality_id in user.municipality_ids_with(Role.ADMINISTRATOR)


def holds_area_role(user: User | None, role: Role, area: Area) -> bool:
    if user is None or not user.is_authenticated:
        return False
    return area.id in user.area_ids_with(role)


def can_manage_area(user: User | None, area: Area) -> bool:
    """Coordinators of the area and administrators of its municipality."""
    return holds_area_role(user, Role.COORDINATOR, area) or is_admin_of(user, area.municipality_id)


def can_read_area_finances(user: User | None, area: Area) -> bool:
    """Council members read everything about their area's money, as do its managers."""
    return holds_area_role(user, Role.COUNCIL_MEMBER, area) or can_manage_area(user, area)


def has_interest(user: User | None, initiative: Initiative) -> bool:
    """Whether ``user`` initiated ``initiative`` or is a member of its working group: such a
    person never reviews, selects, funds or approves payouts for it, whatever their role."""
    if user is None or not user.is_authenticated:
        return False
    if initiative.initiator_user_id == user.id:
        return True
    group = initiative.working_group
    return group is not None and group.has_member(user)


def require_no_interest(user: User | None, initiative: Initiative) -> None:
    require(
        not has_interest(user, initiative),
        _l("You cannot decide on an initiative you started or are a member of."),
    )


def require(allowed: bool, message: str | None = None) -> None:
    if not allowed:
        raise PermissionDenied(message or _l("You do not have permission to do this."))
