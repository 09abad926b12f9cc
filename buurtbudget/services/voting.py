"""Voting rounds: setting them up, who may vote, casting (online, with a code, on paper) and
changing a ballot.

Secret ballot: how it is kept, and what remains
    Casting is ONE transaction that inserts a :class:`VoterRecord` ("has voted": who, when) and
    an anonymous :class:`Ballot` (what) with its choices. The database's unique constraints on
    the voter record decide whether a second attempt, even a concurrent one, gets in. The ballot
    holds no user id, its key is random, its choices have no sequential key, and it carries the
    DATE only, so neither columns, ids nor timestamps connect it to a voter record. Casting
    writes no audit entry (it would carry a time and an actor); the voter record is the audit.
    Residual risks, documented rather than hidden:

    * area and age band are stored on the ballot (needed for turnout and weighting). In a small
      area, one age band with one voter on one day identifies that voter's ballot to someone who
      reads the voter register and the ballots together. Results and exports therefore never show
      ballots per area x age band x day; reports should suppress cells under ~10 ballots.
    * the database's physical row order (and its write-ahead log / backups) still follows insert
      order; a database administrator could match the n-th voter record to the n-th ballot
      written. Only separation of duties (no one reads both at the storage level) covers that.
    * a resident may vote online and also hand in a paper ballot; paper ballots carry no name, so
      the platform cannot catch this. Municipalities that mail paper ballots must check at the
      ballot box (mark the register) as they do for elections.

Changing a ballot (only when the round allows it)
    At casting a random 128-bit receipt token is generated, shown to the voter ONCE (and kept in
    their session); the ballot stores only ``sha256(token)``. Presenting the token replaces that
    ballot's choices in place. Trade-off: the token is a bearer secret: whoever holds it can
    change the ballot (so it is only issued when changes are allowed), and a voter could show it
    to someone to prove how they voted; rounds where coercion is a worry should not allow
    changes. Without the token a ballot cannot be changed, not even by staff.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TypeVar

from flask_babel import format_currency
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, case, func, insert, literal, null, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from buurtbudget.domain import ballots as ballot_domain
from buurtbudget.domain.budget import AccountKind
from buurtbudget.domain.initiative_lifecycle import Status
from buurtbudget.extensions import db
from buurtbudget.models import (
    AGE_BANDS,
    Area,
    Ballot,
    BallotChoice,
    BudgetPeriod,
    Channel,
    Elector,
    Initiative,
    Municipality,
    Phase,
    Role,
    RoundProject,
    User,
    VoterRecord,
    VotingCode,
    VotingRound,
)
from buurtbudget.models._base import utcnow
from buurtbudget.models.voting import new_ballot_id
from buurtbudget.services import audit, electorate
from buurtbudget.services.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    ServiceError,
    ValidationFailed,
)
from buurtbudget.services.permissions import can_manage_area, is_admin_of, require

TITLE_MAX = 120
DESCRIPTION_MAX = 5000
PAPER_NUMBER_MAX = 32
LABEL_MAX = 200
MAX_CODES_PER_BATCH = 20_000
# Voting codes: 12 symbols from 32 unambiguous ones (no 0/O, 1/I) = 60 random bits.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12
AGE_BAND_NAMES = tuple(name for name, _low, _high in AGE_BANDS)
# SQLite answers "database is locked" when many writers queue longer than its busy timeout;
# such an attempt changed nothing, so it is safe to try again.
WRITE_ATTEMPTS = 5

ALREADY_VOTED = _l("You have already voted in this round.")
VOTING_NOT_OPEN = _l("Voting in this round is not open.")

RULE_LABELS = {
    "greedy": _l("Most votes first (greedy)"),
    "mes": _l("Method of Equal Shares"),
    "mes_add1": _l("Method of Equal Shares with Add1 completion"),
}
BALLOT_TYPE_LABELS = {
    ballot_domain.APPROVAL: _l("Approval: choose projects"),
    ballot_domain.CUMULATIVE: _l("Points: divide points over projects"),
    ballot_domain.CHOOSE_ONE: _l("Choose one project"),
}
AGE_BAND_LABELS = {
    "age_0_14": _l("0 to 14 years"),
    "age_15_24": _l("15 to 24 years"),
    "age_25_44": _l("25 to 44 years"),
    "age_45_64": _l("45 to 64 years"),
    "age_65_plus": _l("65 years or older"),
}
PHASE_LABELS = {
    Phase.PROPOSALS: _l("Proposals"),
    Phase.REVIEW: _l("Review"),
    Phase.VOTING: _l("Voting"),
    Phase.COUNTING: _l("Counting"),
    Phase.RESULTS: _l("Results"),
}


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark for extraction"
    return message


# domain.ballots error codes -> our message ids (extracted for translation via N_).
BALLOT_MESSAGES = {
    "duplicate_project": N_("Project %(project)s is chosen more than once."),
    "unknown_project": N_("Project %(project)s is not on this ballot."),
    "points_required": N_("Give points to the projects you support."),
    "points_not_allowed": N_("This ballot does not use points."),
    "choose_exactly_one": N_("Choose exactly one project."),
    "too_few_projects": N_("Choose at least %(min)d projects (you chose %(count)d)."),
    "too_many_projects": N_("Choose at most %(max)d projects (you chose %(count)d)."),
    "total_cost_too_high": N_("The chosen projects cost %(total)s together; the limit is %(max)s."),
    "total_cost_too_low": N_(
        "The chosen projects cost %(total)s together; choose at least %(min)s."
    ),
    "points_not_whole": N_("Points for project %(project)s must be a whole number."),
    "points_negative": N_("Points for project %(project)s must not be negative."),
    "too_many_points_for_project": N_(
        "Give at most %(max)d points to project %(project)s (you gave %(points)d)."
    ),
    "too_few_points_for_project": N_(
        "Give at least %(min)d points to project %(project)s, or none."
    ),
    "too_many_points": N_("Give at most %(max)d points in total (you gave %(total)d)."),
    "too_few_points": N_("Give at least %(min)d points in total (you gave %(total)d)."),
}
_MONEY_PARAMS = {"total", "max", "min"}
_MONEY_CODES = {"total_cost_too_high", "total_cost_too_low"}

Choices = Mapping[int, int]
"""A ballot as ``{round_project_id: points}`` (points 1 for approval ballots)."""

T = TypeVar("T")


# Permissions ---------------------------------------------------------------------------------


def can_manage_round(user: User | None, voting_round: VotingRound) -> bool:
    """Administrators of the municipality, and coordinators of every area of the round."""
    if is_admin_of(user, voting_round.municipality_id):
        return True
    return bool(voting_round.areas) and all(
        can_manage_area(user, area) for area in voting_round.areas
    )


def can_enter_paper_ballots(user: User | None, voting_round: VotingRound) -> bool:
    """Coordinators of any area of the round (paper ballots come in per area), and admins."""
    if is_admin_of(user, voting_round.municipality_id):
        return True
    return any(can_manage_area(user, area) for area in voting_round.areas)


def can_see_results(user: User | None, voting_round: VotingRound) -> bool:
    """Everyone once published; before that the round's staff (to check them first)."""
    if not voting_round.is_closed:
        return False
    return voting_round.is_published or can_enter_paper_ballots(user, voting_round)


# Setup ---------------------------------------------------------------------------------------


@dataclass
class RoundSetup:
    """Everything an administrator or coordinator chooses when setting up a round."""

    title: str
    areas: list[Area]
    proposals_until: datetime
    review_until: datetime
    voting_opens_at: datetime
    voting_closes_at: datetime
    description: str = ""
    ballot_type: str = ballot_domain.APPROVAL
    rule_name: str = "greedy"
    min_projects: int | None = None
    max_projects: int | None = None
    max_total_cost_cents: int | None = None
    max_points_per_project: int | None = None
    max_total_points: int | None = None
    min_age: int = 16
    allow_ballot_change: bool = False
    uses_voting_codes: bool = False
    budget_period: BudgetPeriod | None = None
    # None: the budget period's available amount.
    budget_cents: int | None = None
    rule_meta: dict | None = field(default=None)


# Fields that are frozen once the first ballot is cast.
_LOCKED_FIELDS = (
    "ballot_type",
    "rule_name",
    "min_projects",
    "max_projects",
    "max_total_cost_cents",
    "max_points_per_project",
    "max_total_points",
    "min_age",
    "allow_ballot_change",
    "uses_voting_codes",
    "budget_cents",
    "budget_period_id",
    "voting_opens_at",
)


def available_rules() -> tuple[str, ...]:
    """Rule names a round may use: those of the rules engine's registry that we can label."""
    from buurtbudget.domain import rules

    registry = getattr(rules, "RULES", None) or getattr(rules, "REGISTRY", None)
    names = tuple(registry) if registry else tuple(RULE_LABELS)
    return tuple(name for name in RULE_LABELS if name in names)


def period_available_cents(period: BudgetPeriod) -> int:
    from buurtbudget.services import ledger

    account = period.account(AccountKind.AREA)
    return ledger.account_balance(account).available if account is not None else 0


def _validated_setup(actor: User | None, municipality: Municipality, setup: RoundSetup) -> dict:
    title = (setup.title or "").strip()
    if not title:
        raise ValidationFailed(_l("This field is required."), field="title")
    if len(title) > TITLE_MAX:
        raise ValidationFailed(
            _l("Field cannot be longer than %(max)d characters.", max=TITLE_MAX), field="title"
        )
    description = (setup.description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        raise ValidationFailed(
            _l("Field cannot be longer than %(max)d characters.", max=DESCRIPTION_MAX),
            field="description",
        )
    if not setup.areas:
        raise ValidationFailed(_l("Choose at least one area."), field="areas")
    for area in setup.areas:
        if area.municipality_id != municipality.id:
            raise ValidationFailed(_l("This is not a valid choice."), field="areas")
        if actor is not None:
            require(can_manage_area(actor, area))
    dates = (setup.proposals_until, setup.review_until, setup.voting_opens_at)
    if any(d is None for d in (*dates, setup.voting_closes_at)):
        raise ValidationFailed(_l("Fill in every date."), field="voting_closes_at")
    if not (dates[0] <= dates[1] <= dates[2] < setup.voting_closes_at):
        raise ValidationFailed(
            _l("The dates must follow each other: proposals, review, voting opens, closes."),
            field="voting_closes_at",
        )
    if setup.ballot_type not in BALLOT_TYPE_LABELS:
        raise ValidationFailed(_l("This is not a valid choice."), field="ballot_type")
    if setup.rule_name not in available_rules():
        raise ValidationFailed(_l("This is not a valid choice."), field="rule_name")
    if not 0 <= setup.min_age <= 120:
        raise ValidationFailed(_l("Enter an age from 0 to 120."), field="min_age")
    for name, low in (
        ("min_projects", 0),
        ("max_projects", 1),
        ("max_total_cost_cents", 1),
        ("max_points_per_project", 1),
        ("max_total_points", 1),
    ):
        value = getattr(setup, name)
        if value is not None and not low <= value <= 10**12:
            raise ValidationFailed(_l("Enter a number from %(min)d upwards.", min=low), field=name)
    if (
        setup.min_projects is not None
        and setup.max_projects is not None
        and setup.min_projects > setup.max_projects
    ):
        raise ValidationFailed(
            _l("The minimum number of projects is above the maximum."), field="min_projects"
        )
    is_points = setup.ballot_type == ballot_domain.CUMULATIVE
    if is_points and setup.max_total_points is None:
        raise ValidationFailed(
            _l("Say how many points each voter may give."), field="max_total_points"
        )
    period = setup.budget_period
    if period is not None and (
        period.municipality_id != municipality.id
        or (period.area_id is not None and period.area_id not in {a.id for a in setup.areas})
    ):
        raise ValidationFailed(_l("This is not a valid choice."), field="budget_period")
    budget = setup.budget_cents
    if budget is None:
        budget = period_available_cents(period) if period is not None else None
    if budget is None or budget <= 0:
        raise ValidationFailed(_l("Enter a budget above zero."), field="budget")
    return {
        "title": title,
        "description": description,
        "proposals_until": setup.proposals_until,
        "review_until": setup.review_until,
        "voting_opens_at": setup.voting_opens_at,
        "voting_closes_at": setup.voting_closes_at,
        "ballot_type": setup.ballot_type,
        "rule_name": setup.rule_name,
        "min_projects": setup.min_projects,
        "max_projects": 1 if setup.ballot_type == ballot_domain.CHOOSE_ONE else setup.max_projects,
        "max_total_cost_cents": None if is_points else setup.max_total_cost_cents,
        "max_points_per_project": setup.max_points_per_project if is_points else None,
        "max_total_points": setup.max_total_points if is_points else None,
        "min_age": setup.min_age,
        "allow_ballot_change": setup.allow_ballot_change,
        "uses_voting_codes": setup.uses_voting_codes,
        "budget_period_id": period.id if period is not None else None,
        "budget_cents": budget,
        "rule_meta": setup.rule_meta,
    }


def create_round(actor: User | None, municipality: Municipality, setup: RoundSetup) -> VotingRound:
    """Set up a round and put the open initiatives of its areas on the ballot."""
    if actor is not None:
        require(is_admin_of(actor, municipality.id) or bool(actor.area_ids_with(Role.COORDINATOR)))
    values = _validated_setup(actor, municipality, setup)
    voting_round = VotingRound(
        municipality_id=municipality.id, created_by_id=actor.id if actor else None, **values
    )
    voting_round.areas = list(setup.areas)
    db.session.add(voting_round)
    db.session.flush()
    _sync_projects(voting_round)
    audit.record(
        actor,
        "round.created",
        voting_round,
        municipality_id=municipality.id,
        title=voting_round.title,
        areas=[a.id for a in setup.areas],
        rule=voting_round.rule_name,
        ballot_type=voting_round.ballot_type,
        budget_cents=voting_round.budget_cents,
    )
    db.session.commit()
    return voting_round


def update_round(actor: User | None, voting_round: VotingRound, setup: RoundSetup) -> None:
    """Change a round's setup. Refused once the first ballot is cast for anything that
    decides how votes count (ballot, rule, limits, eligibility, budget, opening date)."""
    if actor is not None:
        require(can_manage_round(actor, voting_round))
    if voting_round.is_closed:
        raise Conflict(_l("This round is closed."))
    values = _validated_setup(actor, voting_round.municipality, setup)
    # The first write takes the round's row (PostgreSQL) or database (SQLite) lock, so a ballot
    # cast at the same moment either sees the old setup locked, or waits and sees the new one.
    if not voting_round.is_locked:
        result = db.session.execute(
            update(VotingRound)
            .where(VotingRound.id == voting_round.id, VotingRound.locked_at.is_(None))
            .values(title=values["title"])
        )
        locked = result.rowcount != 1
    else:
        locked = True
    if locked:
        db.session.refresh(voting_round)
        changed = [name for name in _LOCKED_FIELDS if getattr(voting_round, name) != values[name]]
        if changed or {a.id for a in setup.areas} != voting_round.area_ids:
            db.session.rollback()
            raise Conflict(
                _l("Voting has started: the ballot, rule, limits and budget cannot change.")
            )
    for name, value in values.items():
        setattr(voting_round, name, value)
    voting_round.areas = list(setup.areas)
    if not locked:
        _sync_projects(voting_round)
    audit.record(
        actor,
        "round.updated",
        voting_round,
        municipality_id=voting_round.municipality_id,
        **{k: v for k, v in values.items() if isinstance(v, str | int | bool)},
    )
    db.session.commit()


def _project_cost(initiative: Initiative) -> int:
    if initiative.checked_cost_cents is not None:
        return initiative.checked_cost_cents
    return initiative.requested_amount_cents


def _sync_projects(voting_round: VotingRound) -> None:
    """Put every open initiative of the round's areas on the ballot (and take off those that
    are no longer open). Only before the first ballot."""
    open_initiatives = db.session.scalars(
        select(Initiative)
        .where(Initiative.area_id.in_(voting_round.area_ids), Initiative.status == Status.OPEN)
        .order_by(Initiative.area_id, Initiative.title, Initiative.id)
    ).all()
    wanted = {initiative.id: initiative for initiative in open_initiatives}
    for project in list(voting_round.projects):
        if project.initiative_id is not None and project.initiative_id not in wanted:
            voting_round.projects.remove(project)
    present = {p.initiative_id for p in voting_round.projects}
    for initiative in open_initiatives:
        if initiative.id not in present:
            voting_round.projects.append(
                RoundProject(
                    initiative_id=initiative.id,
                    area_id=initiative.area_id,
                    external_id=str(initiative.id),
                    name=initiative.title[:200],
                    description=initiative.description,
                    cost_cents=_project_cost(initiative),
                    category=",".join(theme.name for theme in initiative.themes)[:200],
                    neighbourhood=initiative.area.name[:200],
                )
            )
        else:
            project = next(p for p in voting_round.projects if p.initiative_id == initiative.id)
            project.name = initiative.title[:200]
            project.cost_cents = _project_cost(initiative)
    for position, project in enumerate(
        sorted(voting_round.projects, key=lambda p: (p.name.lower(), p.external_id))
    ):
        project.position = position


def refresh_projects(actor: User | None, voting_round: VotingRound) -> None:
    """Update the ballot with the initiatives that are open now (until voting starts)."""
    if actor is not None:
        require(can_manage_round(actor, voting_round))
    if voting_round.is_locked or voting_round.is_closed:
        raise Conflict(_l("Voting has started: the ballot cannot change any more."))
    _sync_projects(voting_round)
    audit.record(
        actor,
        "round.projects_refreshed",
        voting_round,
        municipality_id=voting_round.municipality_id,
        projects=len(voting_round.projects),
    )
    db.session.commit()


# Eligibility ---------------------------------------------------------------------------------


def age_band_for(birth_year: int | None, year: int) -> str | None:
    """The CBS age band of someone born in ``birth_year``, in ``year`` (age reached that year)."""
    if birth_year is None:
        return None
    age = year - birth_year
    for name, low, high in AGE_BANDS:
        if age >= low and (high is None or age <= high):
            return name
    return None


def age_band_sql(birth_year: ColumnElement[int], year: int) -> ColumnElement[str]:
    """:func:`age_band_for` as an SQL expression, built from the same AGE_BANDS."""
    age = year - birth_year
    return case(
        *(
            (age >= low if high is None else age.between(low, high), literal(name))
            for name, low, high in AGE_BANDS
        ),
        else_=null(),
    )


def eligibility_problem(user: User | None, voting_round: VotingRound) -> str | None:
    """Why ``user`` may not vote in the round (translated), or None when they may.

    An account votes only as an elector of the round (services/electorate.py): bound to one
    by its stempas code. Area and age are the register's, frozen when voting opens; the
    account's own (self-declared) address gives no vote."""
    if user is None or not user.is_authenticated:
        return _("Log in to vote.")
    elector = electorate.elector_of(user, voting_round)
    if elector is None:
        return _(
            "Only electors of %(areas)s can vote in this round: link the stempas you received"
            " by post to your account first.",
            areas=", ".join(area.name for area in voting_round.areas),
        )
    if elector.area_id not in voting_round.area_ids:
        return _(
            "Only residents of %(areas)s can vote in this round.",
            areas=", ".join(area.name for area in voting_round.areas),
        )
    if voting_round.year - elector.birth_year < voting_round.min_age:
        return _("You can vote from the year you turn %(age)d.", age=voting_round.min_age)
    return None


def has_voted(user: User, voting_round: VotingRound) -> bool:
    """Whether this account, or the elector it is bound to (on any channel), has voted."""
    bound = select(Elector.id).where(
        Elector.round_id == voting_round.id, Elector.user_id == user.id
    )
    return (
        db.session.scalar(
            select(VoterRecord.id).where(
                VoterRecord.round_id == voting_round.id,
                (VoterRecord.user_id == user.id) | VoterRecord.elector_id.in_(bound),
            )
        )
        is not None
    )


def eligible_residents_count(voting_round: VotingRound, area: Area) -> int:
    """Who may vote in the round in ``area`` (turnout's denominator): its electors; for a
    round without an electorate (an imported one), the accounts of residents."""
    electors = db.session.scalar(
        select(func.count(Elector.id)).where(
            Elector.round_id == voting_round.id, Elector.area_id == area.id
        )
    )
    if electors or electorate.has_electorate(voting_round):
        return electors or 0
    conditions = [User.home_area_id == area.id, User.is_active_account.is_(True)]
    if voting_round.min_age > 0:
        conditions.append(User.birth_year <= voting_round.year - voting_round.min_age)
    return db.session.scalar(select(func.count(User.id)).where(*conditions)) or 0


# Ballots -------------------------------------------------------------------------------------


def _translated(error: ballot_domain.BallotError, names: Mapping[str, str]) -> str:
    params = dict(error.params)
    if "project" in params:
        params["project"] = names.get(str(params["project"]), str(params["project"]))
    if error.code in _MONEY_CODES:
        for key in _MONEY_PARAMS & params.keys():
            params[key] = format_currency(Decimal(int(params[key])) / 100, "EUR")
    template = BALLOT_MESSAGES.get(error.code)
    return _(template, **params) if template else error.message


def domain_ballot(
    ballot_type: str, external_ids: Mapping[int, str], choices: Choices
) -> list[str] | dict[str, int]:
    """The ballot in the domain's terms (projects by external id, as in pabulib). Raises
    ValidationFailed for a project not in the round (``external_ids`` maps the round's project
    ids) or points on a ballot without points."""
    if any(pid not in external_ids for pid in choices):
        raise ValidationFailed(_l("This ballot lists a project that is not in this round."))
    if ballot_type == ballot_domain.CUMULATIVE:
        return {external_ids[pid]: points for pid, points in choices.items()}
    if any(points != 1 for points in choices.values()):
        raise ValidationFailed(_l("This ballot does not use points."))
    return [external_ids[pid] for pid in choices]


def check_choices(voting_round: VotingRound, choices: Choices) -> None:
    """Validate a ballot with the round's rules (domain/ballots.py); raises ValidationFailed
    with every problem, translated, in one message."""
    external_ids = {project.id: project.external_id for project in voting_round.projects}
    names = {project.external_id: project.name for project in voting_round.projects}
    costs = {project.external_id: project.cost_cents for project in voting_round.projects}
    problems: list[str] = []
    ballot = domain_ballot(voting_round.ballot_type, external_ids, choices)
    for error in ballot_domain.validate_ballot(ballot, voting_round.ballot_rules(), costs):
        problems.append(_translated(error, names))
    if problems:
        raise ValidationFailed(" ".join(problems))


@dataclass(frozen=True)
class CastResult:
    cast_on: date
    # Shown once to the voter when the round allows changing the ballot, else None.
    receipt_token: str | None = None


def receipt_hash(token: str) -> str:
    return hashlib.sha256(token.strip().encode()).hexdigest()


def _is_transient_conflict(error: OperationalError) -> bool:
    """SQLite's "database is locked", PostgreSQL's serialization failure or deadlock: the
    attempt changed nothing and may be tried again (unlike a lost connection)."""
    if error.connection_invalidated:
        return False
    retryable_states = ("40001", "40P01")
    return "database is locked" in str(error.orig) or (
        getattr(error.orig, "sqlstate", None) in retryable_states
    )


def with_write_retries(write: Callable[[], T]) -> T:
    """Run a write transaction, retrying when SQLite reports "database is locked"."""
    for attempt in range(WRITE_ATTEMPTS):
        try:
            return write()
        except OperationalError as error:
            db.session.rollback()
            if not _is_transient_conflict(error):
                raise  # e.g. the database went away: web/errors.py answers 503
            if attempt == WRITE_ATTEMPTS - 1:
                raise Conflict(_l("It is very busy right now. Please try again.")) from None
            time.sleep(0.05 * 2**attempt + secrets.randbelow(50) / 1000)
    raise AssertionError("unreachable")  # pragma: no cover


# What decides whether a round is open; re-read under a lock by casting and closing.
ROUND_DATES = ["closed_at", "voting_opens_at", "voting_closes_at"]


def hold_round_open(voting_round: VotingRound, phases: tuple[Phase, ...], refusal) -> None:
    """Re-read the round's dates under a lock that closing waits for, and refuse (``refusal``)
    unless the round is in one of ``phases``: a ballot commits before the count or not at all.
    On PostgreSQL the lock is FOR KEY SHARE, which ballots share and which
    voting_results.close_round's FOR UPDATE waits for; SQLite has a single writer anyway."""
    db.session.refresh(voting_round, ROUND_DATES, with_for_update={"read": True, "key_share": True})
    if voting_round.phase() not in phases:
        db.session.rollback()
        raise Conflict(refusal)


def _lock_round_setup(voting_round: VotingRound, choices: Choices) -> None:
    """Mark the round locked at its first ballot. The first caster re-reads the setup under
    the lock and validates again, in case the setup changed a moment before."""
    if voting_round.locked_at is not None:
        return  # locked for good (it is never unlocked): no write needed on the cast path
    result = db.session.execute(
        update(VotingRound)
        .where(VotingRound.id == voting_round.id, VotingRound.locked_at.is_(None))
        .values(locked_at=utcnow())
    )
    if result.rowcount == 1:
        db.session.refresh(voting_round)
        check_choices(voting_round, choices)


def _insert_ballot(voting_round: VotingRound, channel: Channel, choices: Choices, **fields) -> None:
    """INSERT the ballot and its choices (one executemany) right away, without ORM objects:
    nothing reads them back in this transaction, and the cast path stays cheap."""
    ballot_id = new_ballot_id()
    db.session.execute(
        insert(Ballot).values(id=ballot_id, round_id=voting_round.id, channel=channel, **fields)
    )
    rows = [
        {"ballot_id": ballot_id, "project_id": pid, "points": points}
        for pid, points in choices.items()
        if points
    ]
    if rows:
        db.session.execute(insert(BallotChoice), rows)


def _require_voting_open(voting_round: VotingRound) -> None:
    if not voting_round.is_voting_open():
        raise Conflict(VOTING_NOT_OPEN)


def find_voting_code(voting_round: VotingRound, code: str) -> VotingCode:
    """The voting code of this round, unused; raises otherwise."""
    normalised = normalise_code(code)
    voting_code = db.session.scalar(
        select(VotingCode).where(
            VotingCode.round_id == voting_round.id,
            VotingCode.code_hash == hashlib.sha256(normalised.encode()).hexdigest(),
        )
    )
    if voting_code is None:
        raise ValidationFailed(_l("This voting code is not valid for this round."), field="code")
    if voting_code.used_at is not None:
        raise Conflict(_l("This voting code has already been used."))
    return voting_code


def accepts_codes(voting_round: VotingRound) -> bool:
    """Whether residents can vote with a code from a letter: a stempas code in a round with an
    electorate, a voting code in a round that uses them."""
    return voting_round.uses_voting_codes or electorate.has_electorate(voting_round)


def check_code(voting_round: VotingRound, code: str) -> None:
    """Whether ``code`` can vote in the round now (before the ballot is shown); raises."""
    _require_voting_open(voting_round)
    if electorate.has_electorate(voting_round):
        elector = electorate.find_elector_by_code(voting_round, code)
        record = electorate.already_voted(voting_round, elector.id)
        if record is not None:
            raise Conflict(electorate.used_message(record), field="code")
    elif voting_round.uses_voting_codes:
        find_voting_code(voting_round, code)
    else:
        raise Conflict(_l("This round does not use voting codes."))


def cast_ballot(
    actor: User | None,
    voting_round: VotingRound,
    choices: Choices,
    *,
    voting_code: str | None = None,
    today: date | None = None,
) -> CastResult:
    """Cast a ballot, once per voter: ``actor`` a logged-in resident, or None with a
    ``voting_code``. Raises Conflict("already voted") when a ballot exists, also when several
    attempts race (the database's unique constraint decides, see the module doc)."""
    _require_voting_open(voting_round)
    code_record: VotingCode | None = None
    elector: Elector | None = None
    if voting_code is not None:
        if electorate.has_electorate(voting_round):
            # The stempas code itself: online without an account (or with one not bound).
            elector = electorate.find_elector_by_code(voting_round, voting_code)
            record = electorate.already_voted(voting_round, elector.id)
            if record is not None:
                raise Conflict(electorate.used_message(record))
            channel = Channel.CODE
        else:
            if not voting_round.uses_voting_codes:
                raise Conflict(_l("This round does not use voting codes."))
            code_record = find_voting_code(voting_round, voting_code)
            voter_fields = {"area_id": code_record.area_id, "age_band": code_record.age_band}
            channel = Channel.CODE
    else:
        problem = eligibility_problem(actor, voting_round)
        if problem is not None:
            raise PermissionDenied(problem)
        # No "already voted?" query here: the voter record's unique constraints decide below
        # (the web pages ask has_voted() once, for their friendlier message).
        elector = electorate.elector_of(actor, voting_round)
        channel = Channel.ONLINE
    if elector is not None:
        # Area and age band from the register, never from the account.
        voter_fields = {
            "area_id": elector.area_id,
            "age_band": age_band_for(elector.birth_year, voting_round.year),
        }
    check_choices(voting_round, choices)
    round_id = voting_round.id
    user_id = actor.id if channel is Channel.ONLINE else None
    code_id = code_record.id if code_record is not None else None
    elector_id = elector.id if elector is not None else None
    token = secrets.token_urlsafe(16) if voting_round.allow_ballot_change else None
    cast_on = today or date.today()

    def write() -> CastResult:
        hold_round_open(voting_round, (Phase.VOTING,), VOTING_NOT_OPEN)
        # The voter record goes in first, on its own: its unique constraints (one per
        # account, per voting code and per elector, whichever channel) decide.
        try:
            db.session.execute(
                insert(VoterRecord).values(
                    round_id=round_id,
                    user_id=user_id,
                    voting_code_id=code_id,
                    elector_id=elector_id,
                    channel=channel,
                )
            )
        except IntegrityError:
            db.session.rollback()
            record = electorate.already_voted(voting_round, elector_id) if elector_id else None
            if record is not None and record.channel is not Channel.ONLINE:
                raise Conflict(electorate.used_message(record)) from None
            raise Conflict(ALREADY_VOTED) from None
        if code_id is not None:
            db.session.execute(
                update(VotingCode).where(VotingCode.id == code_id).values(used_at=utcnow())
            )
        try:
            _lock_round_setup(voting_round, choices)
        except ServiceError:
            db.session.rollback()
            raise
        _insert_ballot(
            voting_round,
            channel,
            choices,
            cast_on=cast_on,
            receipt_hash=receipt_hash(token) if token else None,
            **voter_fields,
        )
        db.session.commit()
        return CastResult(cast_on=cast_on, receipt_token=token)

    return with_write_retries(write)


def ballot_for_receipt(voting_round: VotingRound, receipt_token: str | None) -> Ballot | None:
    """The ballot whose receipt token this is (to show the voter their own choices)."""
    if not receipt_token or not voting_round.allow_ballot_change:
        return None
    return db.session.scalar(
        select(Ballot).where(
            Ballot.round_id == voting_round.id,
            Ballot.receipt_hash == receipt_hash(receipt_token),
        )
    )


def change_ballot(
    actor: User | None,
    voting_round: VotingRound,
    receipt_token: str,
    choices: Choices,
    *,
    voting_code_used: bool = False,
    today: date | None = None,
) -> None:
    """Replace the choices of the ballot whose receipt token is given (see module doc)."""
    if not voting_round.allow_ballot_change:
        raise Conflict(_l("Ballots cannot be changed in this round."))
    _require_voting_open(voting_round)
    if not voting_code_used and (actor is None or not has_voted(actor, voting_round)):
        raise Conflict(_l("You have not voted in this round yet."))
    ballot = ballot_for_receipt(voting_round, receipt_token)
    if ballot is None:
        raise ValidationFailed(_l("This receipt code is not valid."), field="receipt")
    check_choices(voting_round, choices)

    def write() -> None:
        hold_round_open(voting_round, (Phase.VOTING,), VOTING_NOT_OPEN)
        ballot.choices.clear()
        db.session.flush()
        ballot.choices = [
            BallotChoice(project_id=pid, points=points) for pid, points in choices.items() if points
        ]
        ballot.cast_on = today or date.today()
        db.session.commit()

    with_write_retries(write)


# Voting codes --------------------------------------------------------------------------------


def normalise_code(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def format_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


@dataclass(frozen=True)
class CodeRecipient:
    label: str
    area: Area | None = None
    age_band: str | None = None


def issue_voting_codes(
    actor: User | None, voting_round: VotingRound, recipients: list[CodeRecipient]
) -> list[tuple[CodeRecipient, str]]:
    """Create one single-use code per recipient; returns the codes in plain text ONCE (to print
    and mail). Only their sha256 is stored."""
    if actor is not None:
        require(can_manage_round(actor, voting_round))
    if not voting_round.uses_voting_codes:
        raise Conflict(_l("This round does not use voting codes."))
    if voting_round.is_closed:
        raise Conflict(_l("This round is closed."))
    if electorate.has_electorate(voting_round):
        raise Conflict(_l("This round has an electorate: its electors vote with their stempas."))
    if not recipients or len(recipients) > MAX_CODES_PER_BATCH:
        raise ValidationFailed(
            _l("Give from 1 to %(max)d recipients.", max=MAX_CODES_PER_BATCH), field="recipients"
        )
    issued = []
    for recipient in recipients:
        if len(recipient.label) > LABEL_MAX:
            raise ValidationFailed(
                _l("Field cannot be longer than %(max)d characters.", max=LABEL_MAX),
                field="recipients",
            )
        if recipient.area is not None and recipient.area.id not in voting_round.area_ids:
            raise ValidationFailed(_l("This is not a valid choice."), field="recipients")
        if recipient.age_band is not None and recipient.age_band not in AGE_BAND_NAMES:
            raise ValidationFailed(_l("This is not a valid choice."), field="recipients")
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        db.session.add(
            VotingCode(
                round_id=voting_round.id,
                code_hash=hashlib.sha256(code.encode()).hexdigest(),
                label=recipient.label,
                area_id=recipient.area.id if recipient.area else None,
                age_band=recipient.age_band,
            )
        )
        issued.append((recipient, format_code(code)))
    audit.record(
        actor,
        "round.voting_codes_issued",
        voting_round,
        municipality_id=voting_round.municipality_id,
        count=len(issued),
    )
    db.session.commit()
    return issued


def get_round(round_id: int) -> VotingRound:
    voting_round = db.session.get(VotingRound, round_id)
    if voting_round is None:
        raise NotFound(_l("This voting round does not exist."))
    return voting_round
