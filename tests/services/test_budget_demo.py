"""The budget demo: one municipality per model, with the situations the pages must show."""

from __future__ import annotations

from sqlalchemy import func, select

from buurtbudget.demo import seed_demo
from buurtbudget.domain.initiative_lifecycle import FundingRoute, Status
from buurtbudget.extensions import db
from buurtbudget.models import (
    Area,
    BudgetAccount,
    BudgetPeriod,
    Cheque,
    Initiative,
    LedgerEntry,
)
from buurtbudget.services import budget_reports, budgets, council
from buurtbudget.services.addresses import find_house


def _area(name: str) -> Area:
    return db.session.scalar(select(Area).where(Area.name == name))


def test_budget_demo_shows_each_model_and_is_idempotent(app):
    seed_demo(progress=lambda message: None)
    entries = db.session.scalar(select(func.count(LedgerEntry.id)))
    seed_demo(progress=lambda message: None)
    assert db.session.scalar(select(func.count(LedgerEntry.id))) == entries

    binnenstad = _area("Binnenstad")
    last_year = budgets.periods_of(binnenstad)[-1]
    assert budgets.report_of(last_year).published_at is not None
    finances = budget_reports.area_finances(last_year)
    assert finances.total.budget == last_year.amount_cents + 5_000_00
    assert finances.total.paid == sum(line.money.paid for line in finances.initiatives) + sum(
        item.entry.amount_cents for item in finances.direct
    )
    assert finances.total.committed == 0  # completed initiatives gave back what was left

    kogerveld = _area("Kogerveld")
    year = budgets.periods_of(kogerveld)[0].year
    assert council.meeting_check(kogerveld, year).too_few
    assert not council.meeting_check(_area("Poelenburg"), year).too_few

    # The letters go to addresses of the area whose cheques they carry.
    letters = db.session.execute(
        select(Cheque.postcode, Cheque.house_number, BudgetPeriod.area_id)
        .join(BudgetAccount, BudgetAccount.id == Cheque.account_id)
        .join(BudgetPeriod, BudgetPeriod.id == BudgetAccount.period_id)
    ).all()
    assert letters
    misplaced = [
        (postcode, number)
        for postcode, number, area_id in letters
        if getattr(find_house(postcode, number), "area_id", None) != area_id
    ]
    assert misplaced == []

    party = db.session.scalar(select(Initiative).where(Initiative.title.like("Straatfeest%")))
    assert party.status is Status.SELECTED and party.funding_route is FundingRoute.CHEQUES
