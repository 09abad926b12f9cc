"""The budget ledger: the only code that writes :class:`LedgerEntry` rows.

Public functions other features call (all amounts in integer cents):

* :func:`grant` ``(actor, initiative, amount_cents=None, *, memo="", spend_kind=None,
  period=None)``: commit money of the initiative's area pot to it (e.g. when a voting round
  selects it). ``actor`` None is the system. Refuses (Conflict) when the pot has not enough
  available; commits.
* :func:`release_remaining` ``(actor, initiative, memo)``: give what an initiative was granted
  but not paid back to its pot (cancelled or completed below budget); commits.
  services.initiatives does this by itself whenever an initiative is cancelled or completed,
  through :func:`post_release_remaining` (in the status change's transaction).
* :func:`initiative_totals` ``(initiative)``: granted / paid / pooled / outstanding.
* :func:`account_balance` ``(account)`` and :func:`area_pot` ``(area, on=None)``: balances.

Every money operation runs :func:`lock_account` before it reads a balance; see there why.
Functions named ``post_*`` or taking ``commit=False`` add to the caller's transaction.
"""

from __future__ import annotations

from datetime import date

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from buurtbudget.domain.budget import (
    AccountKind,
    Balance,
    BudgetModelKind,
    EntryKind,
    HolderMoney,
    LedgerRuleBroken,
    SpendKind,
    check_entry,
    needs_second_approval,
)
from buurtbudget.domain.budget import account_balance as balance_from_totals
from buurtbudget.domain.budget import holder_money as holder_from_totals
from buurtbudget.extensions import db
from buurtbudget.models import (
    Area,
    BudgetAccount,
    BudgetPeriod,
    Initiative,
    LedgerEntry,
    MeetingDecision,
    User,
)
from buurtbudget.services import audit
from buurtbudget.services.errors import Conflict, NotFound, ValidationFailed
from buurtbudget.services.permissions import (
    can_manage_area,
    is_admin_of,
    require,
    require_no_interest,
)

# Ledger rule codes (domain.budget.LedgerRuleBroken.code) -> the message users see.
RULE_MESSAGES = {
    "insufficient_available": _l("There is not enough money available in this budget."),
    "exceeds_outstanding": _l("This is more than was granted and not yet paid out."),
    "exceeds_paid": _l("This is more than was paid out."),
    "exceeds_cheques": _l("This is more cheque value than is in circulation."),
    "amount_not_positive": _l("Enter an amount above zero."),
}
COUNCIL_DECIDES = _l(
    "The area council holds this budget: its money is spent only by a decision recorded in a"
    " council meeting."
)
# What spends money of a pot (a payout spends what a commitment set aside).
_SPENDING_KINDS = (EntryKind.COMMITMENT, EntryKind.CHEQUE_ISSUE)
MAX_MEMO = 300


def lock_account(account_id: int) -> None:
    """Serialise money operations on one account; call it before reading any balance.

    The first thing every money operation does is a *write* to the account row
    (``UPDATE budget_account SET lock_version = lock_version + 1``):

    * on PostgreSQL that takes the row lock, so concurrent operations on the same account
      queue up until the holder commits; under READ COMMITTED every later statement of the
      transaction then sees what the previous holder committed;
    * on SQLite the Python driver starts its transaction at the first write, so this takes
      the database write lock *before* anything is read. Had the transaction started with a
      read, its snapshot could be stale by the time it wrote (WAL mode), and two requests
      could both see the same "available" amount.

    Balances are then summed from the ledger inside the lock, the rule is checked, entries are
    inserted and the caller commits, which releases the lock. Operations on different accounts
    do not wait for each other on PostgreSQL.
    """
    result = db.session.execute(
        update(BudgetAccount)
        .where(BudgetAccount.id == account_id)
        .values(lock_version=BudgetAccount.lock_version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise NotFound(_l("This budget does not exist."))


def _totals(*conditions) -> dict[str, int]:
    rows = db.session.execute(
        select(LedgerEntry.kind, func.coalesce(func.sum(LedgerEntry.amount_cents), 0))
        .where(*conditions)
        .group_by(LedgerEntry.kind)
    )
    return {EntryKind(kind): int(total) for kind, total in rows}


def account_balance(account: BudgetAccount | int) -> Balance:
    account_id = account if isinstance(account, int) else account.id
    return balance_from_totals(_totals(LedgerEntry.account_id == account_id))


def holder_totals(account_id: int, initiative_id: int | None) -> HolderMoney:
    """The money of one initiative (or, for None, of direct spending) within one account."""
    holder = (
        LedgerEntry.initiative_id.is_(None)
        if initiative_id is None
        else LedgerEntry.initiative_id == initiative_id
    )
    return holder_from_totals(_totals(LedgerEntry.account_id == account_id, holder))


def initiative_totals(initiative: Initiative | int) -> HolderMoney:
    """Granted / paid / pooled of an initiative over all accounts."""
    initiative_id = initiative if isinstance(initiative, int) else initiative.id
    return holder_from_totals(_totals(LedgerEntry.initiative_id == initiative_id))


def paid_out_in_total(initiative: Initiative | int) -> int:
    """Every payout ever booked to the initiative, before any money came back: what the
    second-approver threshold counts (money paid back does not reopen one-person payouts)."""
    initiative_id = initiative if isinstance(initiative, int) else initiative.id
    return _totals(
        LedgerEntry.initiative_id == initiative_id, LedgerEntry.kind == EntryKind.PAYOUT
    ).get(EntryKind.PAYOUT, 0)


def paid_directly_in_total(account_id: int) -> int:
    """Every direct payout (no initiative) ever booked from the account: what the
    second-approver threshold of direct spending counts."""
    return _totals(
        LedgerEntry.account_id == account_id,
        LedgerEntry.initiative_id.is_(None),
        LedgerEntry.kind == EntryKind.PAYOUT,
    ).get(EntryKind.PAYOUT, 0)


def second_approval_threshold() -> int:
    """From this many cents paid (to an initiative, or directly from a pot) a second approver
    is needed: ``PAYOUT_SECOND_APPROVAL_CENTS``, default EUR 1,000."""
    return int(current_app.config.get("PAYOUT_SECOND_APPROVAL_CENTS", 100_000))


def lock_accounts_of(initiative: Initiative) -> list[int]:
    """Lock every account the initiative has money in, lowest id first (one order for every
    caller, so two operations never wait for each other crosswise); returns their ids."""
    account_ids = accounts_of_initiative(initiative)
    for account_id in account_ids:
        lock_account(account_id)
    return account_ids


def accounts_of_initiative(initiative: Initiative) -> list[int]:
    return list(
        db.session.scalars(
            select(LedgerEntry.account_id)
            .where(LedgerEntry.initiative_id == initiative.id)
            .distinct()
            .order_by(LedgerEntry.account_id)
        )
    )


def post(
    actor: User | None,
    account: BudgetAccount,
    kind: EntryKind,
    amount_cents: int,
    *,
    initiative: Initiative | None = None,
    memo: str = "",
    **links,
) -> LedgerEntry:
    """Check and add one entry to the current transaction. The caller must hold the account
    lock (:func:`lock_account`) and commits. Raises Conflict when a ledger rule would break."""
    if kind in _SPENDING_KINDS:
        _require_council_decision(account, amount_cents, links.get("decision_id"))
    balance = account_balance(account)
    holder = holder_totals(account.id, initiative.id if initiative else None)
    try:
        check_entry(balance, kind, amount_cents, holder)
    except LedgerRuleBroken as broken:
        raise Conflict(
            RULE_MESSAGES.get(broken.code, _l("This would break a budget rule."))
        ) from None
    entry = LedgerEntry(
        account_id=account.id,
        kind=kind,
        amount_cents=amount_cents,
        initiative_id=initiative.id if initiative else None,
        actor_id=actor.id if actor is not None else None,
        memo=(memo or "")[:MAX_MEMO],
        **links,
    )
    db.session.add(entry)
    db.session.flush()
    period = account.period
    audit.record(
        actor,
        f"ledger.{kind.value}",
        entry,
        municipality_id=period.municipality_id,
        account_id=account.id,
        area_id=period.area_id,
        amount_cents=amount_cents,
        initiative_id=entry.initiative_id,
        memo=entry.memo or None,
    )
    return entry


def is_council_held(account: BudgetAccount) -> bool:
    """An area's money in the area-council model (Zaanstad): only the council spends it."""
    period = account.period
    return period.area_id is not None and period.model_kind is BudgetModelKind.COUNCIL_BUDGET


def _require_council_decision(
    account: BudgetAccount, amount_cents: int, decision_id: int | None
) -> None:
    """Money of a council-held budget moves only by a recorded decision of that council about
    this pot and this amount (services.council.record_decision), whoever asks and by
    whichever route: a coordinator's grant, direct spending, a voting round, cheques."""
    if not is_council_held(account):
        return
    decision = db.session.get(MeetingDecision, decision_id) if decision_id else None
    if (
        decision is None
        or decision.account_id != account.id
        or decision.amount_cents != amount_cents
        or decision.meeting.area_id != account.period.area_id
    ):
        raise Conflict(COUNCIL_DECIDES)


# Finding pots --------------------------------------------------------------------------------


def period_on(area: Area, on: date | None = None) -> BudgetPeriod | None:
    """The area's budget period that contains ``on`` (today by default)."""
    on = on or date.today()
    periods = db.session.scalars(
        select(BudgetPeriod).where(BudgetPeriod.area_id == area.id, BudgetPeriod.year == on.year)
    ).all()
    return next((p for p in periods if p.starts_on <= on <= p.ends_on), None)


def area_pot(area: Area, on: date | None = None) -> BudgetAccount | None:
    period = period_on(area, on)
    return period.account(AccountKind.AREA) if period else None


def _pot_for(initiative: Initiative, period: BudgetPeriod | None) -> BudgetAccount:
    if period is None:
        period = period_on(initiative.area)
    if period is None or period.area_id != initiative.area_id:
        raise Conflict(_l("There is no open budget period for this area."))
    return period.account(AccountKind.AREA)


# Use cases -----------------------------------------------------------------------------------


def grant(
    actor: User | None,
    initiative: Initiative,
    amount_cents: int | None = None,
    *,
    memo: str = "",
    spend_kind: SpendKind | None = None,
    period: BudgetPeriod | None = None,
    commit: bool = True,
    **links,
) -> LedgerEntry:
    """Commit ``amount_cents`` (default: the checked cost, else the requested amount) of the
    area pot to ``initiative``. ``actor`` None is the system (a voting round); otherwise a
    coordinator of the area or an administrator. In the area-council model spending needs a
    council decision, so use services.council.record_decision there."""
    pot = _pot_for(initiative, period)
    if actor is not None:
        require(can_manage_area(actor, initiative.area))
        require_no_interest(actor, initiative)
        if is_council_held(pot) and "decision_id" not in links:
            raise Conflict(_l("In this area the area council decides on spending, in a meeting."))
    if amount_cents is None:
        amount_cents = initiative.checked_cost_cents or initiative.requested_amount_cents
    lock_account(pot.id)
    entry = post(
        actor,
        pot,
        EntryKind.COMMITMENT,
        amount_cents,
        initiative=initiative,
        memo=memo,
        spend_kind=spend_kind,
        **links,
    )
    if commit:
        db.session.commit()
    return entry


def release_remaining(
    actor: User | None, initiative: Initiative, memo: str = "", *, commit: bool = True
) -> int:
    """Return what ``initiative`` was granted and not paid to its pot(s); returns the cents."""
    if actor is not None:
        require(can_manage_area(actor, initiative.area))
    released = post_release_remaining(actor, initiative, memo)
    if commit:
        db.session.commit()
    return released


def post_release_remaining(actor: User | None, initiative: Initiative, memo: str = "") -> int:
    """:func:`release_remaining` in the caller's transaction, without a permission check: the
    caller decided the money goes back (e.g. services.initiatives when an initiative is
    cancelled or completed, whoever may make that status change)."""
    released = 0
    for account_id in accounts_of_initiative(initiative):
        lock_account(account_id)
        outstanding = holder_totals(account_id, initiative.id).outstanding
        if outstanding > 0:
            account = db.session.get(BudgetAccount, account_id)
            post(actor, account, EntryKind.RELEASE, outstanding, initiative=initiative, memo=memo)
            released += outstanding
    return released


def record_return(actor: User, initiative: Initiative, amount_cents: int, memo: str) -> LedgerEntry:
    """An initiator paid money back (unspent cash): it returns to the pot it came from."""
    require(can_manage_area(actor, initiative.area))
    accounts = accounts_of_initiative(initiative)
    if not accounts:
        raise Conflict(_l("Nothing was paid out for this initiative."))
    account_id = accounts[-1]
    lock_account(account_id)
    entry = post(
        actor,
        db.session.get(BudgetAccount, account_id),
        EntryKind.RETURN,
        amount_cents,
        initiative=initiative,
        memo=memo,
    )
    db.session.commit()
    return entry


def spend_directly(
    actor: User,
    account: BudgetAccount,
    amount_cents: int,
    purpose: str,
    *,
    theme_id: int | None = None,
) -> LedgerEntry:
    """Pay for something without an initiative, e.g. urgent spending from the knelpuntenpot
    by the coordinator (city-wide pot: administrators), on one person's authority: refused
    from the second-approver threshold on (services.direct_spending asks a second approver)."""
    period = account.period
    require(
        can_manage_area(actor, period.area)
        if period.area is not None
        else is_admin_of(actor, period.municipality_id)
    )
    if is_council_held(account):
        raise Conflict(COUNCIL_DECIDES)
    lock_account(account.id)
    if needs_second_approval(
        amount_cents,
        second_approval_threshold(),
        already_paid_cents=paid_directly_in_total(account.id),
    ):
        raise Conflict(
            _l("This amount needs a receipt and the approval of a second coordinator."),
            field="amount",
        )
    entry = post_direct_spending(actor, account, amount_cents, purpose, theme_id=theme_id)
    db.session.commit()
    return entry


def post_direct_spending(
    actor: User | None,
    account: BudgetAccount,
    amount_cents: int,
    purpose: str,
    *,
    theme_id: int | None = None,
    spend_kind: SpendKind | None = None,
    **links,
) -> LedgerEntry:
    """A commitment and its payout in one go, in the caller's transaction (no permission
    check: the caller decides who may spend)."""
    purpose = (purpose or "").strip()
    if not purpose:
        raise ValidationFailed(_l("Say what the money is for."), field="purpose")
    lock_account(account.id)
    common = {"memo": purpose, "theme_id": theme_id, "spend_kind": spend_kind, **links}
    post(actor, account, EntryKind.COMMITMENT, amount_cents, **common)
    return post(actor, account, EntryKind.PAYOUT, amount_cents, **common)


# Money that came back ------------------------------------------------------------------------

# Releases (cancelled, completed, pooled beyond the cost, unfunded pools), money paid back,
# expired cheques and withdrawals (back to the municipality).
RETURNED_KINDS = (
    EntryKind.RELEASE,
    EntryKind.RETURN,
    EntryKind.CHEQUE_EXPIRY,
    EntryKind.WITHDRAWAL,
)


def returned_query(period: BudgetPeriod):
    """The entries of ``period`` through which money came back, newest first."""
    return (
        select(LedgerEntry)
        .where(
            LedgerEntry.account_id.in_([a.id for a in period.accounts]),
            LedgerEntry.kind.in_(RETURNED_KINDS),
        )
        .order_by(LedgerEntry.at.desc(), LedgerEntry.id.desc())
    )


def returned_totals(period: BudgetPeriod) -> dict[EntryKind, int]:
    totals = _totals(
        LedgerEntry.account_id.in_([a.id for a in period.accounts]),
        LedgerEntry.kind.in_(RETURNED_KINDS),
    )
    return {kind: totals.get(kind, 0) for kind in RETURNED_KINDS}
