"""Themes (managed by administrators) and the yearly area agenda (set by coordinators)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from buurtbudget.extensions import db
from buurtbudget.models import Area, Municipality, Role, Theme
from buurtbudget.services import themes
from buurtbudget.services.errors import ServiceError
from buurtbudget.services.permissions import can_manage_area, is_admin_of
from buurtbudget.web.forms import Form, WholeNumberField, attach_error, form_status, whole_number
from buurtbudget.web.initiatives import MultiCheckboxField
from buurtbudget.web.params import arg_int
from buurtbudget.web.security import public, role_required, staff_municipalities, staff_required

bp = Blueprint("themes", __name__)


class ThemeForm(Form):
    municipality_id = SelectField(
        _l("Municipality"), coerce=whole_number, validators=[InputRequired()]
    )
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=themes.NAME_MAX)])
    description = StringField(
        _l("Description"), validators=[Optional(), Length(max=themes.DESCRIPTION_MAX)]
    )
    is_active = BooleanField(_l("Residents can choose this theme"), default=True)


class AgendaForm(Form):
    year = WholeNumberField(
        _l("Year"),
        validators=[InputRequired(), NumberRange(min=themes.YEARS[0], max=themes.YEARS[1])],
    )
    theme_ids = MultiCheckboxField(_l("Themes"), coerce=whole_number)
    note = TextAreaField(
        _l("Explanation for residents"),
        validators=[Optional(), Length(max=themes.NOTE_MAX)],
        description=_l("Which facts and signals led to these themes?"),
    )


@bp.route("/themes", methods=["GET", "POST"])
@role_required(Role.ADMINISTRATOR)
def index():
    municipalities = staff_municipalities(Role.ADMINISTRATOR)
    form = ThemeForm()
    form.municipality_id.choices = [SelectChoice(m.id, m.name) for m in municipalities]
    if form.validate_on_submit():
        municipality = db.session.get(Municipality, form.municipality_id.data)
        try:
            theme = themes.create_theme(
                current_user, municipality, form.name.data, form.description.data or ""
            )
        except ServiceError as error:
            attach_error(form, error)
        else:
            flash(_("The theme %(name)s has been added.", name=theme.name), "success")
            return redirect(url_for(".index"))
    listing = {m: themes.themes_of(m.id, active_only=False) for m in municipalities}
    return render_template("themes/index.html", form=form, listing=listing), form_status(form)


@bp.route("/themes/<int:theme_id>/edit", methods=["GET", "POST"])
@role_required(Role.ADMINISTRATOR)
def edit(theme_id: int):
    theme = db.session.get(Theme, theme_id) or abort(404)
    if not is_admin_of(current_user, theme.municipality_id):
        abort(403)
    form = ThemeForm(obj=theme)
    form.municipality_id.choices = [SelectChoice(theme.municipality_id, theme.municipality.name)]
    form.municipality_id.data = theme.municipality_id
    if form.validate_on_submit():
        try:
            themes.update_theme(
                current_user,
                theme,
                form.name.data,
                form.description.data or "",
                form.is_active.data,
            )
        except ServiceError as error:
            attach_error(form, error)
        else:
            flash(_("The theme has been saved."), "success")
            return redirect(url_for(".index"))
    return render_template("themes/edit.html", form=form, theme=theme), form_status(form)


@bp.route("/areas/<int:area_id>/agenda")
@public
def agenda(area_id: int):
    area = db.session.get(Area, area_id) or abort(404)
    return render_template(
        "themes/agenda.html",
        area=area,
        agendas=themes.agendas_of(area),
        can_manage=can_manage_area(current_user, area),
    )


@bp.route("/areas/<int:area_id>/agenda/edit", methods=["GET", "POST"])
@staff_required
def edit_agenda(area_id: int):
    area = db.session.get(Area, area_id) or abort(404)
    if not can_manage_area(current_user, area):
        abort(403)
    form = AgendaForm()
    form.theme_ids.choices = [
        SelectChoice(t.id, t.name) for t in themes.themes_of(area.municipality_id)
    ]
    maximum = current_app.config["AREA_AGENDA_MAX_THEMES"]
    form.theme_ids.description = _("Choose at most %(n)d themes.", n=maximum)
    if request.method == "GET":
        year = arg_int("year", minimum=2000, maximum=2100) or themes.this_year()
        form.year.data = year
        existing = themes.agenda_for(area, year)
        if existing:
            form.theme_ids.data = [t.id for t in existing.themes]
            form.note.data = existing.note
    if form.validate_on_submit():
        try:
            themes.set_area_agenda(
                current_user, area, form.year.data, form.theme_ids.data or [], form.note.data or ""
            )
        except ServiceError as error:
            attach_error(form, error)
        else:
            flash(_("The area agenda has been saved."), "success")
            return redirect(url_for(".agenda", area_id=area.id))
    return render_template("themes/edit_agenda.html", form=form, area=area), form_status(form)
