"""Parallel grants, payout approvals and cheque redemptions cannot overspend or redeem twice.

Each thread has its own app and request context, hence its own session and database connection,
and all start together at a barrier. Run on SQLite (a file) and on PostgreSQL
(BUURTBUDGET_TEST_DATABASE_URL)."""

from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy import func, select

from buurtbudget.domain.budget import AccountKind, EntryKind
from buurtbudget.domain.initiative_lifecycle import Status
from buurtbudget.extensions import db
from buurtbudget.models import (
    Attachment,
    Cheque,
    Initiative,
    LedgerEntry,
    PayoutRequest,
    PayoutStatus,
    User,
)
from buurtbudget.services import cheques, ledger, payouts
from buurtbudget.services.errors import ServiceError

THREADS = 20


def _run_parallel(app, work) -> Counter:
    """Run ``work(index)`` in THREADS threads at once; count outcomes ("ok" or error class)."""
    barrier = threading.Barrier(THREADS)
    outcomes: Counter = Counter()
    lock = threading.Lock()

    def runner(index: int) -> None:
        # A request context, as in the web app: error messages are translated on creation.
        with app.test_request_context():
            try:
                barrier.wait()
                work(index)
                outcome = "ok"
            except ServiceError as error:
                db.session.rollback()
                outcome = type(error).__name__
            except Exception as error:  # noqa: BLE001 - reported to the test, not swallowed
                db.session.rollback()
                outcome = f"unexpected {type(error).__name__}: {error}"
            finally:
                db.session.remove()
            with lock:
                outcomes[outcome] += 1

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    db.session.expire_all()
    return outcomes


def test_parallel_grants_never_overspend(app, make):
    area = make.area(inhabitants=100, year=2026)  # EUR 1,000
    period = make.budget_period(area, year=None)
    coordinator_id = make.coordinator(area).id
    ids = [make.budget_initiative(area, cost_cents=100_00).id for _ in range(THREADS)]

    def grant(index: int) -> None:
        actor = db.session.get(User, coordinator_id)
        ledger.grant(actor, db.session.get(Initiative, ids[index]))

    outcomes = _run_parallel(app, grant)
    assert outcomes == Counter({"ok": 10, "Conflict": THREADS - 10})
    balance = ledger.account_balance(period.account(AccountKind.AREA))
    assert (balance.committed, balance.available) == (1_000_00, 0)


def test_parallel_payout_approvals_never_pay_more_than_granted(app, make, monkeypatch):
    # About the cap, not the four-eyes rule: one approval pays every request here.
    monkeypatch.setitem(app.config, "PAYOUT_SECOND_APPROVAL_CENTS", 10_000_00)
    area = make.area(inhabitants=1_000, year=2026)
    make.budget_period(area, year=None)
    initiative = make.budget_initiative(area, cost_cents=1_000_00)
    ledger.grant(None, initiative)
    initiative.status = Status.SELECTED
    db.session.commit()
    account_id = ledger.accounts_of_initiative(initiative)[0]
    # Requests written directly: together they ask twice the grant (the request form would
    # refuse that; the approval must hold on its own).
    requests = [
        PayoutRequest(
            initiative=initiative,
            account_id=account_id,
            amount_cents=100_00,
            description=f"Bon {n}",
            requested_by_id=initiative.initiator_user_id,
        )
        for n in range(THREADS)
    ]
    db.session.add_all(requests)
    db.session.commit()
    request_ids = [r.id for r in requests]
    coordinator_ids = [make.coordinator(area).id for _ in range(4)]

    def approve(index: int) -> None:
        actor = db.session.get(User, coordinator_ids[index % len(coordinator_ids)])
        payouts.approve(actor, db.session.get(PayoutRequest, request_ids[index]))

    outcomes = _run_parallel(app, approve)
    assert outcomes == Counter({"ok": 10, "Conflict": THREADS - 10})
    assert ledger.initiative_totals(initiative.id).paid == 1_000_00
    paid = db.session.scalar(
        select(func.count(PayoutRequest.id)).where(PayoutRequest.status == PayoutStatus.PAID)
    )
    assert paid == 10


def test_parallel_payout_requests_never_ask_more_than_the_grant(app, make):
    # The attack: 3 x EUR 8,000 left pending against a grant of EUR 8,500.
    area = make.area(inhabitants=1_000, year=2026)
    make.budget_period(area, year=None)
    initiative = make.budget_initiative(area, cost_cents=8_500_00)
    ledger.grant(None, initiative)
    initiative.status = Status.SELECTED
    db.session.commit()
    receipt = Attachment(
        initiative=initiative,
        stored_name="bon-parallel.pdf",
        original_name="bon.pdf",
        content_type="application/pdf",
        size_bytes=10,
    )
    db.session.add(receipt)
    db.session.commit()
    initiative_id, initiator_id = initiative.id, initiative.initiator_user_id
    receipt_id = receipt.id

    def request(index: int) -> None:
        payouts.request_payout(
            db.session.get(User, initiator_id),
            db.session.get(Initiative, initiative_id),
            8_000_00,
            f"Bon {index}",
            [db.session.get(Attachment, receipt_id)],
        )

    outcomes = _run_parallel(app, request)
    assert outcomes == Counter({"ok": 1, "Conflict": THREADS - 1})
    requested = db.session.scalar(
        select(func.sum(PayoutRequest.amount_cents)).where(
            PayoutRequest.initiative_id == initiative_id
        )
    )
    assert requested == 8_000_00


def test_the_same_request_approved_in_parallel_is_paid_once(app, make):
    area = make.area(inhabitants=1_000, year=2026)
    make.budget_period(area, year=None)
    initiative = make.budget_initiative(area, cost_cents=5_000_00)
    ledger.grant(None, initiative)
    initiative.status = Status.IN_EXECUTION
    db.session.commit()
    request = PayoutRequest(
        initiative=initiative,
        account_id=ledger.accounts_of_initiative(initiative)[0],
        amount_cents=500_00,
        description="Huur zaal",
        requested_by_id=initiative.initiator_user_id,
    )
    db.session.add(request)
    db.session.commit()
    coordinator_ids = [make.coordinator(area).id for _ in range(THREADS)]

    def approve(index: int) -> None:
        payouts.approve(
            db.session.get(User, coordinator_ids[index]), db.session.get(PayoutRequest, request.id)
        )

    outcomes = _run_parallel(app, approve)
    assert outcomes == Counter({"ok": 1, "Conflict": THREADS - 1})
    assert ledger.initiative_totals(initiative.id).paid == 500_00


def test_a_cheque_is_redeemed_exactly_once(app, make):
    area = make.area(households=500, year=2026)
    period = make.budget_period(area, "household_cheques", year=None)
    (issued,) = cheques.issue_cheques(None, period, [cheques.Household("6711AA", 7)])
    cheque, code = issued.cheque, issued.code
    ids = [make.budget_initiative(area, cost_cents=10_000).id for _ in range(THREADS)]
    resident_id = make.resident(area).id

    def redeem(index: int) -> None:
        actor = db.session.get(User, resident_id)
        cheques.redeem(actor, code, db.session.get(Initiative, ids[index]))

    outcomes = _run_parallel(app, redeem)
    assert outcomes == Counter({"ok": 1, "Conflict": THREADS - 1})
    redemptions = db.session.scalar(
        select(func.count(LedgerEntry.id)).where(LedgerEntry.kind == EntryKind.CHEQUE_REDEMPTION)
    )
    assert redemptions == 1
    assert db.session.get(Cheque, cheque.id).redeemed_at is not None


def test_parallel_pooling_funds_the_initiative_exactly_at_its_cost(app, make):
    area = make.area(households=500, year=2026)
    period = make.budget_period(area, "household_cheques", year=None)
    issued = cheques.issue_cheques(
        None, period, [cheques.Household("6711AB", n) for n in range(1, THREADS + 1)]
    )
    initiative = make.budget_initiative(area, cost_cents=7 * 750)
    codes = [c.code for c in issued]
    resident_id = make.resident(area).id

    def redeem(index: int) -> None:
        actor = db.session.get(User, resident_id)
        cheques.redeem(actor, codes[index], db.session.get(Initiative, initiative.id))

    outcomes = _run_parallel(app, redeem)
    assert outcomes == Counter({"ok": 7, "Conflict": THREADS - 7})
    totals = ledger.initiative_totals(initiative.id)
    assert (totals.pooled, totals.granted) == (7 * 750, 7 * 750)
    assert db.session.get(Initiative, initiative.id).status is Status.SELECTED
    redeemed = db.session.scalar(
        select(func.count(Cheque.id)).where(Cheque.redeemed_at.is_not(None))
    )
    assert redeemed == 7
