"""Voting codes: single-use codes mailed to residents without an account; only their
sha256 is stored."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from buurtbudget.extensions import db
from buurtbudget.models import Area, User, VotingCode, VotingRound
from buurtbudget.services import audit, electorate
from buurtbudget.services.errors import Conflict, ValidationFailed
from buurtbudget.services.permissions import require
from buurtbudget.services.voting.rounds import AGE_BAND_NAMES, can_manage_round

LABEL_MAX = 200
MAX_CODES_PER_BATCH = 20_000
# Voting codes: 12 symbols from 32 unambiguous ones (no 0/O, 1/I) = 60 random bits.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12


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
