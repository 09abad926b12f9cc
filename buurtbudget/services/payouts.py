"""Payout requests: the initiator asks for money with receipts; a coordinator of the area
approves or rejects with a reason; once what was paid to the initiative in total, including
the request at hand, reaches ``PAYOUT_SECOND_APPROVAL_CENTS`` (default EUR 1,000) a second,
different coordinator (or an administrator) must approve too. The payout is booked in the
ledger at the last approval, under the account lock, and never exceeds what the initiative
was granted minus what was already paid. Requests are made under the same locks, so pending
and paid requests together never exceed the grant, also when requests arrive in parallel."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from buurtbudget.domain.budget import EntryKind, needs_second_approval
from buurtbudget.domain.initiative_lifecycle import Status
from buurtbudget.extensions import db
from buurtbudget.models import (
    Attachment,
    BudgetAccount,
    Initiative,
    PayoutRequest,
    PayoutStatus,
    Role,
    RoleAssignment,
    User,
)
from buurtbudget.models._base import utcnow
from buurtbudget.services import audit, ledger, notifications
from buurtbudget.services.errors import Conflict, ValidationFailed
from buurtbudget.services.initiatives import apply_status_change, is_initiator
from buurtbudget.services.permissions import can_manage_area, has_interest, require

DESCRIPTION_MAX = 1000
REASON_MAX = 1000
PAYABLE_STATUSES = (Status.SELECTED, Status.IN_EXECUTION)
OPEN_REQUEST_STATUSES = (PayoutStatus.PENDING, PayoutStatus.AWAITING_SECOND)


def threshold_cents() -> int:
    return ledger.second_approval_threshold()


def requested_not_decided(initiative: Initiative) -> int:
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(PayoutRequest.amount_cents), 0)).where(
                PayoutRequest.initiative_id == initiative.id,
                PayoutRequest.status.in_(OPEN_REQUEST_STATUSES),
            )
        )
    )


def _paying_account(initiative: Initiative, amount_cents: int) -> int:
    """The account whose grant to the initiative covers the amount."""
    for account_id in ledger.accounts_of_initiative(initiative):
        if ledger.holder_totals(account_id, initiative.id).outstanding >= amount_cents:
            return account_id
    raise Conflict(_l("This is more than was granted and not yet paid out."), field="amount")


def request_payout(
    actor: User,
    initiative: Initiative,
    amount_cents: int,
    description: str,
    receipts: list[Attachment],
) -> PayoutRequest:
    require(is_initiator(actor, initiative))
    if initiative.status not in PAYABLE_STATUSES:
        raise Conflict(_l("Payouts are only possible for selected initiatives."))
    if amount_cents is None or amount_cents <= 0:
        raise ValidationFailed(_l("Enter an amount above zero."), field="amount")
    description = (description or "").strip()
    if not description or len(description) > DESCRIPTION_MAX:
        raise ValidationFailed(
            _l("Describe what the money is for (at most 1000 characters)."), field="description"
        )
    if not receipts:
        raise ValidationFailed(_l("Add at least one receipt."), field="receipts")
    if any(receipt.initiative_id != initiative.id for receipt in receipts):
        raise ValidationFailed(_l("Receipts must belong to this initiative."), field="receipts")
    # Under the locks of the initiative's accounts: a parallel request waits here until this
    # one is committed, and then counts it among the requested.
    ledger.lock_accounts_of(initiative)
    totals = ledger.initiative_totals(initiative)
    if amount_cents > totals.outstanding - requested_not_decided(initiative):
        raise Conflict(
            _l("This is more than was granted and not yet paid or requested."), field="amount"
        )
    request = PayoutRequest(
        initiative=initiative,
        account_id=_paying_account(initiative, amount_cents),
        amount_cents=amount_cents,
        description=description,
        requested_by_id=actor.id,
        receipts=list(receipts),
    )
    db.session.add(request)
    db.session.flush()
    audit.record(
        actor,
        "payout.requested",
        request,
        municipality_id=initiative.municipality_id,
        initiative_id=initiative.id,
        amount_cents=amount_cents,
    )
    sent = _notify(approvers_of(request), notifications.PAYOUT_REQUESTED, request)
    db.session.commit()
    notifications.deliver(sent)
    return request


def approvers_of(request: PayoutRequest, *, exclude: tuple[int | None, ...] = ()) -> list[User]:
    """Who may decide on ``request`` now: the coordinators of the initiative's area, or, when
    the area has none, the administrators of its municipality; never the requester (nor
    anyone in ``exclude``, e.g. the first approver)."""
    area = request.initiative.area
    people = _staff(Role.COORDINATOR, area_id=area.id) or _staff(
        Role.ADMINISTRATOR, municipality_id=area.municipality_id
    )
    skip = {request.requested_by_id, *exclude}
    return [p for p in people if p.id not in skip and p.is_active and can_decide(p, request)]


def _staff(role: Role, **where) -> list[User]:
    holders = select(RoleAssignment.user_id).where(RoleAssignment.role == role)
    for column, value in where.items():
        holders = holders.where(getattr(RoleAssignment, column) == value)
    return list(db.session.scalars(select(User).where(User.id.in_(holders)).order_by(User.id)))


def _notify(people, kind: str, request: PayoutRequest, **params) -> list:
    initiative = request.initiative
    return [
        notifications.notify(
            person,
            kind,
            initiative,
            title=initiative.title,
            amount_cents=request.amount_cents,
            **params,
        )
        for person in people
    ]


def _initiator_of(request: PayoutRequest) -> list[User]:
    return [request.requested_by] if request.requested_by is not None else []


def can_decide(user: User | None, request: PayoutRequest) -> bool:
    """A manager of the area who neither asked for the money nor has an interest in the
    initiative (its initiator or a member of its working group)."""
    return (
        can_manage_area(user, request.initiative.area)
        and user.id != request.requested_by_id
        and not has_interest(user, request.initiative)
    )


def approve(actor: User, request: PayoutRequest) -> PayoutRequest:
    """Approve once; the payout is booked at the last approval needed."""
    require(can_decide(actor, request))
    ledger.lock_accounts_of(request.initiative)  # includes request.account_id
    ledger.lock_account(request.account_id)
    db.session.refresh(request)  # another coordinator may have decided meanwhile
    if request.status not in OPEN_REQUEST_STATUSES:
        raise Conflict(_l("This request has already been decided."))
    now = utcnow()
    municipality_id = request.initiative.municipality_id
    if request.status is PayoutStatus.AWAITING_SECOND:
        if actor.id == request.first_approver_id:
            raise Conflict(_l("A second approval must come from another coordinator."))
        request.second_approver_id, request.second_approved_at = actor.id, now
    else:
        request.first_approver_id, request.first_approved_at = actor.id, now
        if needs_second_approval(
            request.amount_cents,
            threshold_cents(),
            already_paid_cents=ledger.paid_out_in_total(request.initiative_id),
        ):
            request.status = PayoutStatus.AWAITING_SECOND
            audit.record(
                actor,
                "payout.first_approval",
                request,
                municipality_id=municipality_id,
                amount_cents=request.amount_cents,
            )
            second = approvers_of(request, exclude=(actor.id,))
            sent = _notify(second, notifications.PAYOUT_SECOND_NEEDED, request)
            db.session.commit()
            notifications.deliver(sent)
            return request
    sent = _pay(actor, request)
    sent += _notify(_initiator_of(request), notifications.PAYOUT_APPROVED, request)
    db.session.commit()
    notifications.deliver(sent)
    return request


def _pay(actor: User, request: PayoutRequest):
    initiative = request.initiative
    ledger.post(
        actor,
        db.session.get(BudgetAccount, request.account_id),
        EntryKind.PAYOUT,
        request.amount_cents,
        initiative=initiative,
        memo=request.description[:200],
        payout_request_id=request.id,
    )
    request.status = PayoutStatus.PAID
    audit.record(
        actor,
        "payout.approved",
        request,
        municipality_id=initiative.municipality_id,
        amount_cents=request.amount_cents,
        initiative_id=initiative.id,
    )
    if initiative.status is Status.SELECTED:
        return apply_status_change(None, initiative, Status.IN_EXECUTION)
    return []


def reject(actor: User, request: PayoutRequest, reason: str) -> PayoutRequest:
    require(can_decide(actor, request))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_l("Give a reason."), field="reason")
    if len(reason) > REASON_MAX:
        raise ValidationFailed(_l("This text is too long."), field="reason")
    ledger.lock_account(request.account_id)
    db.session.refresh(request)
    if request.status not in OPEN_REQUEST_STATUSES:
        raise Conflict(_l("This request has already been decided."))
    request.status = PayoutStatus.REJECTED
    request.rejected_by_id, request.rejected_at = actor.id, utcnow()
    request.rejection_reason = reason
    audit.record(
        actor,
        "payout.rejected",
        request,
        municipality_id=request.initiative.municipality_id,
        amount_cents=request.amount_cents,
        reason=reason,
    )
    sent = _notify(_initiator_of(request), notifications.PAYOUT_REJECTED, request, reason=reason)
    db.session.commit()
    notifications.deliver(sent)
    return request


def requests_query(initiative: Initiative | None = None, area_ids: set[int] | None = None):
    query = select(PayoutRequest).order_by(PayoutRequest.requested_at.desc())
    if initiative is not None:
        query = query.where(PayoutRequest.initiative_id == initiative.id)
    if area_ids is not None:
        query = query.join(Initiative).where(Initiative.area_id.in_(area_ids or {-1}))
    return query
