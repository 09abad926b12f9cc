"""Where every euro of an area went: the figures of the finances page, the area report
(wijkverslag) and its CSV, all computed from the ledger when asked.

Attribution rules, stated on the pages too:

* an initiative with several themes counts for each of them in equal parts (the remaining
  cents go to the first theme), so the theme totals add up to the total exactly;
* physical / social is the tag of the council decision (or direct spending) that granted the
  money; the social share is taken over tagged money only.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from buurtbudget.domain.budget import (
    AccountKind,
    Balance,
    EntryKind,
    HolderMoney,
    SpendKind,
    csv_euros,
    format_rate,
    holder_money,
    share_percent,
)
from buurtbudget.domain.spreadsheet import csv_writer
from buurtbudget.extensions import db
from buurtbudget.models import (
    Area,
    BudgetAccount,
    BudgetPeriod,
    CouncilMeeting,
    Initiative,
    LedgerEntry,
    User,
)
from buurtbudget.services import ledger
from buurtbudget.services.budgets import config_for, programme_of, report_of
from buurtbudget.services.council import meeting_check, meetings_in
from buurtbudget.services.errors import NotFound
from buurtbudget.services.permissions import can_read_area_finances, require
from buurtbudget.services.themes import agenda_for


@dataclass
class InitiativeLine:
    initiative: Initiative
    money: HolderMoney
    spend_kind: SpendKind | None


@dataclass
class DirectSpending:
    entry: LedgerEntry
    account_kind: AccountKind


@dataclass
class ThemeLine:
    name: str
    granted: int = 0
    paid: int = 0


@dataclass
class ProgrammeLineMoney:
    """A line of the area programme against what was granted on it: for an initiative's
    line, what the initiative was granted in the period; for a theme's line, what initiatives
    of the theme without a line of their own were granted (in equal parts over their themes)."""

    line: object
    indicative: int
    granted: int

    @property
    def left(self) -> int:
        return self.indicative - self.granted


@dataclass
class AreaFinances:
    area: Area
    period: BudgetPeriod
    pots: list[tuple[BudgetAccount, Balance]]
    total: Balance
    initiatives: list[InitiativeLine]
    direct: list[DirectSpending]
    themes: list[ThemeLine]
    by_kind: dict[str, int]
    social_share: int | None
    social_target: int | None
    meeting_check: object | None
    meetings: list[CouncilMeeting]
    programme: list = field(default_factory=list)
    programme_lines: list[ProgrammeLineMoney] = field(default_factory=list)
    agenda: object | None = None
    report: object | None = None

    @property
    def granted_total(self) -> int:
        return sum(line.money.granted for line in self.initiatives) + sum(
            d.entry.amount_cents for d in self.direct
        )


def require_finances(user: User | None, area: Area) -> None:
    require(can_read_area_finances(user, area))


def get_period(user: User | None, period_id: int) -> BudgetPeriod:
    period = db.session.get(BudgetPeriod, period_id)
    if period is None or period.area is None:
        raise NotFound(_("We could not find this budget period."))
    require_finances(user, period.area)
    return period


def _sum_balances(balances: list[Balance]) -> Balance:
    return Balance(
        budget=sum(b.budget for b in balances),
        committed=sum(b.committed for b in balances),
        paid=sum(b.paid for b in balances),
        cheques_outstanding=sum(b.cheques_outstanding for b in balances),
    )


def area_finances(period: BudgetPeriod) -> AreaFinances:
    area = period.area
    account_ids = [a.id for a in period.accounts]
    pots = [(account, ledger.account_balance(account)) for account in period.accounts]

    per_initiative: dict[int, dict[str, int]] = defaultdict(dict)
    rows = db.session.execute(
        select(LedgerEntry.initiative_id, LedgerEntry.kind, func.sum(LedgerEntry.amount_cents))
        .where(LedgerEntry.account_id.in_(account_ids), LedgerEntry.initiative_id.is_not(None))
        .group_by(LedgerEntry.initiative_id, LedgerEntry.kind)
    )
    for initiative_id, kind, total in rows:
        per_initiative[initiative_id][EntryKind(kind)] = int(total)
    kinds = dict(
        db.session.execute(
            select(LedgerEntry.initiative_id, func.max(LedgerEntry.spend_kind))
            .where(
                LedgerEntry.account_id.in_(account_ids),
                LedgerEntry.initiative_id.is_not(None),
                LedgerEntry.spend_kind.is_not(None),
            )
            .group_by(LedgerEntry.initiative_id)
        ).all()
    )
    initiatives = db.session.scalars(
        select(Initiative)
        .where(Initiative.id.in_(per_initiative))
        .options(selectinload(Initiative.themes))
        .order_by(Initiative.title)
    ).all()
    lines = [
        InitiativeLine(
            i,
            holder_money(per_initiative[i.id]),
            SpendKind(kinds[i.id]) if kinds.get(i.id) else None,
        )
        for i in initiatives
    ]
    direct = [
        DirectSpending(entry, entry.account.kind)
        for entry in db.session.scalars(
            select(LedgerEntry)
            .where(
                LedgerEntry.account_id.in_(account_ids),
                LedgerEntry.initiative_id.is_(None),
                LedgerEntry.kind == EntryKind.PAYOUT,
            )
            .order_by(LedgerEntry.at, LedgerEntry.id)
        )
    ]

    themes = theme_totals(
        [
            ([t.name for t in line.initiative.themes], line.money.granted, line.money.paid)
            for line in lines
        ],
        [
            (item.entry.theme.name if item.entry.theme else None, item.entry.amount_cents)
            for item in direct
        ],
    )
    by_kind = kind_totals(
        [(line.spend_kind, line.money.granted) for line in lines],
        [(item.entry.spend_kind, item.entry.amount_cents) for item in direct],
    )
    config = config_for(area)
    programme = programme_of(period)
    return AreaFinances(
        area=area,
        period=period,
        pots=pots,
        total=_sum_balances([b for _, b in pots]),
        initiatives=lines,
        direct=direct,
        themes=themes,
        by_kind=by_kind,
        social_share=share_percent(by_kind["social"], sum(by_kind.values())),
        social_target=config.social_target_percent if config else None,
        meeting_check=meeting_check(area, period.year),
        meetings=meetings_in(area, period.year) if config and config.min_meetings_per_year else [],
        programme=programme,
        programme_lines=programme_money(programme, lines),
        agenda=agenda_for(area, period.year),
        report=report_of(period),
    )


def programme_money(programme, lines: list[InitiativeLine]) -> list[ProgrammeLineMoney]:
    own_line = {line.initiative_id for line in programme if line.initiative_id}
    by_initiative = {item.initiative.id: item.money.granted for item in lines}
    by_theme: dict[int, int] = defaultdict(int)
    for item in lines:
        if item.initiative.id in own_line:
            continue
        theme_ids = [t.id for t in item.initiative.themes]
        for index, theme_id in enumerate(theme_ids):
            by_theme[theme_id] += _share(item.money.granted, len(theme_ids), index)
    return [
        ProgrammeLineMoney(
            line,
            line.indicative_cents,
            by_initiative.get(line.initiative_id, 0)
            if line.initiative_id
            else by_theme.get(line.theme_id, 0),
        )
        for line in programme
    ]


def theme_totals(
    initiatives: Iterable[tuple[list[str], int, int]],
    direct: Iterable[tuple[str | None, int]],
) -> list[ThemeLine]:
    """Granted and paid per theme name. ``initiatives``: (theme names, granted, paid) per
    initiative, each counting for its themes in equal parts; ``direct``: (theme name or None,
    amount) per direct spending, granted and paid at once. "No theme" comes last."""
    themes: dict[str, ThemeLine] = {}
    no_theme = _("No theme")

    def add(name: str, granted: int, paid: int) -> None:
        line = themes.setdefault(name, ThemeLine(name))
        line.granted += granted
        line.paid += paid

    for names, granted, paid in initiatives:
        names = names or [no_theme]
        for index, name in enumerate(names):
            add(name, _share(granted, len(names), index), _share(paid, len(names), index))
    for name, amount in direct:
        add(name or no_theme, amount, amount)
    return sorted(themes.values(), key=lambda t: (t.name == no_theme, t.name))


def kind_totals(
    initiatives: Iterable[tuple[SpendKind | None, int]],
    direct: Iterable[tuple[SpendKind | None, int]],
) -> dict[str, int]:
    """Granted money per spend kind (physical / social); untagged money is left out."""
    by_kind = {kind.value: 0 for kind in SpendKind}
    for kind, amount in [*initiatives, *direct]:
        if kind:
            by_kind[SpendKind(kind).value] += amount
    return by_kind


def _share(amount: int, parts: int, index: int) -> int:
    """Equal parts of ``amount`` in whole cents; the remainder goes to the first part."""
    base, remainder = divmod(amount, parts)
    return base + (remainder if index == 0 else 0)


def ledger_query(period: BudgetPeriod):
    return (
        select(LedgerEntry)
        .where(LedgerEntry.account_id.in_([a.id for a in period.accounts]))
        .order_by(LedgerEntry.at, LedgerEntry.id)
    )


def report_csv(finances: AreaFinances) -> str:
    """The wijkverslag as CSV (semicolon separated, decimal comma, euros)."""
    out = io.StringIO()
    writer = csv_writer(out, delimiter=";", lineterminator="\r\n")
    period = finances.period
    rate = format_rate(period.rate_millicents).replace(".", ",")
    writer.writerow([_("section"), _("item"), _("detail"), _("granted"), _("paid")])
    writer.writerow(
        [
            _("budget"),
            finances.area.name,
            _("%(count)s x EUR %(rate)s", count=period.basis_count, rate=rate)
            if period.basis_count
            else "",
            csv_euros(finances.total.budget),
            "",
        ]
    )
    for account, balance in finances.pots:
        writer.writerow(
            [_("pot"), str(account.kind), "", csv_euros(balance.budget), csv_euros(balance.paid)]
        )
    for line in finances.initiatives:
        writer.writerow(
            [
                _("initiative"),
                line.initiative.title,
                ", ".join(t.name for t in line.initiative.themes),
                csv_euros(line.money.granted),
                csv_euros(line.money.paid),
            ]
        )
    for item in finances.direct:
        writer.writerow(
            [
                _("direct spending"),
                item.entry.memo,
                item.entry.theme.name if item.entry.theme else "",
                csv_euros(item.entry.amount_cents),
                csv_euros(item.entry.amount_cents),
            ]
        )
    for theme in finances.themes:
        writer.writerow(
            [_("theme"), theme.name, "", csv_euros(theme.granted), csv_euros(theme.paid)]
        )
    for kind, amount in finances.by_kind.items():
        writer.writerow([_("spend kind"), kind, "", csv_euros(amount), ""])
    writer.writerow([_("total"), _("committed"), "", csv_euros(finances.total.committed), ""])
    writer.writerow([_("total"), _("paid"), "", "", csv_euros(finances.total.paid)])
    writer.writerow([_("total"), _("unspent"), "", csv_euros(finances.total.available), ""])
    return out.getvalue()
