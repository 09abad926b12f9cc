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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from itertools import islice

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from buurtbudget.domain.addresses import AddressFileError, ExtractRow, read_register_extract
from buurtbudget.domain.budget import InvalidChequeCode, new_cheque_code, normalise_cheque_code
from buurtbudget.extensions import db
from buurtbudget.models import (
    Address,
    AuditEntry,
    Channel,
    Elector,
    User,
    VoterRecord,
    VotingRound,
)
from buurtbudget.models._base import utcnow
from buurtbudget.services import address_messages, audit
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
    return person_hasher(municipality_id)(person_key)


def person_hasher(municipality_id: int) -> Callable[[str], str]:
    """:func:`person_hash` for many keys of one municipality (the secret read once)."""
    secret, prefix = _secret(), f"{municipality_id}:"

    def hashed(person_key: str) -> str:
        message = (prefix + person_key.strip()).encode()
        return hmac.new(secret, message, hashlib.sha256).hexdigest()

    return hashed


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
    # Electors per area id.
    per_area: dict[int, int] = field(default_factory=dict)


@dataclass
class RegisterPreview(ElectorateImport):
    """What a register extract would give, before anything is written: the counts, and the
    refused lines (the first ``REFUSALS_SHOWN`` as (line, reason); ``refused`` counts all)."""

    refusals: list[tuple[int, str]] = field(default_factory=list)
    refused: int = 0

    def refuse(self, error: AddressFileError) -> None:
        self.refused += 1
        if len(self.refusals) < REFUSALS_SHOWN:
            self.refusals.append((error.line, address_messages.reason(error)))


REFUSALS_SHOWN = 100
# The columns of an elector row, in the order a preview keeps them (services/register_previews).
ELECTOR_COLUMNS = (
    "person_hash",
    "birth_year",
    "area_id",
    "neighbourhood_id",
    "postcode",
    "house_number",
    "house_letter",
    "house_suffix",
    "street",
    "city",
)


def _check_may_replace(actor: User | None, voting_round: VotingRound) -> None:
    if actor is not None:
        require(can_manage_electorate(actor, voting_round))
    if is_frozen(voting_round):
        raise Conflict(FROZEN)


FROZEN = _l("Voting has opened: the electorate of this round is frozen.")


def round_fingerprint(voting_round: VotingRound) -> str:
    """What decides which rows of an extract become electors: a preview is confirmed only
    while these are unchanged."""
    areas = ",".join(str(i) for i in sorted(voting_round.area_ids))
    return f"{voting_round.municipality_id}|{areas}|{voting_round.year}|{voting_round.min_age}"


def _elector_rows(
    voting_round: VotingRound,
    lines: Iterable[str],
    summary: ElectorateImport,
    refuse: Callable[[AddressFileError], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[dict]:
    """The electors of a register extract as rows of the elector table (without round_id),
    counted into ``summary``: the one reading of an extract, for the command line (which
    stops at the first bad line: ``refuse`` None) and for the preview of the staff page
    (which lists every bad line through ``refuse``). The addresses are read here, at once:
    the rows are consumed while the connection is busy writing them (COPY)."""
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
    hashed = person_hasher(municipality_id)

    def bad(line: int, code: str, **params: object) -> None:
        error = AddressFileError(line, code, **params)
        if refuse is None:
            raise error
        refuse(error)

    return _extract_electors(
        read_register_extract(lines, refuse),
        places,
        round_areas,
        min_birth_year,
        hashed,
        summary,
        bad,
        progress,
    )


def _extract_electors(
    extract: Iterator[ExtractRow],
    places: dict[tuple[str, int, str, str], tuple[int, int | None]],
    round_areas: set[int],
    min_birth_year: int,
    hashed: Callable[[str], str],
    summary: ElectorateImport,
    bad: Callable[..., None],
    progress: Callable[[int], None] | None,
) -> Iterator[dict]:
    seen: dict[str, int] = {}
    for row in extract:
        if progress is not None and row.line % PROGRESS_EVERY == 0:
            progress(row.line - 1)
        key = hashed(row.person_key)
        if key in seen:
            bad(row.line, "duplicate_person", first=seen[key])
            continue
        seen[key] = row.line
        place = places.get((row.postcode, row.house.number, row.house.letter, row.house.suffix))
        if place is None:
            bad(row.line, "unknown_address", address=f"{row.postcode} {row.house}")
            continue
        if place[0] not in round_areas:
            summary.outside_areas += 1
            continue
        if row.birth_year > min_birth_year:
            summary.too_young += 1
            continue
        summary.electors += 1
        summary.per_area[place[0]] = summary.per_area.get(place[0], 0) + 1
        yield {
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


def import_register(
    actor: User | None,
    voting_round: VotingRound,
    lines: Iterable[str],
    progress: Callable[[int], None] | None = None,
    reference_date: date | None = None,
) -> ElectorateImport:
    """Replace the round's electorate by the electors of a register extract, all or nothing:
    AddressFileError (nothing written) at the first bad row, also at an address that is not
    in the address file. ``actor`` None is the system (the CLI)."""
    _check_may_replace(actor, voting_round)
    summary = ElectorateImport()
    rows = _elector_rows(voting_round, lines, summary, progress=progress)
    replace_electorate(actor, voting_round, rows, summary, reference_date, via="command line")
    return summary


def preview_register(
    actor: User,
    voting_round: VotingRound,
    lines: Iterable[str],
    keep: Callable[[dict], None],
) -> RegisterPreview:
    """Read a register extract without writing anything: every elector row goes to ``keep``
    (the staff page stores them until the confirmation), every bad line is counted and the
    first ones listed. The electorate is replaced only by :func:`replace_electorate`, and
    only when nothing was refused."""
    _check_may_replace(actor, voting_round)
    preview = RegisterPreview()
    try:
        for row in _elector_rows(voting_round, lines, preview, preview.refuse):
            keep(row)
    except AddressFileError as error:  # the header, or bytes that are no text: nothing read
        preview.refuse(error)
    return preview


def replace_electorate(
    actor: User | None,
    voting_round: VotingRound,
    rows: Iterable[dict],
    summary: ElectorateImport,
    reference_date: date | None = None,
    via: str = "screen",
) -> int:
    """Replace the round's electorate by ``rows`` (elector columns without round_id) in one
    transaction, and audit who did it and how many electors there are now. ``rows`` may be
    a generator that raises AddressFileError: then nothing is written."""
    _check_may_replace(actor, voting_round)
    try:
        # One replacement at a time per round (PostgreSQL; SQLite has one writer anyway).
        db.session.refresh(voting_round, with_for_update=True)
        if is_frozen(voting_round):  # voting opened, or the first ballot, meanwhile
            raise Conflict(FROZEN)
        replaced = electorate_size(voting_round)
        db.session.execute(delete(Elector).where(Elector.round_id == voting_round.id))
        written = _write_electors(voting_round.id, rows)
        audit.record(
            actor,
            "round.electorate_imported",
            voting_round,
            municipality_id=voting_round.municipality_id,
            electors=written,
            replaced=replaced,
            outside_areas=summary.outside_areas,
            too_young=summary.too_young,
            per_area={str(k): v for k, v in sorted(summary.per_area.items())},
            reference_date=reference_date.isoformat() if reference_date else None,
            via=via,
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return written


# The columns of ELECTOR_COLUMNS after round_id (tests/services/test_electorate.py checks).
COPY_ELECTORS = (
    "COPY elector (round_id, person_hash, birth_year, area_id, neighbourhood_id, postcode,"
    " house_number, house_letter, house_suffix, street, city) FROM STDIN"
)
INSERT_ELECTORS = (
    "INSERT INTO elector (round_id, person_hash, birth_year, area_id, neighbourhood_id,"
    " postcode, house_number, house_letter, house_suffix, street, city)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _write_electors(round_id: int, rows: Iterable[dict]) -> int:
    """Write elector rows in the session's transaction, in bulk as pabulib's ballots are
    (services/voting/pabulib.py): COPY on PostgreSQL, executemany on SQLite, a batch at a
    time so memory stays flat. Returns how many were written."""
    values = ((round_id, *(row[c] for c in ELECTOR_COLUMNS)) for row in rows)
    connection = db.session.connection()
    driver = connection.connection.driver_connection
    written = 0
    if connection.dialect.name == "postgresql":
        with driver.cursor() as cursor, cursor.copy(COPY_ELECTORS) as copy:
            for row in values:
                copy.write_row(row)
                written += 1
        return written
    cursor = driver.cursor()
    try:
        while batch := list(islice(values, BATCH)):
            cursor.executemany(INSERT_ELECTORS, batch)
            written += len(batch)
    finally:
        cursor.close()
    return written


def electors_per_area(voting_round: VotingRound) -> dict[int, int]:
    return dict(
        db.session.execute(
            select(Elector.area_id, func.count())
            .where(Elector.round_id == voting_round.id)
            .group_by(Elector.area_id)
        ).all()
    )


def issued_and_linked(voting_round: VotingRound) -> tuple[int, int]:
    """How many electors have a stempas code, and how many are linked to an account: what
    a replacement throws away (new letters are needed)."""
    row = db.session.execute(
        select(func.count(Elector.stempas_hash), func.count(Elector.user_id)).where(
            Elector.round_id == voting_round.id
        )
    ).one()
    return row[0], row[1]


def last_import(voting_round: VotingRound) -> AuditEntry | None:
    """The audit entry of the round's current electorate (who, when, the reference date)."""
    return audit.latest("round.electorate_imported", "VotingRound", voting_round.id)


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
