"""Setting up area budgets (administrators; coordinators where the domain says so): the budget
model per municipality or area, opening budget periods with the calculation shown before it is
confirmed, issuing household cheques, letting cheques expire, and the money that came back.

Views are thin: the services (services.budgets, services.cheques, services.ledger) check the
permissions on the object and write the audit entries."""

from __future__ import annotations

import io

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.file import FileField
from sqlalchemy import select
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from buurtbudget.domain.budget import (
    DEFAULT_COUNCIL_QUORUM,
    MAX_COUNCIL_QUORUM,
    MIN_COUNCIL_QUORUM,
    BudgetModelKind,
    BudgetModelSettings,
    InvalidAmount,
    RateBasis,
    UnpooledValuePolicy,
    format_rate,
    model_defaults,
    parse_rate_millicents,
)
from buurtbudget.domain.households import (
    HouseholdListError,
    format_household_list,
    parse_household_list,
)
from buurtbudget.extensions import db
from buurtbudget.models import Area, BudgetPeriod, Initiative, LedgerEntry, Role
from buurtbudget.services import (
    budget_reports,
    budgets,
    cheque_letters,
    cheques,
    jobs,
    ledger,
    sealed_files,
)
from buurtbudget.services.errors import ServiceError, ValidationFailed
from buurtbudget.services.permissions import can_manage_area, is_admin_of
from buurtbudget.web.budgets import MODEL_LABELS
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
from buurtbudget.web.jobs import keep_letters_key
from buurtbudget.web.pagination import paginate
from buurtbudget.web.params import arg_int
from buurtbudget.web.security import (
    login_required,
    role_required,
    staff_municipality,
    staff_required,
)

bp = Blueprint("budget_admin", __name__)

BASIS_LABELS = {
    RateBasis.PER_INHABITANT: _l("per inhabitant"),
    RateBasis.PER_HOUSEHOLD: _l("per household"),
}
POLICY_LABELS = {
    UnpooledValuePolicy.AREA_POT: _l("stays in the area budget"),
    UnpooledValuePolicy.MUNICIPALITY: _l("goes back to the municipality"),
}
HALF_LABELS = {0: _l("The whole year"), 1: _l("First half-year"), 2: _l("Second half-year")}
MAX_HOUSEHOLD_LIST = 5 * 1024 * 1024  # characters: some 300,000 addresses


@bp.app_context_processor
def inject_labels():
    return {
        "basis_label": lambda basis: BASIS_LABELS.get(basis, basis),
        "policy_label": lambda policy: POLICY_LABELS.get(policy, policy),
        "half_label": lambda half: HALF_LABELS.get(half, half),
    }


# Forms ---------------------------------------------------------------------------------------


class ModelForm(Form):
    kind = SelectField(
        _l("Budget model"),
        choices=[SelectChoice(k.value, label) for k, label in MODEL_LABELS.items()],
    )
    basis = SelectField(
        _l("The rate is"),
        choices=[SelectChoice(b.value, label) for b, label in BASIS_LABELS.items()],
    )
    rate = StringField(
        _l("Rate (EUR)"),
        validators=[DataRequired(), Length(max=20)],
        description=_l("Per inhabitant or household, up to five decimals, e.g. 9,30 or 0,125."),
    )
    periods_per_year = SelectField(
        _l("Budget periods"),
        coerce=whole_number,
        choices=[SelectChoice(1, _l("A year")), SelectChoice(2, _l("Two half-years"))],
    )
    bottleneck_fund = EuroField(
        _l("Bottleneck fund per area and period (EUR)"),
        validators=[Optional()],
        description=_l("Knelpuntenpot for urgent problems; leave empty for none."),
    )
    citywide_pot = EuroField(
        _l("City-wide pot per period (EUR)"),
        validators=[Optional()],
        description=_l("Beside the area budgets; leave empty for none."),
    )
    min_meetings_per_year = WholeNumberField(
        _l("Minimum number of council meetings a year"),
        default=0,
        validators=[InputRequired(), NumberRange(0, 52)],
    )
    council_quorum = WholeNumberField(
        _l("Quorum: council members present for a decision"),
        validators=[Optional(), NumberRange(MIN_COUNCIL_QUORUM, MAX_COUNCIL_QUORUM)],
        description=_l("Recorded by name at every meeting; at least two. Empty: three."),
    )
    social_target_percent = WholeNumberField(
        _l("Target share of social measures (%)"),
        validators=[Optional(), NumberRange(0, 100)],
        description=_l("Zaanstad model; leave empty for no target."),
    )
    cheque_value = EuroField(_l("Value of one cheque (EUR)"), validators=[Optional()])
    cheque_valid_days = WholeNumberField(
        _l("Cheques are valid for (days)"),
        default=365,
        validators=[InputRequired(), NumberRange(1, 3650)],
    )
    unpooled_value_policy = SelectField(
        _l("Cheque value that funded nothing when the cheques expire"),
        choices=[SelectChoice(p.value, label) for p, label in POLICY_LABELS.items()],
    )

    def fill(self, settings: BudgetModelSettings) -> None:
        self.kind.data = settings.kind.value
        self.basis.data = settings.basis.value
        self.rate.data = format_rate(settings.rate_millicents).replace(".", ",")
        self.periods_per_year.data = settings.periods_per_year
        self.bottleneck_fund.data = settings.bottleneck_fund_cents or None
        self.citywide_pot.data = settings.citywide_pot_cents or None
        self.min_meetings_per_year.data = settings.min_meetings_per_year
        self.council_quorum.data = settings.council_quorum
        self.social_target_percent.data = settings.social_target_percent
        self.cheque_value.data = settings.cheque_value_cents or None
        self.cheque_valid_days.data = settings.cheque_valid_days
        self.unpooled_value_policy.data = settings.unpooled_value_policy.value

    def settings(self) -> BudgetModelSettings | None:
        """The typed settings, or None with the errors on the fields."""
        try:
            rate = parse_rate_millicents(self.rate.data or "")
        except InvalidAmount:
            self.rate.errors = [*self.rate.errors, _l("Enter a rate in euros of zero or more.")]
            return None
        kind = BudgetModelKind(self.kind.data)
        if kind is BudgetModelKind.HOUSEHOLD_CHEQUES and not self.cheque_value.data:
            self.cheque_value.errors = [
                *self.cheque_value.errors,
                _l("The cheque model needs a cheque value above zero."),
            ]
            return None
        return BudgetModelSettings(
            kind=kind,
            basis=RateBasis(self.basis.data),
            rate_millicents=rate,
            periods_per_year=self.periods_per_year.data,
            bottleneck_fund_cents=self.bottleneck_fund.data or 0,
            citywide_pot_cents=self.citywide_pot.data or 0,
            min_meetings_per_year=self.min_meetings_per_year.data,
            council_quorum=self.council_quorum.data or DEFAULT_COUNCIL_QUORUM,
            social_target_percent=self.social_target_percent.data,
            cheque_value_cents=self.cheque_value.data or 0,
            cheque_valid_days=self.cheque_valid_days.data,
            unpooled_value_policy=UnpooledValuePolicy(self.unpooled_value_policy.data),
        )


class PeriodForm(Form):
    area = SelectField(_l("Area"), coerce=whole_number, validators=[InputRequired()])
    year = WholeNumberField(_l("Year"), validators=[InputRequired(), NumberRange(2000, 2100)])
    half = SelectField(
        _l("Period"),
        coerce=whole_number,
        choices=[SelectChoice(h, label) for h, label in HALF_LABELS.items()],
    )


class IssueForm(Form):
    households = TextAreaField(
        _l("Addresses of the households"),
        validators=[Optional(), Length(max=MAX_HOUSEHOLD_LIST)],
        description=_l(
            "One household a line: postcode;house number;addition, as exported from the"
            " address register. Or upload the file below."
        ),
    )
    upload = FileField(_l("Address file (CSV)"))


class ReturnForm(Form):
    initiative = SelectField(_l("Initiative"), coerce=whole_number, validators=[DataRequired()])
    amount = EuroField(_l("Amount paid back (EUR)"), validators=[InputRequired()])
    memo = StringField(_l("Note"), validators=[DataRequired(), Length(max=300)])


# Helpers -------------------------------------------------------------------------------------


def _area_period(period_id: int) -> BudgetPeriod:
    period = db.session.get(BudgetPeriod, period_id)
    if period is None or period.area is None:
        abort(404)
    return period


def _area_or_404(area_id: int) -> Area:
    return db.session.get(Area, area_id) or abort(404)


# Overview ------------------------------------------------------------------------------------


@bp.route("/staff/budgets/")
@staff_required
def overview():
    municipality = staff_municipality()
    admin = is_admin_of(current_user, municipality.id)
    areas = [a for a in municipality.areas if can_manage_area(current_user, a)]
    return render_template(
        "budget_admin/overview.html",
        municipality=municipality,
        admin=admin,
        config=budgets.municipality_config(municipality),
        rows=[(a, budgets.config_for(a), budgets.periods_of(a)) for a in areas],
    )


# The budget model ----------------------------------------------------------------------------


@bp.route("/staff/budgets/model", methods=["GET", "POST"])
@role_required(Role.ADMINISTRATOR)
def model():
    municipality = staff_municipality((Role.ADMINISTRATOR,))
    area = None
    area_id = arg_int("area")
    if area_id is not None:
        area = db.session.get(Area, area_id)
        if area is None or area.municipality_id != municipality.id:
            abort(404)
    form = ModelForm()
    if request.method == "GET":
        current = budgets.config_for(area) if area else budgets.municipality_config(municipality)
        kind = request.args.get("kind")
        if kind in {k.value for k in BudgetModelKind}:
            form.fill(model_defaults(kind))
        else:
            form.fill(current.settings() if current else model_defaults("area_programme"))
    elif form.validate_on_submit() and (settings := form.settings()) is not None:
        try:
            budgets.configure_model(current_user, municipality, settings, area)
        except ServiceError as error:
            attach_error(form, error)
        else:
            flash(_("The budget model has been saved."), "success")
            return redirect(url_for("budget_admin.overview", municipality=municipality.id))
    status = form_status(form)
    return render_template(
        "budget_admin/model.html", form=form, municipality=municipality, area=area
    ), status


@bp.route("/staff/budgets/areas/<int:area_id>/model/remove", methods=["POST"])
@role_required(Role.ADMINISTRATOR)
def remove_area_model(area_id: int):
    area = _area_or_404(area_id)
    require_confirmation()
    budgets.remove_area_model(current_user, area)
    flash(_("%(area)s follows the model of the municipality again.", area=area.name), "success")
    return redirect(url_for("budget_admin.overview", municipality=area.municipality_id))


# Opening budget periods ----------------------------------------------------------------------


@bp.route("/staff/budgets/periods/new", methods=["GET", "POST"])
@role_required(Role.ADMINISTRATOR)
def open_periods():
    """Step 1: choose; step 2 (``preview``): the calculation per area; step 3: confirm."""
    municipality = staff_municipality((Role.ADMINISTRATOR,))
    form = PeriodForm()
    form.area.choices = [SelectChoice(0, _("All areas"))] + [
        SelectChoice(a.id, a.name) for a in municipality.areas
    ]
    if request.method == "GET":
        form.year.data = arg_int("year", minimum=2000, maximum=2100)
    plan = None
    if form.validate_on_submit():
        areas = [a for a in municipality.areas if a.id == form.area.data] or None
        try:
            if request.form.get("confirm"):
                opened = budgets.open_periods(
                    current_user, municipality, form.year.data, form.half.data, areas
                )
                flash(_("%(count)d budget periods have been opened.", count=len(opened)), "success")
                return redirect(url_for("budget_admin.overview", municipality=municipality.id))
            plan = budgets.plan_periods(
                current_user, municipality, form.year.data, form.half.data, areas
            )
        except ServiceError as error:
            attach_error(form, error)
    status = form_status(form)
    return render_template(
        "budget_admin/periods.html", form=form, plan=plan, municipality=municipality
    ), status


# Issuing cheques -----------------------------------------------------------------------------


@bp.route("/staff/budgets/periods/<int:period_id>/cheques/issue", methods=["GET", "POST"])
@role_required(Role.ADMINISTRATOR)
def issue_cheques(period_id: int):
    """Step 1: the address list; step 2: what would be issued; step 3: confirm, which answers
    with the letters (PDF, or a mail-merge CSV for a printing house): the only place the new
    codes exist in clear. Issuing twice is harmless: households that have a cheque for the
    period are skipped."""
    period = _area_period(period_id)
    form = IssueForm()
    plan = addresses = None
    if form.validate_on_submit():
        text = form.households.data or ""
        if form.upload.data and getattr(form.upload.data, "filename", ""):
            text = form.upload.data.read(MAX_HOUSEHOLD_LIST + 1).decode("utf-8-sig", "replace")
        try:
            if len(text) > MAX_HOUSEHOLD_LIST:
                raise ValidationFailed(_l("The address list is too long."), field="households")
            addresses = parse_household_list(text)
            if not addresses:
                raise ValidationFailed(_l("Enter at least one address."), field="households")
            letters = request.form.get("confirm")
            if letters:
                if letters not in cheque_letters.LETTER_FORMATS:
                    raise ValidationFailed(_l("Choose the letters as PDF or CSV."))
                if len(addresses) > current_app.config["LONG_STEP_LETTERS"]:
                    # A long list (5 ms a PDF letter) would outlast the web worker: a job
                    # writes the letters, sealed to a key only this session holds.
                    private_key, public_key = sealed_files.new_key_pair()
                    job = jobs.start_cheque_issue(
                        current_user,
                        period,
                        addresses,
                        letters=letters,
                        redeem_page=url_for("budgets.redeem_code", _external=True),
                        public_key=public_key,
                    )
                    keep_letters_key(job, private_key)
                    return redirect(url_for("jobs.show", job_id=job.id))
                made = []  # the letters, made before anything is stored
                issued = cheques.issue_cheques(
                    current_user,
                    period,
                    addresses,
                    write_letters=lambda new: made.append(
                        cheque_letters_response(new, period, letters)
                    ),
                )
                if not issued:
                    flash(
                        _("Every household in the list already has a cheque for this period."),
                        "info",
                    )
                    return redirect(url_for("budgets.cheque_list", period_id=period.id))
                return made[0]
            plan = cheques.plan_issue(current_user, period, addresses)
        except HouseholdListError as error:
            lines = ", ".join(f"{e.line} ({e.text})" for e in error.errors)
            form.households.errors = [
                *form.households.errors,
                _("These lines are not addresses: %(lines)s", lines=lines),
            ]
        except ServiceError as error:
            attach_error(form, error)
    elif request.method == "GET":
        cheques.plan_issue(current_user, period, [])  # the permission check, before the form
    status = form_status(form)
    return render_template(
        "budget_admin/issue.html",
        form=form,
        period=period,
        plan=plan,
        carried=format_household_list(addresses) if plan else "",
    ), status


def cheque_letters_response(issued: list, period: BudgetPeriod, letters: str) -> Response:
    """The letters of cheques just issued, as a download that no cache keeps."""
    body = io.BytesIO()
    cheque_letters.write_letters(
        issued, body, period, url_for("budgets.redeem_code", _external=True), letters
    )
    return Response(
        body.getvalue(),
        mimetype=cheque_letters.MIMETYPES[letters],
        headers={
            "Content-Disposition": (
                f'attachment; filename="{cheque_letters.file_name(period, letters)}"'
            ),
            "Cache-Control": "private, no-store",
        },
    )


# Expiry and returned money -------------------------------------------------------------------


@bp.route("/staff/budgets/periods/<int:period_id>/cheques/expire", methods=["GET", "POST"])
@staff_required
def expire_cheques(period_id: int):
    period = _area_period(period_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        total = cheques.expire_cheques(current_user, period)
        flash(_("Expired and returned: %(amount)s.", amount=format_cents(total)), "success")
        return redirect(url_for("budget_admin.returned", period_id=period.id))
    plan = cheques.plan_expiry(current_user, period)
    return render_template("budget_admin/expire.html", period=period, plan=plan, form=form)


@bp.route("/budgets/periods/<int:period_id>/returned")
@login_required
def returned(period_id: int):
    """Money that came back: releases, money paid back, expired cheques, and what went back
    to the municipality. For the area's council and staff."""
    period = _area_period(period_id)
    budget_reports.require_finances(current_user, period.area)
    return _render_returned(period, ReturnForm(formdata=None))


def _render_returned(period: BudgetPeriod, form: ReturnForm, status: int = 200):
    manage = can_manage_area(current_user, period.area)
    if manage:
        form.initiative.choices = _paid_initiatives(period)
    config = budgets.config_for(period.area)
    return render_template(
        "budget_admin/returned.html",
        period=period,
        totals=ledger.returned_totals(period),
        page=paginate(ledger.returned_query(period)),
        policy=config.unpooled_value_policy if config and config.settings().uses_cheques else None,
        form=form if manage else None,
    ), status


def _paid_initiatives(period: BudgetPeriod) -> list[SelectChoice]:
    account_ids = [a.id for a in period.accounts]
    items = db.session.scalars(
        select(Initiative)
        .where(
            Initiative.id.in_(
                select(LedgerEntry.initiative_id).where(LedgerEntry.account_id.in_(account_ids))
            )
        )
        .order_by(Initiative.title)
    )
    return [SelectChoice(i.id, i.title) for i in items]


@bp.route("/budgets/periods/<int:period_id>/returned", methods=["POST"])
@staff_required
def record_return(period_id: int):
    """A coordinator books money an initiator paid back."""
    period = _area_period(period_id)
    form = ReturnForm()
    form.initiative.choices = _paid_initiatives(period)
    if form.validate_on_submit():
        try:
            ledger.record_return(
                current_user,
                db.session.get(Initiative, form.initiative.data),
                form.amount.data,
                form.memo.data,
            )
        except ServiceError as error:
            attach_error(form, error)
        else:
            flash(_("The money paid back has been booked."), "success")
            return redirect(url_for("budget_admin.returned", period_id=period.id))
    if not can_manage_area(current_user, period.area):
        abort(403)
    return _render_returned(period, form, 400)
