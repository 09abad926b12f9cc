"""Dashboards: the area dashboard (public, and the council / coordinator version), the
municipality overview with the areas that lag behind, the "what, where, when" list of
projects and the municipality summary (HTML, CSV, PDF); the area report as PDF."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, current_app, render_template, request
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from buurtbudget.domain.initiative_lifecycle import Status
from buurtbudget.domain.monitoring import percent
from buurtbudget.extensions import db
from buurtbudget.models import Area, Municipality
from buurtbudget.services import budget_reports, monitoring
from buurtbudget.services.errors import ValidationFailed
from buurtbudget.services.initiatives import status_label
from buurtbudget.services.permissions import can_read_area_finances
from buurtbudget.web import report_files
from buurtbudget.web.budgets import report_period_or_404
from buurtbudget.web.pagination import paginate
from buurtbudget.web.params import arg_int
from buurtbudget.web.security import login_required, public

bp = Blueprint("monitoring", __name__, url_prefix="/monitoring")


@bp.app_context_processor
def inject_helpers():
    return {
        "signal_label": lambda code: monitoring.SIGNAL_LABELS.get(code, code),
        "status_label": status_label,
        "percent": _percent,
    }


def _percent(fraction, decimals: int = 1) -> str:
    value = percent(fraction, decimals)
    return "–" if value is None else format_decimal(value, format="#,##0.0") + "%"


@bp.route("/")
@public
def index():
    municipalities = db.session.scalars(select(Municipality).order_by(Municipality.name)).all()
    return render_template("monitoring/index.html", municipalities=municipalities)


@bp.route("/areas/<int:area_id>")
@public
def area(area_id: int):
    area = monitoring.get_area(area_id)
    dashboard = monitoring.area_dashboard(current_user, area, request.args.get("year"))
    return render_template(
        "monitoring/area.html",
        d=dashboard,
        rows=_chart_rows(dashboard),
        can_see_council=can_read_area_finances(current_user, area),
    )


@bp.route("/areas/<int:area_id>/council")
@login_required
def area_council(area_id: int):
    area = monitoring.get_area(area_id)
    dashboard = monitoring.area_dashboard(
        current_user, area, request.args.get("year"), council=True
    )
    return render_template(
        "monitoring/area.html", d=dashboard, rows=_chart_rows(dashboard), can_see_council=True
    )


def _chart_rows(d: monitoring.AreaDashboard) -> dict[str, list]:
    """(label, values) rows of the dashboard's charts and tables."""
    return {
        "themes": [(t.name, [t.granted, t.paid]) for t in d.themes],
        "statuses": [(status_label(s), [n]) for s, n in d.statuses],
        "trend_money": [
            (str(y.year), [y.balance.budget, y.balance.spent, y.balance.paid]) for y in d.trend
        ],
        "trend_turnout": [(str(y.year), [y.turnout]) for y in d.trend],
    }


@bp.route("/municipalities/<int:municipality_id>")
@public
def municipality(municipality_id: int):
    overview = monitoring.municipality_overview(
        monitoring.get_municipality(municipality_id), request.args.get("year")
    )
    return render_template(
        "monitoring/municipality.html",
        o=overview,
        per_inhabitant_rows=[(r.area.name, [r.spent_per_inhabitant]) for r in overview.rows],
        turnout_rows=[(r.area.name, [r.turnout]) for r in overview.rows],
    )


@bp.route("/municipalities/<int:municipality_id>/projects")
@public
def projects(municipality_id: int):
    municipality = monitoring.get_municipality(municipality_id)
    year, years = monitoring.municipality_year(municipality, request.args.get("year"))
    area_id = arg_int("area", invalid=_("This is not a valid choice."))
    areas = db.session.scalars(
        select(Area).where(Area.municipality_id == municipality.id).order_by(Area.name)
    ).all()
    if area_id is not None and area_id not in {a.id for a in areas}:
        raise ValidationFailed(_("This is not a valid choice."), field="area")
    status_text = request.args.get("status") or None
    if status_text is not None and status_text not in {
        s.value for s in monitoring.PROJECT_STATUSES
    }:
        raise ValidationFailed(_("This is not a valid choice."), field="status")
    status = Status(status_text) if status_text else None
    page = paginate(monitoring.projects_query(municipality, year, area_id, status))
    money = monitoring.money_of_initiatives([i.id for i in page.items])
    return render_template(
        "monitoring/projects.html",
        municipality=municipality,
        page=page,
        money=money,
        year=year,
        years=years,
        areas=areas,
        area_id=area_id,
        status=status_text,
        statuses=monitoring.PROJECT_STATUSES,
    )


@bp.route("/municipalities/<int:municipality_id>/summary")
@public
def summary(municipality_id: int):
    overview = monitoring.municipality_overview(
        monitoring.get_municipality(municipality_id), request.args.get("year")
    )
    return render_template("monitoring/summary.html", o=overview, today=date.today())


def _download(body: bytes | str, mimetype: str, filename: str) -> Response:
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _slug(text: str) -> str:
    return "-".join(text.split()).lower()


@bp.route("/municipalities/<int:municipality_id>/summary.csv")
@public
def summary_csv(municipality_id: int):
    overview = monitoring.municipality_overview(
        monitoring.get_municipality(municipality_id), request.args.get("year")
    )
    name = f"samenvatting-{_slug(overview.municipality.name)}-{overview.year}.csv"
    # A byte order mark, so spreadsheet programs read UTF-8.
    return _download("\ufeff" + report_files.summary_csv(overview), "text/csv", name)


@bp.route("/municipalities/<int:municipality_id>/summary.pdf")
@public
def summary_pdf(municipality_id: int):
    overview = monitoring.municipality_overview(
        monitoring.get_municipality(municipality_id), request.args.get("year")
    )
    name = f"samenvatting-{_slug(overview.municipality.name)}-{overview.year}.pdf"
    return _download(report_files.summary_pdf(overview), "application/pdf", name)


@bp.route("/periods/<int:period_id>/report.pdf")
@public
def report_pdf(period_id: int):
    """Public once the area council published the report (as its HTML and CSV)."""
    period = report_period_or_404(period_id)
    if period is None:
        return current_app.login_manager.unauthorized()
    finances = budget_reports.area_finances(period)
    name = f"wijkverslag-{_slug(period.area.name)}-{period.label}.pdf"
    return _download(report_files.area_report_pdf(finances), "application/pdf", name)
