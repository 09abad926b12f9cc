"""Voting rounds for residents: the rounds, the ballot (choose -> review -> confirm), the
receipt, changing a ballot, voting with a mailed code, results, CSV and the pabulib export.

The ballot views are deliberately public: residents without an account vote with a voting code
(kept in their session once checked); everyone else is sent to the login page. Who may vote is
decided by services.voting.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import force_locale, format_percent
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from buurtbudget.app import choose_locale
from buurtbudget.domain.ballots import CUMULATIVE
from buurtbudget.domain.numbers import InvalidNumber, parse_int
from buurtbudget.extensions import db
from buurtbudget.models import Phase, Role, VotingRound
from buurtbudget.services import electorate, jobs
from buurtbudget.services.errors import ServiceError, ValidationFailed
from buurtbudget.services.voting import (
    ballot_box,
    casting,
    comparison,
    counting,
    eligibility,
    pabulib,
    rounds,
    weighting,
)
from buurtbudget.web import explain, throttle
from buurtbudget.web.forms import ConfirmForm, Form, attach_error, form_status, require_confirmation
from buurtbudget.web.sealed import seal, unseal
from buurtbudget.web.security import (
    login_required,
    public,
    session_token_unchecked,
    staff_municipalities,
)

bp = Blueprint("voting", __name__, url_prefix="/rounds")

CODES_KEY = "voting_codes"  # round id -> the checked voting code of this browser
RECEIPTS_KEY = "ballot_receipts"  # round id -> {"voter": ..., "token": ..., "cast_on": ...}


class ReceiptForm(Form):
    receipt = StringField(_l("Receipt code"), validators=[Length(max=100)])


class CodeForm(Form):
    code = StringField(
        _l("Voting code"),
        validators=[DataRequired(), Length(max=40)],
        description=_l("The code on the letter you received, for example ABCD-EFGH-JKLM."),
    )


class StempasForm(Form):
    code = StringField(
        _l("Stempas code"),
        validators=[DataRequired(), Length(max=40)],
        description=_l("The code on your stempas letter, for example 7KQ2-M9XH-4TD0-PB3R-6."),
    )


@bp.app_template_global()
def phase_label(phase) -> str:
    return str(rounds.PHASE_LABELS.get(phase, phase))


@bp.app_template_global()
def rule_label(name: str) -> str:
    return str(rounds.RULE_LABELS.get(name, name))


@bp.app_template_global()
def percentage(share) -> str:
    return "–" if share is None else format_percent(float(share), format="#,##0.0%")


@bp.app_template_global()
def age_band_label(band: str | None) -> str:
    return str(rounds.AGE_BAND_LABELS.get(band, _("unknown"))) if band else _("unknown")


def _round(round_id: int) -> VotingRound:
    return db.session.get(VotingRound, round_id) or abort(404)


def _round_for_ballot(round_id: int) -> VotingRound:
    """The round with what checking a ballot reads (its areas and projects), in two queries
    instead of three lazy loads."""
    options = (joinedload(VotingRound.areas), selectinload(VotingRound.projects))
    return db.session.get(VotingRound, round_id, options=options) or abort(404)


# Who is voting in this browser -----------------------------------------------------------------


def _session_code(voting_round: VotingRound) -> str | None:
    """The checked code of this browser for the round (sealed in the cookie, web/sealed.py)."""
    return unseal(session.get(CODES_KEY, {}).get(str(voting_round.id)))


def _has_voted(voting_round: VotingRound) -> bool:
    """voting.has_voted for the current user, asked once per request (the guard and
    _changing both need it)."""
    asked = g.setdefault("has_voted", {})
    if voting_round.id not in asked:
        asked[voting_round.id] = casting.has_voted(current_user, voting_round)
    return asked[voting_round.id]


def _voter_key() -> str:
    return _user_voter_key(current_user.id) if current_user.is_authenticated else "code"


def _user_voter_key(user_id: int) -> str:
    return f"user:{user_id}"


def _receipt(voting_round: VotingRound) -> dict | None:
    """This voter's receipt for the round, if cast in this browser session."""
    receipt = session.get(RECEIPTS_KEY, {}).get(str(voting_round.id))
    if not receipt or receipt.get("voter") != _voter_key():
        return None
    return {**receipt, "token": unseal(receipt.get("token"))}


def _remember(key: str, round_id: int, value) -> None:
    stored = dict(session.get(key, {}))
    if value is None:
        stored.pop(str(round_id), None)
    else:
        stored[str(round_id)] = value
    session[key] = stored


# Ballot form parsing ---------------------------------------------------------------------------


def parse_choices(voting_round: VotingRound, form) -> casting.Choices:
    """Choices from a submitted ballot (checkboxes ``project`` or inputs ``points-<id>``).
    Raises ValidationFailed for anything that is not a whole number of a listed project."""
    return parse_ballot_form(voting_round.ballot_type, {p.id for p in voting_round.projects}, form)


def parse_ballot_form(ballot_type: str, projects: Collection[int], form) -> casting.Choices:
    """:func:`parse_choices` for a ballot of ``ballot_type`` listing the project ids
    ``projects``."""
    if ballot_type == CUMULATIVE:
        choices = {}
        for project_id in projects:
            text = (form.get(f"points-{project_id}") or "").strip()
            if not text:
                continue
            try:
                points = parse_int(text, maximum=999_999)
            except InvalidNumber:
                raise ValidationFailed(_l("Enter whole numbers of points (0 or more).")) from None
            if points:
                choices[project_id] = points
        return choices
    chosen = {}
    for value in form.getlist("project"):
        try:
            project_id = parse_int(value)
        except InvalidNumber:
            project_id = None
        if project_id not in projects:
            raise ValidationFailed(_l("This ballot lists a project that is not in this round."))
        chosen[project_id] = 1
    return chosen


def _ballot_context(voting_round: VotingRound, choices: casting.Choices) -> dict:
    chosen_cost = sum(p.cost_cents for p in voting_round.projects if p.id in choices)
    limit = voting_round.max_total_cost_cents or voting_round.budget_cents
    return {
        "round": voting_round,
        "choices": choices,
        "chosen_cost": chosen_cost,
        "cost_limit": limit,
        "points_used": sum(choices.values()),
        "is_points": voting_round.ballot_type == CUMULATIVE,
    }


# Pages -----------------------------------------------------------------------------------------


@bp.route("")
@public
def index():
    listed = db.session.scalars(
        select(VotingRound).order_by(VotingRound.voting_opens_at.desc(), VotingRound.id.desc())
    ).all()
    groups: dict[str, list[VotingRound]] = {"voting": [], "upcoming": [], "done": []}
    for voting_round in listed:
        phase = voting_round.phase()
        if phase is Phase.VOTING:
            groups["voting"].append(voting_round)
        elif phase in (Phase.PROPOSALS, Phase.REVIEW):
            groups["upcoming"].append(voting_round)
        elif voting_round.is_published or rounds.can_see_results(current_user, voting_round):
            groups["done"].append(voting_round)
    return render_template(
        "voting/index.html",
        groups=groups,
        setup_in=staff_municipalities(Role.COORDINATOR, Role.ADMINISTRATOR),
        import_in=staff_municipalities(Role.ADMINISTRATOR),
    )


@bp.route("/<int:round_id>")
@public
def detail(round_id: int):
    voting_round = _round(round_id)
    user = current_user if current_user.is_authenticated else None
    context = {
        "round": voting_round,
        "phase": voting_round.phase(),
        "problem": eligibility.eligibility_problem(user, voting_round) if user else None,
        "has_voted": bool(user) and casting.has_voted(user, voting_round),
        "elector": electorate.elector_of(user, voting_round),
        "accepts_codes": casting.accepts_codes(voting_round),
        "can_manage": rounds.can_manage_round(user, voting_round),
        "can_enter_paper": rounds.can_enter_paper_ballots(user, voting_round),
        "can_see_results": rounds.can_see_results(user, voting_round),
        "ballot_rules": voting_round.ballot_rules(),
    }
    return render_template("voting/detail.html", **context)


def _guard_ballot(voting_round: VotingRound):
    """A redirect when this browser cannot vote in the round now, else None."""
    if not voting_round.is_voting_open():
        flash(str(rounds.VOTING_NOT_OPEN), "error")
        return redirect(url_for("voting.detail", round_id=voting_round.id))
    if _session_code(voting_round):
        return None
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    problem = eligibility.eligibility_problem(current_user, voting_round)
    if problem is not None:
        flash(problem, "error")
        return redirect(url_for("voting.detail", round_id=voting_round.id))
    if not voting_round.allow_ballot_change and _has_voted(voting_round):
        flash(str(casting.ALREADY_VOTED), "error")
        return redirect(url_for("voting.detail", round_id=voting_round.id))
    return None


def _changing(voting_round: VotingRound) -> bool:
    """Whether this voter already voted, so the ballot page changes their ballot."""
    return (
        current_user.is_authenticated
        and voting_round.allow_ballot_change  # else _guard_ballot turned voters away
        and not _session_code(voting_round)
        and _has_voted(voting_round)
    )


@bp.route("/<int:round_id>/ballot", methods=["GET", "POST"])
@public
def ballot(round_id: int):
    """Choose (GET, or POST from the review page's "change my choices"), then review (POST)."""
    voting_round = _round_for_ballot(round_id)
    refusal = _guard_ballot(voting_round)
    if refusal is not None:
        return refusal
    form = ConfirmForm()
    receipt_form = ReceiptForm(prefix="r")
    changing = _changing(voting_round)
    stored = _receipt(voting_round)
    choices: casting.Choices = {}
    if request.method == "GET" and changing and stored:
        own = casting.ballot_for_receipt(voting_round, stored.get("token"))
        choices = own.choices if own else {}
        receipt_form.receipt.data = stored.get("token") or ""
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        typed = (request.form.get("r-receipt") or "").strip()[:100]
        receipt_form.receipt.data = typed or (stored or {}).get("token") or ""
        try:
            choices = parse_choices(voting_round, request.form)
            if "review" in request.form:
                casting.check_choices(voting_round, choices)
                return render_template(
                    "voting/review.html",
                    form=form,
                    receipt=receipt_form.receipt.data,
                    changing=changing,
                    chosen=[p for p in voting_round.projects if p.id in choices],
                    **_ballot_context(voting_round, choices),
                )
        except ServiceError as error:
            attach_error(form, error)
            status = 400
    return render_template(
        "voting/ballot.html",
        form=form,
        receipt_form=receipt_form,
        changing=changing,
        **_ballot_context(voting_round, choices),
    ), status


@bp.route("/<int:round_id>/ballot/confirm", methods=["POST"])
@public
def confirm(round_id: int):
    quick = _quick_cast(round_id)
    if quick is not None:
        return quick
    voting_round = _round_for_ballot(round_id)
    refusal = _guard_ballot(voting_round)
    if refusal is not None:
        return refusal
    require_confirmation()
    choices = parse_choices(voting_round, request.form)
    code = _session_code(voting_round)
    if _changing(voting_round):
        stored = _receipt(voting_round) or {}
        token = (request.form.get("receipt") or "").strip() or stored.get("token") or ""
        casting.change_ballot(current_user, voting_round, token, choices)
        flash(_("Your ballot has been changed."), "success")
        return redirect(url_for("voting.receipt", round_id=voting_round.id))
    actor = None if code else current_user
    # Read before casting: the commit expires the loaded user (whose locale the message
    # needs) and round, so this saves reloading them.
    voter_key = _voter_key()
    thanks = _("Thank you! Your vote has been counted.")
    result = casting.cast_ballot(actor, voting_round, choices, voting_code=code)
    if code:
        _remember(CODES_KEY, round_id, None)
    return _to_receipt(round_id, voter_key, result.receipt_token, result.cast_on, thanks)


def _to_receipt(round_id: int, voter_key: str, token: str | None, cast_on: date, thanks: str):
    """After casting: remember the receipt in this browser, thank, show the receipt."""
    sealed = seal(token) if token else None  # never in clear in the cookie
    receipt = {"voter": voter_key, "token": sealed, "cast_on": cast_on.isoformat()}
    _remember(RECEIPTS_KEY, round_id, receipt)
    flash(thanks, "success")
    return redirect(url_for("voting.receipt", round_id=round_id))


def _quick_cast(round_id: int):
    """The common case (a logged-in resident's valid first ballot) in one statement, without
    loading the resident or the round (services/voting/ballot_box.py); the redirect to the receipt,
    or None to take the complete way, which also gives every refusal its message. CSRFProtect
    has checked the token before any view runs."""
    token = session_token_unchecked()
    if token is None or str(round_id) in session.get(CODES_KEY, {}):
        return None
    setup = ballot_box.setup_for(round_id)
    if setup is None:
        return None
    try:
        choices = parse_ballot_form(setup.ballot_type, setup.external_ids, request.form)
    except ValidationFailed:
        return None
    cast = ballot_box.try_cast(setup, token, choices)
    if cast is None:
        return None
    thanks = _thanks_in(choose_locale(lambda: cast.locale))
    voter_key = _user_voter_key(cast.user_id)
    return _to_receipt(round_id, voter_key, cast.receipt_token, cast.cast_on, thanks)


def _thanks_in(locale: str) -> str:
    """The thank-you message in ``locale``, translated once per process: forcing a locale and
    looking the message up cost a tenth of a millisecond, a thirtieth of a cast's CPU."""
    kept = current_app.extensions.setdefault("voting_thanks", {})
    if locale not in kept:
        with force_locale(locale):
            kept[locale] = _("Thank you! Your vote has been counted.")
    return kept[locale]


@bp.route("/<int:round_id>/receipt")
@public
def receipt(round_id: int):
    voting_round = _round(round_id)
    stored = _receipt(voting_round)
    voted = stored is not None or (
        current_user.is_authenticated and casting.has_voted(current_user, voting_round)
    )
    if not voted:
        return redirect(url_for("voting.detail", round_id=voting_round.id))
    cast_on = date.fromisoformat(stored["cast_on"]) if stored and stored.get("cast_on") else None
    return render_template(
        "voting/receipt.html", round=voting_round, stored=stored, cast_on=cast_on
    )


@bp.route("/<int:round_id>/code", methods=["GET", "POST"])
@public
def code(round_id: int):
    """Residents without an account enter the code from their letter."""
    voting_round = _round(round_id)
    if not casting.accepts_codes(voting_round):
        abort(404)
    form = CodeForm()
    if request.method == "POST":
        throttle.count_code_attempt()
    if form.validate_on_submit():
        try:
            casting.check_code(voting_round, form.code.data)
        except ServiceError as error:
            attach_error(form, error)
        else:
            _remember(CODES_KEY, voting_round.id, seal(form.code.data.strip()))
            return redirect(url_for("voting.ballot", round_id=voting_round.id))
    return render_template("voting/code.html", round=voting_round, form=form), form_status(form)


@bp.route("/<int:round_id>/stempas", methods=["GET", "POST"])
@login_required
def stempas(round_id: int):
    """Link this account to the resident's stempas (once): from then on it votes as that
    elector. The QR code on the letter leads here with the code filled in (it links
    nothing by itself: linking stays a POST). Typed codes count as voting-code guesses."""
    voting_round = _round(round_id)
    form = StempasForm()
    if request.method == "POST":
        throttle.count_code_attempt()
    if request.method == "GET":
        form.code.data = (request.args.get("code") or "")[:40]
    if form.validate_on_submit():
        try:
            elector = electorate.bind_account(current_user, voting_round, form.code.data)
        except ServiceError as error:
            attach_error(form, error)
        else:
            flash(
                _(
                    "Your account is linked to your stempas: you may vote in %(area)s.",
                    area=elector.area.name,
                ),
                "success",
            )
            if voting_round.is_voting_open():
                return redirect(url_for("voting.ballot", round_id=voting_round.id))
            return redirect(url_for("voting.detail", round_id=voting_round.id))
    return render_template(
        "voting/stempas.html",
        round=voting_round,
        form=form,
        elector=electorate.elector_of(current_user, voting_round),
    ), form_status(form)


def _round_with_results(round_id: int) -> VotingRound:
    """The round, if this visitor may see its results (404 otherwise: nothing to see yet)."""
    voting_round = _round(round_id)
    user = current_user if current_user.is_authenticated else None
    if not rounds.can_see_results(user, voting_round):
        abort(404)
    return voting_round


@bp.route("/<int:round_id>/results")
@public
def results(round_id: int):
    voting_round = _round_with_results(round_id)
    user = current_user if current_user.is_authenticated else None
    ballot_counts = counting.ballot_counts(voting_round)  # one pass: channels and turnout
    channels = counting.ballots_by_channel(voting_round, ballot_counts)
    ballots = sum(channels.values())
    corrected = weighting.funded_by_corrected_ranking(voting_round)
    return render_template(
        "voting/results.html",
        round=voting_round,
        projects=counting.results_in_order(voting_round),
        turnout=counting.turnout(voting_round, ballot_counts),
        channels=channels,
        can_manage=rounds.can_manage_round(user, voting_round),
        counts=counting.counts_of(voting_round),
        explained=explain.explain(voting_round, ballots, corrected),
        rule_text=explain.rule_explainer(voting_round, ballots, corrected),
    )


@bp.route("/<int:round_id>/results.csv")
@public
def results_csv(round_id: int):
    voting_round = _round_with_results(round_id)
    return Response(
        counting.results_csv(voting_round),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="round-{voting_round.id}-results.csv"'
        },
    )


def _round_with_comparison(round_id: int) -> VotingRound:
    """The round, if this visitor may compare its rules (404 otherwise: nothing to see yet)."""
    voting_round = _round(round_id)
    user = current_user if current_user.is_authenticated else None
    if not comparison.can_see_comparison(user, voting_round):
        abort(404)
    return voting_round


@bp.route("/<int:round_id>/comparison")
@public
def rule_comparison(round_id: int):
    """The rules side by side on the round's own ballots (staff once voting has ended,
    everyone once the results are published)."""
    voting_round = _round_with_comparison(round_id)
    user = current_user if current_user.is_authenticated else None
    return render_template(
        "voting/comparison.html",
        round=voting_round,
        comparison=comparison.compare_round(voting_round),
        can_manage=rounds.can_manage_round(user, voting_round),
    )


@bp.route("/<int:round_id>/comparison.csv")
@public
def rule_comparison_csv(round_id: int):
    voting_round = _round_with_comparison(round_id)
    return Response(
        comparison.to_csv(comparison.compare_round(voting_round)),
        mimetype="text/csv",
        headers={
            "Content-Disposition": (
                f'attachment; filename="round-{voting_round.id}-rule-comparison.csv"'
            )
        },
    )


@bp.route("/<int:round_id>/export.pb")
@public
def export(round_id: int):
    """Public once the results are published; the round's staff once voting has ended
    (earlier, an export would show interim results)."""
    voting_round = _round(round_id)
    user = current_user if current_user.is_authenticated else None
    staff_may = rounds.can_export_unpublished(user, voting_round)
    if not (voting_round.is_published or staff_may):
        abort(404)
    if jobs.runs_as_job(voting_round):
        if not staff_may:
            abort(
                409,
                _(
                    "This round has too many ballots to export from a web page. Ask the"
                    " municipality for the file."
                ),
            )
        # Written in the background (services.jobs); this page starts it or links to it.
        return render_template(
            "voting/export_job.html",
            round=voting_round,
            form=ConfirmForm(),
            ballots=counting.ballot_count(voting_round),
            ready=jobs.latest_export(voting_round),
        )
    return Response(
        pabulib.export_round(voting_round),
        mimetype="text/plain",
        headers={"Content-Disposition": f'attachment; filename="round-{voting_round.id}.pb"'},
    )
