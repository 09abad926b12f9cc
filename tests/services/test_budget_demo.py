"""The budget demo: one municipality per model, with the situations the pages must show."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from buurtbudget.demo import seed_demo
from buurtbudget.domain.budget import normalise_cheque_code
from buurtbudget.domain.initiative_lifecycle import FundingRoute, Status
from buurtbudget.extensions import db
from buurtbudget.models import (
    Area,
    BudgetAccount,
    BudgetPeriod,
    Cheque,
    Initiative,
    LedgerEntry,
    User,
)
from buurtbudget.services import budget_reports, budgets, cheques, council, ledger
from buurtbudget.services.addresses import find_house
from buurtbudget.services.errors import ValidationFailed


def _area(name: str) -> Area:
    return db.session.scalar(select(Area).where(Area.name == name))


def _printed_cheque_codes(messages: list[str]) -> tuple[str, list[str]]:
    """The account and the cheque codes seed-demo prints for a visitor to pool."""
    (line,) = [m for m in messages if "cheque codes of Veldhuizen to pool" in m]
    found = re.search(r"log in as (\S+)\): (.+)$", line)
    return found.group(1), found.group(2).split(", ")


def test_budget_demo_shows_each_model_and_is_idempotent(app):
    first, second = [], []
    seed_demo(progress=first.append)
    entries = db.session.scalar(select(func.count(LedgerEntry.id)))
    seed_demo(progress=second.append)
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

    # Each run prints three codes a visitor can pool; the second run's are new codes (the
    # first run's exist nowhere any more), and they are stored only hashed.
    email, old_codes = _printed_cheque_codes(first)
    again, codes = _printed_cheque_codes(second)
    assert email == again and len(codes) == 3 and not set(codes) & set(old_codes)
    stored = " ".join(
        str(cell) for row in db.session.execute(select(Cheque.__table__)) for cell in row
    )
    assert not any(normalise_cheque_code(c) in stored for c in codes + old_codes)
    visitor = db.session.scalar(select(User).where(User.email == email))
    garden = db.session.scalar(select(Initiative).where(Initiative.title.like("Moestuin%")))
    with pytest.raises(ValidationFailed):
        cheques.redeem(visitor, old_codes[0], garden)
    for code in codes:
        cheques.redeem(visitor, code, garden)
    assert ledger.initiative_totals(garden).pooled == (12 + 3) * 750
