"""Voting rounds: setting them up, who manages them, their labels, and the transaction
helpers every write on a round uses (retries, holding a round open while a ballot commits).

What decides how votes count is fixed from the moment voting opens by the round's dates,
whether or not anyone voted yet (:func:`setup_is_fixed`): the areas, ballot, rule, limits,
who may vote, the budget and the projects on the ballot (:func:`update_round`,
:func:`refresh_projects`), the weighting (voting.counting.update_weighting) and the
population figures the weights use (:func:`fix_population`). Every write that changes them
re-checks the dates it finds in the database (:func:`before_opening`), so a round that opened
since it was read refuses too.

The lowest module of services.voting: it imports no other module of the package.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.exc import OperationalError

from buurtbudget.domain import ballots as ballot_domain
from buurtbudget.domain.budget import AccountKind
from buurtbudget.domain.initiative_lifecycle import Status
from buurtbudget.extensions import db
from buurtbudget.models import (
    AGE_BANDS,
    Area,
    AreaPopulation,
    BudgetPeriod,
    Initiative,
    Municipality,
    Phase,
    Role,
    RoundProject,
    User,
    VotingRound,
)
from buurtbudget.models._base import utcnow
from buurtbudget.models.voting import voting_round_area
from buurtbudget.services import audit
from buurtbudget.services.errors import Conflict, NotFound, ValidationFailed
from buurtbudget.services.permissions import can_manage_area, is_admin_of, require

# The largest budget (and cost limit) of a round, in cents: EUR 10 billion.
ROUND_BUDGET_MAX_CENTS = 10**12

TITLE_MAX = 120
DESCRIPTION_MAX = 5000
AGE_BAND_NAMES = tuple(name for name, _low, _high in AGE_BANDS)
# SQLite answers "database is locked" when many writers queue longer than its busy timeout;
# such an attempt changed nothing, so it is safe to try again.
WRITE_ATTEMPTS = 5

VOTING_NOT_OPEN = _l("Voting in this round is not open.")
OPENING_FIXED = _l(
    "Voting has opened: the opening date can no longer change (the weighting of the round was"
    " fixed when voting opened)."
)
SETUP_FIXED = _l(
    "Voting has opened: the areas, ballot, counting rule, limits, who may vote and the budget"
    " cannot change any more."
)
CLOSING_ONLY_LATER = _l("Voting has opened: the closing date can only move later.")
PROJECTS_FIXED = _l("Voting has opened: the projects on the ballot cannot change any more.")

RULE_LABELS = {
    "greedy": _l("Most votes first (greedy)"),
    "greedy_no_skip": _l("Most votes first, stopping at the first that does not fit"),
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


T = TypeVar("T")


def has_opened(voting_round: VotingRound, now: datetime | None = None) -> bool:
    """Voting has opened by the round's dates (whether or not anyone voted yet), or the round
    was counted: from then on the weighting is fixed (voting.counting.update_weighting) and the
    opening date cannot move (a later date would reopen the window to change it)."""
    return voting_round.phase(now) in (Phase.VOTING, Phase.COUNTING, Phase.RESULTS)


def setup_is_fixed(voting_round: VotingRound, now: datetime | None = None) -> bool:
    """Whether what decides how votes count is fixed (see the module doc): from the opening
    by the dates, and of course once a ballot locked the round or it was counted."""
    return voting_round.is_locked or voting_round.is_closed or has_opened(voting_round, now)


def before_opening(voting_round: VotingRound, now: datetime) -> list[ColumnElement[bool]]:
    """The conditions of a write that changes the setup: the round, as the database has it
    now, has not opened, has no ballot and was not counted. A conditional UPDATE with them
    takes the round's row (PostgreSQL) or database (SQLite) lock, so an opening date moved
    into the past, a first ballot or a count committed since the round was read refuses the
    change rather than slipping past the check in Python."""
    return [
        VotingRound.id == voting_round.id,
        VotingRound.locked_at.is_(None),
        VotingRound.closed_at.is_(None),
        or_(VotingRound.voting_opens_at.is_(None), VotingRound.voting_opens_at > now),
    ]


def claim_before_opening(voting_round: VotingRound, now: datetime, refusal) -> None:
    """Take the round's lock with a write that changes nothing, on the conditions of
    :func:`before_opening`; roll back and raise Conflict(refusal) when the round no longer
    meets them."""
    result = db.session.execute(
        update(VotingRound)
        .where(*before_opening(voting_round, now))
        .values(title=VotingRound.title)
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise Conflict(refusal)


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


def can_export_unpublished(user: User | None, voting_round: VotingRound) -> bool:
    """The round's staff may export its ballots once voting has ended, before publication
    (earlier, an export would show interim results); everyone may once published."""
    return can_enter_paper_ballots(user, voting_round) and voting_round.phase() in (
        Phase.COUNTING,
        Phase.RESULTS,
    )


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


# Fields that are fixed once voting opens (with the areas and the projects).
FIXED_FIELDS = (
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
    "rule_meta",
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
        if value is not None and not low <= value <= ROUND_BUDGET_MAX_CENTS:
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
    if budget > ROUND_BUDGET_MAX_CENTS:  # also what a 64-bit column and the rules can hold
        raise ValidationFailed(_l("This amount is too large."), field="budget")
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
    """Change a round's setup. Once voting opens (by the dates, ballots or not) only the
    title, description, the dates before the opening and a later closing date can change:
    not what decides how votes count (areas, ballot, rule, limits, who may vote, budget, the
    opening date, the projects on the ballot)."""
    if actor is not None:
        require(can_manage_round(actor, voting_round))
    if voting_round.is_closed:
        raise Conflict(_l("This round is closed."))
    now = utcnow()
    values = _validated_setup(actor, voting_round.municipality, setup)
    if has_opened(voting_round, now) and values["voting_opens_at"] != voting_round.voting_opens_at:
        raise Conflict(OPENING_FIXED, field="voting_opens_at")
    fixed = setup_is_fixed(voting_round, now)
    if not fixed:
        # The write re-checks the dates as the database has them, under the round's lock
        # (see before_opening): a ballot cast at the same moment either finds the round
        # locked by it and waits, or this write finds the round opened and refuses below.
        result = db.session.execute(
            update(VotingRound)
            .where(*before_opening(voting_round, now))
            .values(title=values["title"])
        )
        fixed = result.rowcount != 1
    if fixed:
        db.session.refresh(voting_round)
        changed = [name for name in FIXED_FIELDS if getattr(voting_round, name) != values[name]]
        if changed or {a.id for a in setup.areas} != voting_round.area_ids:
            db.session.rollback()
            raise Conflict(SETUP_FIXED)
        if values["voting_closes_at"] < voting_round.voting_closes_at:
            # Shortening a running vote would take the vote from who planned it for later.
            db.session.rollback()
            raise Conflict(CLOSING_ONLY_LATER, field="voting_closes_at")
    for name, value in values.items():
        setattr(voting_round, name, value)
    if not fixed:
        voting_round.areas = list(setup.areas)
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
    are no longer open), with their current name and cost. Only before voting opens."""
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
    """Update the ballot with the initiatives that are open now (until voting opens)."""
    if actor is not None:
        require(can_manage_round(actor, voting_round))
    now = utcnow()
    if setup_is_fixed(voting_round, now):
        raise Conflict(PROJECTS_FIXED)
    # Re-checked by the write itself.
    claim_before_opening(voting_round, now, PROJECTS_FIXED)
    _sync_projects(voting_round)
    audit.record(
        actor,
        "round.projects_refreshed",
        voting_round,
        municipality_id=voting_round.municipality_id,
        projects=len(voting_round.projects),
    )
    db.session.commit()


# Population figures --------------------------------------------------------------------------

# What a round keeps of each area's AreaPopulation.
POPULATION_FIELDS = ("year", "inhabitants", "households", *AGE_BAND_NAMES, "need_index")


def _figures(population: AreaPopulation | None) -> dict | None:
    if population is None:
        return None
    return {name: getattr(population, name) for name in POPULATION_FIELDS}


def population_figures(voting_round: VotingRound) -> dict[int, dict | None]:
    """Per area of the round, the population figures its weights and turnout use (the keys
    of POPULATION_FIELDS; None when the area has none for the round's year or earlier): those
    stored when voting opened (:func:`fix_population`), before that the live ones.

    A round that opened without storing them yet uses the live ones, which are still those
    of its opening: every import of figures stores them first (services.population)."""
    stored = voting_round.population_figures
    if stored is not None:
        return {area.id: stored.get(str(area.id)) for area in voting_round.areas}
    year = voting_round.year
    return {area.id: _figures(area.population_for(year)) for area in voting_round.areas}


def fix_population(voting_round: VotingRound, now: datetime | None = None) -> None:
    """Store the population figures of a round whose voting has opened, once: in the
    caller's transaction (not committed), by a conditional UPDATE that takes the round's row
    (PostgreSQL) or database (SQLite) lock, so of two writers the second finds them stored
    and keeps them. Called at the first ballot, at the count, and before figures are
    imported; a round before its opening keeps following the live figures.

    The volunteer hours of its initiatives (the ranking's own contribution) are stored with
    them on its projects, by the writer that stored the figures: after the opening an
    initiator changing them moves no ranking."""
    if voting_round.population_figures is not None or not setup_is_fixed(voting_round, now):
        return
    live = {str(area_id): f for area_id, f in population_figures(voting_round).items()}
    stored = db.session.execute(
        update(VotingRound)
        .where(VotingRound.id == voting_round.id, VotingRound.population_figures.is_(None))
        .values(population_figures=live)
    )
    if stored.rowcount == 1:
        # Under the round's lock just taken, so the second writer stores nothing.
        db.session.execute(
            update(RoundProject)
            .where(RoundProject.round_id == voting_round.id)
            .values(
                volunteer_hours=select(Initiative.volunteer_hours)
                .where(Initiative.id == RoundProject.initiative_id)
                .scalar_subquery()
            )
        )
    db.session.refresh(voting_round, ["population_figures"])
    for project in voting_round.projects:
        db.session.refresh(project, ["volunteer_hours"])


def fix_population_of_areas(area_ids, now: datetime | None = None) -> None:
    """:func:`fix_population` for every opened round of these areas (a list or a SELECT of
    ids) that has not stored its figures: before new figures of the areas are written."""
    now = now or utcnow()
    opened = db.session.scalars(
        select(VotingRound)
        .where(
            VotingRound.id.in_(
                select(voting_round_area.c.round_id).where(
                    voting_round_area.c.area_id.in_(area_ids)
                )
            ),
            VotingRound.population_figures.is_(None),
            or_(
                VotingRound.locked_at.is_not(None),
                VotingRound.closed_at.is_not(None),
                VotingRound.voting_opens_at <= now,
            ),
        )
        .order_by(VotingRound.id)  # one order of row locks for every writer
    ).all()
    for voting_round in opened:
        fix_population(voting_round, now)


# Writing -------------------------------------------------------------------------------------


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
    counting.close_round's FOR UPDATE waits for; SQLite has a single writer anyway."""
    db.session.refresh(voting_round, ROUND_DATES, with_for_update={"read": True, "key_share": True})
    if voting_round.phase() not in phases:
        db.session.rollback()
        raise Conflict(refusal)


def get_round(round_id: int) -> VotingRound:
    voting_round = db.session.get(VotingRound, round_id)
    if voting_round is None:
        raise NotFound(_l("This voting round does not exist."))
    return voting_round
