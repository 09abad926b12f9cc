"""Correcting a round for participation gaps: the staff settings page (with a preview), and the
public pages "why does this project rank here" and "how this round corrects" (methodology)."""

from __future__ import annotations

from fractions import Fraction

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import BooleanField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from buurtbudget.extensions import db
from buurtbudget.models import AuditEntry, VotingRound
from buurtbudget.services import audit
from buurtbudget.services.errors import ServiceError
from buurtbudget.services.voting import counting, rounds, weighting
from buurtbudget.web.forms import Form, attach_error
from buurtbudget.web.security import public, staff_required

bp = Blueprint("weighting", __name__)

_NUMBER = [Length(max=20)]


class WeightingForm(Form):
    enabled = BooleanField(_l("Correct this round for differences in turnout"))
    method = SelectField(
        _l("Voter weights"),
        choices=[SelectChoice(k, label) for k, label in weighting.METHOD_LABELS.items()],
    )
    weight_cap = StringField(
        _l("Largest weight (times the average)"),
        validators=_NUMBER,
        description=_l("Empty: no cap. For example 3: no vote counts more than three times."),
    )
    weighted_support = StringField(_l("Weight of weighted support"), validators=_NUMBER)
    support = StringField(_l("Weight of support (unweighted votes)"), validators=_NUMBER)
    relative_contribution = StringField(
        _l("Weight of the own contribution (relative)"), validators=_NUMBER
    )
    contribution_measure = SelectField(
        _l("Own contribution judged"),
        choices=[SelectChoice(k, label) for k, label in weighting.MEASURE_LABELS.items()],
    )
    need = StringField(_l("Weight of the need index of the area"), validators=_NUMBER)
    area_balance = BooleanField(_l("Area balance: every area gets its share of the ranking"))
    funding = SelectField(
        _l("Which projects get money is decided by"),
        choices=[SelectChoice(k, label) for k, label in weighting.FUNDING_LABELS.items()],
        default=weighting.FUNDING_RULE,
        description=_l(
            "The corrected ranking counts approvals and needs the correction switched on."
        ),
    )
    preview = SubmitField(_l("Show the effect"))
    save = SubmitField(_l("Save"))

    def settings(self) -> weighting.WeightingSettings:
        return weighting.WeightingSettings(
            enabled=self.enabled.data,
            method=self.method.data,
            weight_cap=self.weight_cap.data or "",
            support=self.support.data or "",
            weighted_support=self.weighted_support.data or "",
            relative_contribution=self.relative_contribution.data or "",
            need=self.need.data or "",
            contribution_measure=self.contribution_measure.data,
            area_balance=self.area_balance.data,
            funding=self.funding.data or weighting.FUNDING_RULE,
        )

    def fill(self, settings: weighting.WeightingSettings) -> None:
        for name in (
            "enabled",
            "method",
            "weight_cap",
            "support",
            "weighted_support",
            "relative_contribution",
            "need",
            "contribution_measure",
            "area_balance",
            "funding",
        ):
            getattr(self, name).data = getattr(settings, name)


@bp.app_template_global()
def factor_label(name: str) -> str:
    return str(weighting.FACTOR_LABELS.get(name, name))


@bp.app_template_global()
def funded_by_corrected_ranking(voting_round: VotingRound) -> bool:
    """Whether the corrected ranking (not the counting rule) decides the round's money."""
    return weighting.funded_by_corrected_ranking(voting_round)


@bp.app_template_filter()
def decimal(value, digits: int = 2) -> str:
    """A Fraction, float or exact text ("2469/2") as a number with ``digits`` decimals."""
    if value is None:
        return "–"
    if isinstance(value, str):
        value = Fraction(value)
    pattern = "#,##0." + "0" * digits if digits else "#,##0"
    return format_decimal(float(value), format=pattern)


@bp.context_processor
def _small_cell() -> dict:
    return {"small_cell": weighting.SMALL_CELL}


def _round(round_id: int) -> VotingRound:
    return db.session.get(VotingRound, round_id) or abort(404)


def _viewer():
    return current_user if current_user.is_authenticated else None


# Staff: the settings ---------------------------------------------------------------------------


@bp.route("/staff/rounds/<int:round_id>/weighting", methods=["GET", "POST"])
@staff_required
def settings(round_id: int):
    voting_round = _round(round_id)
    if not rounds.can_manage_round(current_user, voting_round):
        abort(403)
    form = WeightingForm()
    analysis = None
    status = 200
    stored = weighting.WeightingSettings.from_config(voting_round.weighting_config)
    # Fixed once voting opens: the page shows the stored settings read-only and previews
    # them, whatever was sent; a save still goes to the service, which refuses it (409).
    fixed = counting.weighting_is_fixed(voting_round)
    if not form.is_submitted() or fixed:
        form.fill(stored)
    if form.is_submitted() and form.validate():
        try:
            if form.save.data:
                counting.update_weighting(current_user, voting_round, form.settings())
                flash(_("The weighting settings are saved."), "success")
                return redirect(url_for("weighting.settings", round_id=voting_round.id))
            analysis = weighting.preview(current_user, voting_round, form.settings())
        except ServiceError as error:
            db.session.rollback()
            attach_error(form, error)
            status = error.status_code
    elif form.is_submitted():
        status = 400
    return render_template(
        "weighting/settings.html",
        round=voting_round,
        form=form,
        analysis=analysis,
        previewing=analysis is not None,
        fixed=fixed,
        # While voting is open: why there is no preview (it would show the interim standing).
        no_preview=None if weighting.can_preview(voting_round) else weighting.NO_INTERIM_RESULTS,
    ), status


# Public: why a project ranks here, and the methodology -------------------------------------------


def _published_analysis(round_id: int) -> weighting.Analysis:
    voting_round = _round(round_id)
    if not rounds.can_see_results(_viewer(), voting_round) or not voting_round.weighting_config:
        abort(404)
    return weighting.analyse(voting_round)


@bp.route("/rounds/<int:round_id>/ranking")
@public
def ranking(round_id: int):
    analysis = _published_analysis(round_id)
    return render_template("weighting/ranking.html", round=analysis.voting_round, analysis=analysis)


def _last_change(voting_round: VotingRound) -> AuditEntry | None:
    return audit.latest("round.weighting_changed", "VotingRound", voting_round.id)


@bp.route("/rounds/<int:round_id>/methodology")
@public
def methodology(round_id: int):
    """Public in every phase: residents should know the settings before they vote. The
    figures appear once the results may be seen."""
    voting_round = _round(round_id)
    config = weighting.round_config(voting_round)
    analysis = None
    if config is not None and rounds.can_see_results(_viewer(), voting_round):
        analysis = weighting.analyse(voting_round)
    return render_template(
        "weighting/methodology.html",
        round=voting_round,
        config=config,
        analysis=analysis,
        method=weighting.WeightingSettings.from_config(voting_round.weighting_config).method,
        last_change=_last_change(voting_round),
    )
