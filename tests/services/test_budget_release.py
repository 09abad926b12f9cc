"""Cancelling or completing an initiative gives its granted, unpaid money back to the area pot,
in the same transaction as the status change."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from buurtbudget.domain.budget import AccountKind, EntryKind
from buurtbudget.domain.initiative_lifecycle import FundingRoute, Status
from buurtbudget.extensions import db
from buurtbudget.models import AuditEntry, LedgerEntry
from buurtbudget.services import initiatives, ledger

THIS_YEAR = date.today().year
GRANTED = 1_000_00


@pytest.fixture
def world(app, make):
    area = make.area(inhabitants=1_000, year=THIS_YEAR)  # EUR 10,000
    period = make.budget_period(area)
    coordinator = make.coordinator(area)
    initiative = make.budget_initiative(area, cost_cents=GRANTED, status="open")
    ledger.grant(coordinator, initiative)
    initiatives.change_status(
        coordinator, initiative, Status.SELECTED, funding_route=FundingRoute.PROGRAMME
    )
    return {"pot": period.account(AccountKind.AREA), "coordinator": coordinator, "i": initiative}


def _pay(world, cents: int) -> None:
    ledger.lock_account(world["pot"].id)
    ledger.post(None, world["pot"], EntryKind.PAYOUT, cents, initiative=world["i"], memo="bon")
    db.session.commit()
    if world["i"].status is Status.SELECTED:
        initiatives.change_status(None, world["i"], Status.IN_EXECUTION)


def _released(initiative) -> list[int]:
    return list(
        db.session.scalars(
            select(LedgerEntry.amount_cents).where(
                LedgerEntry.initiative_id == initiative.id, LedgerEntry.kind == EntryKind.RELEASE
            )
        )
    )


def _status_audit(initiative, to_status: str) -> dict:
    entries = db.session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "initiative.status_changed",
            AuditEntry.object_id == initiative.id,
        )
    ).all()
    return next(e.details for e in entries if e.details["to_status"] == to_status)


@pytest.mark.parametrize("new_status", [Status.CANCELLED, Status.COMPLETED])
def test_unspent_money_returns_to_the_pot(world, new_status):
    _pay(world, 400_00)
    before = ledger.account_balance(world["pot"]).available
    initiatives.change_status(world["coordinator"], world["i"], new_status, reason="Klaar")
    assert _released(world["i"]) == [600_00]
    assert ledger.account_balance(world["pot"]).available == before + 600_00
    money = ledger.initiative_totals(world["i"])
    assert (money.granted, money.paid, money.outstanding) == (400_00, 400_00, 0)
    assert _status_audit(world["i"], new_status.value)["released_cents"] == 600_00
    release_audit = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "ledger.release")
    ).one()
    assert release_audit.actor_id == world["coordinator"].id
    assert release_audit.details["amount_cents"] == 600_00


def test_a_fully_paid_initiative_returns_nothing(world):
    _pay(world, GRANTED)
    before = ledger.account_balance(world["pot"]).available
    initiatives.change_status(world["coordinator"], world["i"], Status.COMPLETED)
    assert _released(world["i"]) == []
    assert ledger.account_balance(world["pot"]).available == before
    assert "released_cents" not in _status_audit(world["i"], "completed")


def test_the_initiator_cancelling_also_returns_the_grant(world):
    """The initiator may cancel a selected initiative but may not manage the area's money:
    the release follows the status change, not the ledger's own permission check."""
    before = ledger.account_balance(world["pot"]).available
    initiator = world["i"].initiator
    initiatives.change_status(initiator, world["i"], Status.CANCELLED, reason="Geen vrijwilligers")
    assert _released(world["i"]) == [GRANTED]
    assert ledger.account_balance(world["pot"]).available == before + GRANTED
