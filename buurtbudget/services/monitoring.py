"""Monitoring: the area dashboard, the municipality overview and the "what, where, when" list
of projects, for area councils, coordinators, the municipal council and the public.

Every figure is aggregated in the database (``GROUP BY`` over ledger entries, initiatives and
ballots) and turned into balances by the same formulas as the ledger (domain/budget.py), so the
pages stay fast with tens of thousands of initiatives and ballots. Definitions, also shown on
the pages:

* money of a year: all budget periods of that year (a year, or two half-years) and all their
  pots (area pot and knelpuntenpot);
* themes and physical / social: the attribution rules of services/budget_reports.py;
* initiatives of a year: proposed (created) in that year, drafts left out (they are private);
* a round belongs to the year its voting opened; only rounds whose voting has started count;
* turnout of a round in an area: ballots from the area / inhabitants; an area's turnout in a
  year is the mean over its rounds of that year (ballots / (inhabitants x rounds));
* representativeness: 1 - the dissimilarity index between voters and inhabitants over the
  age bands of the area (domain/weighting/turnout.py), where both are known.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from fractions import Fraction

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import contains_eager

from buurtbudget.domain import monitoring as rules
from buurtbudget.domain.budget import (
    Balance,
    EntryKind,
    HolderMoney,
    SpendKind,
    account_balance,
    holder_money,
    share_percent,
)
from buurtbudget.domain.initiative_lifecycle import Status
from buurtbudget.domain.numbers import InvalidNumber, parse_int
from buurtbudget.domain.weighting import WeightingError
from buurtbudget.domain.weighting.turnout import turnout as turnout_report
from buurtbudget.extensions import db
from buurtbudget.models import (
    Area,
    AreaPopulation,
    AreaReport,
    Ballot,
    BudgetAccount,
    BudgetModelConfig,
    BudgetPeriod,
    CouncilMeeting,
    Initiative,
    LedgerEntry,
    Municipality,
    PayoutRequest,
    PayoutStatus,
    Theme,
    User,
    VotingRound,
)
from buurtbudget.models._base import utcnow
from buurtbudget.models.initiative import initiative_theme
from buurtbudget.models.voting import voting_round_area
from buurtbudget.services.budget_reports import ThemeLine, kind_totals, theme_totals
from buurtbudget.services.budgets import config_for, report_of
from buurtbudget.services.council import meeting_check
from buurtbudget.services.errors import NotFound, ValidationFailed
from buurtbudget.services.permissions import can_read_area_finances, require
from buurtbudget.services.progress import late_initiatives

YEARS = (2000, 2100)
# What the "what, where, when" list shows: plans open for support and projects with money.
PROJECT_STATUSES = (Status.OPEN, Status.SELECTED, Status.IN_EXECUTION, Status.COMPLETED)
TOP_OUTSTANDING = 10


# Input ---------------------------------------------------------------------------------------


def parse_year(raw: str | None, default: int) -> int:
    """The ``year`` query parameter; a clear error for anything but a plausible year."""
    if raw is None or raw == "":
        return default
    try:
        return parse_int(raw, minimum=YEARS[0], maximum=YEARS[1])
    except InvalidNumber:
        raise ValidationFailed(_l("This is not a valid year."), field="year") from None


def thresholds() -> rules.LagThresholds:
    config = current_app.config
    return rules.LagThresholds(
        low_turnout_percent=int(config["MONITORING_LOW_TURNOUT_PERCENT"]),
        unspent_percent=int(config["MONITORING_UNSPENT_PERCENT"]),
        unspent_after_month=int(config["MONITORING_UNSPENT_AFTER_MONTH"]),
        report_deadline=rules.parse_month_day(config["MONITORING_REPORT_DEADLINE"]),
    )


def year_bounds(year: int) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)


def budget_years(*conditions) -> list[int]:
    """Years with a budget period, newest first."""
    return list(
        db.session.scalars(
            select(BudgetPeriod.year).where(*conditions).distinct().order_by(BudgetPeriod.year)
        )
    )[::-1]


def municipality_year(municipality: Municipality, year_text: str | None) -> tuple[int, list[int]]:
    """The chosen year (default: see :func:`default_year`) and the years to choose from."""
    years = budget_years(BudgetPeriod.municipality_id == municipality.id)
    year = parse_year(year_text, default_year(years))
    return year, sorted(set(years) | {year}, reverse=True)


def default_year(years: list[int]) -> int:
    """This year when it has a budget, else the latest year that has one."""
    this_year = date.today().year
    if this_year in years or not years:
        return this_year
    return max(y for y in years if y <= this_year) if min(years) <= this_year else min(years)


# Money ---------------------------------------------------------------------------------------


def balances_by(key, *conditions) -> dict[object, Balance]:
    """Ledger balances grouped by ``key`` (a column of budget_period), over the periods that
    match ``conditions``: one ``SUM ... GROUP BY key, kind``."""
    rows = db.session.execute(
        select(key, LedgerEntry.kind, func.sum(LedgerEntry.amount_cents))
        .select_from(LedgerEntry)
        .join(BudgetAccount, BudgetAccount.id == LedgerEntry.account_id)
        .join(BudgetPeriod, BudgetPeriod.id == BudgetAccount.period_id)
        .where(*conditions)
        .group_by(key, LedgerEntry.kind)
    )
    totals: dict[object, dict[EntryKind, int]] = defaultdict(dict)
    for group, kind, total in rows:
        totals[group][EntryKind(kind)] = int(total or 0)
    return {group: account_balance(kinds) for group, kinds in totals.items()}


@dataclass
class InitiativeMoney:
    money: HolderMoney
    spend_kind: SpendKind | None


def initiative_money(*conditions) -> dict[int, InitiativeMoney]:
    """Granted / paid per initiative over the periods matching ``conditions``."""
    rows = db.session.execute(
        select(
            LedgerEntry.initiative_id,
            LedgerEntry.kind,
            func.sum(LedgerEntry.amount_cents),
            func.max(LedgerEntry.spend_kind),
        )
        .join(BudgetAccount, BudgetAccount.id == LedgerEntry.account_id)
        .join(BudgetPeriod, BudgetPeriod.id == BudgetAccount.period_id)
        .where(LedgerEntry.initiative_id.is_not(None), *conditions)
        .group_by(LedgerEntry.initiative_id, LedgerEntry.kind)
    )
    totals: dict[int, dict[EntryKind, int]] = defaultdict(dict)
    kinds: dict[int, str] = {}
    for initiative_id, kind, total, spend_kind in rows:
        totals[initiative_id][EntryKind(kind)] = int(total or 0)
        if spend_kind and spend_kind > kinds.get(initiative_id, ""):
            kinds[initiative_id] = spend_kind
    return {
        initiative_id: InitiativeMoney(
            holder_money(kinds_of),
            SpendKind(kinds[initiative_id]) if initiative_id in kinds else None,
        )
        for initiative_id, kinds_of in totals.items()
    }


def money_of_initiatives(initiative_ids: list[int]) -> dict[int, HolderMoney]:
    """Granted / paid of the given initiatives over all periods."""
    found = (
        initiative_money(LedgerEntry.initiative_id.in_(initiative_ids)) if initiative_ids else {}
    )
    return {i: found[i].money if i in found else HolderMoney() for i in initiative_ids}


def theme_names(initiative_ids: list[int]) -> dict[int, list[str]]:
    names: dict[int, list[str]] = defaultdict(list)
    if not initiative_ids:
        return names
    rows = db.session.execute(
        select(initiative_theme.c.initiative_id, Theme.name)
        .join(Theme, Theme.id == initiative_theme.c.theme_id)
        .where(initiative_theme.c.initiative_id.in_(initiative_ids))
        .order_by(initiative_theme.c.initiative_id, Theme.name)
    )
    for initiative_id, name in rows:
        names[initiative_id].append(name)
    return names


def _direct_spending(*conditions) -> list[tuple[str | None, SpendKind | None, int]]:
    rows = db.session.execute(
        select(Theme.name, LedgerEntry.spend_kind, func.sum(LedgerEntry.amount_cents))
        .select_from(LedgerEntry)
        .join(BudgetAccount, BudgetAccount.id == LedgerEntry.account_id)
        .join(BudgetPeriod, BudgetPeriod.id == BudgetAccount.period_id)
        .outerjoin(Theme, Theme.id == LedgerEntry.theme_id)
        .where(
            LedgerEntry.initiative_id.is_(None),
            LedgerEntry.kind == EntryKind.PAYOUT,
            *conditions,
        )
        .group_by(Theme.name, LedgerEntry.spend_kind)
    )
    return [(name, SpendKind(kind) if kind else None, int(total)) for name, kind, total in rows]


# Voting --------------------------------------------------------------------------------------


def round_moment():
    return func.coalesce(
        VotingRound.voting_opens_at, VotingRound.voting_closes_at, VotingRound.created_at
    )


def _voting_started(now: datetime):
    return or_(VotingRound.closed_at.is_not(None), VotingRound.voting_opens_at <= now)


@dataclass
class RoundTurnout:
    round_id: int
    title: str
    year: int
    published: bool
    ballots: int
    inhabitants: int | None
    representativeness: Fraction | None = None

    @property
    def turnout(self) -> Fraction | None:
        return Fraction(self.ballots, self.inhabitants) if self.inhabitants else None


def _representativeness(bands: dict[str | None, int], population) -> Fraction | None:
    """1 - D over the age bands (None when the bands of voters or inhabitants are unknown)."""
    counts = population.age_band_counts() if population is not None else None
    voters = {band: n for band, n in bands.items() if band is not None}
    if counts is None or not voters:
        return None
    try:
        return turnout_report(voters, counts).representativeness
    except WeightingError:
        return None


def area_rounds(area: Area, now: datetime | None = None) -> list[RoundTurnout]:
    """Every round of ``area`` whose voting started, with the area's ballots, oldest first."""
    now = now or utcnow()
    rounds = db.session.execute(
        select(VotingRound.id, VotingRound.title, round_moment(), VotingRound.results_published_at)
        .join(voting_round_area, voting_round_area.c.round_id == VotingRound.id)
        .where(voting_round_area.c.area_id == area.id, _voting_started(now))
        .order_by(round_moment(), VotingRound.id)
    ).all()
    cells: dict[int, dict[str | None, int]] = defaultdict(dict)
    if rounds:
        for round_id, band, count in db.session.execute(
            select(Ballot.round_id, Ballot.age_band, func.count())
            .where(Ballot.round_id.in_([r[0] for r in rounds]), Ballot.area_id == area.id)
            .group_by(Ballot.round_id, Ballot.age_band)
        ):
            cells[round_id][band] = count
    result = []
    for round_id, title, moment, published_at in rounds:
        year = moment.year
        population = area.population_for(year)
        result.append(
            RoundTurnout(
                round_id=round_id,
                title=title,
                year=year,
                published=published_at is not None,
                ballots=sum(cells[round_id].values()),
                inhabitants=population.inhabitants if population else None,
                representativeness=_representativeness(cells[round_id], population),
            )
        )
    return result


def mean_turnout(rounds: list[RoundTurnout]) -> Fraction | None:
    """Ballots / (inhabitants x rounds): the mean turnout over the rounds."""
    known = [r for r in rounds if r.inhabitants]
    if not known:
        return None
    return Fraction(sum(r.ballots for r in known), sum(r.inhabitants for r in known))


# The area dashboard --------------------------------------------------------------------------


@dataclass
class YearLine:
    year: int
    balance: Balance
    turnout: Fraction | None


@dataclass
class Outstanding:
    initiative_id: int
    title: str
    money: HolderMoney


@dataclass
class AreaDashboard:
    area: Area
    year: int
    years: list[int]
    council: bool
    total: Balance
    inhabitants: int | None
    themes: list[ThemeLine]
    by_kind: dict[str, int]
    untagged_cents: int
    social_share: int | None
    social_target: int | None
    statuses: list[tuple[Status, int]]
    rounds: list[RoundTurnout]
    trend: list[YearLine]
    # Only on the council / coordinator version:
    outstanding: list[Outstanding] = field(default_factory=list)
    payouts_waiting: tuple[int, int] = (0, 0)
    meeting_check: object | None = None
    reports: list[tuple[BudgetPeriod, AreaReport | None]] = field(default_factory=list)
    # Running initiatives past their planned end or a milestone (services.progress).
    late: list[Initiative] = field(default_factory=list)

    @property
    def turnout(self) -> Fraction | None:
        return mean_turnout(self.rounds)

    @property
    def spent_per_inhabitant(self) -> int | None:
        return rules.per_inhabitant_cents(self.total.spent, self.inhabitants)


def get_area(area_id: int) -> Area:
    area = db.session.get(Area, area_id)
    if area is None:
        raise NotFound(_l("We could not find this area."))
    return area


def area_dashboard(
    user: User | None, area: Area, year_text: str | None, *, council: bool = False
) -> AreaDashboard:
    """The dashboard of ``area``. The council version (council members, coordinators and
    administrators of the area) adds the open grants, waiting payouts, meetings and reports."""
    if council:
        require(can_read_area_finances(user, area))
    years = budget_years(BudgetPeriod.area_id == area.id)
    year = parse_year(year_text, default_year(years))
    in_area = BudgetPeriod.area_id == area.id
    per_year = balances_by(BudgetPeriod.year, in_area)
    total = per_year.get(year, Balance())

    money = initiative_money(in_area, BudgetPeriod.year == year)
    names = theme_names(list(money))
    direct = _direct_spending(in_area, BudgetPeriod.year == year)
    themes = theme_totals(
        [(names.get(i, []), m.money.granted, m.money.paid) for i, m in money.items()],
        [(name, amount) for name, _kind, amount in direct],
    )
    by_kind = kind_totals(
        [(m.spend_kind, m.money.granted) for m in money.values()],
        [(kind, amount) for _name, kind, amount in direct],
    )
    granted_total = sum(m.money.granted for m in money.values()) + sum(a for *_, a in direct)

    start, end = year_bounds(year)
    statuses = db.session.execute(
        select(Initiative.status, func.count())
        .where(
            Initiative.area_id == area.id,
            Initiative.status != Status.DRAFT,
            Initiative.created_at >= start,
            Initiative.created_at < end,
        )
        .group_by(Initiative.status)
    ).all()
    counts = {Status(status): count for status, count in statuses}

    all_rounds = area_rounds(area)
    rounds_by_year: dict[int, list[RoundTurnout]] = defaultdict(list)
    for item in all_rounds:
        rounds_by_year[item.year].append(item)
    trend = [
        YearLine(y, per_year.get(y, Balance()), mean_turnout(rounds_by_year.get(y, [])))
        for y in sorted(set(per_year) | set(rounds_by_year))
    ]
    config = config_for(area)
    population = area.population_for(year)
    dashboard = AreaDashboard(
        area=area,
        year=year,
        years=sorted(set(years) | {year}, reverse=True),
        council=council,
        total=total,
        inhabitants=population.inhabitants if population else None,
        themes=themes,
        by_kind=by_kind,
        untagged_cents=granted_total - sum(by_kind.values()),
        social_share=share_percent(by_kind["social"], sum(by_kind.values())),
        social_target=config.social_target_percent if config else None,
        statuses=[(s, counts[s]) for s in Status if s in counts],
        rounds=rounds_by_year.get(year, []),
        trend=trend,
    )
    dashboard.late = late_initiatives([area.id]).get(area.id, [])
    if council:
        _add_council_figures(dashboard, money)
    return dashboard


def _add_council_figures(dashboard: AreaDashboard, money: dict[int, InitiativeMoney]) -> None:
    area, year = dashboard.area, dashboard.year
    top = sorted(
        ((i, m.money) for i, m in money.items() if m.money.outstanding > 0),
        key=lambda item: (-item[1].outstanding, item[0]),
    )[:TOP_OUTSTANDING]
    titles = dict(
        db.session.execute(
            select(Initiative.id, Initiative.title).where(Initiative.id.in_([i for i, _ in top]))
        ).all()
    )
    dashboard.outstanding = [Outstanding(i, titles[i], m) for i, m in top]
    waiting = db.session.execute(
        select(func.count(PayoutRequest.id), func.coalesce(func.sum(PayoutRequest.amount_cents), 0))
        .join(Initiative, Initiative.id == PayoutRequest.initiative_id)
        .where(
            Initiative.area_id == area.id,
            PayoutRequest.status.in_([PayoutStatus.PENDING, PayoutStatus.AWAITING_SECOND]),
        )
    ).one()
    dashboard.payouts_waiting = (int(waiting[0]), int(waiting[1]))
    dashboard.meeting_check = meeting_check(area, year)
    periods = db.session.scalars(
        select(BudgetPeriod)
        .where(BudgetPeriod.area_id == area.id, BudgetPeriod.year.in_([year - 1, year]))
        .order_by(BudgetPeriod.year, BudgetPeriod.half)
    ).all()
    dashboard.reports = [(p, report_of(p)) for p in periods]


# The municipality overview -------------------------------------------------------------------


@dataclass
class AreaRow:
    area: Area
    inhabitants: int | None
    balance: Balance
    rounds: int
    ballots: int
    initiatives: int
    projects: int
    meetings_held: int
    meetings_minimum: int
    report_year_had_budget: bool
    report_published_on: date | None
    late_initiatives: int = 0
    turnout: Fraction | None = None
    signals: list[str] = field(default_factory=list)

    @property
    def spent_per_inhabitant(self) -> int | None:
        return rules.per_inhabitant_cents(self.balance.spent, self.inhabitants)

    @property
    def paid_per_inhabitant(self) -> int | None:
        return rules.per_inhabitant_cents(self.balance.paid, self.inhabitants)


@dataclass
class MunicipalityOverview:
    municipality: Municipality
    year: int
    years: list[int]
    rows: list[AreaRow]
    median_turnout: Fraction | None
    thresholds: rules.LagThresholds
    representativeness: Fraction | None

    @property
    def total(self) -> Balance:
        return Balance(
            budget=sum(r.balance.budget for r in self.rows),
            committed=sum(r.balance.committed for r in self.rows),
            paid=sum(r.balance.paid for r in self.rows),
            cheques_outstanding=sum(r.balance.cheques_outstanding for r in self.rows),
        )

    @property
    def inhabitants(self) -> int:
        return sum(r.inhabitants or 0 for r in self.rows)

    @property
    def spent_per_inhabitant(self) -> int | None:
        return rules.per_inhabitant_cents(self.total.spent, self.inhabitants)

    @property
    def turnout(self) -> Fraction | None:
        voted = [r for r in self.rows if r.rounds and r.inhabitants]
        if not voted:
            return None
        return Fraction(sum(r.ballots for r in voted), sum(r.inhabitants * r.rounds for r in voted))

    @property
    def lagging(self) -> list[AreaRow]:
        return [r for r in self.rows if r.signals]


def get_municipality(municipality_id: int) -> Municipality:
    municipality = db.session.get(Municipality, municipality_id)
    if municipality is None:
        raise NotFound(_l("We could not find this municipality."))
    return municipality


def _count_by_area(query: Select) -> dict[int, int]:
    return {area_id: int(count) for area_id, count in db.session.execute(query).all()}


def _minimum_meetings(municipality: Municipality) -> dict[int | None, int]:
    """Minimum meetings a year per area id (None: the municipality's default)."""
    return dict(
        db.session.execute(
            select(BudgetModelConfig.area_id, BudgetModelConfig.min_meetings_per_year).where(
                BudgetModelConfig.municipality_id == municipality.id
            )
        ).all()
    )


def municipality_overview(
    municipality: Municipality, year_text: str | None, today: date | None = None
) -> MunicipalityOverview:
    """All areas side by side: money, spend per inhabitant, turnout, activity and signals."""
    today = today or date.today()
    year, years = municipality_year(municipality, year_text)
    start, end = year_bounds(year)
    areas = db.session.scalars(
        select(Area).where(Area.municipality_id == municipality.id).order_by(Area.name)
    ).all()
    area_ids = [a.id for a in areas]
    balances = balances_by(
        BudgetPeriod.area_id,
        BudgetPeriod.municipality_id == municipality.id,
        BudgetPeriod.year == year,
        BudgetPeriod.area_id.is_not(None),
    )
    round_ids = select(VotingRound.id).where(
        VotingRound.municipality_id == municipality.id,
        _voting_started(utcnow()),
        round_moment() >= start,
        round_moment() < end,
    )
    rounds = _count_by_area(
        select(voting_round_area.c.area_id, func.count())
        .where(voting_round_area.c.round_id.in_(round_ids))
        .group_by(voting_round_area.c.area_id)
    )
    ballots = _count_by_area(
        select(Ballot.area_id, func.count())
        .where(Ballot.round_id.in_(round_ids), Ballot.area_id.is_not(None))
        .group_by(Ballot.area_id)
    )
    in_year = and_(
        Initiative.area_id.in_(area_ids),
        Initiative.status != Status.DRAFT,
        Initiative.created_at >= start,
        Initiative.created_at < end,
    )
    initiatives = _count_by_area(
        select(Initiative.area_id, func.count()).where(in_year).group_by(Initiative.area_id)
    )
    projects = _count_by_area(
        select(Initiative.area_id, func.count())
        .where(in_year, Initiative.status.in_(PROJECT_STATUSES[1:]))
        .group_by(Initiative.area_id)
    )
    meetings = _count_by_area(
        select(CouncilMeeting.area_id, func.count())
        .where(
            CouncilMeeting.area_id.in_(area_ids),
            CouncilMeeting.held_on >= date(year, 1, 1),
            CouncilMeeting.held_on <= date(year, 12, 31),
        )
        .group_by(CouncilMeeting.area_id)
    )
    reports = dict(
        db.session.execute(
            select(BudgetPeriod.area_id, func.max(AreaReport.published_at))
            .outerjoin(AreaReport, AreaReport.period_id == BudgetPeriod.id)
            .where(
                BudgetPeriod.municipality_id == municipality.id,
                BudgetPeriod.area_id.is_not(None),
                BudgetPeriod.year == year - 1,
            )
            .group_by(BudgetPeriod.area_id)
        ).all()
    )
    minimum = _minimum_meetings(municipality)
    populations = _inhabitants(area_ids, year)
    late = late_initiatives(area_ids, today)
    rows = []
    for area in areas:
        inhabitants = populations.get(area.id)
        row = AreaRow(
            area=area,
            inhabitants=inhabitants,
            balance=balances.get(area.id, Balance()),
            rounds=rounds.get(area.id, 0),
            ballots=ballots.get(area.id, 0),
            initiatives=initiatives.get(area.id, 0),
            projects=projects.get(area.id, 0),
            meetings_held=meetings.get(area.id, 0),
            meetings_minimum=minimum.get(area.id, minimum.get(None, 0)),
            report_year_had_budget=area.id in reports,
            report_published_on=reports[area.id].date() if reports.get(area.id) else None,
            late_initiatives=len(late.get(area.id, [])),
        )
        if row.rounds and inhabitants:
            row.turnout = Fraction(row.ballots, inhabitants * row.rounds)
        rows.append(row)
    limits = thresholds()
    median = rules.median_turnout(r.turnout for r in rows)
    for row in rows:
        row.signals = _signals(row, median, year, today, limits)
    voted = {r.area.id: r for r in rows if r.rounds and r.inhabitants}
    representativeness = None
    if voted:
        try:
            representativeness = turnout_report(
                {i: r.ballots for i, r in voted.items()},
                {i: r.inhabitants * r.rounds for i, r in voted.items()},
            ).representativeness
        except WeightingError:
            representativeness = None
    return MunicipalityOverview(
        municipality=municipality,
        year=year,
        years=years,
        rows=rows,
        median_turnout=median,
        thresholds=limits,
        representativeness=representativeness,
    )


def _inhabitants(area_ids: list[int], year: int) -> dict[int, int]:
    """Inhabitants per area: the figures of ``year`` or of the latest earlier year."""
    latest = (
        select(AreaPopulation.area_id, func.max(AreaPopulation.year).label("year"))
        .where(AreaPopulation.area_id.in_(area_ids), AreaPopulation.year <= year)
        .group_by(AreaPopulation.area_id)
        .subquery()
    )
    rows = db.session.execute(
        select(AreaPopulation.area_id, AreaPopulation.inhabitants).join(
            latest,
            and_(latest.c.area_id == AreaPopulation.area_id, latest.c.year == AreaPopulation.year),
        )
    )
    return dict(rows.all())


# The codes of the signals; the web layer shows them with their explanation.
SIGNAL_LOW_TURNOUT = "low_turnout"
SIGNAL_UNSPENT = "unspent"
SIGNAL_LATE_REPORT = "late_report"
SIGNAL_FEW_MEETINGS = "few_meetings"
SIGNAL_LATE_INITIATIVES = "late_initiatives"
SIGNAL_LABELS = {
    SIGNAL_LOW_TURNOUT: _l("Low turnout"),
    SIGNAL_UNSPENT: _l("Much money unspent"),
    SIGNAL_LATE_REPORT: _l("Area report late"),
    SIGNAL_FEW_MEETINGS: _l("Too few council meetings"),
    SIGNAL_LATE_INITIATIVES: _l("Funded initiatives running late"),
}


def _signals(
    row: AreaRow, median: Fraction | None, year: int, today: date, limits: rules.LagThresholds
) -> list[str]:
    signals = []
    if rules.low_turnout(row.turnout, median, limits.low_turnout_percent):
        signals.append(SIGNAL_LOW_TURNOUT)
    if rules.too_much_unspent(row.balance.budget, row.balance.available, year, today, limits):
        signals.append(SIGNAL_UNSPENT)
    if row.report_year_had_budget and rules.report_late(
        year - 1, row.report_published_on, today, limits
    ):
        signals.append(SIGNAL_LATE_REPORT)
    if rules.too_few_meetings_so_far(row.meetings_held, row.meetings_minimum, year, today):
        signals.append(SIGNAL_FEW_MEETINGS)
    if row.late_initiatives:
        signals.append(SIGNAL_LATE_INITIATIVES)
    return signals


# What, where, when ---------------------------------------------------------------------------


def projects_query(
    municipality: Municipality,
    year: int,
    area_id: int | None = None,
    status: Status | None = None,
) -> Select:
    """Plans and projects that ran in ``year``: proposed by its end and not finished before
    it began, newest step first."""
    start, end = year_bounds(year)
    statuses = [status] if status else list(PROJECT_STATUSES)
    query = (
        select(Initiative)
        .join(Area, Area.id == Initiative.area_id)
        .options(contains_eager(Initiative.area))
        .where(
            Area.municipality_id == municipality.id,
            Initiative.status.in_(statuses),
            Initiative.created_at < end,
            or_(Initiative.status != Status.COMPLETED, Initiative.status_changed_at >= start),
        )
        .order_by(Initiative.status_changed_at.desc(), Initiative.id.desc())
    )
    if area_id is not None:
        query = query.where(Initiative.area_id == area_id)
    return query
