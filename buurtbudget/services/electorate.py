"""The electorate of a round: the municipality's register extract, stempas codes and letters,
and binding an account to an elector.

* The register extract (BRP, on a reference date) gives per person an opaque key, a birth
  date or year and an address. The address decides the area (services/addresses.py), the
  birth year the minimum age; rows outside the round's areas or too young are left out and
  counted. The person key is stored only as HMAC-SHA256 under the installation's
  ``ELECTORATE_SECRET``: enough to recognise the same person twice in one extract, useless
  to anyone without the secret.
* The electorate can be replaced until voting opens; from then on it is frozen, so moving
  house (or being moved by staff) during a round never adds a vote elsewhere: a ballot takes
  its area and age from the elector, not from the account.
* Each elector gets one stempas code: 80 random bits and a check character (the cheque code
  format of domain/budget.py), stored only as sha256, printed once on a letter.
* An account votes only as an elector: the resident enters the stempas code once and the
  account is bound to that elector (one account per elector, one elector per account per
  round). A self-declared address gives no vote.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from buurtbudget.domain.addresses import AddressFileError, read_register_extract
from buurtbudget.domain.budget import InvalidChequeCode, new_cheque_code, normalise_cheque_code
from buurtbudget.extensions import db
from buurtbudget.models import Address, Channel, Elector, User, VoterRecord, VotingRound
from buurtbudget.models._base import utcnow
from buurtbudget.services import audit
from buurtbudget.services.errors import Conflict, PermissionDenied, ServiceError, ValidationFailed
from buurtbudget.services.permissions import can_manage_area, is_admin_of, require

BATCH = 2_000
PROGRESS_EVERY = 10_000


class ElectorateSecretMissing(ServiceError):
    pass


def _secret() -> bytes:
    secret = current_app.config.get("ELECTORATE_SECRET") or ""
    if len(secret) < 16:
        raise ElectorateSecretMissing(
            _l("Set BUURTBUDGET_ELECTORATE_SECRET (at least 16 characters) before importing.")
        )
    return secret.encode()


def person_hash(municipality_id: int, person_key: str) -> str:
    """HMAC-SHA256 of the municipality's person key under the installation secret."""
    message = f"{municipality_id}:{person_key.strip()}".encode()
    return hmac.new(_secret(), message, hashlib.sha256).hexdigest()


def stempas_hash(normalised_code: str) -> str:
    return hashlib.sha256(b"stempas:" + normalised_code.encode()).hexdigest()


def can_manage_electorate(user: User | None, voting_round: VotingRound) -> bool:
    if user is None:
        return False
    if is_admin_of(user, voting_round.municipality_id):
        return True
    return bool(voting_round.areas) and all(can_manage_area(user, a) for a in voting_round.areas)


def is_frozen(voting_round: VotingRound) -> bool:
    """From the opening of the vote (or the first ballot) the electorate cannot change."""
    opens = voting_round.voting_opens_at
    return (
        voting_round.is_locked
        or voting_round.is_closed
        or (opens is not None and opens <= utcnow())
    )


def has_electorate(voting_round: VotingRound) -> bool:
    return (
        db.session.scalar(select(Elector.id).where(Elector.round_id == voting_round.id).limit(1))
        is not None
    )


def electorate_size(voting_round: VotingRound) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Elector).where(Elector.round_id == voting_round.id)
    )


@dataclass
class ElectorateImport:
    electors: int = 0
    outside_areas: int = 0
    too_young: int = 0


def import_register(
    actor: User | None,
    voting_round: VotingRound,
    lines: Iterable[str],
    progress: Callable[[int], None] | None = None,
) -> ElectorateImport:
    """Replace the round's electorate by the electors of a register extract, all or nothing:
    AddressFileError (nothing written) at the first bad row, also at an address that is not
    in the address file. ``actor`` None is the system (the CLI)."""
    if actor is not None:
        require(can_manage_electorate(actor, voting_round))
    if is_frozen(voting_round):
        raise Conflict(_l("Voting has opened: the electorate of this round is frozen."))
    municipality_id = voting_round.municipality_id
    round_areas = voting_round.area_ids
    # This municipality's addresses: key -> (area, buurt); one read instead of one per row.
    places = {
        (a.postcode, a.house_number, a.house_letter, a.house_suffix): (
            a.area_id,
            a.neighbourhood_id,
        )
        for a in db.session.execute(
            select(
                Address.postcode,
                Address.house_number,
                Address.house_letter,
                Address.house_suffix,
                Address.area_id,
                Address.neighbourhood_id,
            ).where(Address.municipality_id == municipality_id)
        )
    }
    min_birth_year = voting_round.year - voting_round.min_age
    summary = ElectorateImport()
    seen: dict[str, int] = {}
    batch: list[dict] = []
    try:
        db.session.execute(delete(Elector).where(Elector.round_id == voting_round.id))
        for row in read_register_extract(lines):
            key = person_hash(municipality_id, row.person_key)
            if key in seen:
                raise AddressFileError(
                    row.line, f"this person key already appeared on line {seen[key]}"
                )
            seen[key] = row.line
            place = places.get((row.postcode, row.house.number, row.house.letter, row.house.suffix))
            if place is None:
                raise AddressFileError(
                    row.line, f"address {row.postcode} {row.house} is not in the address file"
                )
            if place[0] not in round_areas:
                summary.outside_areas += 1
                continue
            if row.birth_year > min_birth_year:
                summary.too_young += 1
                continue
            batch.append(
                {
                    "round_id": voting_round.id,
                    "person_hash": key,
                    "birth_year": row.birth_year,
                    "area_id": place[0],
                    "neighbourhood_id": place[1],
                    "postcode": row.postcode,
                    "house_number": row.house.number,
                    "house_letter": row.house.letter,
                    "house_suffix": row.house.suffix,
                    "street": row.street,
                    "city": row.city,
                }
            )
            summary.electors += 1
            if len(batch) >= BATCH:
                db.session.execute(insert(Elector), batch)
                batch.clear()
            if progress is not None and row.line % PROGRESS_EVERY == 0:
                progress(row.line - 1)
        if batch:
            db.session.execute(insert(Elector), batch)
        audit.record(
            actor,
            "round.electorate_imported",
            voting_round,
            municipality_id=municipality_id,
            electors=summary.electors,
            outside_areas=summary.outside_areas,
            too_young=summary.too_young,
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return summary


# Stempas codes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Letter:
    """One stempas letter: the code in clear exists only here, while the letters are made."""

    elector_id: int
    code: str  # normalised, 17 characters
    street: str
    house: str
    postcode: str
    city: str
    area_name: str


def issue_stempas_codes(
    actor: User | None,
    voting_round: VotingRound,
    progress: Callable[[int, int], None] | None = None,
) -> list[Letter]:
    """A stempas code for every elector of the round who has none yet; returns the letters
    (codes in clear, ONCE) and stores only the codes' hashes."""
    if actor is not None:
        require(can_manage_electorate(actor, voting_round))
    if voting_round.is_closed:
        raise Conflict(_l("This round is closed."))
    areas = {area.id: area.name for area in voting_round.areas}
    rows = db.session.execute(
        select(
            Elector.id,
            Elector.street,
            Elector.house_number,
            Elector.house_letter,
            Elector.house_suffix,
            Elector.postcode,
            Elector.city,
            Elector.area_id,
        )
        .where(Elector.round_id == voting_round.id, Elector.stempas_hash.is_(None))
        .order_by(Elector.postcode, Elector.house_number, Elector.house_letter, Elector.id)
    ).all()
    letters: list[Letter] = []
    updates: list[dict] = []
    for number, row in enumerate(rows, start=1):
        code = new_cheque_code()
        house = f"{row.house_number}{row.house_letter.lower()}"
        house = f"{house}-{row.house_suffix}" if row.house_suffix else house
        letters.append(
            Letter(row.id, code, row.street, house, row.postcode, row.city, areas[row.area_id])
        )
        updates.append({"id": row.id, "stempas_hash": stempas_hash(code)})
        if len(updates) >= BATCH:
            _store_hashes(updates)
        if progress is not None and (number % 1000 == 0 or number == len(rows)):
            progress(number, len(rows))
    if updates:
        _store_hashes(updates)
    audit.record(
        actor,
        "round.stempas_issued",
        voting_round,
        municipality_id=voting_round.municipality_id,
        count=len(letters),
    )
    db.session.commit()
    return letters


def _store_hashes(updates: list[dict]) -> None:
    db.session.execute(update(Elector), updates)  # bulk UPDATE by primary key
    updates.clear()


INVALID_STEMPAS = _l("This stempas code is not valid for this round.")


def find_elector_by_code(voting_round: VotingRound, code_text: str) -> Elector:
    """The elector of this round whose stempas code this is; ValidationFailed otherwise (a
    typo is caught by the check character before the database is asked)."""
    try:
        code = normalise_cheque_code(code_text)
    except InvalidChequeCode:
        raise ValidationFailed(
            _l("This is not a stempas code: check the characters you typed."), field="code"
        ) from None
    elector = db.session.scalar(
        select(Elector).where(
            Elector.round_id == voting_round.id, Elector.stempas_hash == stempas_hash(code)
        )
    )
    if elector is None:
        raise ValidationFailed(INVALID_STEMPAS, field="code")
    return elector


def elector_of(user: User | None, voting_round: VotingRound) -> Elector | None:
    """The elector this account is bound to in the round, if any."""
    if user is None or not getattr(user, "id", None):
        return None
    return db.session.scalar(
        select(Elector).where(Elector.round_id == voting_round.id, Elector.user_id == user.id)
    )


def bind_account(user: User, voting_round: VotingRound, code_text: str) -> Elector:
    """Bind ``user`` to the elector whose stempas code this is: from now on the account votes
    as that elector (once, whichever channel). An elector is bound to one account, and an
    account to one elector per round."""
    if user is None or not getattr(user, "id", None):
        raise PermissionDenied(_l("Log in first."))
    if voting_round.is_closed:
        raise Conflict(_l("This round is closed."))
    elector = find_elector_by_code(voting_round, code_text)
    if elector.user_id == user.id:
        return elector
    if elector.user_id is not None:
        raise Conflict(_l("This stempas is already linked to another account."), field="code")
    if elector_of(user, voting_round) is not None:
        raise Conflict(
            _l("Your account is already linked to a stempas in this round."), field="code"
        )
    # Conditional on "still unbound", so two accounts racing for one stempas cannot both win.
    try:
        bound = db.session.execute(
            update(Elector)
            .where(Elector.id == elector.id, Elector.user_id.is_(None))
            .values(user_id=user.id, bound_at=utcnow())
        ).rowcount
    except IntegrityError:  # the same account bound to another elector a moment ago
        bound = 0
    if bound != 1:
        db.session.rollback()
        raise Conflict(_l("This stempas is already linked to another account."), field="code")
    audit.record(
        user, "round.stempas_linked", voting_round, municipality_id=voting_round.municipality_id
    )
    db.session.commit()
    db.session.refresh(elector)
    return elector


def already_voted(voting_round: VotingRound, elector_id: int) -> VoterRecord | None:
    """The elector's "has voted" record in the round, if any."""
    return db.session.scalar(
        select(VoterRecord).where(
            VoterRecord.round_id == voting_round.id, VoterRecord.elector_id == elector_id
        )
    )


def used_message(record: VoterRecord) -> str:
    """Which channel the elector used, and on which day (never the time)."""
    channel = {
        Channel.ONLINE: _l("online with an account"),
        Channel.CODE: _l("online with the stempas code"),
        Channel.PAPER: _l("on paper"),
    }.get(record.channel, record.channel.value)
    return str(
        _l(
            "This stempas has already been used to vote %(channel)s on %(date)s.",
            channel=channel,
            date=record.voted_at.date().isoformat(),
        )
    )
