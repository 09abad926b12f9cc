"""Working groups: list, start, join, leave, and the group's discussion."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from buurtbudget.extensions import db
from buurtbudget.models import Area, WorkingGroup
from buurtbudget.services import initiatives, themes, working_groups
from buurtbudget.services.errors import ServiceError
from buurtbudget.services.permissions import can_manage_area
from buurtbudget.web.forms import (
    ConfirmForm,
    Form,
    attach_error,
    form_status,
    require_confirmation,
    whole_number,
)
from buurtbudget.web.pagination import paginate
from buurtbudget.web.params import arg_int
from buurtbudget.web.security import login_required, public

bp = Blueprint("groups", __name__, url_prefix="/groups")


class GroupForm(Form):
    area_id = SelectField(_l("Area"), coerce=whole_number, validators=[DataRequired()])
    theme_id = SelectField(_l("Theme"), coerce=whole_number, validators=[DataRequired()])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=working_groups.NAME_MAX)])
    description = TextAreaField(
        _l("What does the group want to achieve?"),
        validators=[Optional(), Length(max=working_groups.DESCRIPTION_MAX)],
    )
    starts_on = DateField(_l("Start date"), validators=[Optional()])
    ends_on = DateField(
        _l("End date"),
        validators=[Optional()],
        description=_l("Leave empty for a group without an end date."),
    )


class MessageForm(Form):
    body = TextAreaField(
        _l("Message"), validators=[DataRequired(), Length(max=working_groups.MESSAGE_MAX)]
    )


def _creatable_areas() -> list[Area]:
    """The user's home area and the areas they manage."""
    area_ids = initiatives.managed_area_ids(current_user)
    if current_user.home_area_id:
        area_ids.add(current_user.home_area_id)
    if not area_ids:
        return []
    return list(
        db.session.scalars(db.select(Area).where(Area.id.in_(area_ids)).order_by(Area.name))
    )


@bp.route("")
@public
def index():
    area_id = arg_int("area")
    page = paginate(working_groups.list_query(area_id=area_id))
    area = db.session.get(Area, area_id) if area_id else None
    return render_template("groups/index.html", page=page, area=area, today=working_groups.today())


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    areas = _creatable_areas()
    if not areas:
        abort(403)
    form = GroupForm()
    form.area_id.choices = [SelectChoice(a.id, a.name) for a in areas]
    municipality_ids = {a.municipality_id for a in areas}
    form.theme_id.choices = [
        SelectChoice(t.id, t.name) for m in sorted(municipality_ids) for t in themes.themes_of(m)
    ]
    if form.validate_on_submit():
        try:
            group = working_groups.create_group(
                current_user,
                working_groups.GroupData(
                    area_id=form.area_id.data,
                    theme_id=form.theme_id.data,
                    name=form.name.data,
                    description=form.description.data or "",
                    starts_on=form.starts_on.data,
                    ends_on=form.ends_on.data,
                ),
            )
        except ServiceError as error:
            attach_error(form, error)
        else:
            flash(_("The working group has been started."), "success")
            return redirect(url_for(".detail", group_id=group.id))
    return render_template("groups/form.html", form=form), form_status(form)


def _render_detail(group: WorkingGroup, message_form: MessageForm | None = None, code=200):
    user = current_user
    return render_template(
        "groups/detail.html",
        group=group,
        today=working_groups.today(),
        is_member=group.has_member(user) if user.is_authenticated else False,
        can_join=working_groups.can_join(user, group),
        can_read=working_groups.can_read_discussion(user, group),
        can_see_members=working_groups.can_see_members(user, group),
        can_post=working_groups.can_post(user, group),
        can_manage=can_manage_area(user, group.area),
        message_form=message_form or MessageForm(formdata=None),
        confirm_form=ConfirmForm(),
        visible_initiatives=[i for i in group.initiatives if initiatives.can_view(user, i)],
    ), code


@bp.route("/<int:group_id>")
@public
def detail(group_id: int):
    return _render_detail(db.session.get(WorkingGroup, group_id) or abort(404))


@bp.route("/<int:group_id>/join", methods=["POST"])
@login_required
def join(group_id: int):
    group = db.session.get(WorkingGroup, group_id) or abort(404)
    require_confirmation()
    working_groups.join(current_user, group)
    flash(_("You have joined %(name)s.", name=group.name), "success")
    return redirect(url_for(".detail", group_id=group.id))


@bp.route("/<int:group_id>/leave", methods=["POST"])
@login_required
def leave(group_id: int):
    group = db.session.get(WorkingGroup, group_id) or abort(404)
    require_confirmation()
    working_groups.leave(current_user, group)
    flash(_("You have left %(name)s.", name=group.name), "success")
    return redirect(url_for(".detail", group_id=group.id))


@bp.route("/<int:group_id>/messages", methods=["POST"])
@login_required
def post_message(group_id: int):
    group = db.session.get(WorkingGroup, group_id) or abort(404)
    if not working_groups.can_post(current_user, group):
        abort(403)
    form = MessageForm()
    if form.validate_on_submit():
        try:
            message = working_groups.post_message(current_user, group, form.body.data)
        except ServiceError as error:
            attach_error(form, error)
        else:
            return redirect(url_for(".detail", group_id=group.id, _anchor=f"m{message.id}"))
    return _render_detail(group, form, 400)
