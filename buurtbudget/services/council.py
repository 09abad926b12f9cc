"""Area council meetings and their decisions (Zaanstad model): the council decides on the
liveability budget in public meetings, at least ``min_meetings_per_year`` a year; a decision
with an amount commits area money, tagged physical or social. The council members present are
recorded by name, and a meeting decides only with a quorum of them (``council_quorum`` of the
budget model, default three): no single member decides alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from buurtbudget.domain.budget import (
    DEFAULT_COUNCIL_QUORUM,
    EntryKind,
    SpendKind,
    has_quorum,
    too_few_meetings,
)
from buurtbudget.domain.initiative_lifecycle import FundingRoute, Status
from buurtbudget.extensions import db
from buurtbudget.models import (
    Area,
    CouncilMeeting,
    Initiative,
    MeetingDecision,
    Role,
    RoleAssignment,
    User,
)
from buurtbudget.services import audit, ledger, notifications
from buurtbudget.services.budgets import config_for
from buurtbudget.services.errors import Conflict, ValidationFailed
from buurtbudget.services.initiatives import apply_status_change
from buurtbudget.services.permissions import (
    can_manage_area,
    holds_area_role,
    require,
    require_no_interest,
)

LOCATION_MAX = 120
MINUTES_MAX = 20_000
TITLE_MAX = 200
MAX_ATTENDEES = 100_000


def can_record(user: User | None, area: Area) -> bool:
    """Council members of the area (its secretary records the meeting), its coordinators and
    the municipality's administrators."""
    return holds_area_role(user, Role.COUNCIL_MEMBER, area) or can_manage_area(user, area)


def members_of(area: Area) -> list[User]:
    """The area's council members, by name (who can be recorded as present)."""
    return list(
        db.session.scalars(
            select(User)
            .join(RoleAssignment, RoleAssignment.user_id == User.id)
            .where(RoleAssignment.role == Role.COUNCIL_MEMBER, RoleAssignment.area_id == area.id)
            .distinct()
            .order_by(User.display_name, User.id)
        )
    )


def quorum_of(area: Area) -> int:
    config = config_for(area)
    return config.council_quorum if config is not None else DEFAULT_COUNCIL_QUORUM


def record_meeting(
    actor: User,
    area: Area,
    held_on: date,
    attendees_count: int,
    location: str = "",
    minutes: str = "",
    present: list[User] | tuple[User, ...] = (),
) -> CouncilMeeting:
    """Record a meeting that took place, with the council members present by name (the
    attendees count everyone, residents included)."""
    require(can_record(actor, area))
    if held_on is None or held_on > date.today():
        raise ValidationFailed(_l("Record meetings that took place."), field="held_on")
    if attendees_count is None or not 0 <= attendees_count <= MAX_ATTENDEES:
        raise ValidationFailed(_l("Enter the number of attendees."), field="attendees_count")
    location, minutes = (location or "").strip(), (minutes or "").strip()
    if len(location) > LOCATION_MAX:
        raise ValidationFailed(_l("This text is too long."), field="location")
    if len(minutes) > MINUTES_MAX:
        raise ValidationFailed(_l("This text is too long."), field="minutes")
    members = {member.id for member in members_of(area)}
    present = list({user.id: user for user in present}.values())
    if any(user.id not in members for user in present):
        raise ValidationFailed(
            _l("Only council members of this area can be recorded as present."), field="present"
        )
    if len(present) > attendees_count:
        raise ValidationFailed(
            _l("The attendees include at least the council members present."),
            field="attendees_count",
        )
    meeting = CouncilMeeting(
        area=area,
        held_on=held_on,
        attendees_count=attendees_count,
        location=location,
        minutes=minutes,
        recorded_by_id=actor.id,
        present_members=present,
    )
    db.session.add(meeting)
    db.session.flush()
    audit.record(
        actor,
        "council.meeting_recorded",
        meeting,
        municipality_id=area.municipality_id,
        area_id=area.id,
        held_on=held_on.isoformat(),
        attendees_count=attendees_count,
        present_member_ids=sorted(user.id for user in present),
    )
    db.session.commit()
    return meeting


def record_decision(
    actor: User,
    meeting: CouncilMeeting,
    title: str,
    amount_cents: int = 0,
    *,
    spend_kind: SpendKind | None = None,
    initiative: Initiative | None = None,
) -> MeetingDecision:
    """Record a decision of ``meeting``. With an amount it spends area money: granted to
    ``initiative`` (which is then selected, funding route "council"), or paid directly for a
    purchase of the council itself. The money comes from the pot of the meeting's period."""
    area = meeting.area
    require(can_record(actor, area))
    quorum = quorum_of(area)
    if not has_quorum(len(meeting.present_members), quorum):
        raise Conflict(
            _l(
                "This meeting cannot decide: at least %(quorum)d council members must be"
                " present, recorded by name; %(present)d were.",
                quorum=quorum,
                present=len(meeting.present_members),
            )
        )
    title = (title or "").strip()
    if not title or len(title) > TITLE_MAX:
        raise ValidationFailed(
            _l("Describe the decision in at most 200 characters."), field="title"
        )
    if amount_cents is None or amount_cents < 0:
        raise ValidationFailed(_l("Enter an amount of zero or more."), field="amount")
    try:
        spend_kind = SpendKind(spend_kind) if spend_kind else None
    except ValueError:
        raise ValidationFailed(_l("This is not a valid choice."), field="spend_kind") from None
    if amount_cents and spend_kind is None:
        raise ValidationFailed(_l("Say whether this is physical or social."), field="spend_kind")
    if initiative is not None and initiative.area_id != area.id:
        raise ValidationFailed(_l("Choose an initiative of this area."), field="initiative_id")
    if initiative is not None:
        require_no_interest(actor, initiative)
    if initiative is not None and amount_cents and initiative.status is not Status.OPEN:
        raise Conflict(_l("Only initiatives open for support can be granted money."))
    decision = MeetingDecision(
        meeting=meeting,
        title=title,
        amount_cents=amount_cents,
        spend_kind=spend_kind if amount_cents else None,
        initiative=initiative,
    )
    db.session.add(decision)
    db.session.flush()
    sent = []
    if amount_cents:
        pot = ledger.area_pot(area, meeting.held_on)
        if pot is None:
            raise Conflict(_l("There is no open budget period for this area."))
        decision.account_id = pot.id
        memo = f"{meeting.held_on.isoformat()}: {title}"  # stored, so not translated
        if initiative is not None:
            ledger.lock_account(pot.id)
            ledger.post(
                actor,
                pot,
                EntryKind.COMMITMENT,
                amount_cents,
                initiative=initiative,
                memo=memo,
                spend_kind=spend_kind,
                decision_id=decision.id,
            )
            sent = apply_status_change(
                None, initiative, Status.SELECTED, funding_route=FundingRoute.COUNCIL
            )
        else:
            ledger.post_direct_spending(
                actor,
                pot,
                amount_cents,
                memo,
                spend_kind=spend_kind,
                decision_id=decision.id,
            )
    audit.record(
        actor,
        "council.decision_recorded",
        decision,
        municipality_id=area.municipality_id,
        area_id=area.id,
        meeting_id=meeting.id,
        present_member_ids=sorted(user.id for user in meeting.present_members),
        quorum=quorum,
        amount_cents=amount_cents,
        spend_kind=spend_kind.value if spend_kind else None,
        initiative_id=initiative.id if initiative else None,
    )
    db.session.commit()
    notifications.deliver(sent)
    return decision


@dataclass(frozen=True)
class MeetingCheck:
    year: int
    held: int
    minimum: int

    @property
    def too_few(self) -> bool:
        return too_few_meetings(self.held, self.minimum)


def _in_year(year: int):
    return CouncilMeeting.held_on.between(date(year, 1, 1), date(year, 12, 31))


def meetings_in(area: Area, year: int) -> list[CouncilMeeting]:
    return list(
        db.session.scalars(
            select(CouncilMeeting)
            .where(CouncilMeeting.area_id == area.id, _in_year(year))
            .order_by(CouncilMeeting.held_on)
        )
    )


def meeting_check(area: Area, year: int) -> MeetingCheck | None:
    """How many meetings the council held in ``year`` against the minimum (None: no minimum)."""
    config = config_for(area)
    if config is None or not config.min_meetings_per_year:
        return None
    held = db.session.scalar(
        select(func.count(CouncilMeeting.id)).where(
            CouncilMeeting.area_id == area.id, _in_year(year)
        )
    )
    return MeetingCheck(year=year, held=int(held or 0), minimum=config.min_meetings_per_year)
