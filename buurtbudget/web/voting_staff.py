"""Voting rounds for staff: set up and edit a round, enter paper ballots, issue voting codes,
close the round (count), publish the results, import a pabulib file."""

from __future__ import annotations

import io
from datetime import UTC, datetime
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
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from buurtbudget.domain.spreadsheet import csv_writer
from buurtbudget.extensions import db
from buurtbudget.models import Area, BudgetPeriod, Municipality, Role, VotingRound
from buurtbudget.services import jobs, paper_ballots
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


@bp.route("/<int:round_id>/edit", methods=["GET", "POST"])
@staff_required
def edit(round_id: int):
    voting_round = _round(round_id)
    if not rounds.can_manage_round(current_user, voting_round):
        abort(403)
    form = RoundForm(obj=None if request.method == "POST" else voting_round)
    _fill_choices(form, voting_round.municipality)
    opened = rounds.has_opened(voting_round)
    if opened:
        # Shown read-only (a disabled field is not sent): the stored opening date stands.
        # A date sent anyway goes to the service, which refuses any other (409).
        field = form.voting_opens_at
        field.validators, field.flags.required = [Optional()], False
        field.render_kw = {"disabled": True}
        field.description = rounds.OPENING_FIXED
    if request.method == "GET":
        form.areas.data = [a.id for a in voting_round.areas]
        for name in ("proposals_until", "review_until", "voting_opens_at", "voting_closes_at"):
            getattr(form, name).data = _to_local(getattr(voting_round, name))
        form.max_total_cost.data = voting_round.max_total_cost_cents
        form.budget.data = voting_round.budget_cents
        form.budget_period.data = voting_round.budget_period_id or 0
    refused = None
    if form.validate_on_submit():
        setup = _setup_from(form, voting_round.municipality)
        stored = voting_round.voting_opens_at
        # The page shows dates to the minute: the same minute as stored is no change.
        minute = stored.replace(second=0, microsecond=0) if stored is not None else None
        if opened and setup.voting_opens_at in (None, minute):
            setup.voting_opens_at = stored
        try:
            rounds.update_round(current_user, voting_round, setup)
        except ServiceError as error:
            attach_error(form, error)
            refused = error.status_code
        else:
            flash(_("The voting round has been saved."), "success")
            return redirect(url_for("voting.detail", round_id=voting_round.id))
    if opened:
        form.voting_opens_at.data = _to_local(voting_round.voting_opens_at)
    status = refused or form_status(form)
    return render_template("voting/setup.html", form=form, round=voting_round), status


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
        try:
            voting_round = pabulib.import_round(
                current_user,
                municipality,
                upload.read(),
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
