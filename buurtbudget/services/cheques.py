"""Household cheques (Ede model): issuing one cheque per household and period, redeeming
(pooling) them on initiatives, and expiry.

A cheque is a bearer code (domain.budget.new_cheque_code), stored only as its sha256 (like
stempas and voting codes): the code exists in clear only in the letters made when it is
issued (services/cheque_letters.py). A lost letter is reprinted with a NEW code, which voids
the old one. Redemption is exactly-once by three guards: the account lock
(services.ledger.lock_account), a conditional ``UPDATE cheque SET redeemed_at = ... WHERE id
= :id AND code_hash = :hash AND redeemed_at IS NULL AND expired_at IS NULL`` whose row count
must be 1, and the table's check constraints.

Pooled cheques fund an initiative as soon as their value reaches its cost (the checked cost,
else the requested amount): the initiative is then selected (funding route "cheques") and the
value pooled beyond the cost goes back to the area pot.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from buurtbudget.domain.budget import (
    AccountKind,
    EntryKind,
    InvalidChequeCode,
    UnpooledValuePolicy,
    format_cheque_code,
    new_cheque_code,
    normalise_cheque_code,
    pooling_outcome,
)
from buurtbudget.domain.households import Address
from buurtbudget.domain.initiative_lifecycle import FundingRoute, Status
from buurtbudget.domain.postcode import InvalidPostcode, normalise_postcode
from buurtbudget.extensions import db
from buurtbudget.models import Area, BudgetAccount, BudgetPeriod, Cheque, Initiative, User
from buurtbudget.models._base import utcnow
from buurtbudget.services import audit, ledger, notifications
from buurtbudget.services.addresses import find_house
from buurtbudget.services.budgets import config_for
from buurtbudget.services.errors import Conflict, NotFound, ValidationFailed
from buurtbudget.services.initiatives import apply_status_change
from buurtbudget.services.permissions import can_manage_area, is_admin_of, require

# One household's address (from the municipality's address list).
Household = Address


def cheque_hash(normalised_code: str) -> str:
    """What the cheque table stores of a code. 80 random bits need no key (as stempas_hash);
    the prefix keeps a cheque code's hash apart from the same string's stempas hash."""
    return hashlib.sha256(b"cheque:" + normalised_code.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedCheque:
    """A cheque just issued (or reprinted) and its code in clear: only for the letters made
    in the same action, never stored."""

    cheque: Cheque
    code: str  # normalised (no separators)

    @property
    def printed_code(self) -> str:
        return format_cheque_code(self.code)


def cheque_pot(period: BudgetPeriod) -> BudgetAccount:
    account = period.account(AccountKind.AREA)
    if account is None or period.area is None:
        raise Conflict(_l("This budget has no area pot."))
    settings = config_for(period.area).settings()
    if not settings.uses_cheques:
        raise Conflict(_l("This area does not use household cheques."))
    return account


def issue_cheques(
    actor: User | None,
    period: BudgetPeriod,
    households: list[Household],
    write_letters: Callable[[list[IssuedCheque]], object] | None = None,
) -> list[IssuedCheque]:
    """Issue one cheque per household for ``period`` (households that already have one for
    this period are skipped); returns the codes in clear ONCE. ``write_letters`` makes the
    letters from them BEFORE anything is stored, so a failure there issues nothing (and a slow
    PDF does not hold the account lock). Administrators; ``actor`` None for the command line
    and demo."""
    if actor is not None:
        require(is_admin_of(actor, period.municipality_id))
    account = cheque_pot(period)
    settings = config_for(period.area).settings()
    clean = []
    for household in households:
        try:
            postcode = normalise_postcode(household.postcode)
        except InvalidPostcode:
            raise ValidationFailed(
                _l("%(postcode)s is not a valid postcode.", postcode=household.postcode)
            ) from None
        if not 1 <= household.house_number <= 99999 or len(household.addition) > 8:
            raise ValidationFailed(_l("This is not a valid house number."))
        _require_address_in(period.area, postcode, household.house_number)
        clean.append((postcode, household.house_number, household.addition.strip().upper()))
    expires_on = max(date.today(), period.starts_on) + timedelta(days=settings.cheque_valid_days)
    issued = []
    existing = _issued_addresses(account)
    for address in dict.fromkeys(clean):  # keeps order, drops duplicates
        if address in existing:
            continue
        postcode, number, addition = address
        code = new_cheque_code()
        cheque = Cheque(
            account_id=account.id,
            code_hash=cheque_hash(code),
            postcode=postcode,
            house_number=number,
            house_addition=addition,
            value_cents=settings.cheque_value_cents,
            expires_on=expires_on,
        )
        issued.append(IssuedCheque(cheque, code))
    if not issued:
        db.session.rollback()
        return []
    if write_letters is not None:
        write_letters(issued)
    ledger.lock_account(account.id)
    # Issued meanwhile by someone else (read again under the lock): their letters are out.
    if {(i.cheque.postcode, i.cheque.house_number, i.cheque.house_addition) for i in issued} & (
        _issued_addresses(account)
    ):
        db.session.rollback()
        raise Conflict(
            _l("Cheques were issued to this list at the same time. Check the list again.")
        )
    new = [i.cheque for i in issued]
    db.session.add_all(new)
    total = settings.cheque_value_cents * len(new)
    ledger.post(
        actor,
        account,
        EntryKind.CHEQUE_ISSUE,
        total,
        cheque_count=len(new),
        memo=f"{len(new)} x {settings.cheque_value_cents}",
    )
    db.session.commit()
    return issued


def _require_address_in(area: Area, postcode: str, house_number: int) -> None:
    """A letter goes to a household of the period's area: an address the address file places
    in another area is refused (an address it does not know is allowed)."""
    found = find_house(postcode, house_number)
    if found is not None and found.area_id != area.id:
        raise ValidationFailed(
            _l(
                "%(postcode)s %(number)s lies in %(other)s, not in %(area)s.",
                postcode=postcode,
                number=house_number,
                other=found.area.name,
                area=area.name,
            )
        )


@dataclass(frozen=True)
class IssuePlan:
    """What issuing cheques to a list of households would do, shown before confirming."""

    households: int  # distinct addresses in the list
    already_issued: int  # of those, addresses that have a cheque for this period already
    value_cents: int  # of one cheque
    available_cents: int  # in the area pot now
    issued_so_far: int  # cheques of this period, before this list
    households_in_figures: int  # households of the area by the population figures

    @property
    def new(self) -> int:
        return self.households - self.already_issued

    @property
    def total_cents(self) -> int:
        return self.new * self.value_cents

    @property
    def fits(self) -> bool:
        return self.total_cents <= self.available_cents


def plan_issue(actor: User | None, period: BudgetPeriod, households: list[Household]) -> IssuePlan:
    """Count what :func:`issue_cheques` would issue, without issuing. Administrators."""
    if actor is not None:
        require(is_admin_of(actor, period.municipality_id))
    account = cheque_pot(period)
    settings = config_for(period.area).settings()
    existing = _issued_addresses(account)
    addresses = {(h.postcode, h.house_number, h.addition) for h in households}
    figures = period.area.population_for(period.year)
    return IssuePlan(
        households=len(addresses),
        already_issued=len(addresses & existing),
        value_cents=settings.cheque_value_cents,
        available_cents=ledger.account_balance(account).available,
        issued_so_far=len(existing),
        households_in_figures=figures.households if figures else 0,
    )


def _issued_addresses(account: BudgetAccount) -> set[tuple[str, int, str]]:
    return {
        tuple(row)
        for row in db.session.execute(
            select(Cheque.postcode, Cheque.house_number, Cheque.house_addition).where(
                Cheque.account_id == account.id
            )
        )
    }


INVALID_CODE = _l("This cheque code is not valid.")


def find_cheque(code_text: str) -> Cheque:
    """The cheque of a typed code, found by the code's hash; the same message whether the
    code is malformed, unknown or voided by a reprint, so the form tells a guesser nothing."""
    try:
        code = normalise_cheque_code(code_text)
    except InvalidChequeCode:
        raise ValidationFailed(INVALID_CODE, field="code") from None
    cheque = db.session.scalar(select(Cheque).where(Cheque.code_hash == cheque_hash(code)))
    if cheque is None:
        raise ValidationFailed(INVALID_CODE, field="code")
    return cheque


def redeem(actor: User, code_text: str, initiative: Initiative) -> Cheque:
    """A resident pools a cheque on an open initiative of the cheque's area."""
    require(actor is not None and actor.is_authenticated)
    cheque = find_cheque(code_text)
    account = db.session.get(BudgetAccount, cheque.account_id)
    if account.period.area_id != initiative.area_id:
        raise ValidationFailed(
            _l("This cheque is for another area than this initiative."), field="code"
        )
    if actor.home_area_id is not None and actor.home_area_id != initiative.area_id:
        # A household pools on initiatives of its own area only.
        raise ValidationFailed(
            _l("You can pool cheques only on initiatives of your own area."), field="initiative"
        )
    if cheque.expires_on < date.today():
        raise Conflict(_l("This cheque has expired."), field="code")

    ledger.lock_account(account.id)
    # The initiative row too (FOR UPDATE on PostgreSQL; SQLite holds the database lock already):
    # cheques of another period (another account) may be pooled on it at the same moment.
    status = db.session.scalar(
        select(Initiative.status).where(Initiative.id == initiative.id).with_for_update()
    )
    if status is not Status.OPEN:
        raise Conflict(_l("This initiative does not collect cheques (any more)."))
    now = utcnow()
    # The hash too: a reprint between the look-up and this lock voids the typed code.
    typed_hash = cheque.code_hash
    claimed = db.session.execute(
        update(Cheque)
        .where(
            Cheque.id == cheque.id,
            Cheque.code_hash == typed_hash,
            Cheque.redeemed_at.is_(None),
            Cheque.expired_at.is_(None),
        )
        .values(redeemed_at=now, redeemed_by_id=actor.id, initiative_id=initiative.id)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        db.session.rollback()
        if db.session.scalar(select(Cheque.code_hash).where(Cheque.id == cheque.id)) != typed_hash:
            raise ValidationFailed(INVALID_CODE, field="code")
        raise Conflict(_l("This cheque has already been used."), field="code")
    ledger.post(
        actor,
        account,
        EntryKind.CHEQUE_REDEMPTION,
        cheque.value_cents,
        initiative=initiative,
        memo=f"cheque {cheque.id}",
    )
    pooled = ledger.initiative_totals(initiative).pooled
    cost = initiative.checked_cost_cents or initiative.requested_amount_cents
    outcome = pooling_outcome(pooled, cost)
    sent = []
    if outcome.funded:
        if outcome.surplus_cents:
            ledger.post(
                None,
                account,
                EntryKind.RELEASE,
                outcome.surplus_cents,
                initiative=initiative,
                memo="pooled beyond the cost",
            )
        db.session.refresh(initiative)
        sent = apply_status_change(
            None, initiative, Status.SELECTED, funding_route=FundingRoute.CHEQUES
        )
    audit.record(
        actor,
        "cheque.redeemed",
        cheque,
        municipality_id=account.period.municipality_id,
        initiative_id=initiative.id,
        value_cents=cheque.value_cents,
        funded=outcome.funded or None,
    )
    db.session.commit()
    notifications.deliver(sent)
    db.session.refresh(cheque)
    return cheque


@dataclass(frozen=True)
class ExpiryPlan:
    """What an expiry run on ``today`` would do, shown before confirming."""

    cheques: int  # unredeemed cheques past their date
    cheque_value_cents: int
    unfunded: list[tuple[Initiative, int]]  # open initiatives and their pooled value to release
    final: bool  # every cheque of the period is past its date (pooled value is released)
    last_expiry: date | None
    policy: UnpooledValuePolicy

    @property
    def total_cents(self) -> int:
        return self.cheque_value_cents + sum(cents for _, cents in self.unfunded)


def _expiring(account: BudgetAccount, today: date):
    return select(Cheque.id).where(
        Cheque.account_id == account.id,
        Cheque.expires_on < today,
        Cheque.redeemed_at.is_(None),
        Cheque.expired_at.is_(None),
    )


def plan_expiry(actor: User | None, period: BudgetPeriod, today: date | None = None) -> ExpiryPlan:
    """Unredeemed cheques past their date lapse; once every cheque of the period is past its
    date, value pooled on initiatives that did not reach their cost is released too. By the
    model's policy that money stays in the area pot or goes back to the municipality.
    Coordinators of the area and administrators."""
    if actor is not None:
        require(period.area is not None and can_manage_area(actor, period.area))
    account = cheque_pot(period)
    today = today or date.today()
    count, value = db.session.execute(
        select(func.count(Cheque.id), func.coalesce(func.sum(Cheque.value_cents), 0)).where(
            Cheque.id.in_(_expiring(account, today))
        )
    ).one()
    last_expiry = db.session.scalar(
        select(func.max(Cheque.expires_on)).where(Cheque.account_id == account.id)
    )
    final = last_expiry is not None and last_expiry < today
    unfunded = []
    if final:
        open_pooled = db.session.scalars(
            select(Initiative)
            .join(Cheque, Cheque.initiative_id == Initiative.id)
            .where(Cheque.account_id == account.id, Initiative.status == Status.OPEN)
            .distinct()
            .order_by(Initiative.id)
        ).all()
        for initiative in open_pooled:
            outstanding = ledger.holder_totals(account.id, initiative.id).outstanding
            if outstanding:
                unfunded.append((initiative, outstanding))
    return ExpiryPlan(
        cheques=int(count),
        cheque_value_cents=int(value),
        unfunded=unfunded,
        final=final,
        last_expiry=last_expiry,
        policy=config_for(period.area).settings().unpooled_value_policy,
    )


def expire_cheques(actor: User | None, period: BudgetPeriod, today: date | None = None) -> int:
    """Carry out :func:`plan_expiry` (under the account lock). Returns the cents concerned."""
    if actor is not None:
        require(period.area is not None and can_manage_area(actor, period.area))
    today = today or date.today()
    account = cheque_pot(period)
    ledger.lock_account(account.id)
    plan = plan_expiry(actor, period, today)
    if plan.cheques:
        db.session.execute(
            update(Cheque)
            .where(Cheque.id.in_(list(db.session.scalars(_expiring(account, today)))))
            .values(expired_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        ledger.post(
            actor,
            account,
            EntryKind.CHEQUE_EXPIRY,
            plan.cheque_value_cents,
            cheque_count=plan.cheques,
        )
    for initiative, outstanding in plan.unfunded:
        ledger.post(
            actor,
            account,
            EntryKind.RELEASE,
            outstanding,
            initiative=initiative,
            memo="cheques expired before the cost was reached",
        )
    total = plan.total_cents
    if total and plan.policy is UnpooledValuePolicy.MUNICIPALITY:
        ledger.post(actor, account, EntryKind.WITHDRAWAL, total, memo="unused cheque value")
    audit.record(
        actor,
        "cheque.expired",
        period,
        municipality_id=period.municipality_id,
        cheques=plan.cheques,
        amount_cents=total,
        policy=plan.policy.value,
    )
    db.session.commit()
    return total


def pooling_candidates(user: User) -> list[Initiative]:
    """Open initiatives a resident may pool a cheque on: those of their home area when it
    uses cheques, else of every cheque area of their municipality. Nothing here looks at a
    cheque code, so the list reveals nothing about any code."""
    if user.home_area_id:
        areas = [db.session.get(Area, user.home_area_id)]
    else:
        areas = list(
            db.session.scalars(select(Area).where(Area.municipality_id == user.municipality_id))
        )
    area_ids = [
        a.id
        for a in areas
        if (config := config_for(a)) is not None and config.settings().uses_cheques
    ]
    return list(
        db.session.scalars(
            select(Initiative)
            .where(Initiative.area_id.in_(area_ids), Initiative.status == Status.OPEN)
            .order_by(Initiative.title, Initiative.id)
        )
    )


def cheques_query(period: BudgetPeriod):
    account = period.account(AccountKind.AREA)
    return (
        select(Cheque)
        .where(Cheque.account_id == (account.id if account else -1))
        .order_by(Cheque.postcode, Cheque.house_number, Cheque.house_addition)
    )


def get_cheque(actor: User | None, cheque_id: int) -> Cheque:
    """A cheque, for the administrators of its municipality (``actor`` None: command line)."""
    cheque = db.session.get(Cheque, cheque_id)
    if cheque is None:
        raise NotFound(_l("We could not find this cheque."))
    if actor is not None:
        require(is_admin_of(actor, cheque.account.period.municipality_id))
    return cheque


def reprint_refusal(cheque: Cheque, today: date | None = None):
    """Why this cheque's letter cannot be reprinted, or None: a pooled or expired cheque has
    no value left to put on a new letter."""
    if cheque.redeemed_at is not None:
        return _l("This cheque has already been pooled: its letter cannot be reprinted.")
    if cheque.expired_at is not None or cheque.expires_on < (today or date.today()):
        return _l("This cheque has expired: its letter cannot be reprinted.")
    return None


def reprint_cheque(actor: User | None, cheque_id: int) -> IssuedCheque:
    """A lost letter: the same cheque (household, value, expiry) gets a NEW code, returned in
    clear ONCE for the new letter; the old code stops working at once. Administrators."""
    cheque = get_cheque(actor, cheque_id)
    account = cheque.account
    ledger.lock_account(account.id)  # serialises with redeeming (which takes the same lock)
    db.session.refresh(cheque)
    refusal = reprint_refusal(cheque)
    if refusal is not None:
        db.session.rollback()
        raise Conflict(refusal)
    code = new_cheque_code()
    voided = db.session.execute(
        update(Cheque)
        .where(Cheque.id == cheque.id, Cheque.redeemed_at.is_(None), Cheque.expired_at.is_(None))
        .values(code_hash=cheque_hash(code))
        .execution_options(synchronize_session=False)
    )
    if voided.rowcount != 1:  # the account lock makes this unreachable; the guard stays cheap
        db.session.rollback()
        raise Conflict(_l("This cheque has already been pooled: its letter cannot be reprinted."))
    audit.record(
        actor,
        "cheque.reprinted",
        cheque,
        municipality_id=account.period.municipality_id,
        old_code_voided=True,
    )
    db.session.commit()
    db.session.refresh(cheque)
    return IssuedCheque(cheque, code)
