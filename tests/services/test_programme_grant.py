"""Delft: selecting an initiative for the area programme commits its checked cost from the
programme's pot, in the same transaction as the status change."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from buurtbudget.domain.budget import AccountKind, EntryKind
from buurtbudget.domain.initiative_lifecycle import FundingRoute, Status
from buurtbudget.extensions import db
from buurtbudget.models import Initiative, LedgerEntry
from buurtbudget.services import budget_reports, budgets, initiatives, ledger
from buurtbudget.services.errors import Conflict

THIS_YEAR = date.today().year


@pytest.fixture
def delft(app, make):
    area = make.area(inhabitants=1_000, year=THIS_YEAR - 1)  # EUR 10,000 at EUR 10 each
    period = make.budget_period(area)
    return {
        "area": area,
        "period": period,
        "pot": period.account(AccountKind.AREA),
        "coordinator": make.coordinator(area),
    }


def _select(delft, initiative):
    return initiatives.change_status(
        delft["coordinator"], initiative, Status.SELECTED, funding_route=FundingRoute.PROGRAMME
    )


def test_programme_selection_grants_the_checked_cost(delft, make):
    initiative = make.budget_initiative(delft["area"], cost_cents=2_500_00)
    before = ledger.account_balance(delft["pot"]).available
    _select(delft, initiative)
    money = ledger.initiative_totals(initiative)
    assert (money.granted, money.outstanding) == (2_500_00, 2_500_00)
    assert ledger.account_balance(delft["pot"]).available == before - 2_500_00
    entry = db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.initiative_id == initiative.id)
    ).one()
    assert (entry.kind, entry.actor_id) == (EntryKind.COMMITMENT, delft["coordinator"].id)
    assert initiative.history[-1].to_status is Status.SELECTED


def test_the_grant_comes_from_the_period_whose_programme_names_it(delft, make):
    last_year = make.budget_period(delft["area"], year=THIS_YEAR - 1)
    initiative = make.budget_initiative(delft["area"], cost_cents=1_000_00)
    budgets.set_programme_line(delft["coordinator"], last_year, 1_200_00, initiative=initiative)
    _select(delft, initiative)
    assert ledger.accounts_of_initiative(initiative) == [last_year.account(AccountKind.AREA).id]
    line = budget_reports.area_finances(last_year).programme_lines[0]
    assert (line.indicative, line.granted, line.left) == (1_200_00, 1_000_00, 200_00)


def test_a_pot_too_small_refuses_the_selection_and_nothing_moves(delft, make):
    initiative = make.budget_initiative(delft["area"], cost_cents=10_000_01)
    with pytest.raises(Conflict):
        _select(delft, initiative)
    db.session.rollback()
    assert db.session.get(Initiative, initiative.id).status is Status.OPEN
    assert ledger.initiative_totals(initiative).granted == 0


def test_money_granted_before_is_not_granted_twice(delft, make):
    initiative = make.budget_initiative(delft["area"], cost_cents=1_000_00)
    ledger.grant(delft["coordinator"], initiative, 400_00)
    _select(delft, initiative)
    assert ledger.initiative_totals(initiative).granted == 1_000_00


def test_selecting_through_the_screen_grants_money(delft, make, client_for):
    initiative = make.budget_initiative(delft["area"], cost_cents=750_00)
    client = client_for(delft["coordinator"])
    response = client.post(
        f"/initiatives/{initiative.id}/status",
        data={"new_status": "selected", "selected-funding_route": "programme"},
    )
    assert response.status_code == 302, response.text
    assert ledger.initiative_totals(initiative).granted == 750_00
    page = client.get(f"/budgets/periods/{delft['period'].id}").text
    assert "750.00" in page
