"""Proposing, editing and moving initiatives through their life cycle.

Public functions other features build on:

* :func:`change_status` ``(actor, initiative, new_status, reason=None, *, checked_cost_cents=None,
  funding_route=None)``: the one way to change an initiative's status. ``actor`` is the acting
  :class:`User`, or ``None`` for the system (a closed voting round, a cheque pool that reached
  the cost, the ledger). It checks the transition against
  :mod:`buurtbudget.domain.initiative_lifecycle`, records who/when/why in
  ``InitiativeStatusChange``, writes the audit entry, notifies the initiator, commits and
  e-mails. Cancelling or completing an initiative gives its granted, unpaid money back to the
  area pot (services.ledger.post_release_remaining) in the same transaction.
* :func:`apply_status_change`: the same without committing, for a caller that moves many
  initiatives in one transaction (e.g. closing a voting round): it returns the notifications,
  which the caller hands to ``notifications.deliver`` after its own commit.
* :func:`initiative_money`: the money figures shown on an initiative's page.
* :func:`can_view`, :func:`actors_for`, :func:`managed_area_ids`: permission helpers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import selectinload

from buurtbudget.domain import initiative_lifecycle as lifecycle
from buurtbudget.domain.initiative_lifecycle import Actor, FundingRoute, Status
from buurtbudget.extensions import db
from buurtbudget.models import (
    Area,
    Initiative,
    InitiativeStatusChange,
    Notification,
    Role,
    Theme,
    User,
    WorkingGroup,
)
from buurtbudget.models._base import utcnow
from buurtbudget.services import account_email, audit, ledger, notifications
from buurtbudget.services.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from buurtbudget.services.permissions import can_manage_area, has_interest, require
from buurtbudget.services.status_labels import STATUS_LABELS, status_label  # noqa: F401
from buurtbudget.services.validation import check_amount, clean_text

TITLE_MAX = 120
DESCRIPTION_MAX = 5000
IN_KIND_MAX = 500
CONTRIBUTION_NOTE_MAX = 1000
MAX_VOLUNTEER_HOURS = 100_000

ACTION_LABELS = {
    "submit": _l("Submit for review"),
    "withdraw": _l("Withdraw submission"),
    "start_review": _l("Start review"),
    "accept": _l("Accept: open for support"),
    "reject": _l("Reject"),
    "return": _l("Return to initiator for changes"),
    "select": _l("Mark as selected"),
    "start": _l("Start execution"),
    "complete": _l("Mark as completed"),
    "cancel": _l("Cancel initiative"),
}
FUNDING_ROUTE_LABELS = {
    FundingRoute.VOTE: _l("Voting round"),
    FundingRoute.CHEQUES: _l("Pooled household cheques"),
    FundingRoute.COUNCIL: _l("Area council decision"),
    FundingRoute.PROGRAMME: _l("Area programme of the coordinator"),
}
# Cancelled or completed: what was granted and not paid returns to the area pot.
MONEY_RETURNING_STATUSES = (Status.CANCELLED, Status.COMPLETED)
# Coordinators select through a council decision or their area programme; votes and cheques
# select through the system.
COORDINATOR_FUNDING_ROUTES = (FundingRoute.PROGRAMME, FundingRoute.COUNCIL)


# Permissions ---------------------------------------------------------------------------------


def managed_area_ids(user: User | None) -> set[int]:
    """Areas the user coordinates, plus every area of municipalities they administer."""
    if user is None or not user.is_authenticated:
        return set()
    area_ids = user.area_ids_with(Role.COORDINATOR)
    admin_of = user.municipality_ids_with(Role.ADMINISTRATOR)
    if admin_of:
        area_ids |= set(
            db.session.scalars(select(Area.id).where(Area.municipality_id.in_(admin_of)))
        )
    return area_ids


def is_initiator(user: User | None, initiative: Initiative) -> bool:
    return user is not None and user.is_authenticated and initiative.initiator_user_id == user.id


def actors_for(user: User | None, initiative: Initiative) -> set[Actor]:
    """The roles ``user`` acts in on this initiative (for the state machine)."""
    actors = set()
    if is_initiator(user, initiative):
        actors.add(Actor.INITIATOR)
    if can_manage_area(user, initiative.area):
        actors.add(Actor.COORDINATOR)
    return actors


def deciding_actors(user: User | None, initiative: Initiative) -> set[Actor]:
    """The roles ``user`` may change the status in: a coordinator who initiated the initiative
    or is a member of its working group does not review, select or close it (issue 15.7)."""
    actors = actors_for(user, initiative)
    if Actor.COORDINATOR in actors and has_interest(user, initiative):
        actors.discard(Actor.COORDINATOR)
    return actors


def can_view(user: User | None, initiative: Initiative) -> bool:
    """Drafts are private to their initiator and the area's staff; the rest is public."""
    if initiative.status not in lifecycle.PRIVATE_STATUSES:
        return True
    return bool(actors_for(user, initiative))


def require_view(user: User | None, initiative: Initiative) -> None:
    # A private initiative is "not found" for others: its existence is private too.
    if not can_view(user, initiative):
        raise NotFound(_l("We could not find this initiative."))


def can_edit(user: User | None, initiative: Initiative) -> bool:
    return is_initiator(user, initiative) and initiative.status in lifecycle.EDITABLE_STATUSES


# Proposing and editing -----------------------------------------------------------------------


@dataclass
class InitiativeData:
    area_id: int | None
    title: str
    description: str
    requested_amount_cents: int
    theme_ids: list[int] = field(default_factory=list)
    volunteer_hours: int = 0
    co_funding_cents: int = 0
    in_kind: str = ""
    contribution_note: str = ""
    working_group_id: int | None = None


def _validated(actor: User, data: InitiativeData) -> tuple[Area, list[Theme], WorkingGroup | None]:
    area = db.session.get(Area, data.area_id) if data.area_id else None
    if area is None:
        raise ValidationFailed(_l("Choose an area."), field="area_id")
    if actor.home_area_id != area.id:
        raise ValidationFailed(
            _l("You can only propose initiatives for the area you live in."), field="area_id"
        )
    data.title = clean_text(data.title, TITLE_MAX, "title", required=True)
    data.description = clean_text(data.description, DESCRIPTION_MAX, "description", required=True)
    data.in_kind = clean_text(data.in_kind, IN_KIND_MAX, "in_kind")
    data.contribution_note = clean_text(
        data.contribution_note, CONTRIBUTION_NOTE_MAX, "contribution_note"
    )
    check_amount(data.requested_amount_cents, "requested_amount")
    check_amount(data.co_funding_cents, "co_funding")
    if data.volunteer_hours is None or not 0 <= data.volunteer_hours <= MAX_VOLUNTEER_HOURS:
        raise ValidationFailed(
            _l("Enter a number of hours between 0 and %(max)d.", max=MAX_VOLUNTEER_HOURS),
            field="volunteer_hours",
        )
    theme_ids = set(data.theme_ids or [])
    themes = (
        db.session.scalars(
            select(Theme).where(
                Theme.id.in_(theme_ids),
                Theme.municipality_id == area.municipality_id,
                Theme.is_active.is_(True),
            )
        ).all()
        if theme_ids
        else []
    )
    if not themes or len(themes) != len(theme_ids):
        raise ValidationFailed(
            _l("Choose one or more themes of your municipality."), field="theme_ids"
        )
    group = None
    if data.working_group_id:
        group = db.session.get(WorkingGroup, data.working_group_id)
        if group is None or group.area_id != area.id or not group.has_member(actor):
            raise ValidationFailed(
                _l("Choose a working group of your area that you are a member of."),
                field="working_group_id",
            )
        if group.has_ended_by(utcnow().date()):
            raise ValidationFailed(_l("This working group has ended."), field="working_group_id")
    return area, list(themes), group


def _apply(initiative: Initiative, data: InitiativeData, themes, group) -> None:
    initiative.title = data.title
    initiative.description = data.description
    initiative.requested_amount_cents = data.requested_amount_cents
    initiative.volunteer_hours = data.volunteer_hours
    initiative.co_funding_cents = data.co_funding_cents
    initiative.in_kind = data.in_kind
    initiative.contribution_note = data.contribution_note
    initiative.themes = sorted(themes, key=lambda t: t.name)
    initiative.working_group = group


def propose(actor: User, data: InitiativeData) -> Initiative:
    """A resident starts an initiative for their own area; it begins as a private draft."""
    require(actor is not None and actor.is_authenticated)
    account_email.require_confirmed_email(actor)
    area, themes, group = _validated(actor, data)
    initiative = Initiative(area=area, initiator=actor, status=Status.DRAFT)
    _apply(initiative, data, themes, group)
    initiative.history.append(
        InitiativeStatusChange(from_status=None, to_status=Status.DRAFT, actor=actor)
    )
    db.session.add(initiative)
    db.session.flush()
    audit.record(
        actor,
        "initiative.created",
        initiative,
        municipality_id=area.municipality_id,
        area_id=area.id,
        requested_amount_cents=initiative.requested_amount_cents,
    )
    db.session.commit()
    return initiative


def update(actor: User, initiative: Initiative, data: InitiativeData) -> None:
    """The initiator edits until the coordinator starts the review; the area stays."""
    require(is_initiator(actor, initiative))
    if initiative.status not in lifecycle.EDITABLE_STATUSES:
        raise Conflict(_l("This initiative can no longer be edited: its review has started."))
    data.area_id = initiative.area_id
    _, themes, group = _validated(actor, data)
    previous_amount = initiative.requested_amount_cents
    _apply(initiative, data, themes, group)
    audit.record(
        actor,
        "initiative.updated",
        initiative,
        municipality_id=initiative.municipality_id,
        requested_amount_cents=initiative.requested_amount_cents,
        previous_amount_cents=previous_amount
        if previous_amount != initiative.requested_amount_cents
        else None,
    )
    db.session.commit()


# The life cycle ------------------------------------------------------------------------------

_TRANSITION_MESSAGES = {
    lifecycle.ReasonRequired: (_l("Please give a reason."), "reason"),
    lifecycle.ReasonTooLong: (
        _l("Field cannot be longer than %(max)d characters.", max=lifecycle.REASON_MAX_LENGTH),
        "reason",
    ),
    lifecycle.CheckedCostRequired: (
        _l("Enter the checked cost (zero or more) to accept the initiative."),
        "checked_cost",
    ),
    lifecycle.FundingRouteRequired: (_l("Choose how the initiative is funded."), "funding_route"),
}


def apply_status_change(
    actor: User | None,
    initiative: Initiative,
    new_status: Status | str,
    reason: str | None = None,
    *,
    checked_cost_cents: int | None = None,
    funding_route: FundingRoute | str | None = None,
) -> list[Notification]:
    """Move ``initiative`` to ``new_status`` inside the current transaction (not committed).

    ``actor`` None is the system. Returns the notifications to :func:`notifications.deliver`
    once the caller has committed.
    """
    try:
        new_status = Status(new_status)
        funding_route = FundingRoute(funding_route) if funding_route else None
    except ValueError:
        raise ValidationFailed(_l("This is not a valid choice.")) from None
    actors = {Actor.SYSTEM} if actor is None else deciding_actors(actor, initiative)
    refused = _l("You do not have permission to do this.")
    if actor is not None and Actor.COORDINATOR in actors_for(actor, initiative) - actors:
        refused = _l("You cannot decide on an initiative you started or are a member of.")
    if actor is not None and not actors:
        require_view(actor, initiative)
        raise PermissionDenied(refused)
    old_status = initiative.status
    reason = (reason or "").strip() or None
    try:
        transition = lifecycle.check_transition(
            old_status,
            new_status,
            actors,
            reason=reason,
            checked_cost_cents=checked_cost_cents,
            funding_route=funding_route,
        )
    except lifecycle.WrongActor:
        raise PermissionDenied(refused) from None
    except lifecycle.NoSuchTransition:
        raise Conflict(
            _l(
                "An initiative with the status “%(current)s” cannot get the status “%(new)s”.",
                current=status_label(old_status),
                new=status_label(new_status),
            )
        ) from None
    except lifecycle.TransitionError as error:
        message, field_name = _TRANSITION_MESSAGES[type(error)]
        raise ValidationFailed(message, field=field_name) from None
    if transition.needs_checked_cost:
        initiative.checked_cost_cents = check_amount(checked_cost_cents, "checked_cost")
    if transition.needs_funding_route:
        if actor is not None and funding_route not in COORDINATOR_FUNDING_ROUTES:
            raise ValidationFailed(
                _l("Votes and cheques select initiatives by themselves."), field="funding_route"
            )
        initiative.funding_route = funding_route
    granted_cents = None
    if new_status is Status.SELECTED and funding_route is FundingRoute.PROGRAMME:
        # Delft: the coordinator's selection for the area programme commits the money, in
        # this transaction; the ledger checks the pot (and refuses in a council-held area).
        granted_cents = _grant_for_programme(actor, initiative)
    now = utcnow()
    if new_status is Status.SUBMITTED:
        initiative.submitted_at = now
    initiative.status = new_status
    initiative.status_changed_at = now
    initiative.history.append(
        InitiativeStatusChange(
            from_status=old_status, to_status=new_status, actor=actor, at=now, reason=reason
        )
    )
    released_cents = None
    if new_status is Status.COMPLETED:
        # The final cost is what was paid out; the rest of the grant goes back below.
        initiative.final_cost_cents = ledger.initiative_totals(initiative).paid
    if new_status in MONEY_RETURNING_STATUSES:
        # Unspent granted money goes back to the area pot in the same transaction; the ledger
        # writes its own audit entry per release. Whoever may make this change may return it.
        released_cents = ledger.post_release_remaining(
            actor, initiative, memo=f"initiative {new_status.value}"
        )
    audit.record(
        actor,
        "initiative.status_changed",
        initiative,
        municipality_id=initiative.municipality_id,
        from_status=old_status.value,
        to_status=new_status.value,
        reason=reason,
        checked_cost_cents=initiative.checked_cost_cents if transition.needs_checked_cost else None,
        funding_route=funding_route.value if transition.needs_funding_route else None,
        released_cents=released_cents or None,
        granted_cents=granted_cents or None,
        final_cost_cents=initiative.final_cost_cents if new_status is Status.COMPLETED else None,
    )
    return _notify_status_change(actor, initiative, reason)


def programme_period(initiative: Initiative):
    """The budget period whose area programme names ``initiative`` (the newest), or None."""
    from buurtbudget.models import BudgetPeriod, ProgrammeLine

    return db.session.scalar(
        select(BudgetPeriod)
        .join(ProgrammeLine, ProgrammeLine.period_id == BudgetPeriod.id)
        .where(
            ProgrammeLine.initiative_id == initiative.id,
            BudgetPeriod.area_id == initiative.area_id,
        )
        .order_by(BudgetPeriod.year.desc(), BudgetPeriod.half.desc())
        .limit(1)
    )


def _grant_for_programme(actor: User | None, initiative: Initiative) -> int:
    """Grant the checked cost (less what was already granted) from the pot of the programme
    that names the initiative, else from the area pot of today's period. Returns the cents."""
    cost = initiative.checked_cost_cents
    if cost is None:
        cost = initiative.requested_amount_cents
    already = ledger.initiative_totals(initiative).granted if initiative.id else 0
    amount = cost - already
    if amount <= 0:
        return 0
    ledger.grant(
        actor,
        initiative,
        amount,
        memo="Area programme",
        period=programme_period(initiative),
        commit=False,
    )
    return amount


def _notify_status_change(
    actor: User | None, initiative: Initiative, reason: str | None
) -> list[Notification]:
    sent = []
    if actor is None or actor.id != initiative.initiator_user_id:
        sent.append(
            notifications.notify(
                initiative.initiator,
                notifications.STATUS_CHANGED,
                initiative,
                title=initiative.title,
                status=initiative.status.value,
                reason=reason,
            )
        )
    if initiative.status is Status.SUBMITTED:
        for coordinator in _coordinators_of(initiative.area):
            sent.append(
                notifications.notify(
                    coordinator,
                    notifications.SUBMITTED_FOR_REVIEW,
                    initiative,
                    title=initiative.title,
                    area=initiative.area.name,
                )
            )
    return sent


def _coordinators_of(area: Area) -> list[User]:
    from buurtbudget.models import RoleAssignment

    return list(
        db.session.scalars(
            select(User)
            .join(RoleAssignment, RoleAssignment.user_id == User.id)
            .where(RoleAssignment.role == Role.COORDINATOR, RoleAssignment.area_id == area.id)
            .order_by(User.id)
        )
    )


def change_status(
    actor: User | None,
    initiative: Initiative,
    new_status: Status | str,
    reason: str | None = None,
    *,
    checked_cost_cents: int | None = None,
    funding_route: FundingRoute | str | None = None,
) -> InitiativeStatusChange:
    """Move ``initiative`` to ``new_status``, commit and notify. ``actor`` None = the system.

    Raises PermissionDenied (wrong role), Conflict (no such transition from the current status)
    or ValidationFailed (missing reason, checked cost or funding route).
    """
    sent = apply_status_change(
        actor,
        initiative,
        new_status,
        reason,
        checked_cost_cents=checked_cost_cents,
        funding_route=funding_route,
    )
    db.session.commit()
    notifications.deliver(sent)
    return initiative.history[-1]


# Money ---------------------------------------------------------------------------------------


def initiative_money(initiative: Initiative) -> dict[str, int | None]:
    """The figures of the money block on the initiative's page, in cents.

    ``requested``: what the initiator asks for; ``checked``: the cost the coordinator checked
    when accepting it (None before); ``co_funding``: the initiator's own money. ``granted`` and
    ``paid`` come from the budget ledger (services.ledger.initiative_totals).
    """
    totals = ledger.initiative_totals(initiative) if initiative.id else None
    return {
        "requested": initiative.requested_amount_cents,
        "checked": initiative.checked_cost_cents,
        "co_funding": initiative.co_funding_cents,
        "granted": totals.granted if totals else 0,
        "paid": totals.paid if totals else 0,
    }


# Lists ---------------------------------------------------------------------------------------


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def browse_query(
    *,
    area_id: int | None = None,
    theme_id: int | None = None,
    status: Status | None = None,
    text: str | None = None,
    municipality_id: int | None = None,
) -> Select:
    """Public initiatives (never drafts) matching the filters, most recently changed first.
    The text search is a case-insensitive LIKE on title and description (both databases)."""
    query = select(Initiative).where(Initiative.status.not_in(lifecycle.PRIVATE_STATUSES))
    if area_id:
        query = query.where(Initiative.area_id == area_id)
    if municipality_id:
        query = query.join(Area, Area.id == Initiative.area_id).where(
            Area.municipality_id == municipality_id
        )
    if theme_id:
        query = query.where(Initiative.themes.any(Theme.id == theme_id))
    if status:
        query = query.where(Initiative.status == status)
    if text and text.strip():
        pattern = _like(text.strip())
        query = query.where(
            or_(
                Initiative.title.ilike(pattern, escape="\\"),
                Initiative.description.ilike(pattern, escape="\\"),
            )
        )
    return query.options(selectinload(Initiative.themes), selectinload(Initiative.area)).order_by(
        Initiative.status_changed_at.desc(), Initiative.id.desc()
    )


def mine_query(user: User) -> Select:
    """The user's own initiatives, drafts included."""
    return (
        select(Initiative)
        .where(Initiative.initiator_user_id == user.id)
        .options(selectinload(Initiative.area))
        .order_by(Initiative.status_changed_at.desc(), Initiative.id.desc())
    )


def review_queue_query(user: User) -> Select:
    """Submitted and in-review initiatives of the areas ``user`` manages, oldest first."""
    return (
        select(Initiative)
        .where(
            Initiative.area_id.in_(managed_area_ids(user)),
            Initiative.status.in_(lifecycle.REVIEW_QUEUE_STATUSES),
        )
        .options(selectinload(Initiative.area), selectinload(Initiative.initiator))
        .order_by(Initiative.submitted_at, Initiative.id)
    )
