"""Direct spending: money paid from a pot without an initiative, e.g. urgent spending from
the knelpuntenpot by a coordinator (the city-wide pot: administrators).

One person books it alone only while what was spent directly from the pot in total, including
this amount, stays below the second-approver threshold (``PAYOUT_SECOND_APPROVAL_CENTS``, the
rule of payouts). From the threshold on it needs a receipt and a second, different coordinator
or administrator: it waits as a :class:`DirectSpending` and is booked in the ledger only at that
approval, under the account lock. A council-held budget (Zaanstad) is never spent this way.
"""

from __future__ import annotations

from typing import BinaryIO

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from buurtbudget.domain.budget import needs_second_approval
from buurtbudget.extensions import db
from buurtbudget.models import (
    BudgetAccount,
    BudgetPeriod,
    DirectSpending,
    LedgerEntry,
    PayoutStatus,
    User,
)
from buurtbudget.models._base import utcnow
from buurtbudget.services import attachments, audit, ledger
from buurtbudget.services.errors import Conflict, NotFound, ValidationFailed
from buurtbudget.services.permissions import (
    can_manage_area,
    can_read_area_finances,
    is_admin_of,
    require,
)

REASON_MAX = 1000
NEEDS_RECEIPT = _l(
    "With this amount the direct spending of this budget reaches the threshold for a second"
    " approver: add a receipt, and another coordinator approves before it is booked."
)


def can_spend(user: User | None, account: BudgetAccount) -> bool:
    period = account.period
    if period.area is not None:
        return can_manage_area(user, period.area)
    return is_admin_of(user, period.municipality_id)


def needs_second_approver(account: BudgetAccount, amount_cents: int) -> bool:
    """Call under the account lock: counts what was spent directly from the pot so far."""
    return needs_second_approval(
        amount_cents,
        ledger.second_approval_threshold(),
        already_paid_cents=ledger.paid_directly_in_total(account.id),
    )


def spend(
    actor: User,
    account: BudgetAccount,
    amount_cents: int,
    purpose: str,
    *,
    theme_id: int | None = None,
    receipt: tuple[BinaryIO, str] | None = None,
) -> LedgerEntry | DirectSpending:
    """Book direct spending (a ledger entry), or, from the threshold on, ask a second approver
    for it (a waiting :class:`DirectSpending`, which needs ``receipt``: a stream and a name)."""
    require(can_spend(actor, account))
    if ledger.is_council_held(account):
        raise Conflict(ledger.COUNCIL_DECIDES)
    if not isinstance(amount_cents, int) or amount_cents <= 0:
        raise ValidationFailed(_l("Enter an amount above zero."), field="amount")
    purpose = (purpose or "").strip()
    if not purpose or len(purpose) > ledger.MAX_MEMO:
        raise ValidationFailed(_l("Say what the money is for."), field="purpose")
    ledger.lock_account(account.id)
    if not needs_second_approver(account, amount_cents):
        entry = ledger.post_direct_spending(
            actor, account, amount_cents, purpose, theme_id=theme_id
        )
        db.session.commit()
        return entry
    if receipt is None:
        raise ValidationFailed(NEEDS_RECEIPT, field="receipt")
    if amount_cents > ledger.account_balance(account).available:
        raise Conflict(ledger.RULE_MESSAGES["insufficient_available"], field="amount")
    upload = attachments.check_upload(*receipt, field="receipt")
    target = attachments.store(upload)
    item = DirectSpending(
        account_id=account.id,
        amount_cents=amount_cents,
        purpose=purpose,
        theme_id=theme_id,
        requested_by_id=actor.id,
        receipt_stored_name=upload.stored_name,
        receipt_original_name=upload.original_name,
        receipt_content_type=upload.file_type.content_type,
        receipt_size_bytes=len(upload.content),
    )
    try:
        db.session.add(item)
        db.session.flush()
        _audit(actor, "direct_spending.requested", item)
        db.session.commit()
    except Exception:
        db.session.rollback()
        target.unlink(missing_ok=True)
        raise
    return item


def _audit(actor: User, action: str, item: DirectSpending, **details) -> None:
    period = item.account.period
    audit.record(
        actor,
        action,
        item,
        municipality_id=period.municipality_id,
        area_id=period.area_id,
        account_id=item.account_id,
        amount_cents=item.amount_cents,
        **details,
    )


def _decidable(actor: User, item: DirectSpending) -> None:
    require(can_spend(actor, item.account))
    ledger.lock_account(item.account_id)
    db.session.refresh(item)  # another coordinator may have decided meanwhile
    if item.status is not PayoutStatus.AWAITING_SECOND:
        raise Conflict(_l("This request has already been decided."))


def approve(actor: User, item: DirectSpending) -> LedgerEntry:
    """The second approval: books the spending (commitment and payout) in the ledger."""
    _decidable(actor, item)
    if actor.id == item.requested_by_id:
        raise Conflict(_l("A second approval must come from another coordinator."))
    entry = ledger.post_direct_spending(
        actor, item.account, item.amount_cents, item.purpose, theme_id=item.theme_id
    )
    item.status = PayoutStatus.PAID
    item.approved_by_id, item.approved_at = actor.id, utcnow()
    _audit(actor, "direct_spending.approved", item, requested_by_id=item.requested_by_id)
    db.session.commit()
    return entry


def reject(actor: User, item: DirectSpending, reason: str) -> None:
    require(can_spend(actor, item.account))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_l("Give a reason."), field="reason")
    if len(reason) > REASON_MAX:
        raise ValidationFailed(_l("This text is too long."), field="reason")
    _decidable(actor, item)
    item.status = PayoutStatus.REJECTED
    item.rejected_by_id, item.rejected_at, item.rejection_reason = actor.id, utcnow(), reason
    _audit(actor, "direct_spending.rejected", item, reason=reason)
    db.session.commit()


def waiting_in(period: BudgetPeriod) -> list[DirectSpending]:
    return list(
        db.session.scalars(
            select(DirectSpending)
            .where(
                DirectSpending.account_id.in_([a.id for a in period.accounts] or [-1]),
                DirectSpending.status == PayoutStatus.AWAITING_SECOND,
            )
            .order_by(DirectSpending.requested_at)
        )
    )


def can_see_receipt(user: User | None, item: DirectSpending) -> bool:
    """As payout receipts (services.attachments.can_see_receipts) without an initiative: the
    area's council and staff (city-wide: administrators), also once refused; nobody else."""
    period = item.account.period
    if period.area is not None:
        return can_read_area_finances(user, period.area)
    return is_admin_of(user, period.municipality_id)


def require_receipt(user: User | None, item: DirectSpending):
    """The receipt's path, or "not found" for anyone else, as if there were none: walking the
    sequential ids tells an outsider nothing."""
    if not can_see_receipt(user, item):
        raise NotFound(_l("We could not find this file."))
    return attachments.upload_folder() / item.receipt_stored_name
