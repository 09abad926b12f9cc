"""Area budgets: where every euro went (finances, ledger, area report and CSV), the Delft area
programme and knelpuntenpot, council meetings and decisions, household cheques and payouts."""

from __future__ import annotations

import segno
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import func, select
from werkzeug.utils import secure_filename
from wtforms import (
    BooleanField,
    DateField,
    FileField,
    MultipleFileField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from buurtbudget.domain.budget import (
    AccountKind,
    BudgetModelKind,
    InvalidAmount,
    SpendKind,
    format_rate,
    parse_euros,
)
from buurtbudget.domain.initiative_lifecycle import Status
from buurtbudget.extensions import db, limiter
from buurtbudget.models import (
    Area,
    BudgetPeriod,
    Cheque,
    CouncilMeeting,
    DirectSpending,
    Initiative,
    PayoutRequest,
    PayoutStatus,
    Role,
    Theme,
)
from buurtbudget.services import (
    attachments,
    budget_reports,
    budgets,
    cheques,
    council,
    direct_spending,
    initiatives,
    ledger,
    payouts,
)
from buurtbudget.services.errors import Conflict, ServiceError, ValidationFailed
from buurtbudget.services.permissions import can_manage_area, can_read_area_finances
from buurtbudget.web.formatting import format_cents
from buurtbudget.web.forms import (
    ConfirmForm,
    Form,
    WholeNumberField,
    attach_error,
    form_status,
    require_confirmation,
    whole_number,
)
from buurtbudget.web.initiatives import MultiCheckboxField
from buurtbudget.web.pagination import paginate
from buurtbudget.web.security import login_required, public, role_required, staff_required

bp = Blueprint("budgets", __name__, url_prefix="/budgets")

SPEND_KIND_LABELS = {SpendKind.PHYSICAL: _l("Physical"), SpendKind.SOCIAL: _l("Social")}
ACCOUNT_LABELS = {
    AccountKind.AREA: _l("Area budget"),
    AccountKind.BOTTLENECK: _l("Bottleneck fund"),
    AccountKind.CITYWIDE: _l("City-wide pot"),
}
MODEL_LABELS = {
    BudgetModelKind.AREA_PROGRAMME: _l("Area programme of the coordinator (Delft model)"),
    BudgetModelKind.COUNCIL_BUDGET: _l("Liveability budget of the area council (Zaanstad model)"),
    BudgetModelKind.HOUSEHOLD_CHEQUES: _l("Household cheques (Ede model)"),
}
ENTRY_LABELS = {
    "allocation": _l("Allocation"),
    "withdrawal": _l("Returned to the municipality"),
    "commitment": _l("Commitment"),
    "release": _l("Released"),
    "payout": _l("Payout"),
    "return": _l("Paid back"),
    "cheque_issue": _l("Cheques issued"),
    "cheque_redemption": _l("Cheque pooled"),
    "cheque_expiry": _l("Cheques expired"),
}
PAYOUT_LABELS = {
    PayoutStatus.PENDING: _l("Waiting for approval"),
    PayoutStatus.AWAITING_SECOND: _l("Waiting for a second approval"),
    PayoutStatus.PAID: _l("Paid"),
    PayoutStatus.REJECTED: _l("Rejected"),
}


@bp.app_context_processor
def inject_labels():
    return {
        "account_label": lambda kind: ACCOUNT_LABELS.get(kind, kind),
        "entry_label": lambda kind: ENTRY_LABELS.get(str(kind), kind),
        "spend_kind_label": lambda kind: SPEND_KIND_LABELS.get(kind, _("untagged")),
        "payout_label": lambda status: PAYOUT_LABELS.get(status, status),
        "model_label": lambda kind: MODEL_LABELS.get(kind, kind),
        "rate_label": format_rate,
        "area_uses_cheques": _uses_cheques,
    }


def _uses_cheques(area: Area) -> bool:
    config = budgets.config_for(area)
    return config is not None and config.kind is BudgetModelKind.HOUSEHOLD_CHEQUES


class AmountMixin:
    def cents(self, field_name: str = "amount") -> int | None:
        """The typed euro amount in cents, or None with an error on the field."""
        field = getattr(self, field_name)
        try:
            return parse_euros(field.data or "")
        except InvalidAmount:
            field.errors = [*field.errors, _l("Enter an amount in euros, e.g. 125,50.")]
            return None


def _amount_field(label=None) -> StringField:
    return StringField(
        label or _l("Amount (EUR)"),
        validators=[DataRequired(), Length(max=20)],
        description=_l("For example 1.250,00"),
    )


class ReportForm(Form):
    summary = TextAreaField(_l("Account by the coordinator"), validators=[Length(max=20_000)])
    publish = BooleanField(_l("Publish the report"))


class RedeemForm(Form):
    code = StringField(
        _l("Cheque code"),
        validators=[DataRequired(), Length(max=40)],
        description=_l("The code on your cheque letter, e.g. 7KQ2-M9XH-4TD0-PB3R-6"),
    )


class PayoutForm(AmountMixin, Form):
    amount = _amount_field()
    description = TextAreaField(
        _l("What was the money spent on?"), validators=[DataRequired(), Length(max=1000)]
    )
    receipts = MultipleFileField(_l("Receipts (PDF or photo)"))


class RejectForm(Form):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=1000)])


class MeetingForm(Form):
    held_on = DateField(_l("Date of the meeting"), validators=[InputRequired()])
    attendees_count = WholeNumberField(
        _l("Number of attendees"), validators=[InputRequired(), NumberRange(0, 100_000)]
    )
    present = MultiCheckboxField(
        _l("Council members present"),
        coerce=whole_number,
        description=_l("Tick every council member who is present: a decision needs a quorum."),
    )
    location = StringField(_l("Location"), validators=[Optional(), Length(max=120)])
    minutes = TextAreaField(_l("Minutes"), validators=[Optional(), Length(max=20_000)])


class DecisionForm(AmountMixin, Form):
    title = StringField(_l("Decision"), validators=[DataRequired(), Length(max=200)])
    amount = StringField(
        _l("Amount (EUR)"),
        validators=[Optional(), Length(max=20)],
        description=_l("Leave empty for a decision without money."),
    )
    spend_kind = SelectField(
        _l("Kind of spending"),
        choices=[
            SelectChoice("", _l("No money")),
            SelectChoice(SpendKind.PHYSICAL.value, _l("Physical")),
            SelectChoice(SpendKind.SOCIAL.value, _l("Social")),
        ],
    )
    initiative = SelectField(_l("Initiative"), coerce=whole_number, validators=[Optional()])


class ProgrammeLineForm(AmountMixin, Form):
    id_prefix = "programme-"
    theme = SelectField(_l("Theme"), coerce=whole_number, validators=[Optional()])
    initiative = SelectField(_l("Initiative"), coerce=whole_number, validators=[Optional()])
    amount = _amount_field(_l("Indicative amount (EUR)"))
    note = StringField(_l("Note"), validators=[Optional(), Length(max=300)])


class DirectSpendForm(AmountMixin, Form):
    id_prefix = "direct-"
    amount = _amount_field()
    purpose = StringField(_l("What is it for?"), validators=[DataRequired(), Length(max=300)])
    theme = SelectField(_l("Theme"), coerce=whole_number, validators=[Optional()])
    receipt = FileField(
        _l("Receipt (PDF or photo)"),
        description=_l(
            "Needed once the direct spending of this budget reaches the threshold for a second"
            " approver; another coordinator then approves before it is booked."
        ),
    )


def _period_or_404(period_id: int) -> BudgetPeriod:
    period = db.session.get(BudgetPeriod, period_id)
    if period is None or period.area is None:
        abort(404)
    budget_reports.require_finances(current_user, period.area)
    return period


def _theme_choices(area: Area) -> list[tuple[int, str]]:
    themes = db.session.scalars(
        select(Theme)
        .where(Theme.municipality_id == area.municipality_id, Theme.is_active.is_(True))
        .order_by(Theme.name)
    )
    return [SelectChoice(0, "–")] + [SelectChoice(t.id, t.name) for t in themes]


def _initiative_choices(area: Area, statuses) -> list[tuple[int, str]]:
    items = db.session.scalars(
        select(Initiative)
        .where(Initiative.area_id == area.id, Initiative.status.in_(statuses))
        .order_by(Initiative.title)
    )
    return [SelectChoice(0, "–")] + [SelectChoice(i.id, i.title) for i in items]


def _programme_form(area: Area, **form_args) -> ProgrammeLineForm:
    """A line of the area programme: for a theme of the municipality, or an initiative of the
    area that is open, selected or running."""
    form = ProgrammeLineForm(**form_args)
    form.theme.choices = _theme_choices(area)
    form.initiative.choices = _initiative_choices(
        area, (Status.OPEN, Status.SELECTED, Status.IN_EXECUTION)
    )
    return form


def _direct_spend_form(area: Area, **form_args) -> DirectSpendForm:
    form = DirectSpendForm(**form_args)
    form.theme.choices = _theme_choices(area)
    return form


# Finances: where every euro went --------------------------------------------------------------


@bp.route("/")
@login_required
def index():
    """The areas whose money the user may follow."""
    areas = db.session.scalars(select(Area).order_by(Area.name)).all()
    readable = [a for a in areas if can_read_area_finances(current_user, a)]
    if not readable:
        abort(403)
    return render_template("budgets/index.html", areas=readable)


@bp.route("/areas/<int:area_id>")
@login_required
def area(area_id: int):
    area = db.session.get(Area, area_id) or abort(404)
    budget_reports.require_finances(current_user, area)
    periods = budgets.periods_of(area)
    return render_template(
        "budgets/area.html",
        area=area,
        periods=periods,
        config=budgets.config_for(area),
        can_manage=can_manage_area(current_user, area),
        can_record=council.can_record(current_user, area),
    )


@bp.route("/periods/<int:period_id>")
@login_required
def period(period_id: int):
    period = _period_or_404(period_id)
    finances = budget_reports.area_finances(period)
    area = period.area
    manage = can_manage_area(current_user, area)
    programme_form = direct_form = None
    if manage:
        programme_form = _programme_form(area)
        direct_form = _direct_spend_form(area)
    return render_template(
        "budgets/period.html",
        f=finances,
        period=period,
        manage=manage,
        programme_form=programme_form,
        direct_form=direct_form,
        **_waiting_direct_spending(period),
        cheque_stats=_cheque_stats(period)
        if period.model_kind.value == "household_cheques"
        else None,
    )


def _cheque_stats(period: BudgetPeriod) -> dict[str, int] | None:
    if period.model_kind is not BudgetModelKind.HOUSEHOLD_CHEQUES:
        return None
    cheque_ids = cheques.cheques_query(period).with_only_columns(Cheque.id).order_by(None)
    issued, redeemed, expired = db.session.execute(
        select(
            func.count(Cheque.id), func.count(Cheque.redeemed_at), func.count(Cheque.expired_at)
        ).where(Cheque.id.in_(cheque_ids))
    ).one()
    return {"issued": issued, "redeemed": redeemed, "expired": expired}


@bp.route("/periods/<int:period_id>/ledger")
@login_required
def period_ledger(period_id: int):
    period = _period_or_404(period_id)
    page = paginate(budget_reports.ledger_query(period))
    return render_template("budgets/ledger.html", period=period, page=page)


def report_period_or_404(period_id: int):
    """The period of an area report: anyone may read a published report; a draft only who
    reads the area's finances (a visitor is asked to log in)."""
    period = db.session.get(BudgetPeriod, period_id)
    if period is None or period.area is None:
        abort(404)
    if not budgets.is_public(budgets.report_of(period)):
        if not current_user.is_authenticated:
            return None
        budget_reports.require_finances(current_user, period.area)
    return period


@bp.route("/reports")
@public
def reports():
    """Every published area report (wijkverslag), for residents and visitors."""
    page = paginate(budgets.published_reports_query())
    return render_template("budgets/reports.html", page=page)


@bp.route("/periods/<int:period_id>/report")
@public
def report(period_id: int):
    period = report_period_or_404(period_id)
    if period is None:
        return current_app.login_manager.unauthorized()
    return _render_report(period)


def _render_report(period: BudgetPeriod, form=None, status: int = 200):
    finances = budget_reports.area_finances(period)
    if form is None and can_manage_area(current_user, period.area):
        form = ReportForm(summary=finances.report.summary if finances.report else "")
    if form is not None and not budgets.can_publish_report(current_user, period.area):
        del form.publish
    publish_form = None
    if (
        budgets.can_publish_report(current_user, period.area)
        and finances.report
        and finances.report.summary
        and not finances.report.published_at
    ):
        publish_form = ConfirmForm()
    return render_template(
        "budgets/report.html",
        f=finances,
        period=period,
        form=form,
        publish_form=publish_form,
        finances_readable=can_read_area_finances(current_user, period.area),
    ), status


@bp.route("/periods/<int:period_id>/report.csv")
@public
def report_csv(period_id: int):
    period = report_period_or_404(period_id)
    if period is None:
        return current_app.login_manager.unauthorized()
    body = budget_reports.report_csv(budget_reports.area_finances(period))
    filename = f"wijkverslag-{period.area.name}-{period.label}.csv".replace(" ", "-")
    return Response(
        "\ufeff" + body,  # a byte order mark, so spreadsheet programs read UTF-8
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.route("/periods/<int:period_id>/report", methods=["POST"])
@staff_required
def save_report(period_id: int):
    period = _period_or_404(period_id)
    form = ReportForm()
    if form.validate_on_submit():
        try:
            budgets.save_report(current_user, period, form.summary.data, publish=form.publish.data)
        except ServiceError as error:
            db.session.rollback()
            attach_error(form, error)
        else:
            flash(_("The area report has been saved."), "success")
            return redirect(url_for("budgets.report", period_id=period.id))
    return _render_report(period, form, 400)


@bp.route("/periods/<int:period_id>/report/publish", methods=["POST"])
@login_required
def publish_report(period_id: int):
    period = _period_or_404(period_id)
    require_confirmation()
    budgets.publish_report(current_user, period)
    flash(_("The area report is published: residents and visitors can now read it."), "success")
    return redirect(url_for("budgets.report", period_id=period.id))


@bp.route("/periods/<int:period_id>/programme", methods=["POST"])
@staff_required
def add_programme_line(period_id: int):
    period = _period_or_404(period_id)
    form = _programme_form(period.area)
    cents = form.cents() if form.validate_on_submit() else None
    if cents is not None:
        try:
            budgets.set_programme_line(
                current_user,
                period,
                cents,
                theme=db.session.get(Theme, form.theme.data) if form.theme.data else None,
                initiative=db.session.get(Initiative, form.initiative.data)
                if form.initiative.data
                else None,
                note=form.note.data,
            )
        except ServiceError as error:
            attach_error(form, error)
        else:
            flash(_("The area programme has been updated."), "success")
            return redirect(url_for("budgets.period", period_id=period.id))
    return _rerender_period(period, programme_form=form)


@bp.route("/periods/<int:period_id>/direct", methods=["POST"])
@staff_required
def spend_directly(period_id: int):
    period = _period_or_404(period_id)
    account = period.account(AccountKind.BOTTLENECK) or period.account(AccountKind.AREA)
    if ledger.is_council_held(account):
        # The page shows no form here; the service refuses too (ledger.spend_directly).
        raise Conflict(ledger.COUNCIL_DECIDES)
    form = _direct_spend_form(period.area)
    cents = form.cents() if form.validate_on_submit() else None
    if cents is not None:
        upload = form.receipt.data
        receipt = (upload.stream, upload.filename) if getattr(upload, "filename", "") else None
        try:
            booked = direct_spending.spend(
                current_user,
                account,
                cents,
                form.purpose.data,
                theme_id=form.theme.data or None,
                receipt=receipt,
            )
        except ServiceError as error:
            attach_error(form, error)
        else:
            if isinstance(booked, DirectSpending):
                flash(_("Saved. A second coordinator must approve this spending."), "info")
            else:
                flash(_("The spending has been booked."), "success")
            return redirect(url_for("budgets.period", period_id=period.id))
    return _rerender_period(period, direct_form=form)


def _waiting_direct_spending(period: BudgetPeriod) -> dict:
    """Direct spending waiting for its second approver, with the forms to decide it."""
    return {
        "waiting_direct": direct_spending.waiting_in(period),
        "confirm_form": ConfirmForm(),
        "reject_form": RejectForm(formdata=None),
    }


def _direct_spending_or_404(item_id: int) -> DirectSpending:
    item = db.session.get(DirectSpending, item_id)
    if item is None or item.account.period.area is None:
        abort(404)
    return item


@bp.route("/direct/<int:item_id>/approve", methods=["POST"])
@staff_required
def approve_direct_spending(item_id: int):
    item = _direct_spending_or_404(item_id)
    require_confirmation()
    direct_spending.approve(current_user, item)  # ServiceError -> a 4xx page with the message
    flash(_("Approved and booked as paid."), "success")
    return redirect(url_for("budgets.period", period_id=item.account.period_id))


@bp.route("/direct/<int:item_id>/reject", methods=["POST"])
@staff_required
def reject_direct_spending(item_id: int):
    item = _direct_spending_or_404(item_id)
    form = RejectForm()
    if not form.validate_on_submit():
        raise ValidationFailed(_l("Give a reason."), field="reason")
    direct_spending.reject(current_user, item, form.reason.data)
    flash(_("The spending has been rejected."), "info")
    return redirect(url_for("budgets.period", period_id=item.account.period_id))


@bp.route("/direct/<int:item_id>/receipt")
@login_required
def direct_spending_receipt(item_id: int):
    item = _direct_spending_or_404(item_id)
    path = direct_spending.require_receipt(current_user, item)
    if not path.is_file():
        abort(404)
    response = send_file(
        path,
        mimetype=item.receipt_content_type,
        as_attachment=True,
        download_name=secure_filename(item.receipt_original_name) or item.receipt_stored_name,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _rerender_period(period: BudgetPeriod, **forms):
    programme_form = forms.get("programme_form") or _programme_form(period.area, formdata=None)
    direct_form = forms.get("direct_form") or _direct_spend_form(period.area, formdata=None)
    return render_template(
        "budgets/period.html",
        f=budget_reports.area_finances(period),
        period=period,
        manage=True,
        programme_form=programme_form,
        direct_form=direct_form,
        **_waiting_direct_spending(period),
        cheque_stats=None,
    ), 400


# Council meetings (Zaanstad) -----------------------------------------------------------------


@bp.route("/areas/<int:area_id>/meetings/new", methods=["GET", "POST"])
@login_required
def new_meeting(area_id: int):
    area = db.session.get(Area, area_id) or abort(404)
    if not council.can_record(current_user, area):
        abort(403)
    members = council.members_of(area)
    form = MeetingForm()
    form.present.choices = [(member.id, member.display_name) for member in members]
    if form.validate_on_submit():
        by_id = {member.id: member for member in members}
        try:
            meeting = council.record_meeting(
                current_user,
                area,
                form.held_on.data,
                form.attendees_count.data,
                form.location.data,
                form.minutes.data,
                present=[by_id[member_id] for member_id in form.present.data or ()],
            )
        except ServiceError as error:
            attach_error(form, error)
        else:
            flash(_("The meeting has been recorded."), "success")
            return redirect(url_for("budgets.new_decision", meeting_id=meeting.id))
    status = form_status(form)
    return render_template(
        "budgets/meeting_form.html", area=area, form=form, quorum=council.quorum_of(area)
    ), status


@bp.route("/meetings/<int:meeting_id>/decisions/new", methods=["GET", "POST"])
@login_required
def new_decision(meeting_id: int):
    meeting = db.session.get(CouncilMeeting, meeting_id) or abort(404)
    if not council.can_record(current_user, meeting.area):
        abort(403)
    form = DecisionForm()
    form.initiative.choices = _initiative_choices(meeting.area, (Status.OPEN,))
    if form.validate_on_submit():
        cents = form.cents() if (form.amount.data or "").strip() else 0
        if cents is not None:
            try:
                council.record_decision(
                    current_user,
                    meeting,
                    form.title.data,
                    cents,
                    spend_kind=form.spend_kind.data or None,
                    initiative=db.session.get(Initiative, form.initiative.data)
                    if form.initiative.data
                    else None,
                )
            except ServiceError as error:
                attach_error(form, error)
            else:
                flash(_("The decision has been recorded."), "success")
                return redirect(url_for("budgets.new_decision", meeting_id=meeting.id))
    status = form_status(form)
    return render_template(
        "budgets/decision_form.html",
        meeting=meeting,
        form=form,
        quorum=council.quorum_of(meeting.area),
    ), status


# Cheques (Ede) -------------------------------------------------------------------------------


@bp.route("/periods/<int:period_id>/cheques")
@role_required(Role.ADMINISTRATOR)
def cheque_list(period_id: int):
    period = _period_or_404(period_id)
    page = paginate(cheques.cheques_query(period))
    return render_template(
        "budgets/cheques.html", period=period, page=page, refusal=cheques.reprint_refusal
    )


@bp.route("/cheques/<int:cheque_id>/reprint", methods=["GET", "POST"])
@role_required(Role.ADMINISTRATOR)
def reprint_cheque(cheque_id: int):
    """A household lost its letter. The code is stored only hashed, so the letter cannot be
    printed again: after a confirmation the cheque gets a new code (the old one stops
    working), shown once on the printable letter this POST answers with."""
    cheque = cheques.get_cheque(current_user, cheque_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        reprinted = cheques.reprint_cheque(current_user, cheque.id)  # a refusal: a 409 page
        redeem_url = url_for("budgets.redeem_code", code=reprinted.code, _external=True)
        response = make_response(
            render_template(
                "budgets/letter.html",
                cheque=reprinted.cheque,
                code=reprinted.printed_code,
                period=reprinted.cheque.account.period,
                qr_svg=qr_code_svg(redeem_url, _("QR code to pool this cheque")),
                redeem_page=url_for("budgets.redeem_code", _external=True),
            )
        )
        response.headers["Cache-Control"] = "private, no-store"  # the code exists only here
        return response
    return render_template(
        "budgets/reprint.html",
        cheque=cheque,
        period=cheque.account.period,
        refusal=cheques.reprint_refusal(cheque),
        form=form,
    )


def qr_code_svg(data: str, title: str) -> Markup:
    """``data`` as an inline SVG QR code (segno: pure Python, no image files). It has no
    style attribute or script, so the page's Content-Security-Policy allows it; error level M
    survives a smudged or folded letter."""
    svg = segno.make(data, error="m").svg_inline(scale=4, title=title, svgclass="qr-code")
    return Markup(svg)  # noqa: S704 - segno's own SVG markup; the title is escaped by segno


def _redeem_limit() -> str:
    return current_app.config["CHEQUE_REDEEM_RATE_LIMIT"]


@bp.route("/initiatives/<int:initiative_id>/cheques", methods=["GET", "POST"])
@limiter.limit(_redeem_limit, methods=["POST"])
@login_required
def redeem(initiative_id: int):
    initiative = db.session.get(Initiative, initiative_id) or abort(404)
    initiatives.require_view(current_user, initiative)
    form = RedeemForm(code=_code_from_link())
    if form.validate_on_submit() and _redeem_cheque(form, initiative):
        return redirect(url_for("budgets.redeem", initiative_id=initiative.id))
    money = ledger.initiative_totals(initiative)
    cost = initiative.checked_cost_cents or initiative.requested_amount_cents
    status = form_status(form)
    return render_template(
        "budgets/redeem.html", initiative=initiative, form=form, money=money, cost=cost
    ), status


def _redeem_cheque(form: RedeemForm, initiative: Initiative) -> bool:
    """Redeem the form's code for ``initiative`` and thank the resident; False (the error on
    the form) when the service refused."""
    try:
        cheque = cheques.redeem(current_user, form.code.data, initiative)
    except ServiceError as error:
        attach_error(form, error)
        return False
    value = format_cents(cheque.value_cents)
    flash(_("Thank you! Your cheque of %(value)s is pooled.", value=value), "success")
    return True


def _code_from_link() -> str:
    """A code from a scanned letter (``?code=``) only fills in the form: it redeems nothing."""
    return (request.args.get("code") or "")[:40]


class RedeemCodeForm(RedeemForm):
    initiative = SelectField(_l("Initiative"), coerce=whole_number, validators=[DataRequired()])


@bp.route("/cheques/redeem", methods=["GET", "POST"])
@limiter.limit(_redeem_limit, methods=["POST"])
@public
def redeem_code():
    """Where the QR code on a cheque letter leads: the code filled in, an initiative to
    choose. A household without an account (or not logged in) first sees a landing page
    whose log-in and register links come back here with the code: it stays in the address
    the letter printed, never in a cookie, and nothing is looked up before the log-in (so the
    page tells a guesser nothing)."""
    if not current_user.is_authenticated:
        code = _code_from_link()
        if not code:
            return current_app.login_manager.unauthorized()
        back = url_for("budgets.redeem_code", code=code)
        return render_template(
            "budgets/cheque_landing.html",
            login_url=url_for("auth.login", next=back),
            register_url=url_for("auth.register", next=back),
        )
    form = RedeemCodeForm(code=_code_from_link())
    candidates = cheques.pooling_candidates(current_user)
    form.initiative.choices = [SelectChoice(i.id, i.title) for i in candidates]
    if form.validate_on_submit():
        initiative = next(i for i in candidates if i.id == form.initiative.data)
        if _redeem_cheque(form, initiative):
            return redirect(url_for("initiatives.detail", initiative_id=initiative.id))
    status = form_status(form)
    return render_template(
        "budgets/redeem_code.html", form=form, has_candidates=bool(candidates)
    ), status


# Payouts -------------------------------------------------------------------------------------


@bp.route("/initiatives/<int:initiative_id>/payouts", methods=["GET", "POST"])
@login_required
def request_payout(initiative_id: int):
    initiative = db.session.get(Initiative, initiative_id) or abort(404)
    initiatives.require_view(current_user, initiative)
    if not initiatives.is_initiator(current_user, initiative) and not can_manage_area(
        current_user, initiative.area
    ):
        abort(403)
    form = PayoutForm()
    if form.validate_on_submit():
        cents = form.cents()
        files = [f for f in form.receipts.data or [] if getattr(f, "filename", "")]
        if cents is not None:
            try:
                if not initiatives.is_initiator(current_user, initiative):
                    abort(403)
                receipts = [
                    attachments.add_attachment(current_user, initiative, f.stream, f.filename)
                    for f in files
                ]
                payouts.request_payout(
                    current_user, initiative, cents, form.description.data, receipts
                )
            except ServiceError as error:
                attach_error(form, error)
            else:
                flash(_("Your payout request has been sent to the coordinator."), "success")
                return redirect(url_for("budgets.request_payout", initiative_id=initiative.id))
    requests = db.session.scalars(payouts.requests_query(initiative)).all()
    status = form_status(form)
    return render_template(
        "budgets/payout_form.html",
        initiative=initiative,
        form=form,
        requests=requests,
        money=ledger.initiative_totals(initiative),
        threshold=payouts.threshold_cents(),
    ), status


@bp.route("/payouts")
@staff_required
def payout_queue():
    area_ids = initiatives.managed_area_ids(current_user)
    query = payouts.requests_query(area_ids=area_ids).where(
        PayoutRequest.status.in_(payouts.OPEN_REQUEST_STATUSES)
    )
    page = paginate(query)
    return render_template(
        "budgets/payouts.html",
        page=page,
        confirm_form=ConfirmForm(),
        reject_form=RejectForm(),
        threshold=payouts.threshold_cents(),
    )


@bp.route("/payouts/<int:request_id>/approve", methods=["POST"])
@staff_required
def approve_payout(request_id: int):
    payout = db.session.get(PayoutRequest, request_id) or abort(404)
    require_confirmation()
    payouts.approve(current_user, payout)  # ServiceError -> a 4xx page with the message
    if payout.status is PayoutStatus.AWAITING_SECOND:
        flash(_("Approved. A second coordinator must approve this amount too."), "info")
    else:
        flash(_("Approved and booked as paid."), "success")
    return redirect(url_for("budgets.payout_queue"))


@bp.route("/payouts/<int:request_id>/reject", methods=["POST"])
@staff_required
def reject_payout(request_id: int):
    payout = db.session.get(PayoutRequest, request_id) or abort(404)
    form = RejectForm()
    if not form.validate_on_submit():
        raise ValidationFailed(_l("Give a reason."), field="reason")
    payouts.reject(current_user, payout, form.reason.data)
    flash(_("The payout request has been rejected."), "info")
    return redirect(url_for("budgets.payout_queue"))
