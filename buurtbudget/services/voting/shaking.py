"""Shaking the ballot box: the ballots of a round rewritten in a random order with new ids, as
a real ballot box is emptied and mixed before the count.

Why a shake, and not something at casting
    Casting is one transaction that writes the voter record ("has voted": who, when) and the
    anonymous ballot. Whatever that transaction writes carries its transaction id and lands
    where the database appends rows in time order: on PostgreSQL the system column ``xmin``
    of a ballot row EQUALS the ``xmin`` of its voter record (an exact link), and the heap
    order (``ctid``) follows the order of voting (Spearman rho 0.99 against the voter
    records, tests/services/test_unlinkable_ballot_box.py). No trick per cast removes that:
    writing the ballot in a separate transaction only moves the link to the time order.

What a shake does (:func:`mix_ballots`, in the caller's transaction, under the round's lock)
    It reads the ids of the round's cast ballots and gives each a NEW random 128-bit id (from
    :mod:`secrets`, as at casting); then, with set-based SQL through temporary tables (no ORM
    objects), it deletes the ballots (their choices are in their rows) and inserts them again
    in the order of their new ids. That order is uniformly random and owes nothing to the
    order of casting (a separate shuffle would add nothing; writing in key order keeps the
    indexes' pages sequential). Channel, area, age band, the DATE cast, the receipt hash,
    the paper number and the choices stay as they were, so the count, receipts and paper
    numbers are unchanged. After it every ballot row carries the one transaction id of the
    shake, and the physical order is that of the new ids. The entered papers of the round's
    register (whose ``entered`` flag was set in the casting transaction, so their ``xmin``
    equals the voter record's and their heap order follows entry) are written back in the
    order of their ballots' new ids, keeping their own ids. The audit entry of a paper's
    entry no longer names the paper: its time and order matched the paper voter records.
    :func:`reclaim` then runs ``VACUUM (ANALYZE)`` on PostgreSQL (outside a transaction, on its
    own connection), so that the space of the dead rows in cast order is reclaimed.

When
    Closing a round (voting.counting.close_round: web, ``flask rounds close``, the demo) shakes
    in the closing transaction, after taking the round's FOR UPDATE lock that casting and
    paper entry wait for, and before the count; a failed close rolls the shake back too.
    ``flask rounds shake ID`` (:func:`shake_round`, audited, also on a closed round) lets a
    municipality mix an open round periodically, e.g. nightly from cron: it takes the same
    lock, so ballots cast in that round meanwhile wait and are mixed in or come after (a
    round of 61,668 ballots holds the lock for 2 s on PostgreSQL on a quiet two-core
    machine, bench/shake.py: shake at a quiet hour; other rounds are not held up). Shaking is
    idempotent: the round keeps the same ballots, the same count and the same receipts.
    Changing a ballot with its receipt after a shake works: the receipt hash moved with it.

What remains, said plainly
    * During voting the database holds the order of casting for ballots cast since the last
      shake (and on PostgreSQL their xmin); until the round closes, only shaking often
      narrows that window.
    * The write-ahead log, replicas and backups made before a shake hold the cast order, as
      do freed pages until they are overwritten (a plain VACUUM makes the space reusable; it
      does not wipe it). VACUUM cannot reclaim rows that an older open transaction may still
      see; ``flask rounds shake`` can be run again later. Backups and the WAL archive need the
      separation of duties the secret ballot always needed at the storage level.
    * A ballot changed with its receipt after a shake is rewritten in its own transaction
      (no voter record is written then, so no xmin link, but it is no longer mixed until the
      next shake).
    * The voter records keep their ids in the order of voting and the moment (``voted_at``);
      after a shake nothing on a ballot points at them but its channel, area, age band and
      date, a cell that can be small (see voting.casting's module doc).
    * Imported pabulib ballots (``external_id``) are left alone: they have no voter records.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text

from buurtbudget.extensions import db
from buurtbudget.models import Channel, User, VotingRound
from buurtbudget.models.voting import new_ballot_id
from buurtbudget.services import audit
from buurtbudget.services.permissions import require
from buurtbudget.services.voting.rounds import ROUND_DATES, can_manage_round, with_write_retries

Progress = Callable[[str, int, int], None]
"""``progress(what, done, total)``, e.g. for the CLI ("new ids: 20,000 / 61,668")."""

# Mapping rows handed to the database at a time.
BATCH = 20_000


def mix_ballots(actor: User | None, voting_round: VotingRound, progress: Progress | None = None):
    """Rewrite the round's cast ballots in a random order with new ids (see the module doc),
    in the caller's transaction; the caller holds the round's lock and commits. Audited.
    Returns the number of ballots mixed."""
    session = db.session
    round_id = voting_round.id
    old_ids = list(
        session.scalars(
            text("SELECT id FROM ballot WHERE round_id = :round_id AND channel != :imported"),
            {"round_id": round_id, "imported": Channel.IMPORTED.value},
        )
    )
    total = len(old_ids)
    # New random ids, and the rows written back in the order of them: a uniformly random
    # order that owes nothing to the order of casting. (Inserting in key order also keeps
    # the indexes' pages sequential, several times faster than a shuffle's order.)
    pairs = sorted((new_ballot_id(), old_id) for old_id in old_ids)
    del old_ids
    for name in ("shake_map", "shaken_ballot", "shaken_sheet"):
        session.execute(text(f"DROP TABLE IF EXISTS {name}"))  # left by a failed attempt
    session.execute(
        text(
            "CREATE TEMPORARY TABLE shake_map (old_id VARCHAR(32) PRIMARY KEY,"
            " new_id VARCHAR(32) NOT NULL, position INTEGER NOT NULL)"
        )
    )
    insert_map = text("INSERT INTO shake_map (old_id, new_id, position) VALUES (:o, :n, :p)")
    for start in range(0, total, BATCH):
        rows = [
            {"o": old_id, "n": new_id, "p": start + offset}
            for offset, (new_id, old_id) in enumerate(pairs[start : start + BATCH])
        ]
        session.execute(insert_map, rows)
        if progress is not None:
            progress("new ids", start + len(rows), total)
    del pairs
    statements = (
        # Copies first, keyed by the new id and the shuffled position.
        "CREATE TEMPORARY TABLE shaken_ballot AS SELECT m.position, m.new_id AS id,"
        " b.round_id, b.channel, b.paper_number, b.external_id, b.area_id, b.age_band,"
        " b.cast_on, b.receipt_hash, b.project_ids, b.points"
        " FROM ballot b JOIN shake_map m ON m.old_id = b.id",
        # Out of the box (receipt hash and paper number are unique: the old rows go first) ...
        "DELETE FROM ballot WHERE id IN (SELECT old_id FROM shake_map)",
        # ... and back in, in the shuffled order.
        "INSERT INTO ballot (id, round_id, channel, paper_number, external_id, area_id,"
        " age_band, cast_on, receipt_hash, project_ids, points) SELECT id, round_id, channel,"
        " paper_number, external_id, area_id, age_band, cast_on, receipt_hash, project_ids,"
        " points FROM shaken_ballot ORDER BY position",
        # The entered papers of the register: 'entered' was set in the casting transaction
        # (same xmin as the voter record, heap in entry order) and the paper's number is on
        # the ballot, so they are mixed too (same ids; their keyings were deleted at entry).
        "CREATE TEMPORARY TABLE shaken_sheet AS SELECT b.position, s.id, s.round_id,"
        " s.area_id, s.number, s.issued_at, s.issued_by_id, s.entered"
        " FROM paper_ballot_sheet s JOIN shaken_ballot b ON b.paper_number = s.number"
        " WHERE s.round_id = :round_id AND s.entered",
        "DELETE FROM paper_ballot_sheet WHERE id IN (SELECT id FROM shaken_sheet)",
        "INSERT INTO paper_ballot_sheet (id, round_id, area_id, number, issued_at,"
        " issued_by_id, entered) SELECT id, round_id, area_id, number, issued_at,"
        " issued_by_id, entered FROM shaken_sheet ORDER BY position",
        "DROP TABLE shaken_sheet",
        "DROP TABLE shaken_ballot",
        "DROP TABLE shake_map",
    )
    for statement in statements:
        session.execute(text(statement), {"round_id": round_id} if ":round_id" in statement else {})
    # ORM objects of the old rows must not be written back or shown.
    session.expire_all()
    if progress is not None:
        progress("ballots rewritten", total, total)
    audit.record(
        actor,
        "round.ballots_mixed",
        voting_round,
        municipality_id=voting_round.municipality_id,
        ballots=total,
    )
    return total


def reclaim(progress: Progress | None = None) -> None:
    """On PostgreSQL: VACUUM the ballot tables, outside any transaction, so that the dead rows
    of the cast order are reclaimed (see the module doc). Call after the shake committed."""
    if db.engine.dialect.name != "postgresql":
        return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in ("ballot", "paper_ballot_sheet"):
            connection.execute(text(f"VACUUM (ANALYZE) {table}"))
            if progress is not None:
                progress(f"vacuum {table}", 1, 1)


def shake_round(
    actor: User | None, voting_round: VotingRound, *, progress: Progress | None = None
) -> int:
    """Shake the round's ballot box now (``actor`` None: the system, e.g. cron): under the
    lock closing takes, mix the ballots, audit, commit, then reclaim. Open or closed rounds;
    the count and the receipts stay the same. Returns the number of ballots mixed."""
    if actor is not None:
        require(can_manage_round(actor, voting_round))

    def write() -> int:
        # FOR UPDATE, as closing: waits for ballots being cast (FOR KEY SHARE) and keeps new
        # ones out until the mixed box is committed.
        db.session.refresh(voting_round, ROUND_DATES, with_for_update=True)
        mixed = mix_ballots(actor, voting_round, progress)
        db.session.commit()
        return mixed

    mixed = with_write_retries(write)
    reclaim(progress)
    return mixed
