"""Initiatives: browse and search, propose, edit, review, status changes, attachments,
comments with moderation, and the coordinator's review and report queues."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from werkzeug.utils import secure_filename
from wtforms import (
    SearchField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from buurtbudget.domain import initiative_lifecycle as lifecycle
from buurtbudget.domain.initiative_lifecycle import FundingRoute, Status
from buurtbudget.extensions import db
from buurtbudget.models import Area, Attachment, Comment, Initiative, Municipality, Theme
from buurtbudget.services import attachments, comments, initiatives, themes, working_groups
from buurtbudget.services.errors import ServiceError
from buurtbudget.services.happening import ballots_of
from buurtbudget.services.initiatives import (
    ACTION_LABELS,
    COORDINATOR_FUNDING_ROUTES,
    FUNDING_ROUTE_LABELS,
    InitiativeData,
)
from buurtbudget.services.permissions import can_manage_area
from buurtbudget.web.formatting import format_cents
from buurtbudget.web.forms import (
    ConfirmForm,
    EuroField,
    Form,
    WholeNumberField,
    attach_error,
    form_status,
    require_confirmation,
    whole_number,
)
from buurtbudget.web.pagination import paginate
from buurtbudget.web.security import login_required, public, staff_required

bp = Blueprint("initiatives", __name__)


@bp.app_template_global()
def status_label(status) -> str:
    return initiatives.status_label(status)


@bp.app_template_global()
def funding_route_label(route) -> str:
    return str(FUNDING_ROUTE_LABELS.get(route, route or ""))


# Forms ---------------------------------------------------------------------------------------


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _optional_int(value) -> int:
    """Select values where "" or a missing value means "no choice" (0)."""
    if value in (None, ""):
        return 0
    return whole_number(value)


class InitiativeForm(Form):
    area_id = SelectField(_l("Area"), coerce=whole_number, validators=[InputRequired()])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=initiatives.TITLE_MAX)])
    description = TextAreaField(
        _l("Description"),
        validators=[DataRequired(), Length(max=initiatives.DESCRIPTION_MAX)],
        description=_l("What do you want to do, where, for whom and when?"),
    )
    theme_ids = MultiCheckboxField(
        _l("Themes"),
        coerce=whole_number,
        validators=[DataRequired(message=_l("Choose one or more themes of your municipality."))],
    )
    requested_amount = EuroField(
        _l("Requested amount in euros"),
        validators=[InputRequired()],
        description=_l("What the initiative costs the area budget, e.g. 1.250,00."),
    )
    volunteer_hours = WholeNumberField(
        _l("Volunteer hours"),
        default=0,
        validators=[Optional(), NumberRange(min=0, max=initiatives.MAX_VOLUNTEER_HOURS)],
    )
    co_funding = EuroField(
        _l("Co-funding in euros"),
        validators=[Optional()],
        description=_l("Money from you, sponsors or funds."),
    )
    in_kind = StringField(
        _l("Contribution in kind"),
        validators=[Length(max=initiatives.IN_KIND_MAX)],
        description=_l("Materials, a venue, tools, ..."),
    )
    contribution_note = TextAreaField(
        _l("Anything else you contribute"),
        validators=[Length(max=initiatives.CONTRIBUTION_NOTE_MAX)],
    )
    working_group_id = SelectField(
        _l("Proposed by working group"), coerce=_optional_int, validators=[Optional()]
    )
    save = SubmitField(_l("Save draft"))
    submit_for_review = SubmitField(_l("Save and submit for review"))

    def to_data(self) -> InitiativeData:
        return InitiativeData(
            area_id=self.area_id.data,
            title=self.title.data or "",
            description=self.description.data or "",
            requested_amount_cents=self.requested_amount.data,
            theme_ids=list(self.theme_ids.data or []),
            volunteer_hours=self.volunteer_hours.data or 0,
            co_funding_cents=self.co_funding.data or 0,
            in_kind=self.in_kind.data or "",
            contribution_note=self.contribution_note.data or "",
            working_group_id=self.working_group_id.data or None,
        )


class StatusForm(Form):
    reason = TextAreaField(
        _l("Reason"), validators=[Optional(), Length(max=lifecycle.REASON_MAX_LENGTH)]
    )
    checked_cost = EuroField(_l("Checked cost in euros"), validators=[Optional()])
    funding_route = SelectField(
        _l("How is it funded?"),
        choices=[
            SelectChoice(r.value, FUNDING_ROUTE_LABELS[r]) for r in COORDINATOR_FUNDING_ROUTES
        ],
        validators=[Optional()],
    )


class CommentForm(Form):
    body = TextAreaField(
        _l("Your comment"), validators=[DataRequired(), Length(max=comments.BODY_MAX)]
    )


class HideCommentForm(Form):
    reason = StringField(
        _l("Reason for hiding"), validators=[DataRequired(), Length(max=comments.REASON_MAX)]
    )


class ReportCommentForm(Form):
    reason = StringField(
        _l("What is wrong with this comment?"),
        validators=[Optional(), Length(max=comments.REASON_MAX)],
    )


class AttachmentForm(Form):
    file = FileField(
        _l("Image or PDF"),
        validators=[FileRequired()],
        description=_l("PNG, JPEG, WebP or PDF."),
    )


class BrowseForm(Form):
    class Meta:
        csrf = False  # a GET search form changes nothing

    q = SearchField(_l("Search"), validators=[Optional(), Length(max=100)])
    area = SelectField(_l("Area"), coerce=_optional_int, validators=[Optional()])
    theme = SelectField(_l("Theme"), coerce=_optional_int, validators=[Optional()])
    status = SelectField(_l("Status"), validators=[Optional()])


# Helpers -------------------------------------------------------------------------------------


def _get_initiative(initiative_id: int) -> Initiative:
    initiative = db.session.get(Initiative, initiative_id) or abort(404)
    if not initiatives.can_view(current_user, initiative):
        abort(404)
    return initiative


def _status_forms(initiative: Initiative) -> dict[str, StatusForm]:
    """One small form per transition the current user may make, keyed by target status."""
    actors = initiatives.deciding_actors(current_user, initiative)
    return {
        t.target.value: StatusForm(prefix=t.target.value, formdata=None)
        for t in lifecycle.available_transitions(initiative.status, actors)
    }


def _render_detail(initiative: Initiative, code: int = 200, **overrides):
    status_forms = _status_forms(initiative)
    status_forms.update(overrides.pop("status_forms", {}))
    can_attach = attachments.can_manage_attachments(current_user, initiative)
    context = {
        "initiative": initiative,
        "money": initiatives.initiative_money(initiative),
        "transitions": {
            t.target.value: t
            for t in lifecycle.available_transitions(
                initiative.status, initiatives.deciding_actors(current_user, initiative)
            )
        },
        "status_forms": status_forms,
        "action_labels": ACTION_LABELS,
        "can_edit": initiatives.can_edit(current_user, initiative),
        "can_attach": can_attach,
        "author_role": comments.author_role,
        "attachments": attachments.visible_attachments(current_user, initiative),
        "attachment_form": overrides.pop("attachment_form", None)
        or (AttachmentForm(formdata=None) if can_attach else None),
        "can_comment": comments.can_comment(current_user, initiative),
        "comment_form": overrides.pop("comment_form", None) or CommentForm(formdata=None),
        "can_moderate": can_manage_area(current_user, initiative.area),
        "hide_forms": _comment_forms(initiative, HideCommentForm, "hide", overrides),
        "report_forms": _comment_forms(initiative, ReportCommentForm, "report", overrides),
        "max_attachment_size": attachments.size_text(current_app.config["ATTACHMENT_MAX_BYTES"]),
        "ballots": ballots_of(initiative.id),
    }
    return render_template("initiatives/detail.html", **context), code


def _comment_forms(initiative: Initiative, form_class, prefix: str, overrides: dict) -> dict:
    """A moderation form per visible comment, with the submitted one (if any) in place."""
    if not current_user.is_authenticated:
        return {}
    forms = {
        c.id: form_class(prefix=f"{prefix}{c.id}", formdata=None)
        for c in initiative.comments
        if not c.is_hidden
    }
    forms.update(overrides.pop(f"{prefix}_forms", {}))
    return forms


def _prepare_form(form: InitiativeForm, area: Area, user) -> None:
    form.area_id.choices = [SelectChoice(area.id, area.name)]
    agenda = themes.agenda_for(area, working_groups.today().year)
    on_agenda = {t.id for t in agenda.themes} if agenda else set()
    form.theme_ids.choices = [
        SelectChoice(t.id, f"{t.name} ({_('on the area agenda')})" if t.id in on_agenda else t.name)
        for t in themes.themes_of(area.municipality_id)
    ]
    groups = working_groups.groups_to_propose_for(user)
    form.working_group_id.choices = [
        SelectChoice(0, _("No working group: I propose it myself"))
    ] + [SelectChoice(g.id, g.name) for g in groups]


# Browsing ------------------------------------------------------------------------------------


@bp.route("/initiatives")
@public
def browse():
    form = BrowseForm(formdata=request.args)
    areas = db.session.execute(
        select(Area.id, Area.name, Municipality.name)
        .join(Municipality, Municipality.id == Area.municipality_id)
        .order_by(Municipality.name, Area.name)
    ).all()
    form.area.choices = [SelectChoice(0, _("All areas"))] + [
        SelectChoice(i, n, optgroup=m) for i, n, m in areas
    ]
    theme_rows = db.session.execute(
        select(Theme.id, Theme.name, Municipality.name)
        .join(Municipality, Municipality.id == Theme.municipality_id)
        .order_by(Municipality.name, Theme.name)
    ).all()
    form.theme.choices = [SelectChoice(0, _("All themes"))] + [
        SelectChoice(i, n, optgroup=m) for i, n, m in theme_rows
    ]
    form.status.choices = [SelectChoice("", _("All statuses"))] + [
        SelectChoice(s.value, initiatives.status_label(s))
        for s in Status
        if s not in lifecycle.PRIVATE_STATUSES
    ]
    valid = form.validate()
    filters = (
        {
            "q": form.q.data or "",
            "area": form.area.data or 0,
            "theme": form.theme.data or 0,
            "status": form.status.data or "",
        }
        if valid
        else {}
    )
    query = initiatives.browse_query(
        area_id=filters.get("area"),
        theme_id=filters.get("theme"),
        status=Status(filters["status"]) if filters.get("status") else None,
        text=filters.get("q"),
    )
    page = paginate(query)
    link_filters = {k: v for k, v in filters.items() if v}
    return render_template("initiatives/browse.html", form=form, page=page, filters=link_filters), (
        200 if valid else 400
    )


@bp.route("/initiatives/mine")
@login_required
def mine():
    page = paginate(initiatives.mine_query(current_user))
    return render_template("initiatives/mine.html", page=page)


@bp.route("/initiatives/<int:initiative_id>")
@public
def detail(initiative_id: int):
    return _render_detail(_get_initiative(initiative_id))


# Proposing and editing -----------------------------------------------------------------------


@bp.route("/initiatives/new", methods=["GET", "POST"])
@login_required
def new():
    area = current_user.home_area
    if area is None:
        return render_template("initiatives/no_area.html"), 403
    form = InitiativeForm()
    _prepare_form(form, area, current_user)
    if request.method == "GET":
        form.area_id.data = area.id
    if form.validate_on_submit():
        try:
            initiative = initiatives.propose(current_user, form.to_data())
            if form.submit_for_review.data:
                initiatives.change_status(current_user, initiative, Status.SUBMITTED)
        except ServiceError as error:
            attach_error(form, error)
        else:
            if initiative.status is Status.SUBMITTED:
                flash(_("Your initiative has been submitted for review."), "success")
            else:
                flash(_("Your draft has been saved. Only you and staff can see it."), "success")
            return redirect(url_for(".detail", initiative_id=initiative.id))
    return render_template("initiatives/form.html", form=form, initiative=None), form_status(form)


@bp.route("/initiatives/<int:initiative_id>/edit", methods=["GET", "POST"])
@login_required
def edit(initiative_id: int):
    initiative = _get_initiative(initiative_id)
    if not initiatives.is_initiator(current_user, initiative):
        abort(403)
    if not initiatives.can_edit(current_user, initiative):
        flash(_("This initiative can no longer be edited: its review has started."), "error")
        return redirect(url_for(".detail", initiative_id=initiative.id))
    form = InitiativeForm(obj=None)
    _prepare_form(form, initiative.area, current_user)
    if request.method == "GET":
        form.area_id.data = initiative.area_id
        form.title.data = initiative.title
        form.description.data = initiative.description
        form.theme_ids.data = [t.id for t in initiative.themes]
        form.requested_amount.data = initiative.requested_amount_cents
        form.volunteer_hours.data = initiative.volunteer_hours
        form.co_funding.data = initiative.co_funding_cents
        form.in_kind.data = initiative.in_kind
        form.contribution_note.data = initiative.contribution_note
        form.working_group_id.data = initiative.working_group_id or 0
    if form.validate_on_submit():
        try:
            initiatives.update(current_user, initiative, form.to_data())
            if form.submit_for_review.data and initiative.status is Status.DRAFT:
                initiatives.change_status(current_user, initiative, Status.SUBMITTED)
        except ServiceError as error:
            db.session.rollback()
            attach_error(form, error)
        else:
            flash(_("Your changes have been saved."), "success")
            return redirect(url_for(".detail", initiative_id=initiative.id))
    status = form_status(form)
    return render_template("initiatives/form.html", form=form, initiative=initiative), status


@bp.route("/initiatives/<int:initiative_id>/status", methods=["POST"])
@login_required
def change_status(initiative_id: int):
    initiative = _get_initiative(initiative_id)
    try:
        target = Status(request.form.get("new_status", ""))
    except ValueError:
        abort(400)
    form = StatusForm(prefix=target.value)
    if not form.validate():
        return _render_detail(initiative, 400, status_forms={target.value: form})
    try:
        initiatives.change_status(
            current_user,
            initiative,
            target,
            form.reason.data,
            checked_cost_cents=form.checked_cost.data,
            funding_route=form.funding_route.data or None,
        )
    except ServiceError as error:
        db.session.rollback()
        if error.status_code in (403, 404, 409):
            raise
        attach_error(form, error)
        return _render_detail(initiative, 400, status_forms={target.value: form})
    flash(_("The status is now: %(status)s.", status=initiatives.status_label(target)), "success")
    granted = initiatives.initiative_money(initiative)["granted"]
    if target is Status.SELECTED and initiative.funding_route is FundingRoute.PROGRAMME:
        flash(
            _(
                "%(amount)s was granted from the area budget; the area programme shows what is"
                " left of its line.",
                amount=format_cents(granted),
            ),
            "success",
        )
    return redirect(url_for(".detail", initiative_id=initiative.id))


# Attachments ---------------------------------------------------------------------------------


@bp.route("/initiatives/<int:initiative_id>/attachments", methods=["POST"])
@login_required
def upload(initiative_id: int):
    initiative = _get_initiative(initiative_id)
    if not attachments.can_manage_attachments(current_user, initiative):
        abort(403)
    form = AttachmentForm()
    if form.validate_on_submit():
        try:
            attachments.add_attachment(
                current_user, initiative, form.file.data.stream, form.file.data.filename or ""
            )
        except ServiceError as error:
            db.session.rollback()
            attach_error(form, error)
        else:
            flash(_("The file has been added."), "success")
            return redirect(url_for(".detail", initiative_id=initiative.id))
    return _render_detail(initiative, 400, attachment_form=form)


@bp.route("/attachments/<int:attachment_id>")
@public
def download(attachment_id: int):
    attachment = db.session.get(Attachment, attachment_id) or abort(404)
    path = attachments.require_download(current_user, attachment)
    if not path.is_file():
        abort(404)
    response = send_file(
        path,
        mimetype=attachment.content_type,
        as_attachment=not attachment.is_image,
        download_name=secure_filename(attachment.original_name) or attachment.stored_name,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Drafts' files are private: never keep them in shared caches.
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/attachments/<int:attachment_id>/delete", methods=["GET", "POST"])
@login_required
def delete_attachment(attachment_id: int):
    attachment = db.session.get(Attachment, attachment_id) or abort(404)
    initiative = _get_initiative(attachment.initiative_id)
    if not attachments.can_manage_attachments(current_user, initiative):
        abort(403)
    form = ConfirmForm()
    if form.validate_on_submit():
        attachments.remove_attachment(current_user, attachment)
        flash(_("The file has been removed."), "success")
        return redirect(url_for(".detail", initiative_id=initiative.id))
    return render_template(
        "initiatives/confirm_delete_attachment.html", form=form, attachment=attachment
    )


# Comments ------------------------------------------------------------------------------------


@bp.route("/initiatives/<int:initiative_id>/comments", methods=["POST"])
@login_required
def comment(initiative_id: int):
    initiative = _get_initiative(initiative_id)
    form = CommentForm()
    if form.validate_on_submit():
        try:
            new_comment = comments.add_comment(current_user, initiative, form.body.data)
        except ServiceError as error:
            if error.status_code == 403:
                raise
            attach_error(form, error)
        else:
            flash(_("Your comment has been placed."), "success")
            return redirect(
                url_for(".detail", initiative_id=initiative.id, _anchor=f"c{new_comment.id}")
            )
    return _render_detail(initiative, 400, comment_form=form)


def _get_comment(comment_id: int) -> Comment:
    found = db.session.get(Comment, comment_id) or abort(404)
    _get_initiative(found.initiative_id)
    return found


@bp.route("/comments/<int:comment_id>/hide", methods=["POST"])
@staff_required
def hide_comment(comment_id: int):
    found = _get_comment(comment_id)
    form = HideCommentForm(prefix=f"hide{found.id}")
    if form.validate_on_submit():
        comments.hide_comment(current_user, found, form.reason.data)
        flash(_("The comment is hidden."), "success")
        if request.form.get("back") == "reports":
            return redirect(url_for(".reports"))
        return redirect(
            url_for(".detail", initiative_id=found.initiative_id, _anchor=f"c{found.id}")
        )
    if not comments.can_moderate(current_user, found):
        abort(403)
    return _render_detail(found.initiative, 400, hide_forms={found.id: form})


@bp.route("/comments/<int:comment_id>/report", methods=["POST"])
@login_required
def report_comment(comment_id: int):
    found = _get_comment(comment_id)
    form = ReportCommentForm(prefix=f"report{found.id}")
    if form.validate_on_submit():
        comments.report_comment(current_user, found, form.reason.data)
        flash(_("Thank you. A moderator will look at this comment."), "success")
        return redirect(
            url_for(".detail", initiative_id=found.initiative_id, _anchor=f"c{found.id}")
        )
    return _render_detail(found.initiative, 400, report_forms={found.id: form})


@bp.route("/comments/<int:comment_id>/dismiss", methods=["POST"])
@staff_required
def dismiss_reports(comment_id: int):
    found = _get_comment(comment_id)
    require_confirmation()
    comments.dismiss_reports(current_user, found)
    flash(_("The reports are closed; the comment stays visible."), "success")
    return redirect(url_for(".reports"))


# Coordinator queues --------------------------------------------------------------------------


@bp.route("/coordinator/reviews")
@staff_required
def reviews():
    page = paginate(initiatives.review_queue_query(current_user))
    return render_template("initiatives/reviews.html", page=page)


@bp.route("/coordinator/reports")
@staff_required
def reports():
    page = paginate(comments.open_reports_query(current_user))
    forms = {
        report.comment_id: HideCommentForm(prefix=f"hide{report.comment_id}", formdata=None)
        for report in page.items
    }
    return render_template(
        "initiatives/reports.html", page=page, hide_forms=forms, confirm_form=ConfirmForm()
    )
