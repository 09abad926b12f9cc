"""Budget models per municipality or area, opening budget periods (with their calculation and
allocation in the ledger), the Delft area programme and the area report (wijkverslag)."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, true

from buurtbudget.domain.budget import (
    AccountKind,
    BudgetCalculation,
    BudgetModelSettings,
    EntryKind,
    calculate_budget,
    halves_for,
)
from buurtbudget.extensions import db
from buurtbudget.models import (
    Area,
    AreaReport,
    BudgetAccount,
    BudgetModelConfig,
    BudgetPeriod,
    Initiative,
    Municipality,
    ProgrammeLine,
    Role,
    RoleAssignment,
    Theme,
    User,
)
from buurtbudget.models._base import utcnow
from buurtbudget.services import audit, ledger
from buurtbudget.services.errors import Conflict, ValidationFailed
from buurtbudget.services.permissions import (
    can_manage_area,
    holds_area_role,
    is_admin_of,
    require,
)

YEARS = (2000, 2100)
NOTE_MAX = 300
SUMMARY_MAX = 20_000


# Models --------------------------------------------------------------------------------------


def config_for(area: Area) -> BudgetModelConfig | None:
    """The area's own model, else its municipality's."""
    configs = db.session.scalars(
        select(BudgetModelConfig).where(
            BudgetModelConfig.municipality_id == area.municipality_id,
            (BudgetModelConfig.area_id == area.id) | BudgetModelConfig.area_id.is_(None),
        )
    ).all()
    return min(configs, key=lambda c: c.area_id is None, default=None)


def municipality_config(municipality: Municipality) -> BudgetModelConfig | None:
    return db.session.scalar(
        select(BudgetModelConfig).where(
            BudgetModelConfig.municipality_id == municipality.id,
            BudgetModelConfig.area_id.is_(None),
        )
    )


def configure_model(
    actor: User | None,
    municipality: Municipality,
    settings: BudgetModelSettings,
    area: Area | None = None,
) -> BudgetModelConfig:
    """Administrators set the model of their municipality, or of one area that differs.
    Periods already opened keep the calculation they were opened with."""
    if actor is not None:
        require(is_admin_of(actor, municipality.id))
    if area is not None and area.municipality_id != municipality.id:
        raise ValidationFailed(_l("Choose an area of this municipality."), field="area")
    config = db.session.scalar(
        select(BudgetModelConfig).where(
            BudgetModelConfig.municipality_id == municipality.id,
            BudgetModelConfig.area_id == area.id if area else BudgetModelConfig.area_id.is_(None),
        )
    )
    if config is None:
        config = BudgetModelConfig(municipality=municipality, area=area)
        db.session.add(config)
    config.apply(settings)
    db.session.flush()
    audit.record(
        actor,
        "budget_model.configured",
        config,
        municipality_id=municipality.id,
        area_id=area.id if area else None,
        kind=settings.kind.value,
        basis=settings.basis.value,
        rate_millicents=settings.rate_millicents,
        periods_per_year=settings.periods_per_year,
        bottleneck_fund_cents=settings.bottleneck_fund_cents,
        citywide_pot_cents=settings.citywide_pot_cents,
        cheque_value_cents=settings.cheque_value_cents,
    )
    db.session.commit()
    return config


def remove_area_model(actor: User | None, area: Area) -> None:
    """The area follows its municipality's model again (for periods opened from now on)."""
    if actor is not None:
        require(is_admin_of(actor, area.municipality_id))
    config = db.session.scalar(
        select(BudgetModelConfig).where(BudgetModelConfig.area_id == area.id)
    )
    if config is None:
        raise Conflict(_l("This area has no budget model of its own."))
    audit.record(
        actor,
        "budget_model.removed",
        config,
        municipality_id=area.municipality_id,
        area_id=area.id,
        kind=config.kind.value,
    )
    db.session.delete(config)
    db.session.commit()


# Periods -------------------------------------------------------------------------------------


def find_period(area: Area | None, year: int, half: int, municipality_id: int | None = None):
    query = select(BudgetPeriod).where(BudgetPeriod.year == year, BudgetPeriod.half == half)
    if area is None:
        query = query.where(
            BudgetPeriod.area_id.is_(None), BudgetPeriod.municipality_id == municipality_id
        )
    else:
        query = query.where(BudgetPeriod.area_id == area.id)
    return db.session.scalar(query)


@dataclass(frozen=True)
class PeriodPlan:
    """What opening an area's period would book, shown before it is confirmed."""

    area: Area
    year: int
    half: int
    settings: BudgetModelSettings
    calculation: BudgetCalculation

    @property
    def bottleneck_cents(self) -> int:
        return self.settings.bottleneck_fund_cents

    @property
    def total_cents(self) -> int:
        return self.calculation.amount_cents + self.bottleneck_cents


def overlapping_period(area: Area, year: int, half: int) -> BudgetPeriod | None:
    """An opened period of the area that shares days with (year, half): the same half, or a
    whole year against one of its halves (after the model changed from years to halves)."""
    return db.session.scalar(
        select(BudgetPeriod)
        .where(
            BudgetPeriod.area_id == area.id,
            BudgetPeriod.year == year,
            true() if half == 0 else or_(BudgetPeriod.half == half, BudgetPeriod.half == 0),
        )
        .limit(1)
    )


def plan_period(actor: User | None, area: Area, year: int, half: int | None = None) -> PeriodPlan:
    """Check that the period can be opened and compute its budget, without booking anything.
    Administrators of the area's municipality; ``actor`` None: the command line or the demo."""
    if actor is not None:
        require(is_admin_of(actor, area.municipality_id))
    if year is None or not YEARS[0] <= year <= YEARS[1]:
        raise ValidationFailed(_l("This is not a valid year."), field="year")
    config = config_for(area)
    if config is None:
        raise Conflict(_l("Choose a budget model for this municipality first."))
    settings = config.settings()
    halves = halves_for(settings)
    half = halves[0] if half is None else half
    if half not in halves:
        raise ValidationFailed(
            _l("The budget model of %(area)s has no such period.", area=area.name), field="half"
        )
    existing = overlapping_period(area, year, half)
    if existing is not None:
        raise Conflict(
            _l(
                "%(area)s already has the budget period %(period)s.",
                area=area.name,
                period=existing.label,
            ),
            field="half",
        )
    figures = area.population_for(year)
    if figures is None:
        raise Conflict(
            _l("There are no population figures for %(area)s and this year.", area=area.name)
        )
    calc = calculate_budget(
        settings,
        inhabitants=figures.inhabitants,
        households=figures.households,
        population_year=figures.year,
    )
    return PeriodPlan(area=area, year=year, half=half, settings=settings, calculation=calc)


def open_period(actor: User | None, area: Area, year: int, half: int | None = None):
    """Open the area's budget period: compute the budget from the population figures, create
    the area pot (and knelpuntenpot) and book the allocations. ``actor`` None: the command
    line or the demo. Administrators only."""
    period = _open_planned(actor, plan_period(actor, area, year, half))
    db.session.commit()
    return period


def _open_planned(actor: User | None, plan: PeriodPlan) -> BudgetPeriod:
    area, calc = plan.area, plan.calculation
    period = BudgetPeriod(
        municipality_id=area.municipality_id,
        area=area,
        year=plan.year,
        half=plan.half,
        model_kind=plan.settings.kind,
        basis=calc.basis,
        basis_count=calc.count,
        population_year=calc.population_year,
        rate_millicents=calc.rate_millicents,
        amount_cents=calc.amount_cents,
        opened_by_id=actor.id if actor else None,
    )
    db.session.add(period)
    pots = [(AccountKind.AREA, calc.amount_cents)]
    if plan.bottleneck_cents:
        pots.append((AccountKind.BOTTLENECK, plan.bottleneck_cents))
    _create_pots(actor, period, pots)
    audit.record(
        actor,
        "budget_period.opened",
        period,
        municipality_id=area.municipality_id,
        area_id=area.id,
        year=plan.year,
        half=plan.half,
        amount_cents=calc.amount_cents,
        basis_count=calc.count,
        rate_millicents=calc.rate_millicents,
    )
    return period


@dataclass(frozen=True)
class MunicipalityPlan:
    """Opening a period for several areas at once: what each area would get, or why not."""

    plans: list[PeriodPlan]
    refused: list[tuple[Area, str]]  # the area and the (translated) reason
    citywide_cents: int  # the city-wide pot that would open beside them (0: none)

    @property
    def total_cents(self) -> int:
        return sum(p.total_cents for p in self.plans) + self.citywide_cents


def plan_periods(
    actor: User | None,
    municipality: Municipality,
    year: int,
    half: int,
    areas: list[Area] | None = None,
) -> MunicipalityPlan:
    """:func:`plan_period` for ``areas`` (default: every area of the municipality, and then
    the city-wide pot too when the model has one and it is not open yet)."""
    if actor is not None:
        require(is_admin_of(actor, municipality.id))
    if year is None or not YEARS[0] <= year <= YEARS[1]:
        raise ValidationFailed(_l("This is not a valid year."), field="year")
    if half not in (0, 1, 2):
        raise ValidationFailed(_l("This is not a valid choice."), field="half")
    if areas is not None and any(a.municipality_id != municipality.id for a in areas):
        raise ValidationFailed(_l("Choose an area of this municipality."), field="area")
    plans, refused = [], []
    for area in municipality.areas if areas is None else areas:
        try:
            plans.append(plan_period(actor, area, year, half))
        except (Conflict, ValidationFailed) as error:
            refused.append((area, str(error.message)))
    citywide = 0
    config = municipality_config(municipality)
    if (
        areas is None
        and config is not None
        and config.citywide_pot_cents
        and find_period(None, year, half, municipality.id) is None
    ):
        citywide = config.citywide_pot_cents
    return MunicipalityPlan(plans=plans, refused=refused, citywide_cents=citywide)


def open_periods(
    actor: User | None,
    municipality: Municipality,
    year: int,
    half: int,
    areas: list[Area] | None = None,
) -> list[BudgetPeriod]:
    """Open what :func:`plan_periods` shows, in one transaction; areas that cannot be opened
    are skipped (the plan said why). Conflict when there is nothing to open."""
    plan = plan_periods(actor, municipality, year, half, areas)
    if not plan.plans and not plan.citywide_cents:
        raise Conflict(_l("There is no budget period to open."))
    opened = [_open_planned(actor, p) for p in plan.plans]
    if plan.citywide_cents:
        opened.append(
            _open_citywide(actor, municipality, municipality_config(municipality), year, half)
        )
    db.session.commit()
    return opened


def open_citywide_period(actor: User | None, municipality: Municipality, year: int, half: int = 0):
    """The city-wide pot beside the area pots, when the model has one."""
    if actor is not None:
        require(is_admin_of(actor, municipality.id))
    config = municipality_config(municipality)
    if config is None or not config.citywide_pot_cents:
        raise Conflict(_l("This municipality has no city-wide pot."))
    if find_period(None, year, half, municipality.id) is not None:
        raise Conflict(_l("This budget period is already open."))
    period = _open_citywide(actor, municipality, config, year, half)
    db.session.commit()
    return period


def _open_citywide(actor, municipality: Municipality, config, year: int, half: int):
    period = BudgetPeriod(
        municipality_id=municipality.id,
        area=None,
        year=year,
        half=half,
        model_kind=config.kind,
        amount_cents=config.citywide_pot_cents,
        opened_by_id=actor.id if actor else None,
    )
    db.session.add(period)
    _create_pots(actor, period, [(AccountKind.CITYWIDE, config.citywide_pot_cents)])
    audit.record(
        actor,
        "budget_period.opened",
        period,
        municipality_id=municipality.id,
        year=year,
        half=half,
        amount_cents=config.citywide_pot_cents,
    )
    return period


def _create_pots(actor, period: BudgetPeriod, pots) -> None:
    for kind, amount in pots:
        account = BudgetAccount(period=period, kind=kind)
        db.session.add(account)
        db.session.flush()
        if amount:
            ledger.lock_account(account.id)
            ledger.post(actor, account, EntryKind.ALLOCATION, amount)


def periods_of(area: Area) -> list[BudgetPeriod]:
    return list(
        db.session.scalars(
            select(BudgetPeriod)
            .where(BudgetPeriod.area_id == area.id)
            .order_by(BudgetPeriod.year.desc(), BudgetPeriod.half.desc())
        )
    )


# Area programme (Delft) ----------------------------------------------------------------------


def set_programme_line(
    actor: User,
    period: BudgetPeriod,
    indicative_cents: int,
    *,
    theme: Theme | None = None,
    initiative: Initiative | None = None,
    note: str = "",
) -> ProgrammeLine:
    """The coordinator's indicative split of the area budget over themes and initiatives.
    Indicative: the total may not exceed the area budget, but no money moves."""
    area = period.area
    require(area is not None and can_manage_area(actor, area))
    if theme is None and initiative is None:
        raise ValidationFailed(_l("Choose a theme or an initiative."), field="theme_id")
    if theme is not None and theme.municipality_id != area.municipality_id:
        raise ValidationFailed(_l("Choose a theme of this municipality."), field="theme_id")
    if initiative is not None and initiative.area_id != area.id:
        raise ValidationFailed(_l("Choose an initiative of this area."), field="initiative_id")
    if indicative_cents is None or indicative_cents < 0:
        raise ValidationFailed(_l("Enter an amount of zero or more."), field="amount")
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise ValidationFailed(_l("This text is too long."), field="note")
    others = sum(
        line.indicative_cents
        for line in programme_of(period)
        if not (
            line.theme_id == (theme.id if theme else None)
            and line.initiative_id == (initiative.id if initiative else None)
        )
    )
    if others + indicative_cents > period.amount_cents:
        raise ValidationFailed(_l("The programme would exceed the area budget."), field="amount")
    line = db.session.scalar(
        select(ProgrammeLine).where(
            ProgrammeLine.period_id == period.id,
            ProgrammeLine.theme_id == theme.id if theme else ProgrammeLine.theme_id.is_(None),
            ProgrammeLine.initiative_id == initiative.id
            if initiative
            else ProgrammeLine.initiative_id.is_(None),
        )
    )
    if line is None:
        line = ProgrammeLine(period=period, theme=theme, initiative=initiative)
        db.session.add(line)
    line.indicative_cents = indicative_cents
    line.note = note
    db.session.flush()
    audit.record(
        actor,
        "programme.line_set",
        line,
        municipality_id=period.municipality_id,
        period_id=period.id,
        theme_id=theme.id if theme else None,
        initiative_id=initiative.id if initiative else None,
        indicative_cents=indicative_cents,
    )
    db.session.commit()
    return line


def remove_programme_line(actor: User, line: ProgrammeLine) -> None:
    require(line.period.area is not None and can_manage_area(actor, line.period.area))
    audit.record(
        actor,
        "programme.line_removed",
        line,
        municipality_id=line.period.municipality_id,
        period_id=line.period_id,
        indicative_cents=line.indicative_cents,
    )
    db.session.delete(line)
    db.session.commit()


def programme_of(period: BudgetPeriod) -> list[ProgrammeLine]:
    return list(
        db.session.scalars(
            select(ProgrammeLine)
            .where(ProgrammeLine.period_id == period.id)
            .order_by(ProgrammeLine.id)
        )
    )


# Area report (wijkverslag) -------------------------------------------------------------------


def report_of(period: BudgetPeriod) -> AreaReport | None:
    return db.session.scalar(select(AreaReport).where(AreaReport.period_id == period.id))


def council_of(area: Area) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(
                User.id.in_(
                    select(RoleAssignment.user_id).where(
                        RoleAssignment.role == Role.COUNCIL_MEMBER,
                        RoleAssignment.area_id == area.id,
                    )
                )
            )
            .order_by(User.id)
        )
    )


def can_publish_report(user: User | None, area: Area) -> bool:
    """The area council publishes its area's report; an area without a council (e.g. on
    household cheques) has it published by its coordinator."""
    if council_of(area):
        return holds_area_role(user, Role.COUNCIL_MEMBER, area)
    return can_manage_area(user, area)


def is_public(report: AreaReport | None) -> bool:
    """A published report is public: residents and visitors read it without an account."""
    return report is not None and report.published_at is not None


def save_report(actor: User, period: BudgetPeriod, summary: str, *, publish: bool) -> AreaReport:
    """The coordinator writes the account in words; the figures come from the ledger. Only
    who may publish (:func:`can_publish_report`) may pass ``publish``."""
    require(period.area is not None and can_manage_area(actor, period.area))
    if publish:
        require(
            can_publish_report(actor, period.area), _l("The area council publishes this report.")
        )
    summary = (summary or "").strip()
    if len(summary) > SUMMARY_MAX:
        raise ValidationFailed(_l("This text is too long."), field="summary")
    report = report_of(period)
    if report is None:
        report = AreaReport(period=period)
        db.session.add(report)
    report.summary = summary
    if publish and report.published_at is None:
        report.published_at = utcnow()
        report.published_by_id = actor.id
    db.session.flush()
    audit.record(
        actor,
        "area_report.published" if publish else "area_report.saved",
        report,
        municipality_id=period.municipality_id,
        period_id=period.id,
    )
    db.session.commit()
    return report


def publish_report(actor: User, period: BudgetPeriod) -> AreaReport:
    """The area council publishes the report the coordinator wrote; from then on anyone may
    read it (HTML, PDF and CSV)."""
    require(period.area is not None and can_publish_report(actor, period.area))
    report = report_of(period)
    if report is None or not report.summary:
        raise Conflict(_l("The coordinator has not written this report yet."))
    if report.published_at is not None:
        raise Conflict(_l("This report has already been published."))
    report.published_at = utcnow()
    report.published_by_id = actor.id
    audit.record(
        actor,
        "area_report.published",
        report,
        municipality_id=period.municipality_id,
        period_id=period.id,
    )
    db.session.commit()
    return report


def published_reports_query():
    """Published area reports, newest period first (for a public, paginated list)."""
    return (
        select(AreaReport)
        .join(BudgetPeriod, BudgetPeriod.id == AreaReport.period_id)
        .where(AreaReport.published_at.is_not(None), BudgetPeriod.area_id.is_not(None))
        .order_by(BudgetPeriod.year.desc(), BudgetPeriod.half.desc(), AreaReport.id.desc())
    )
