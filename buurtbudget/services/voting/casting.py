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
    * physical row order: on SQLite the ballot and choice tables have no rowid (WITHOUT
      ROWID), so they are stored in the order of their random keys, not of casting.
      PostgreSQL's heap (ctid) follows the order of writing, and a ballot's transaction id
      (xmin) equals its voter record's. Closing a round therefore first shakes its ballot box
      (voting.shaking: every ballot rewritten in a random order with a new id, one shared
      xmin), and ``flask rounds shake`` does so during voting
      (tests/services/test_unlinkable_ballot_box.py). Until the next shake, and in the
      write-ahead log and backups, the cast order remains: see voting.shaking for what is
      left to separation of duties.
    * one ballot per elector on every channel: online with an account bound to the elector,
      with the stempas code, and on paper (services/paper_ballots.py) all insert the elector's
      voter record, whose unique constraint (round, elector) decides.

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
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import format_currency
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from buurtbudget.domain import ballots as ballot_domain
from buurtbudget.extensions import db
from buurtbudget.models import (
    Ballot,
    Channel,
    Elector,
    Phase,
    User,
    VoterRecord,
    VotingCode,
    VotingRound,
)
from buurtbudget.models._base import utcnow
from buurtbudget.models.voting import new_ballot_id, stored_choices
from buurtbudget.services import electorate
from buurtbudget.services.errors import (
    Conflict,
    PermissionDenied,
    ServiceError,
    ValidationFailed,
)
from buurtbudget.services.voting.codes import find_voting_code
from buurtbudget.services.voting.eligibility import age_band_for, eligibility_problem
from buurtbudget.services.voting.rounds import (
    VOTING_NOT_OPEN,
    fix_population,
    hold_round_open,
    with_write_retries,
)

PAPER_NUMBER_MAX = 32

ALREADY_VOTED = _l("You have already voted in this round.")


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


def _lock_round_setup(voting_round: VotingRound, choices: Choices) -> None:
    """Mark the round locked at its first ballot, and store its population figures (as they
    were at the opening, see voting.rounds.fix_population). The setup is fixed from the
    opening (voting.rounds.setup_is_fixed); a change decided just before it may commit a
    moment later, so a caster who read the round unlocked re-reads the setup under the lock
    (its own or the first caster's, committed) and validates again."""
    if voting_round.locked_at is not None:
        return  # locked for good (it is never unlocked): no write needed on the cast path
    db.session.execute(
        update(VotingRound)
        .where(VotingRound.id == voting_round.id, VotingRound.locked_at.is_(None))
        .values(locked_at=utcnow())
    )
    db.session.refresh(voting_round)
    check_choices(voting_round, choices)
    fix_population(voting_round)


def _insert_ballot(voting_round: VotingRound, channel: Channel, choices: Choices, **fields) -> None:
    """INSERT the ballot, its choices in its row, right away without an ORM object: nothing
    reads it back in this transaction, and the cast path stays cheap."""
    project_ids, points = stored_choices(choices)
    db.session.execute(
        insert(Ballot).values(
            id=new_ballot_id(),
            round_id=voting_round.id,
            channel=channel,
            project_ids=project_ids,
            points=points,
            **fields,
        )
    )


def _require_voting_open(voting_round: VotingRound) -> None:
    if not voting_round.is_voting_open():
        raise Conflict(VOTING_NOT_OPEN)


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
    if ballot_for_receipt(voting_round, receipt_token) is None:
        raise ValidationFailed(_l("This receipt code is not valid."), field="receipt")
    check_choices(voting_round, choices)

    def write() -> None:
        hold_round_open(voting_round, (Phase.VOTING,), VOTING_NOT_OPEN)
        # Again under the round's lock: a shake (voting.shaking) may have given the ballot a
        # new id meanwhile; its receipt hash moved with it.
        ballot = ballot_for_receipt(voting_round, receipt_token)
        if ballot is None:
            db.session.rollback()
            raise ValidationFailed(_l("This receipt code is not valid."), field="receipt")
        ballot.choices = choices
        ballot.cast_on = today or date.today()
        db.session.commit()

    with_write_retries(write)


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
