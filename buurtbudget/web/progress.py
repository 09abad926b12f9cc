"""Progress of funded initiatives on the initiative's page: plan (responsible person, planned
start and end), milestones and public progress updates with photos."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import DateField, MultipleFileField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from buurtbudget.extensions import db
from buurtbudget.models import Initiative, Milestone, User
from buurtbudget.services import initiatives, progress
from buurtbudget.services.errors import ServiceError
from buurtbudget.web.forms import ConfirmForm, Form, require_confirmation
from buurtbudget.web.security import login_required

bp = Blueprint("progress", __name__)


class PlanForm(Form):
    responsible = SelectField(_l("Responsible person"), coerce=int, validators=[Optional()])
    start = DateField(_l("Planned start"), validators=[Optional()])
    end = DateField(_l("Planned end"), validators=[Optional()])


class MilestoneForm(Form):
    title = StringField(
        _l("Milestone"), validators=[DataRequired(), Length(max=progress.TITLE_MAX)]
    )
    due_on = DateField(_l("Due on"), validators=[InputRequired()])


class UpdateForm(Form):
    id_prefix = "update-"  # the comment form on the same page has a field "body" too
    body = TextAreaField(
        _l("What happened?"), validators=[DataRequired(), Length(max=progress.BODY_MAX)]
    )
    photos = MultipleFileField(_l("Photos (PNG, JPEG or WebP)"))


def _plan_form(initiative: Initiative, **form_args) -> PlanForm:
    form = PlanForm(**form_args)
    form.responsible.choices = [(0, _("Nobody yet"))] + [
        (u.id, u.display_name) for u in progress.responsible_choices(initiative)
    ]
    return form


@bp.app_template_global()
def progress_block(initiative: Initiative) -> dict:
    """What the initiative page shows of its progress, and the forms for who may report."""
    block = {"progress": progress.progress_of(initiative), "can_report": False}
    if progress.can_report(current_user, initiative):
        plan = _plan_form(initiative, formdata=None)
        plan.responsible.data = initiative.responsible_user_id or 0
        plan.start.data, plan.end.data = initiative.planned_start_on, initiative.planned_end_on
        block.update(
            can_report=True,
            plan_form=plan,
            milestone_form=MilestoneForm(formdata=None),
            update_form=UpdateForm(formdata=None),
            confirm_form=ConfirmForm(formdata=None),
        )
    return block


def _initiative(initiative_id: int) -> Initiative:
    """The initiative, when the user may report its progress (else 404 or 403)."""
    initiative = db.session.get(Initiative, initiative_id) or abort(404)
    initiatives.require_view(current_user, initiative)
    if not progress.can_report(current_user, initiative):
        abort(403)
    return initiative


def _back(initiative: Initiative, error: ServiceError | None = None, form=None):
    """Back to the initiative's progress; a refusal (403, 404) is an error page."""
    if error is not None and error.status_code in (403, 404):
        raise error
    if error is not None:
        flash(str(error.message), "error")
    elif form is not None and form.errors:
        for messages in form.errors.values():
            for message in messages:
                flash(str(message), "error")
    return redirect(url_for("initiatives.detail", initiative_id=initiative.id) + "#progress")


@bp.route("/initiatives/<int:initiative_id>/progress/plan", methods=["POST"])
@login_required
def set_plan(initiative_id: int):
    initiative = _initiative(initiative_id)
    form = _plan_form(initiative)
    if not form.validate_on_submit():
        return _back(initiative, form=form)
    responsible = db.session.get(User, form.responsible.data) if form.responsible.data else None
    try:
        progress.set_plan(current_user, initiative, responsible, form.start.data, form.end.data)
    except ServiceError as error:
        db.session.rollback()
        return _back(initiative, error)
    flash(_("The plan has been saved."), "success")
    return _back(initiative)


@bp.route("/initiatives/<int:initiative_id>/progress/milestones", methods=["POST"])
@login_required
def add_milestone(initiative_id: int):
    initiative = _initiative(initiative_id)
    form = MilestoneForm()
    if not form.validate_on_submit():
        return _back(initiative, form=form)
    try:
        progress.add_milestone(current_user, initiative, form.title.data, form.due_on.data)
    except ServiceError as error:
        db.session.rollback()
        return _back(initiative, error)
    flash(_("The milestone has been added."), "success")
    return _back(initiative)


@bp.route("/milestones/<int:milestone_id>/done", methods=["POST"])
@login_required
def milestone_done(milestone_id: int):
    milestone = db.session.get(Milestone, milestone_id) or abort(404)
    initiative = _initiative(milestone.initiative_id)
    require_confirmation()
    try:
        progress.complete_milestone(current_user, milestone)
    except ServiceError as error:
        db.session.rollback()
        return _back(initiative, error)
    flash(_("The milestone is done."), "success")
    return _back(initiative)


@bp.route("/initiatives/<int:initiative_id>/progress/updates", methods=["POST"])
@login_required
def post_update(initiative_id: int):
    initiative = _initiative(initiative_id)
    form = UpdateForm()
    if not form.validate_on_submit():
        return _back(initiative, form=form)
    files = [f for f in form.photos.data or [] if getattr(f, "filename", "")]
    try:
        progress.post_update(
            current_user, initiative, form.body.data, [(f.stream, f.filename) for f in files]
        )
    except ServiceError as error:
        db.session.rollback()
        return _back(initiative, error)
    flash(_("Your progress update has been published."), "success")
    return _back(initiative)
