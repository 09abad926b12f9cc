"""Voting rounds for staff: set up and edit a round, load its register extract (electorate),
enter paper ballots, issue voting codes, close the round (count), publish the results, import
a pabulib file."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

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
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from buurtbudget.domain.spreadsheet import csv_writer
from buurtbudget.extensions import db
from buurtbudget.models import Area, BudgetPeriod, Municipality, Role, User, VotingRound
from buurtbudget.services import electorate, jobs, paper_ballots, register_previews
from buurtbudget.services.errors import ServiceError, ValidationFailed
from buurtbudget.services.permissions import can_manage_area
from buurtbudget.services.voting import casting, counting, pabulib, rounds
from buurtbudget.services.voting import codes as voting_codes
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
from buurtbudget.web.initiatives import MultiCheckboxField, status_label
from buurtbudget.web.security import role_required, staff_municipality, staff_required
from buurtbudget.web.voting import parse_choices

bp = Blueprint("voting_staff", __name__, url_prefix="/staff/rounds")

DATE_FORMAT = "%Y-%m-%dT%H:%M"


class RoundForm(Form):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=rounds.TITLE_MAX)])
    description = TextAreaField(
        _l("Description"), validators=[Optional(), Length(max=rounds.DESCRIPTION_MAX)]
    )
    areas = MultiCheckboxField(_l("Areas"), coerce=whole_number)
    proposals_until = DateTimeLocalField(
        _l("Proposals until"), format=DATE_FORMAT, validators=[InputRequired()]
    )
    review_until = DateTimeLocalField(
        _l("Review until"), format=DATE_FORMAT, validators=[InputRequired()]
    )
    voting_opens_at = DateTimeLocalField(
        _l("Voting opens"), format=DATE_FORMAT, validators=[InputRequired()]
    )
    voting_closes_at = DateTimeLocalField(
        _l("Voting closes"), format=DATE_FORMAT, validators=[InputRequired()]
    )
    ballot_type = SelectField(
        _l("Ballot"),
        choices=[SelectChoice(k, label) for k, label in rounds.BALLOT_TYPE_LABELS.items()],
    )
    rule_name = SelectField(_l("Counting rule"))
    min_projects = WholeNumberField(
        _l("Minimum number of projects"), validators=[Optional(), NumberRange(0, 1000)]
    )
    max_projects = WholeNumberField(
        _l("Maximum number of projects"), validators=[Optional(), NumberRange(1, 1000)]
    )
    max_total_cost = EuroField(
        _l("Cost limit per ballot in euros"),
        validators=[Optional()],
        description=_l("Empty: no limit. With a limit, voters choose within this amount."),
    )
    max_total_points = WholeNumberField(
        _l("Points per voter (points ballot)"), validators=[Optional(), NumberRange(1, 10_000)]
    )
    max_points_per_project = WholeNumberField(
        _l("Most points per project (points ballot)"),
        validators=[Optional(), NumberRange(1, 10_000)],
    )
    min_age = WholeNumberField(
        _l("Minimum age"), default=16, validators=[InputRequired(), NumberRange(0, 120)]
    )
    allow_ballot_change = BooleanField(_l("Voters may change their vote until voting closes"))
    uses_voting_codes = BooleanField(_l("Residents without an account vote with a mailed code"))
    budget_period = SelectField(_l("Budget period"), coerce=whole_number)
    budget = EuroField(
        _l("Budget of the round in euros"),
        validators=[Optional()],
        description=_l("Empty: what is available in the budget period."),
    )


class PaperBallotForm(Form):
    paper_number = StringField(
        _l("Ballot paper number"),
        validators=[DataRequired(), Length(max=casting.PAPER_NUMBER_MAX)],
        description=_l("As printed on the paper, for example 3-00012."),
    )
    stempas = StringField(
        _l("Stempas code handed in with it"),
        validators=[DataRequired(), Length(max=40)],
        description=_l("Scan the QR code or type the code."),
    )


class IssuePapersForm(Form):
    area = SelectField(_l("Area"), coerce=whole_number)
    count = WholeNumberField(
        _l("Number of papers"),
        validators=[InputRequired(), NumberRange(1, paper_ballots.MAX_PAPERS_PER_BATCH)],
    )


class CodesForm(Form):
    recipients = TextAreaField(
        _l("Recipients, one per line"),
        validators=[DataRequired(), Length(max=2_000_000)],
        description=_l("Per line: an address or name, then optionally ; and the area's name."),
    )


class ImportForm(Form):
    file = FileField(_l("pabulib file (.pb)"), validators=[FileRequired()])
    area = SelectField(_l("Area"), coerce=whole_number)
    rule_name = SelectField(_l("Counting rule"))


def _at_most_register_size(form, field) -> None:
    """The size of the uploaded file, without reading it into memory."""
    stream = getattr(field.data, "stream", None)
    if stream is None:
        return
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    limit = current_app.config["REGISTER_EXTRACT_MAX_BYTES"]
    if size > limit:
        raise ValidationError(
            _l(
                "The file is larger than %(mb)d MB. Load it with the command on the server.",
                mb=limit // (1024 * 1024),
            )
        )


class RegisterExtractForm(Form):
    file = FileField(
        _l("Register extract (CSV)"),
        validators=[FileRequired(), _at_most_register_size],
        description=_l(
            "Columns persoonssleutel, geboortedatum, postcode, huisnummer, huisletter,"
            " toevoeging and optionally straat, woonplaats; UTF-8, separated by ; or ,."
        ),
    )
    reference_date = DateField(
        _l("Reference date (peildatum) of the extract"), validators=[InputRequired()]
    )

    def validate_reference_date(self, field) -> None:
        if field.data and field.data > date.today():
            raise ValidationError(_l("The reference date cannot be in the future."))


class RegisterConfirmForm(Form):
    preview = HiddenField(validators=[DataRequired()])


# Helpers ---------------------------------------------------------------------------------------


def _round(round_id: int) -> VotingRound:
    return db.session.get(VotingRound, round_id) or abort(404)


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def _to_utc(local: datetime | None) -> datetime | None:
    return None if local is None else local.replace(tzinfo=_zone()).astimezone(UTC)


def _to_local(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(_zone()).replace(tzinfo=None)


def _rule_choices() -> list[SelectChoice]:
    return [SelectChoice(name, rounds.RULE_LABELS[name]) for name in rounds.available_rules()]


def _fill_choices(form: RoundForm, municipality: Municipality) -> None:
    areas = [a for a in municipality.areas if can_manage_area(current_user, a)]
    form.areas.choices = [SelectChoice(a.id, a.name) for a in areas]
    form.rule_name.choices = _rule_choices()
    periods = db.session.scalars(
        select(BudgetPeriod)
        .where(
            BudgetPeriod.municipality_id == municipality.id,
            BudgetPeriod.area_id.in_([a.id for a in areas]),
        )
        .order_by(BudgetPeriod.year.desc(), BudgetPeriod.area_id)
    ).all()
    form.budget_period.choices = [SelectChoice(0, _("No budget period"))] + [
        SelectChoice(p.id, f"{p.area.name} {p.label}") for p in periods
    ]


def _setup_from(form: RoundForm, municipality: Municipality) -> rounds.RoundSetup:
    areas = [a for a in municipality.areas if a.id in set(form.areas.data or [])]
    period = (
        db.session.get(BudgetPeriod, form.budget_period.data) if form.budget_period.data else None
    )
    return rounds.RoundSetup(
        title=form.title.data or "",
        description=form.description.data or "",
        areas=areas,
        proposals_until=_to_utc(form.proposals_until.data),
        review_until=_to_utc(form.review_until.data),
        voting_opens_at=_to_utc(form.voting_opens_at.data),
        voting_closes_at=_to_utc(form.voting_closes_at.data),
        ballot_type=form.ballot_type.data,
        rule_name=form.rule_name.data,
        min_projects=form.min_projects.data,
        max_projects=form.max_projects.data,
        max_total_cost_cents=form.max_total_cost.data,
        max_points_per_project=form.max_points_per_project.data,
        max_total_points=form.max_total_points.data,
        min_age=form.min_age.data,
        allow_ballot_change=form.allow_ballot_change.data,
        uses_voting_codes=form.uses_voting_codes.data,
        budget_period=period,
        budget_cents=form.budget.data,
    )


# Setup -----------------------------------------------------------------------------------------


@bp.route("/new", methods=["GET", "POST"])
@staff_required
def new():
    municipality = staff_municipality()  # ?municipality= for staff of several
    form = RoundForm()
    _fill_choices(form, municipality)
    if form.validate_on_submit():
        try:
            voting_round = rounds.create_round(
                current_user, municipality, _setup_from(form, municipality)
            )
        except ServiceError as error:
            attach_error(form, error)
        else:
            flash(_("The voting round has been set up."), "success")
            return redirect(url_for("voting.detail", round_id=voting_round.id))
    status = form_status(form)
    return render_template("voting/setup.html", form=form, round=None), status


# The fields of the edit page that are fixed once voting opens (rounds.setup_is_fixed).
FIXED_ON_THE_PAGE = (
    "areas",
    "voting_opens_at",
    "ballot_type",
    "rule_name",
    "min_projects",
    "max_projects",
    "max_total_cost",
    "max_total_points",
    "max_points_per_project",
    "min_age",
    "uses_voting_codes",
    "allow_ballot_change",
    "budget_period",
    "budget",
)
# Fields whose stored value has another name or form on the round.
_STORED = {
    "areas": lambda r: [a.id for a in r.areas],
    "max_total_cost": lambda r: r.max_total_cost_cents,
    "budget": lambda r: r.budget_cents,
    "budget_period": lambda r: r.budget_period_id or 0,
}
_DATES = ("proposals_until", "review_until", "voting_opens_at", "voting_closes_at")


def _fill_from_round(form: RoundForm, voting_round: VotingRound, names) -> None:
    for name in names:
        if name in _DATES:
            value = _to_local(getattr(voting_round, name))
        else:
            value = _STORED.get(name, lambda r, n=name: getattr(r, n))(voting_round)
        getattr(form, name).data = value


@bp.route("/<int:round_id>/edit", methods=["GET", "POST"])
@staff_required
def edit(round_id: int):
    voting_round = _round(round_id)
    if not rounds.can_manage_round(current_user, voting_round):
        abort(403)
    form = RoundForm(obj=None if request.method == "POST" else voting_round)
    _fill_choices(form, voting_round.municipality)
    opened = rounds.has_opened(voting_round)
    fixed = rounds.setup_is_fixed(voting_round)
    if opened:
        form.voting_opens_at.render_kw = {"disabled": True}
        form.voting_opens_at.description = rounds.OPENING_FIXED
    if fixed:
        # Shown read-only (disabled fields are not sent): what is not sent keeps its stored
        # value. A value sent anyway goes to the service, which refuses any change (409).
        for name in FIXED_ON_THE_PAGE:
            field = getattr(form, name)
            field.validators, field.flags.required = [Optional()], False
        if request.method == "POST":
            _fill_from_round(
                form, voting_round, [n for n in FIXED_ON_THE_PAGE if n not in request.form]
            )
    if request.method == "GET":
        _fill_from_round(form, voting_round, ("areas", *_DATES, *_STORED))
    refused = None
    if form.validate_on_submit():
        setup = _setup_from(form, voting_round.municipality)
        # The page shows dates to the minute: the same minute as stored is no change (a
        # closing date a few seconds earlier would be refused once voting opened).
        for name in _DATES:
            stored = getattr(voting_round, name)
            minute = stored.replace(second=0, microsecond=0) if stored is not None else None
            sent = getattr(setup, name)
            if sent == minute or (sent is None and opened and name == "voting_opens_at"):
                setattr(setup, name, stored)
        try:
            rounds.update_round(current_user, voting_round, setup)
        except ServiceError as error:
            attach_error(form, error)
            refused = error.status_code
        else:
            flash(_("The voting round has been saved."), "success")
            return redirect(url_for("voting.detail", round_id=voting_round.id))
    if fixed:
        _fill_from_round(form, voting_round, FIXED_ON_THE_PAGE)
    status = refused or form_status(form)
    return (
        render_template("voting/setup.html", form=form, round=voting_round, fixed=fixed),
        status,
    )


# The register extract (electorate) ------------------------------------------------------------


def _electorate_round(round_id: int) -> VotingRound:
    """The round, for staff who may manage it (others: 403, as on the round's other pages)."""
    voting_round = _round(round_id)
    if not electorate.can_manage_electorate(current_user, voting_round):
        abort(403)
    return voting_round


def _refuse_when_frozen(voting_round: VotingRound) -> None:
    if electorate.is_frozen(voting_round):
        abort(409, str(electorate.FROZEN))


def _register_page(voting_round: VotingRound, form, status: int = 200, **preview):
    sizes = electorate.electors_per_area(voting_round)
    issued, linked = electorate.issued_and_linked(voting_round)
    last = electorate.last_import(voting_round)
    actor = db.session.get(User, last.actor_id) if last and last.actor_id else None
    reference = (last.details or {}).get("reference_date") if last else None
    return render_template(
        "voting/register.html",
        round=voting_round,
        form=form,
        frozen=electorate.is_frozen(voting_round),
        sizes=sizes,
        total=sum(sizes.values()),
        issued=issued,
        linked=linked,
        last=last,
        last_actor=actor.display_name if actor else _("the command line"),
        last_reference=date.fromisoformat(reference) if reference else None,
        area_names={area.id: area.name for area in voting_round.areas},
        **preview,
    ), status


@bp.route("/<int:round_id>/register", methods=["GET", "POST"])
@staff_required
def register_extract(round_id: int):
    """The round's electorate: its size per area, and a new register extract in two steps
    (check the file, then confirm), allowed until voting opens."""
    voting_round = _electorate_round(round_id)
    form = RegisterExtractForm()
    if request.method == "POST":
        _refuse_when_frozen(voting_round)
    if not form.validate_on_submit():
        return _register_page(voting_round, form, form_status(form))
    upload = form.file.data
    writer = register_previews.RowWriter(voting_round, current_user)
    try:
        preview = electorate.preview_register(
            current_user, voting_round, register_previews.text_lines(upload.stream), writer
        )
    except Exception:
        writer.discard()
        raise
    stored = None
    if preview.refused:
        writer.discard()  # all or nothing: a file with a refused line cannot be confirmed
    else:
        writer.finish(voting_round, preview, form.reference_date.data, upload.filename or "")
        stored = writer.token
    return _register_page(
        voting_round,
        form,
        400 if preview.refused else 200,
        preview=preview,
        confirm_form=RegisterConfirmForm(formdata=None, preview=stored),
    )


@bp.route("/<int:round_id>/register/confirm", methods=["POST"])
@staff_required
def register_confirm(round_id: int):
    voting_round = _electorate_round(round_id)
    _refuse_when_frozen(voting_round)
    form = RegisterConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    stored = register_previews.load(voting_round, current_user, form.preview.data)
    if stored is None:
        flash(str(register_previews.ALREADY_USED), "error")
        return redirect(url_for("voting_staff.register_extract", round_id=voting_round.id))
    if request.form.get("discard"):
        stored.delete()
        flash(_("The checked file was discarded. Nothing was changed."))
        return redirect(url_for("voting_staff.register_extract", round_id=voting_round.id))
    written = register_previews.confirm(current_user, voting_round, stored)
    flash(
        _("The electorate has been replaced: %(count)s electors.", count=format_decimal(written)),
        "success",
    )
    return redirect(url_for("voting_staff.register_extract", round_id=voting_round.id))


# Paper ballots ---------------------------------------------------------------------------------


@bp.route("/<int:round_id>/paper", methods=["GET", "POST"])
@staff_required
def paper(round_id: int):
    """Key a paper ballot (double keying by two staff members, services/paper_ballots.py),
    issue numbered papers, and see the papers whose keyings differ."""
    voting_round = _round(round_id)
    if not rounds.can_enter_paper_ballots(current_user, voting_round):
        abort(403)
    form = PaperBallotForm()
    issue_form = IssuePapersForm(prefix="issue")
    issue_form.area.choices = [SelectChoice(a.id, a.name) for a in voting_round.areas]
    choices: casting.Choices = {}
    if "issue-count" in request.form:
        if issue_form.validate_on_submit():
            area = db.session.get(Area, issue_form.area.data)
            try:
                sheets = paper_ballots.issue_papers(
                    current_user, voting_round, area, issue_form.count.data
                )
            except ServiceError as error:
                attach_error(issue_form, error)
            else:
                flash(
                    _(
                        "Papers %(first)s to %(last)s are in the register.",
                        first=sheets[0].number,
                        last=sheets[-1].number,
                    ),
                    "success",
                )
                return redirect(url_for("voting_staff.paper", round_id=voting_round.id))
    elif form.validate_on_submit():
        try:
            choices = parse_choices(voting_round, request.form)
            result = paper_ballots.key_paper(
                current_user, voting_round, form.paper_number.data, form.stempas.data, choices
            )
        except ServiceError as error:
            attach_error(form, error)
        else:
            number = form.paper_number.data.strip().upper()
            if result.entered:
                flash(_("Paper ballot %(number)s has been entered.", number=number), "success")
            elif result.mismatch:
                flash(
                    _(
                        "Paper ballot %(number)s was keyed differently before: it is listed"
                        " below until resolved.",
                        number=number,
                    ),
                    "error",
                )
            else:
                flash(
                    _(
                        "Paper ballot %(number)s is keyed once: a second staff member must key"
                        " it too.",
                        number=number,
                    ),
                    "success",
                )
            return redirect(url_for("voting_staff.paper", round_id=voting_round.id))
    status = 400 if form.errors or issue_form.errors else 200
    counts = counting.ballots_by_channel(voting_round)
    return render_template(
        "voting/paper.html",
        form=form,
        issue_form=issue_form,
        round=voting_round,
        choices=choices,
        is_points=voting_round.ballot_type == "cumulative",
        paper_count=counts.get("paper", 0),
        mismatches=paper_ballots.mismatches(voting_round),
        confirm_form=ConfirmForm(),
        waiting=paper_ballots.waiting(voting_round),
    ), status


@bp.route("/<int:round_id>/paper/<number>/discard", methods=["POST"])
@staff_required
def discard_paper_keyings(round_id: int, number: str):
    voting_round = _round(round_id)
    require_confirmation()
    try:
        paper_ballots.discard_keyings(current_user, voting_round, number)
    except ServiceError as error:
        flash(str(error.message), "error")
    else:
        flash(_("The keyings of paper %(number)s were discarded: key it again.", number=number))
    return redirect(url_for("voting_staff.paper", round_id=voting_round.id))


# Voting codes ----------------------------------------------------------------------------------


def _recipients(voting_round: VotingRound, text: str) -> list[voting_codes.CodeRecipient]:
    by_name = {area.name.lower(): area for area in voting_round.areas}
    default_area = voting_round.areas[0] if len(voting_round.areas) == 1 else None
    recipients = []
    for line in text.splitlines():
        if not line.strip():
            continue
        label, _sep, area_name = line.partition(";")
        area = by_name.get(area_name.strip().lower()) if area_name.strip() else default_area
        if area_name.strip() and area is None:
            raise ValidationFailed(
                _l("Unknown area: %(name)s", name=area_name.strip()[:60]), field="recipients"
            )
        recipients.append(voting_codes.CodeRecipient(label.strip(), area))
    return recipients


@bp.route("/<int:round_id>/codes", methods=["GET", "POST"])
@staff_required
def codes(round_id: int):
    """Issue codes: the response is a CSV with the codes, shown this once, for the mailing."""
    voting_round = _round(round_id)
    if not rounds.can_manage_round(current_user, voting_round):
        abort(403)
    form = CodesForm()
    if form.validate_on_submit():
        try:
            issued = voting_codes.issue_voting_codes(
                current_user, voting_round, _recipients(voting_round, form.recipients.data)
            )
        except ServiceError as error:
            attach_error(form, error)
        else:
            buffer = io.StringIO()
            writer = csv_writer(buffer, lineterminator="\n")
            writer.writerow(("label", "area", "code"))
            for recipient, code in issued:
                writer.writerow(
                    (recipient.label, recipient.area.name if recipient.area else "", code)
                )
            return Response(
                buffer.getvalue(),
                mimetype="text/csv",
                headers={
                    "Content-Disposition": (
                        f'attachment; filename="round-{voting_round.id}-voting-codes.csv"'
                    ),
                    "Cache-Control": "no-store",
                },
            )
    status = form_status(form)
    return render_template("voting/codes.html", form=form, round=voting_round), status


# Closing and publishing ------------------------------------------------------------------------


def _confirmed_action(round_id: int, action, done: str, warnings=None, job=None, **page):
    """A staff action on a round behind a confirmation page (GET shows it, POST does it).
    ``warnings(result)`` turns what the action returns into messages to show as well. On a
    large round (services.jobs.runs_as_job) the action ``job`` runs as a background job
    instead, and POST leads to its page."""
    voting_round = _round(round_id)
    if not rounds.can_manage_round(current_user, voting_round):
        abort(403)
    in_background = job is not None and jobs.runs_as_job(voting_round)
    form = ConfirmForm()
    if form.validate_on_submit():
        if in_background:
            started = jobs.start(current_user, job, voting_round)
            return redirect(url_for("jobs.show", job_id=started.id))
        result = action(current_user, voting_round)
        flash(done, "success")
        for warning in warnings(result) if warnings else ():
            flash(warning, "warning")
        return redirect(url_for("voting.results", round_id=voting_round.id))
    return render_template(
        "voting/confirm.html",
        form=form,
        round=voting_round,
        in_background=in_background,
        ballots=counting.ballot_count(voting_round) if in_background else None,
        **page,
    )


@bp.route("/<int:round_id>/close", methods=["GET", "POST"])
@staff_required
def close(round_id: int):
    return _confirmed_action(
        round_id,
        counting.close_round,
        _("The votes have been counted. Check the results, then publish them."),
        job="round.close",
        heading=_("Close the round and count the votes"),
        explanation=_(
            "The votes are counted with the rule of the round. After this no more paper ballots"
            " can be entered. Only staff see the results until you publish them."
        ),
        button=_("Close and count"),
    )


@bp.route("/<int:round_id>/request-publication", methods=["GET", "POST"])
@staff_required
def request_publication(round_id: int):
    return _confirmed_action(
        round_id,
        counting.request_publication,
        _("Publication has been asked for. Another staff member checks and publishes."),
        heading=_("Ask for publication of the results"),
        explanation=_(
            "Four eyes: you checked the counted results; a second staff member who manages"
            " this round then publishes them. You cannot publish them yourself."
        ),
        button=_("Ask for publication"),
    )


def not_funded_warnings(not_funded) -> list[str]:
    """What publishing says of the winners it could not fund (also on a publish job's page)."""
    return [
        _(
            "“%(title)s” won but is not funded: its initiative is no longer open"
            " (now: %(status)s). No money was reserved for it.",
            title=project.name,
            status=status_label(project.initiative.status),
        )
        for project in not_funded
    ]


@bp.route("/<int:round_id>/publish", methods=["GET", "POST"])
@staff_required
def publish(round_id: int):
    return _confirmed_action(
        round_id,
        counting.publish_results,
        _("The results are published."),
        job="round.publish",
        warnings=not_funded_warnings,
        heading=_("Publish the results"),
        explanation=_(
            "Everyone can then see the results. The selected initiatives get the status"
            " “selected” and their money is reserved in the area budget. Only a staff member"
            " other than the one who asked for publication can publish."
        ),
        button=_("Publish"),
    )


@bp.route("/<int:round_id>/export", methods=["POST"])
@staff_required
def export_job(round_id: int):
    """Write a large round's .pb file in the background (the round's export link leads here:
    web/voting.py export)."""
    voting_round = _round(round_id)
    if not jobs.STEPS["round.export"].may(current_user, voting_round):
        abort(403)
    require_confirmation()
    started = jobs.start(current_user, "round.export", voting_round)
    return redirect(url_for("jobs.show", job_id=started.id))


# pabulib import --------------------------------------------------------------------------------


@bp.route("/import", methods=["GET", "POST"])
@role_required(Role.ADMINISTRATOR)
def import_file():
    municipality = staff_municipality((Role.ADMINISTRATOR,))
    form = ImportForm()
    form.area.choices = [SelectChoice(0, _("No area"))] + [
        SelectChoice(a.id, a.name) for a in municipality.areas
    ]
    form.rule_name.choices = [SelectChoice("", _("As in the file"))] + _rule_choices()
    if form.validate_on_submit():
        upload = form.file.data
        area = db.session.get(Area, form.area.data) if form.area.data else None
        content = upload.read()
        try:
            if len(content) > current_app.config["PB_IMPORT_IN_REQUEST_BYTES"]:
                # A large file (a city: 20 to 50 s) would outlast the web worker.
                job = jobs.start_import(
                    current_user,
                    municipality,
                    content,
                    source_name=(upload.filename or "")[:200],
                    area=area,
                    rule_name=form.rule_name.data or None,
                )
                return redirect(url_for("jobs.show", job_id=job.id))
            voting_round = pabulib.import_round(
                current_user,
                municipality,
                content,
                source_name=(upload.filename or "")[:200],
                areas=[area] if area else [],
                rule_name=form.rule_name.data or None,
            )
        except ServiceError as error:
            attach_error(form, error)
        else:
            flash(_("The file has been imported as a closed round."), "success")
            return redirect(url_for("voting.results", round_id=voting_round.id))
    status = form_status(form)
    return render_template("voting/import.html", form=form), status
