"""Paper ballots: a register of issued, numbered papers per area, double keying by two
different staff members, tied to the elector's stempas.

* Staff issue numbered papers per area (:func:`issue_papers`); only a paper of that register
  can be entered, once.
* A paper is entered by typing its number, the stempas handed in with it and its choices
  (:func:`key_paper`). The first keying waits; when a second, different staff member keys the
  same paper and both agree, the ballot is written in the same transaction as the elector's
  "has voted" record, whose unique constraint refuses a stempas already used on any channel
  (the message says which channel and on which date). Then both keyings are deleted: no
  stored row ties the stempas to the choices.
* Keyings that disagree are listed (:func:`mismatches`) until a staff member discards the
  wrong one and the paper is keyed again.
* Entry closes when the round is closed for counting (before publication).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from buurtbudget.extensions import db
from buurtbudget.models import (
    Area,
    Channel,
    Elector,
    PaperBallotKeying,
    PaperBallotSheet,
    Phase,
    User,
    VoterRecord,
    VotingRound,
)
from buurtbudget.models._base import utcnow
from buurtbudget.services import audit, electorate
from buurtbudget.services.errors import Conflict, NotFound, ValidationFailed
from buurtbudget.services.permissions import can_manage_area, require
from buurtbudget.services.voting import casting, eligibility, rounds

MAX_PAPERS_PER_BATCH = 20_000
ENTRY_CLOSED = _l(
    "Paper ballots can be entered from the opening of the vote until the round closes."
)


def can_key(user: User | None, voting_round: VotingRound, area: Area) -> bool:
    return rounds.can_enter_paper_ballots(user, voting_round) and can_manage_area(user, area)


def issue_papers(
    actor: User, voting_round: VotingRound, area: Area, count: int
) -> list[PaperBallotSheet]:
    """Add ``count`` numbered papers for ``area`` to the round's register ("<area>-00001")."""
    require(can_key(actor, voting_round, area))
    if area.id not in voting_round.area_ids:
        raise ValidationFailed(_l("This is not a valid choice."), field="area")
    if voting_round.is_closed:
        raise Conflict(_l("This round is closed."))
    if not 1 <= count <= MAX_PAPERS_PER_BATCH:
        raise ValidationFailed(
            _l("Give from 1 to %(max)d papers.", max=MAX_PAPERS_PER_BATCH), field="count"
        )
    prefix = f"{area.id}-"
    issued = db.session.scalar(
        select(func.count())
        .select_from(PaperBallotSheet)
        .where(PaperBallotSheet.round_id == voting_round.id, PaperBallotSheet.area_id == area.id)
    )
    sheets = [
        PaperBallotSheet(
            round_id=voting_round.id,
            area_id=area.id,
            number=f"{prefix}{issued + n:05d}",
            issued_by_id=actor.id,
        )
        for n in range(1, count + 1)
    ]
    db.session.add_all(sheets)
    audit.record(
        actor,
        "round.paper_ballots_issued",
        voting_round,
        municipality_id=voting_round.municipality_id,
        area_id=area.id,
        count=count,
        first=sheets[0].number,
        last=sheets[-1].number,
    )
    db.session.commit()
    return sheets


@dataclass(frozen=True)
class KeyingResult:
    entered: bool  # True: both keyings agreed and the ballot is counted
    mismatch: bool = False  # True: the two keyings differ (see mismatches())


def _sheet(voting_round: VotingRound, number: str) -> PaperBallotSheet:
    sheet = db.session.scalar(
        select(PaperBallotSheet).where(
            PaperBallotSheet.round_id == voting_round.id,
            PaperBallotSheet.number == (number or "").strip().upper(),
        )
    )
    if sheet is None:
        raise ValidationFailed(
            _l("Paper %(number)s is not in this round's register of issued papers.", number=number),
            field="paper_number",
        )
    return sheet


def key_paper(
    actor: User,
    voting_round: VotingRound,
    number: str,
    stempas_code: str,
    choices: casting.Choices,
    *,
    today: date | None = None,
) -> KeyingResult:
    """One staff member's keying of a paper (see the module doc)."""
    sheet = _sheet(voting_round, number)
    require(can_key(actor, voting_round, sheet.area))
    if voting_round.phase() not in (Phase.VOTING, Phase.COUNTING):
        raise Conflict(ENTRY_CLOSED)
    if sheet.entered:
        raise Conflict(_l("Paper %(number)s has already been entered.", number=sheet.number))
    elector = electorate.find_elector_by_code(voting_round, stempas_code)
    if elector.area_id != sheet.area_id:
        raise ValidationFailed(
            _l("This stempas belongs to another area than paper %(number)s.", number=sheet.number),
            field="code",
        )
    record = electorate.already_voted(voting_round, elector.id)
    if record is not None:
        raise Conflict(electorate.used_message(record), field="code")
    casting.check_choices(voting_round, choices)
    chosen = {str(pid): points for pid, points in sorted(choices.items()) if points}
    keyings = db.session.scalars(
        select(PaperBallotKeying).where(PaperBallotKeying.sheet_id == sheet.id)
    ).all()
    if any(k.keyed_by_id == actor.id for k in keyings):
        raise Conflict(
            _l("You have keyed this paper already: a second staff member must key it too.")
        )
    if keyings:
        first = keyings[0]
        if first.stempas_hash == elector.stempas_hash and first.choices == chosen:
            _enter(actor, voting_round, sheet, elector, choices, today or date.today())
            return KeyingResult(entered=True)
    db.session.add(
        PaperBallotKeying(
            sheet_id=sheet.id,
            keyed_by_id=actor.id,
            stempas_hash=elector.stempas_hash,
            choices=chosen,
        )
    )
    db.session.commit()
    return KeyingResult(entered=False, mismatch=bool(keyings))


def _enter(
    actor: User,
    voting_round: VotingRound,
    sheet: PaperBallotSheet,
    elector: Elector,
    choices: casting.Choices,
    cast_on: date,
) -> None:
    """Both keyings agree: the voter record (one per elector, every channel) and the ballot
    in one transaction; then the keyings go."""
    sheet_id, elector_id, area_id = sheet.id, elector.id, elector.area_id
    age_band = eligibility.age_band_for(elector.birth_year, voting_round.year)
    number = sheet.number

    def write() -> None:
        rounds.hold_round_open(voting_round, (Phase.VOTING, Phase.COUNTING), ENTRY_CLOSED)
        marked = db.session.execute(
            update(PaperBallotSheet)
            .where(PaperBallotSheet.id == sheet_id, PaperBallotSheet.entered.is_(False))
            .values(entered=True)
        ).rowcount
        if marked != 1:
            db.session.rollback()
            raise Conflict(_l("Paper %(number)s has already been entered.", number=number))
        try:
            db.session.execute(
                insert(VoterRecord).values(
                    round_id=voting_round.id,
                    elector_id=elector_id,
                    channel=Channel.PAPER,
                    voted_at=utcnow(),
                )
            )
        except IntegrityError:
            db.session.rollback()
            record = electorate.already_voted(voting_round, elector_id)
            raise Conflict(
                electorate.used_message(record) if record else casting.ALREADY_VOTED
            ) from None
        casting._lock_round_setup(voting_round, choices)
        casting._insert_ballot(
            voting_round,
            Channel.PAPER,
            choices,
            paper_number=number,
            area_id=area_id,
            age_band=age_band,
            cast_on=cast_on,
        )
        db.session.execute(delete(PaperBallotKeying).where(PaperBallotKeying.sheet_id == sheet_id))
        audit.record(
            actor,
            "round.paper_ballot_entered",
            voting_round,
            municipality_id=voting_round.municipality_id,
            # Not the paper's number: the entry's time and order follow the paper voter
            # records, and the number is on the ballot (see voting.shaking).
            area_id=area_id,
        )
        db.session.commit()

    rounds.with_write_retries(write)


def mismatches(voting_round: VotingRound) -> list[PaperBallotSheet]:
    """Papers keyed twice without agreement (to resolve), in number order."""
    keyed_twice = (
        select(PaperBallotKeying.sheet_id)
        .group_by(PaperBallotKeying.sheet_id)
        .having(func.count() > 1)
    )
    return db.session.scalars(
        select(PaperBallotSheet)
        .where(
            PaperBallotSheet.round_id == voting_round.id,
            PaperBallotSheet.entered.is_(False),
            PaperBallotSheet.id.in_(keyed_twice),
        )
        .order_by(PaperBallotSheet.number)
    ).all()


def waiting(voting_round: VotingRound) -> list[PaperBallotSheet]:
    """Papers keyed once, waiting for a second staff member."""
    keyed_once = (
        select(PaperBallotKeying.sheet_id)
        .group_by(PaperBallotKeying.sheet_id)
        .having(func.count() == 1)
    )
    return db.session.scalars(
        select(PaperBallotSheet)
        .where(PaperBallotSheet.round_id == voting_round.id, PaperBallotSheet.id.in_(keyed_once))
        .order_by(PaperBallotSheet.number)
    ).all()


def discard_keyings(actor: User, voting_round: VotingRound, number: str) -> int:
    """Resolve a mismatch: discard the paper's keyings so that it is keyed again."""
    sheet = _sheet(voting_round, number)
    require(can_key(actor, voting_round, sheet.area))
    if sheet.entered:
        raise NotFound(_l("Paper %(number)s has already been entered.", number=sheet.number))
    removed = db.session.execute(
        delete(PaperBallotKeying).where(PaperBallotKeying.sheet_id == sheet.id)
    ).rowcount
    audit.record(
        actor,
        "round.paper_keyings_discarded",
        voting_round,
        municipality_id=voting_round.municipality_id,
        paper_number=sheet.number,
        keyings=removed,
    )
    db.session.commit()
    return removed
