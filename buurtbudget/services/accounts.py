"""Registering, authenticating, passwords, home areas and roles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from buurtbudget.domain.names import clean_name, has_visible_text, name_keys
from buurtbudget.extensions import db
from buurtbudget.models import Area, Municipality, Role, RoleAssignment, User
from buurtbudget.models.user import new_session_token
from buurtbudget.services import account_email, addresses, audit
from buurtbudget.services.account_data import DELETED_NAME
from buurtbudget.services.account_email import check_password_strength, normalise_email
from buurtbudget.services.errors import Conflict, ValidationFailed
from buurtbudget.services.permissions import can_manage_area, is_admin_of, require

# Checked against when the e-mail is unknown, so a failed login takes as long either way.
_DUMMY_HASH = generate_password_hash("no-such-user-dummy-password")


@dataclass
class Registration:
    email: str
    password: str
    display_name: str
    postcode: str
    house_number: str  # as typed: "12", "12a", "12-2"
    birth_year: int | None
    municipality_id: int | None = None
    locale: str | None = None


NAME_MAX = 80


def _staff_names(user_id: int | None, municipality_id: int | None) -> list[str]:
    """The names of everyone holding a role (staff and council members) in the municipality:
    a resident's name is shown there only (comments, initiatives and working groups are the
    municipality's), and staff of several municipalities hold a role in each. Comparing with
    every municipality would refuse ordinary names ("Jan de Vries") for a coincidence
    elsewhere. Without a municipality: everyone holding a role anywhere."""
    query = select(User.display_name).join(RoleAssignment, RoleAssignment.user_id == User.id)
    if user_id is not None:
        query = query.where(User.id != user_id)
    if municipality_id is not None:
        query = query.where(RoleAssignment.municipality_id == municipality_id)
    return list(db.session.scalars(query.distinct()))


def check_display_name(
    name: str, user_id: int | None = None, municipality_id: int | None = None
) -> str:
    """The cleaned name (domain.names.clean_name); refused when it shows no letter or digit,
    or when it reads as the name of anyone holding a role (staff and council members), who
    must not be impersonated: also through look-alike letters of other alphabets, full-width
    forms, accents or invisible characters (domain.names)."""
    if not (name or "").strip():
        raise ValidationFailed(_l("Enter a name."), field="display_name")
    name = clean_name(name)
    if not has_visible_text(name):
        raise ValidationFailed(
            _l("A name needs at least one visible letter or digit."), field="display_name"
        )
    if len(name) > NAME_MAX:
        raise ValidationFailed(
            _l("A name can have at most %(n)d characters.", n=NAME_MAX), field="display_name"
        )
    keys = name_keys(name)
    with db.session.no_autoflush:  # also called while a flush is being prepared
        staff = _staff_names(user_id, municipality_id)
    if any(keys & name_keys(other) for other in staff):
        raise ValidationFailed(
            _l("This name is used by a staff or council member. Please choose another."),
            field="display_name",
        )
    return name


@event.listens_for(Session, "before_flush")
def _names_are_checked(session: Session, _context, _instances) -> None:
    """Whatever path sets a display name (registration today; a profile page, the API, a
    command or an admin screen later) or moves an account to another municipality, the name is
    checked before it is written. The fixed name of a deleted account is let through."""
    for user in (*session.new, *session.dirty):
        if not isinstance(user, User) or user.display_name == DELETED_NAME:
            continue
        state = inspect(user).attrs
        moved = (
            state.municipality_id.history.has_changes() or state.municipality.history.has_changes()
        )
        if user in session.dirty and not (state.display_name.history.has_changes() or moved):
            continue
        municipality_id = user.municipality.id if user.municipality else user.municipality_id
        checked = check_display_name(user.display_name, user.id, municipality_id)
        if checked != user.display_name:
            user.display_name = checked


def register(data: Registration) -> User:
    """Create a resident account. The home area follows from postcode + house number in the
    address file (services/addresses.py); an address that is not in it is refused with a clear
    message, never guessed. A home area is what the resident says: it gives no vote (voting
    needs an elector bound by the stempas code, services/electorate.py)."""
    email = normalise_email(data.email)
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(_l("An account with this e-mail address already exists."), field="email")
    this_year = date.today().year
    if data.birth_year is not None and not this_year - 120 <= data.birth_year <= this_year:
        raise ValidationFailed(_l("This is not a plausible year of birth."), field="birth_year")
    check_password_strength(data.password)
    address = addresses.lookup(data.postcode, data.house_number)
    area = address.area
    municipality_id = area.municipality_id
    display_name = check_display_name(data.display_name, municipality_id=municipality_id)
    postcode = address.postcode

    user = User(
        email=email,
        display_name=display_name,
        postcode=postcode,
        house_number=address.house_number,
        house_letter=address.house_letter,
        house_suffix=address.house_suffix,
        birth_year=data.birth_year,
        home_area=area,
        municipality_id=municipality_id,
        locale=data.locale,
    )
    user.set_password(data.password)
    db.session.add(user)
    db.session.flush()
    account_email.queue_confirmation(user)
    audit.record(
        user,
        "account.registered",
        user,
        municipality_id=municipality_id,
        area_id=area.id if area else None,
    )
    db.session.commit()
    return user


def authenticate(email: str, password: str) -> User | None:
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not user.check_password(password) or not user.is_active or user.deleted_at is not None:
        return None
    return user


def change_password(user: User, current_password: str, new_password: str) -> None:
    """Change the password and invalidate every other session of this user."""
    if not user.check_password(current_password):
        raise ValidationFailed(_l("The current password is not correct."), field="current_password")
    check_password_strength(new_password)
    user.set_password(new_password)  # also rotates the session token
    audit.record(user, "account.password_changed", user, municipality_id=user.municipality_id)
    db.session.commit()


def end_all_sessions(user: User) -> None:
    """Log the account out everywhere: every session and "keep me logged in" cookie names
    the account's session token, so a new token ends them all, on every worker."""
    user.session_token = new_session_token()
    db.session.commit()


def set_home_area(actor: User, user: User, area: Area) -> None:
    """Staff assign (or correct) a resident's home area: only between areas they manage
    (coordinators their own areas, administrators their municipality's), never their own."""
    require(actor.id != user.id, _l("Nobody can change their own area."))
    require(can_manage_area(actor, area))
    if user.home_area is not None:
        # Moving someone out of an area is acting on that area too.
        require(can_manage_area(actor, user.home_area))
    elif user.municipality_id not in (None, area.municipality_id):
        require(False)
    previous = user.home_area_id
    user.home_area = area
    user.municipality_id = area.municipality_id
    audit.record(
        actor,
        "account.home_area_set",
        user,
        municipality_id=area.municipality_id,
        previous_area_id=previous,
        area_id=area.id,
    )
    db.session.commit()


def grant_role(
    actor: User | None,
    user: User,
    role: Role,
    *,
    municipality: Municipality,
    area: Area | None = None,
) -> RoleAssignment:
    """Give ``user`` a role. ``actor`` None means the command line (an operator on the server)."""
    if actor is not None:
        require(is_admin_of(actor, municipality.id))
        require(actor.id != user.id, _l("Nobody can change their own roles."))
    if role.is_area_role and (area is None or area.municipality_id != municipality.id):
        raise ValidationFailed(_l("Choose an area of this municipality for this role."))
    if not role.is_area_role:
        area = None
    existing = db.session.scalar(
        select(RoleAssignment).where(
            RoleAssignment.user_id == user.id,
            RoleAssignment.role == role,
            RoleAssignment.municipality_id == municipality.id,
            RoleAssignment.area_id == area.id if area else RoleAssignment.area_id.is_(None),
        )
    )
    if existing is not None:
        return existing
    assignment = RoleAssignment(
        user=user,
        role=role,
        municipality=municipality,
        area=area,
        granted_by_id=actor.id if actor else None,
    )
    db.session.add(assignment)
    db.session.flush()
    audit.record(
        actor,
        "role.granted",
        assignment,
        municipality_id=municipality.id,
        user_id=user.id,
        role=role.value,
        area_id=area.id if area else None,
    )
    db.session.commit()
    return assignment


def revoke_role(actor: User | None, assignment: RoleAssignment) -> None:
    if actor is not None:
        require(is_admin_of(actor, assignment.municipality_id))
        require(actor.id != assignment.user_id, _l("Nobody can change their own roles."))
    audit.record(
        actor,
        "role.revoked",
        assignment,
        municipality_id=assignment.municipality_id,
        user_id=assignment.user_id,
        role=assignment.role.value,
        area_id=assignment.area_id,
    )
    db.session.delete(assignment)
    db.session.commit()
