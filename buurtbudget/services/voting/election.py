"""A voting round as the rules engine's :class:`Election`: its projects, its ballots in the
engine's compact arrays and its pabulib META, read from the database.

Money unit of the election
    The rules see whole euros when every project cost (and the ballot's cost limit) is a whole
    number of euros, as in pabulib files and nearly every round; otherwise cents. Greedy and MES
    give the same result in either unit; only Add1's step depends on it, so it is always one euro
    per voter (``increment=100`` when counting in cents). Amounts in the rules' trace texts are
    in that unit.
"""

from __future__ import annotations

import contextlib
import gc
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from itertools import repeat
from typing import NamedTuple

import numpy as np
from sqlalchemy import Select, String, case, func, literal, null, select, type_coerce

from buurtbudget.domain import ballots as ballot_domain
from buurtbudget.domain.ballots import BallotRules
from buurtbudget.domain.rules import Ballots, Election, Project
from buurtbudget.extensions import db
from buurtbudget.models import Ballot, Channel, RoundProject, VotingRound

EURO = 100
# pabulib's names for how a ballot was cast; imported ballots keep no method.
_VOTING_METHODS = {
    Channel.ONLINE.value: "internet",
    Channel.CODE.value: "internet",
    Channel.PAPER.value: "paper",
}


def money_unit(voting_round: VotingRound) -> int:
    """Cents per unit of the amounts the rule sees (see module doc): 100 or 1."""
    amounts = [p.cost_cents for p in voting_round.projects]
    if voting_round.max_total_cost_cents is not None:
        amounts.append(voting_round.max_total_cost_cents)
    return EURO if all(amount % EURO == 0 for amount in amounts) else 1


def _in_unit(cents: int, unit: int) -> int | Fraction:
    value = Fraction(cents, unit)
    return int(value) if value.denominator == 1 else value


@dataclass(frozen=True, eq=False)
class RoundBallots:
    """A round's ballots as one count reads them: the rules engine's compact arrays
    (``ballots``, with project indices into ``projects``) and, per ballot in the same order,
    what turnout and weighting need. No ORM objects: a city-wide round of 60,000 ballots
    and 300,000 choices takes a few megabytes (bench/tally.py).

    The order is the ballots' ids: random, so it says nothing about when they were cast."""

    projects: tuple[RoundProject, ...]
    ballots: Ballots
    ids: tuple[str, ...]
    area_ids: tuple[int | None, ...]
    age_bands: tuple[str | None, ...]
    channels: tuple[str, ...]
    external_ids: tuple[str | None, ...]

    def __len__(self) -> int:
        return len(self.ids)

    def chosen(self, voter: int) -> list[int]:
        """Indices (into ``projects``) of the projects on ballot ``voter``."""
        return self.ballots.ballot(voter)

    def __iter__(self) -> Iterator[BallotRow]:
        """One light row per ballot (for tests and small rounds; counting uses the arrays)."""
        for voter, ballot_id in enumerate(self.ids):
            project_ids = [self.projects[i].id for i in self.ballots.ballot(voter)]
            yield BallotRow(
                ballot_id,
                self.area_ids[voter],
                self.age_bands[voter],
                self.channels[voter],
                self.external_ids[voter],
                tuple(project_ids),
            )


class BallotRow(NamedTuple):
    id: str
    area_id: int | None
    age_band: str | None
    channel: str
    external_id: str | None
    project_ids: tuple[int, ...]


# Rows fetched from the database at a time: memory stays flat however large the round (with
# the batches fetched ahead, 20,000 cost Warszawa's count 11 MB more and no time).
READ_BATCH = 10_000


def _stream(statement: Select) -> Iterator[list[tuple]]:
    """The rows of ``statement`` in batches of plain tuples, straight from the driver on the
    session's connection and transaction: SQLAlchemy's result rows cost more than the query
    for a round of 300,000 choices. On PostgreSQL a server-side cursor, so the rows never sit
    in memory all at once. The statement's only parameters are whole numbers, written in."""
    connection = db.session.connection()
    sql = str(statement.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    driver = connection.connection.driver_connection
    postgresql = connection.dialect.name == "postgresql"
    cursor = driver.cursor(name="read_ballots") if postgresql else driver.cursor()
    try:
        cursor.execute(sql)
        if postgresql:
            yield from _fetched_ahead(cursor)
        else:
            while batch := cursor.fetchmany(READ_BATCH):
                yield batch
    finally:
        cursor.close()


def _fetched_ahead(cursor) -> Iterator[list[tuple]]:
    """The batches of ``cursor``, each next one fetched by a helper thread while the caller
    parses this one: the database's work and this process's overlap (psycopg lets other
    threads run while it waits for the server): a million ballots read in 1.6 s instead of
    1.9 s (bench/tally.py). At most two batches wait; the thread ends with the iteration, also
    when the caller stops early."""
    batches: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def fetch() -> None:
        try:
            while not stop.is_set():
                batch = cursor.fetchmany(READ_BATCH)
                batches.put(batch)
                if not batch:
                    return
        except BaseException as error:  # noqa: BLE001 - handed to the caller, raised there
            batches.put(error)

    fetcher = threading.Thread(target=fetch, name="read_ballots", daemon=True)
    fetcher.start()
    try:
        while True:
            batch = batches.get()
            if isinstance(batch, BaseException):
                raise batch
            if not batch:
                return
            yield batch
    finally:
        stop.set()
        while fetcher.is_alive():  # unblock a put, then let the thread finish its fetch
            with contextlib.suppress(queue.Empty):
                batches.get(timeout=0.05)
        fetcher.join()


def _as_text(column, postgresql: bool):
    """A ballot's choice array as comma-separated text: PostgreSQL's array written out,
    SQLite's column as stored (see models._base.IntegerList)."""
    return func.array_to_string(column, literal(",")) if postgresql else column


def _length(column, postgresql: bool):
    """The number of entries of a ballot's choice array (SQLite: commas + 1, if any)."""
    if postgresql:
        return func.cardinality(column)
    commas = func.length(column) - func.length(func.replace(column, ",", ""))
    return case((column == "", 0), else_=commas + 1)


def _ballot_statement(voting_round: VotingRound, cumulative: bool, postgresql: bool) -> Select:
    """One row per ballot, in the order of the ballots' ids (byte order, as Python's): its own
    columns and its choices' project ids (and points, for cumulative ballots) as text. The
    numbers are parsed by numpy in one go instead of becoming a Python object each."""
    return (
        select(
            Ballot.id,
            Ballot.area_id,
            Ballot.age_band,
            type_coerce(Ballot.channel, String),
            Ballot.external_id,
            _length(Ballot.project_ids, postgresql),
            _as_text(Ballot.project_ids, postgresql),
            _as_text(Ballot.points, postgresql) if cumulative else null(),
        )
        .where(Ballot.round_id == voting_round.id)
        .order_by(Ballot.id)  # bytewise on both databases (see Ballot.id), from an index
    )


def read_ballots(voting_round: VotingRound) -> RoundBallots:
    """Every ballot of the round with its choices, in ONE streaming query, straight into
    :class:`RoundBallots`. Counting calls this once per count and hands the result to the
    weighting, the rule and the stored results.

    The database sends one row per ballot in the order of the ballots' ids, with its choices
    as text; numpy parses all choices at once and puts each ballot's projects in project
    order (by project id for cumulative ballots), as the rules and the stored results
    expect. No Python object per choice: a round of 300,000 choices reads in a tenth of a
    second of this process's time on PostgreSQL (bench/tally.py)."""
    # Python's cycle collector would walk the growing lists again and again (half the time
    # of the read); ballots' strings and tuples make no cycles.
    paused = gc.isenabled()
    gc.disable()
    try:
        return _read_ballots(voting_round)
    finally:
        if paused:
            gc.enable()


def _read_ballots(voting_round: VotingRound) -> RoundBallots:
    projects = tuple(voting_round.projects)
    cumulative = voting_round.ballot_type == ballot_domain.CUMULATIVE
    postgresql = db.session.connection().dialect.name == "postgresql"
    ids: list[str] = []
    area_ids: list[int | None] = []
    age_bands: list[str | None] = []
    channels: list[str] = []
    external_ids: list[str | None] = []
    sizes: list[int] = []
    chosen: list[np.ndarray] = []  # per batch: the project ids of its choices
    given: list[np.ndarray] = []  # per batch: their points (cumulative ballots)
    # A handful of age bands and channels: one string object each, not one per ballot.
    same: dict[str | None, str | None] = {}
    for batch in _stream(_ballot_statement(voting_round, cumulative, postgresql)):
        columns = tuple(zip(*batch, strict=True))
        ids.extend(columns[0])
        area_ids.extend(columns[1])
        age_bands.extend(map(same.setdefault, columns[2], columns[2]))
        channels.extend(map(same.setdefault, columns[3], columns[3]))
        external_ids.extend(columns[4])
        sizes.extend(columns[5])
        chosen.append(_numbers(columns[6]))
        if cumulative:
            given.append(_points(columns[7], columns[5]))
        del columns, batch
    offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    del sizes
    entries, points = _choices(projects, chosen, given if cumulative else None, offsets)
    if any(external_ids):
        voter_ids = [
            external_id or str(number) for number, external_id in enumerate(external_ids, start=1)
        ]
    else:  # ballots cast here: numbered (map and range run in C, no Python loop)
        voter_ids = list(map(str, range(1, len(external_ids) + 1)))
    methods = list(map(_VOTING_METHODS.get, channels, repeat("", len(channels))))
    ballots = Ballots(
        offsets,
        entries,
        points,
        voter_ids=voter_ids,
        voter_columns={"voting_method": methods} if any(methods) else None,
    )
    return RoundBallots(
        projects,
        ballots,
        tuple(ids),
        tuple(area_ids),
        tuple(age_bands),
        tuple(channels),
        tuple(external_ids),
    )


def _numbers(texts: tuple[str | None, ...]) -> np.ndarray:
    """The whole numbers in ``texts`` (comma-separated, None for none), in order, parsed by
    numpy in one go (project ids and points are 32-bit integers in the database)."""
    joined = ",".join(text for text in texts if text)
    if not joined:
        return np.zeros(0, dtype=np.int32)
    return np.fromstring(joined, dtype=np.int32, sep=",")


def _points(texts: tuple[str | None, ...], sizes: tuple[int, ...]) -> np.ndarray:
    """The points of a batch of cumulative ballots, in the order of their choices: a ballot
    without stored points has one point for each choice (models.voting.stored_choices)."""
    filled = [text or ",".join("1" * size) for text, size in zip(texts, sizes, strict=True)]
    return _numbers(tuple(filled))


# Up to this project id, project ids become indices through a table (an array lookup a
# choice, a tenth of a second less for four million choices than a binary search).
LOOKUP_TABLE_MAX_ID = 4_000_000


def _indices(known: np.ndarray, project_ids: np.ndarray) -> np.ndarray:
    """Per project id in ``project_ids``, an index into ``known`` (the round's project ids);
    for an id not in ``known`` some index whose id differs (the caller checks)."""
    if len(known) == 0 or len(project_ids) == 0:
        return np.zeros(len(project_ids), dtype=np.int32)
    top = int(known.max())
    if int(known.min()) >= 0 and top <= LOOKUP_TABLE_MAX_ID:
        table = np.zeros(top + 1, dtype=np.int32)
        table[known] = np.arange(len(known), dtype=np.int32)
        return table[project_ids.clip(0, top)]
    by_id = np.argsort(known).astype(np.int32)
    return by_id[np.searchsorted(known, project_ids, sorter=by_id).clip(0, len(known) - 1)]


def _choices(
    projects: tuple[RoundProject, ...],
    chosen: list[np.ndarray],
    given: list[np.ndarray] | None,
    offsets: np.ndarray,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per choice, ballot by ballot: the project's index into ``projects`` and (cumulative
    ballots, ``given``) its points; each ballot's choices in project order, by project id
    for cumulative ballots (as the ORM read them)."""
    empty = np.zeros(0, dtype=np.int32)
    project_ids = np.concatenate([empty, *chosen])
    points = None if given is None else np.concatenate([empty, *given]).astype(np.int64)
    total = int(offsets[-1])
    if len(project_ids) != total or (points is not None and len(points) != total):
        raise RuntimeError(f"read {len(project_ids)} choices where the ballots count {total}")
    known = np.asarray([project.id for project in projects], dtype=np.int32)
    found = _indices(known, project_ids)
    if total and not (len(known) and np.array_equal(known[found], project_ids)):
        raise RuntimeError("a ballot chooses a project that is not on the round's ballot")
    keys = project_ids if points is not None else found
    # Each ballot's choices in order: usually they are already (project ids follow position).
    disordered = np.diff(keys) <= 0
    starts = offsets[1:-1]  # where the next ballot begins: no order between ballots
    disordered[starts[(starts > 0) & (starts < total)] - 1] = False
    if np.any(disordered):
        owner = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
        order = np.lexsort((keys, owner))
        found = found[order]
        points = points[order] if points is not None else None
    return found, points


def _ballot_rules_in_unit(voting_round: VotingRound, unit: int) -> BallotRules:
    rules = voting_round.ballot_rules()
    if rules.max_total_cost is None:
        return rules
    return BallotRules(
        kind=rules.kind,
        min_length=rules.min_length,
        max_length=rules.max_length,
        max_total_cost=_in_unit(int(rules.max_total_cost), unit),
    )


def _meta(voting_round: VotingRound, unit: int) -> dict[str, str]:
    """pabulib META for the round: the stored rule meta (caps, ...) plus what the round says."""
    meta = {str(k): str(v) for k, v in (voting_round.rule_meta or {}).items()}
    meta.setdefault("description", voting_round.title)
    meta.setdefault("country", "Netherlands")
    meta.setdefault("unit", voting_round.municipality.name)
    meta.setdefault("instance", str(voting_round.id))
    meta.setdefault("currency", "EUR" if unit == EURO else "EUR cents")
    meta.setdefault("language", "nl")
    if voting_round.areas:
        meta.setdefault("district", ", ".join(area.name for area in voting_round.areas))
    if voting_round.voting_opens_at is not None:
        meta.setdefault("date_begin", voting_round.voting_opens_at.date().isoformat())
    if voting_round.voting_closes_at is not None:
        meta.setdefault("date_end", voting_round.voting_closes_at.date().isoformat())
    meta["rule"] = voting_round.rule_name
    limits = {
        "min_length": voting_round.min_projects,
        "max_length": voting_round.max_projects,
        "max_sum_cost": (
            _in_unit(voting_round.max_total_cost_cents, unit)
            if voting_round.max_total_cost_cents is not None
            else None
        ),
        "max_points": voting_round.max_points_per_project,
        "max_sum_points": voting_round.max_total_points,
    }
    for key, value in limits.items():
        if value is not None:
            meta[key] = str(value)
    return meta


def build_election(voting_round: VotingRound, data: RoundBallots | None = None) -> Election:
    """The round as a rules-engine Election (projects, ballots, META); ``data`` the round's
    ballots as :func:`read_ballots` gave them (read now when not given)."""
    data = read_ballots(voting_round) if data is None else data
    unit = money_unit(voting_round)
    return Election(
        budget=_in_unit(voting_round.budget_cents, unit),
        projects=tuple(
            Project(
                id=project.external_id,
                cost=int(_in_unit(project.cost_cents, unit)),
                name=project.name,
                categories=project.categories,
                neighborhoods=project.neighbourhoods,
            )
            for project in data.projects
        ),
        ballots=data.ballots,
        vote_type=voting_round.ballot_type,
        meta=_meta(voting_round, unit),
        ballot_rules=_ballot_rules_in_unit(voting_round, unit),
    )
