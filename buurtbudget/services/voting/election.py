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

from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

import numpy as np
from sqlalchemy import Select, String, select, type_coerce

from buurtbudget.domain import ballots as ballot_domain
from buurtbudget.domain.ballots import BallotRules
from buurtbudget.domain.rules import Ballots, Election, Project
from buurtbudget.extensions import db
from buurtbudget.models import Ballot, BallotChoice, Channel, RoundProject, VotingRound

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


# Rows fetched from the database at a time: memory stays flat however large the round.
READ_BATCH = 20_000


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
        while batch := cursor.fetchmany(READ_BATCH):
            yield batch
    finally:
        cursor.close()


def read_ballots(voting_round: VotingRound) -> RoundBallots:
    """Every ballot of the round with its choices, in ONE streaming query, straight into
    :class:`RoundBallots`. Counting calls this once per count and hands the result to the
    weighting, the rule and the stored results.

    The database returns the rows in whatever order its join gives (no sort of hundreds of
    thousands of rows on the server); the ballots are then put in the order of their ids and
    each ballot's projects in project order, as the rules and the stored results expect."""
    projects = tuple(voting_round.projects)
    index = {project.id: position for position, project in enumerate(projects)}
    # Cumulative ballots keep their choices in project id order, approval ones in index order.
    cumulative = voting_round.ballot_type == ballot_domain.CUMULATIVE
    statement = (
        select(
            Ballot.id,
            Ballot.area_id,
            Ballot.age_band,
            type_coerce(Ballot.channel, String),
            Ballot.external_id,
            BallotChoice.project_id,
            BallotChoice.points,
        )
        .select_from(Ballot)
        .outerjoin(BallotChoice, BallotChoice.ballot_id == Ballot.id)
        .where(Ballot.round_id == voting_round.id)
    )
    number: dict[str, int] = {}  # ballot id -> its number in reading order
    rows: list[tuple] = []  # per ballot: id, area, age band, channel, external id
    owners = array("q")  # per choice, the number of its ballot
    flat = array("q")  # per choice, the project's index
    keys = array("q")  # per choice, what orders it within its ballot
    points = array("q")
    for batch in _stream(statement):
        for ballot_id, area_id, age_band, channel, external_id, project_id, value in batch:
            owner = number.get(ballot_id)
            if owner is None:
                owner = number[ballot_id] = len(rows)
                rows.append((ballot_id, area_id, age_band, channel, external_id))
            if project_id is not None:
                owners.append(owner)
                position = index[project_id]
                flat.append(position)
                keys.append(project_id if cumulative else position)
                points.append(value)
    del number
    count = len(rows)
    # Ballots in the order of their (random) ids: it says nothing about when they were cast.
    order = sorted(range(count), key=lambda voter: rows[voter][0])
    rank = np.empty(count, dtype=np.int64)
    rank[np.asarray(order, dtype=np.int64)] = np.arange(count, dtype=np.int64)
    rows = [rows[voter] for voter in order]
    owner = rank[_int64(owners)]
    by_ballot = np.lexsort((_int64(keys), owner))
    entries = _int64(flat)[by_ballot]
    values = _int64(points)[by_ballot]
    offsets = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=count), out=offsets[1:])
    columns = list(zip(*rows, strict=True)) or [()] * 5
    ids, area_ids, age_bands, channels, external_ids = (tuple(column) for column in columns)
    voter_ids = [
        external_id or str(number) for number, external_id in enumerate(external_ids, start=1)
    ]
    methods = [_VOTING_METHODS.get(channel, "") for channel in channels]
    ballots = Ballots(
        offsets,
        entries.astype(np.int32),
        values if cumulative else None,
        voter_ids=voter_ids,
        voter_columns={"voting_method": methods} if any(methods) else None,
    )
    return RoundBallots(projects, ballots, ids, area_ids, age_bands, channels, external_ids)


def _int64(values: array) -> np.ndarray:
    return np.frombuffer(values, dtype=np.int64) if len(values) else np.zeros(0, np.int64)


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
