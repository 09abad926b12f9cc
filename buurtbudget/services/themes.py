"""Themes per municipality and the yearly area agenda (at most ``AREA_AGENDA_MAX_THEMES``)."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from buurtbudget.extensions import db
from buurtbudget.models import Area, AreaAgenda, Municipality, Theme, User
from buurtbudget.models._base import utcnow
from buurtbudget.services import audit
from buurtbudget.services.errors import Conflict, ValidationFailed
from buurtbudget.services.permissions import can_manage_area, is_admin_of, require
from buurtbudget.services.validation import clean_text

NAME_MAX = 60
DESCRIPTION_MAX = 300
NOTE_MAX = 2000
YEARS = (2000, 2100)


def this_year() -> int:
    return utcnow().year


def themes_of(municipality_id: int, *, active_only: bool = True) -> list[Theme]:
    query = select(Theme).where(Theme.municipality_id == municipality_id)
    if active_only:
        query = query.where(Theme.is_active.is_(True))
    return list(db.session.scalars(query.order_by(Theme.name)))


def _save_unique_name(theme: Theme) -> None:
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(
            _l("This municipality already has a theme with this name."), field="name"
        ) from None


def create_theme(
    actor: User, municipality: Municipality, name: str, description: str = ""
) -> Theme:
    require(is_admin_of(actor, municipality.id))
    theme = Theme(
        municipality=municipality,
        name=clean_text(name, NAME_MAX, "name", required=True),
        description=clean_text(description, DESCRIPTION_MAX, "description"),
    )
    db.session.add(theme)
    _save_unique_name(theme)
    audit.record(actor, "theme.created", theme, municipality_id=municipality.id, name=theme.name)
    db.session.commit()
    return theme


def update_theme(actor: User, theme: Theme, name: str, description: str, is_active: bool) -> None:
    require(is_admin_of(actor, theme.municipality_id))
    theme.name = clean_text(name, NAME_MAX, "name", required=True)
    theme.description = clean_text(description, DESCRIPTION_MAX, "description")
    theme.is_active = bool(is_active)
    _save_unique_name(theme)
    audit.record(
        actor,
        "theme.updated",
        theme,
        municipality_id=theme.municipality_id,
        name=theme.name,
        is_active=theme.is_active,
    )
    db.session.commit()


def agenda_for(area: Area, year: int) -> AreaAgenda | None:
    return db.session.scalar(
        select(AreaAgenda).where(AreaAgenda.area_id == area.id, AreaAgenda.year == year)
    )


def agendas_of(area: Area) -> list[AreaAgenda]:
    return list(
        db.session.scalars(
            select(AreaAgenda).where(AreaAgenda.area_id == area.id).order_by(AreaAgenda.year.desc())
        )
    )


def set_area_agenda(
    actor: User, area: Area, year: int, theme_ids: list[int], note: str = ""
) -> AreaAgenda:
    """The area's coordinator (or an administrator) sets the themes of ``year``'s agenda."""
    require(can_manage_area(actor, area))
    if year is None or not YEARS[0] <= year <= YEARS[1]:
        raise ValidationFailed(_l("This is not a valid year."), field="year")
    maximum = current_app.config["AREA_AGENDA_MAX_THEMES"]
    chosen = set(theme_ids or [])
    if len(chosen) > maximum:
        raise ValidationFailed(
            _l("An area agenda has at most %(n)d themes.", n=maximum), field="theme_ids"
        )
    themes = (
        list(
            db.session.scalars(
                select(Theme).where(
                    Theme.id.in_(chosen),
                    Theme.municipality_id == area.municipality_id,
                    Theme.is_active.is_(True),
                )
            )
        )
        if chosen
        else []
    )
    if len(themes) != len(chosen):
        raise ValidationFailed(_l("Choose themes of this municipality."), field="theme_ids")
    note = clean_text(note, NOTE_MAX, "note")
    agenda = agenda_for(area, year)
    if agenda is None:
        agenda = AreaAgenda(area=area, year=year)
        db.session.add(agenda)
    agenda.themes = sorted(themes, key=lambda t: t.name)
    agenda.note = note
    agenda.updated_by = actor
    db.session.flush()
    audit.record(
        actor,
        "area_agenda.set",
        agenda,
        municipality_id=area.municipality_id,
        area_id=area.id,
        year=year,
        theme_ids=sorted(t.id for t in themes),
    )
    db.session.commit()
    return agenda
