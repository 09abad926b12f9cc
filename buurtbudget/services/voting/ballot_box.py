"""The hot path of a voting day: a logged-in resident casts a valid first ballot in one
database statement.

:func:`voting.casting.cast_ballot` is the complete use case: it loads the resident and the
round as ORM objects and explains every refusal, at about 8 ms of CPU a ballot
(bench/profile_cast.py), which on 2 cores caps a voting day near 250 ballots a second. The
confirm view therefore first calls :func:`try_cast`. It handles only the common case and
answers None for everything else (voted before, not eligible, the round closed or not locked
yet, an invalid ballot, a stale session); the view then runs the complete use case, which
decides again and gives the message. Nothing is written on the way to None.

Why the shortcut decides as the complete use case does:

* What makes a ballot valid (ballot type, limits, the projects and their costs, the areas,
  the minimum age) cannot change once voting opens by the round's dates
  (rounds.setup_is_fixed: rounds.update_round and rounds.refresh_projects refuse, and their
  writes re-check the dates under the round's lock). A round is locked at its first ballot,
  which comes after the opening, and the first caster validates again under that lock
  (casting._lock_round_setup), so each process keeps the setup per locked round
  (:class:`BallotSetup`). The statement re-checks the round's ``created_at`` and
  ``locked_at``, so a kept setup of a round that is gone (its id used again) only makes the
  shortcut answer None.
* Everything that can change is checked by the database in the statement that writes: the
  session token (it changes on a password change or log-out everywhere), the account, the
  resident's home area and year of birth, the voting window and closing.
* One ballot per voter: the voter record's unique constraint, as in the complete use case
  (ON CONFLICT DO NOTHING, and then nothing else is written).
* Closing: the round row is read FOR KEY SHARE until commit and counting.close_round
  takes FOR UPDATE first, so a ballot commits before the count or sees the round closed.

On PostgreSQL all of it is one statement (data-modifying WITH queries). SQLite has no such
thing, so there it is a SELECT and three INSERTs in one transaction; SQLite has one writer.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial

import psycopg
from flask import current_app
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Insert,
    Select,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    literal,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import selectinload

from buurtbudget.domain import ballots as ballot_domain
from buurtbudget.extensions import db
from buurtbudget.models import Ballot, Elector, User, VoterRecord, VotingRound
from buurtbudget.models._base import utcnow
from buurtbudget.models.voting import Channel, new_ballot_id, stored_choices
from buurtbudget.services.errors import ValidationFailed
from buurtbudget.services.voting import casting, eligibility
from buurtbudget.services.voting.rounds import with_write_retries

# Setups of locked rounds kept per process; a voting day has a handful of open rounds.
MAX_KEPT_SETUPS = 64


@dataclass(frozen=True)
class BallotSetup:
    """What decides whether a ballot is valid and who may cast it: fixed once voting opens,
    so once the round is locked (see the module doc)."""

    round_id: int
    created_at: datetime
    locked_at: datetime
    ballot_type: str
    rules: ballot_domain.BallotRules
    external_ids: Mapping[int, str]  # project id -> external id (the domain's project key)
    costs: Mapping[str, int]  # external id -> cost in cents
    electorate: eligibility.Electorate  # who may vote: the one definition, voting.eligibility
    allow_ballot_change: bool

    @classmethod
    def of(cls, voting_round: VotingRound) -> BallotSetup:
        return cls(
            round_id=voting_round.id,
            created_at=voting_round.created_at,
            locked_at=voting_round.locked_at,
            ballot_type=voting_round.ballot_type,
            rules=voting_round.ballot_rules(),
            external_ids={p.id: p.external_id for p in voting_round.projects},
            costs={p.external_id: p.cost_cents for p in voting_round.projects},
            electorate=eligibility.Electorate.of(voting_round),
            allow_ballot_change=voting_round.allow_ballot_change,
        )

    def is_valid(self, choices: casting.Choices) -> bool:
        """Whether casting.check_choices would accept the ballot (without its messages)."""
        try:
            ballot = casting.domain_ballot(self.ballot_type, self.external_ids, choices)
        except ValidationFailed:
            return False
        return not ballot_domain.validate_ballot(ballot, self.rules, self.costs)


@dataclass
class _Kept:
    """What one app keeps in this process: per round its setup, and the statements built
    for it; on PostgreSQL the ballot box's own engine (:func:`_engine`). Kept per app, as two
    apps (on two databases) may run in one process."""

    setups: dict[int, BallotSetup] = field(default_factory=dict)
    statements: dict[int, tuple[BallotSetup, object]] = field(default_factory=dict)
    engine: Engine | None = None


def _kept() -> _Kept:
    return current_app.extensions.setdefault("ballot_box", _Kept())


def setup_for(round_id: int) -> BallotSetup | None:
    """The setup of a locked, unclosed round (kept after the first call), else None."""
    kept = _kept().setups
    setup = kept.get(round_id)
    if setup is None:
        options = (selectinload(VotingRound.areas), selectinload(VotingRound.projects))
        voting_round = db.session.get(VotingRound, round_id, options=options)
        if voting_round is None or not voting_round.is_locked or voting_round.is_closed:
            return None
        if len(kept) >= MAX_KEPT_SETUPS:
            kept.clear()
        setup = kept[round_id] = BallotSetup.of(voting_round)
    return setup


def is_kept(round_id: int) -> bool:
    return round_id in _kept().setups


def forget(round_id: int) -> None:
    _kept().setups.pop(round_id, None)


def forget_all() -> None:
    """For tests, which empty the database and so use round ids again."""
    _kept().setups.clear()
    _kept().statements.clear()


@dataclass(frozen=True)
class QuickCast:
    user_id: int
    locale: str | None  # the resident's own language, for the thank-you message
    cast_on: date
    receipt_token: str | None


def try_cast(setup: BallotSetup, session_token: str, choices: casting.Choices) -> QuickCast | None:
    """Cast the ballot of the resident whose session token this is, or answer None (nothing
    written) when this is not the common case; see the module doc."""
    if not setup.is_valid(choices):
        return None
    receipt_token = secrets.token_urlsafe(16) if setup.allow_ballot_change else None
    project_ids, points = stored_choices(choices)
    params = {
        "session_token": session_token,
        "now": utcnow(),
        "ballot_id": new_ballot_id(),
        "cast_on": date.today(),
        "receipt_hash": casting.receipt_hash(receipt_token) if receipt_token else None,
        "project_ids": project_ids,
        "points": points,
    }
    cast = _cast_postgresql if _on_postgresql() else _cast_sqlite
    write = partial(cast, setup, _statements(setup), params)
    try:
        user_id, locale = with_write_retries(write)
    except IntegrityError:
        # Not expected (the checks above come first); the complete use case explains.
        db.session.rollback()
        return None
    if user_id is None:
        return None
    return QuickCast(user_id, locale, params["cast_on"], receipt_token)


# The statements --------------------------------------------------------------------------------

# What changes from one cast to the next; every other parameter is fixed per setup.
CAST_PARAMETERS = (
    "session_token",
    "now",
    "ballot_id",
    "cast_on",
    "receipt_hash",
    "project_ids",
    "points",
)


@dataclass(frozen=True)
class DriverSQL:
    """A statement compiled once to the driver's SQL text, with its fixed parameters (about
    thirty: ids, dates, the age bands) converted once, so that :func:`_cast_postgresql` can
    hand it to the driver as it is. SQLAlchemy has no public "compile once, run on the
    driver" for Core statements, so this keeps what its compiler gives."""

    text: str
    fixed: Mapping[str, object]
    converters: Mapping[str, Callable[[object], object]]

    @classmethod
    def compile(cls, statement: Select, dialect: Dialect, variable: Iterable[str]) -> DriverSQL:
        compiled = statement.compile(dialect=dialect)
        variable = set(variable)
        fixed, converters = {}, {}
        for name in compiled.params:  # the names in the SQL text
            parameter = compiled.binds[name]
            convert = parameter.type.dialect_impl(dialect).bind_processor(dialect)
            if name in variable:
                if convert is not None:
                    converters[name] = convert
            else:
                value = parameter.effective_value
                fixed[name] = convert(value) if convert is not None else value
        if missing := variable - compiled.params.keys():
            raise ValueError(f"the statement has no parameters {sorted(missing)}")
        return cls(compiled.string, fixed, converters)

    def parameters(self, values: Mapping[str, object]) -> dict[str, object]:
        converted = dict(self.fixed)
        for name, value in values.items():
            convert = self.converters.get(name)
            converted[name] = convert(value) if convert is not None else value
        return converted


# Built once per setup and run with the cast's values as parameters: building SQLAlchemy
# constructs of this size costs more CPU than running them.


def _on_postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def _statements(setup: BallotSetup):
    """The statements of ``setup`` for this app's database, built on first use."""
    built = _kept().statements
    kept = built.get(setup.round_id)
    if kept is None or kept[0] is not setup:
        if len(built) >= MAX_KEPT_SETUPS:
            built.clear()
        build = _postgresql_statements if _on_postgresql() else _sqlite_statements
        kept = built[setup.round_id] = (setup, build(setup))
    return kept[1]


def _param(name: str, column) -> BindParameter:
    """A parameter with the column's type (enums and UTC datetimes are stored as such)."""
    return bindparam(name, type_=column.type)


def _round_is_open(setup: BallotSetup) -> list[ColumnElement[bool]]:
    now = _param("now", VotingRound.voting_opens_at)
    return [
        VotingRound.id == setup.round_id,
        VotingRound.created_at == setup.created_at,
        VotingRound.locked_at == setup.locked_at,
        VotingRound.closed_at.is_(None),
        VotingRound.voting_opens_at <= now,
        VotingRound.voting_closes_at > now,
    ]


def _voter(setup: BallotSetup) -> Select:
    """The resident of the session token, if they may vote in the round (the conditions of
    voting.eligibility, which the complete path evaluates too), with what their ballot records."""
    electorate = setup.electorate
    return (
        select(
            User.id,
            Elector.id.label("elector_id"),
            # Area and age band from the register (the elector), never from the account.
            Elector.area_id.label("home_area_id"),
            User.locale,
            eligibility.age_band_sql(Elector.birth_year, electorate.year).label("age_band"),
        )
        .join_from(User, Elector, eligibility.elector_join(electorate))
        .where(
            User.session_token == _param("session_token", User.session_token),
            *eligibility.voter_conditions(electorate),
        )
    )


def _ballot_columns(setup: BallotSetup) -> dict[str, ColumnElement]:
    return {
        "id": _param("ballot_id", Ballot.id),
        "project_ids": _param("project_ids", Ballot.project_ids),
        "points": _param("points", Ballot.points),
        "round_id": literal(setup.round_id),
        "channel": literal(Channel.ONLINE, Ballot.channel.type),
        "cast_on": _param("cast_on", Ballot.cast_on),
        "receipt_hash": _param("receipt_hash", Ballot.receipt_hash),
    }


def _record_columns(setup: BallotSetup) -> list[ColumnElement]:
    return [
        literal(Channel.ONLINE, VoterRecord.channel.type),
        _param("now", VoterRecord.voted_at),
    ]


def _postgresql_statements(setup: BallotSetup) -> DriverSQL:
    """One statement: WITH open_round (read FOR KEY SHARE), voter, record, ballot (choices in it);
    it answers whether the round was open, the new voter record's user and their language."""
    open_round = (
        select(VotingRound.id)
        .where(*_round_is_open(setup))
        .with_for_update(read=True, key_share=True)
        .cte("open_round")
    )
    voter = _voter(setup).cte("voter")
    record = (
        postgresql.insert(VoterRecord)
        .from_select(
            ["round_id", "user_id", "elector_id", "channel", "voted_at"],
            select(
                open_round.c.id, voter.c.id, voter.c.elector_id, *_record_columns(setup)
            ).join_from(open_round, voter, true()),  # both have at most one row
        )
        .on_conflict_do_nothing()
        .returning(VoterRecord.user_id)
        .cte("record")
    )
    ballot_columns = _ballot_columns(setup)
    new_ballot = (
        insert(Ballot)
        .from_select(
            [*ballot_columns, "area_id", "age_band"],
            select(*ballot_columns.values(), voter.c.home_area_id, voter.c.age_band).join_from(
                record, voter, voter.c.id == record.c.user_id
            ),
        )
        .cte("new_ballot")
    )
    statement = select(
        select(func.count()).select_from(open_round).scalar_subquery(),
        select(record.c.user_id).scalar_subquery(),
        select(voter.c.locale).scalar_subquery(),
    ).add_cte(new_ballot)
    return DriverSQL.compile(statement, db.engine.dialect, CAST_PARAMETERS)


def _engine() -> Engine:
    """The ballot box's own connections to the app's database: in autocommit (one statement
    is one transaction, so no BEGIN and COMMIT round trips and no switching a pooled
    connection to autocommit and back) and without the pool's pre-ping, a round trip per
    cast: a connection the server closed is found by the statement itself, which then runs
    once more on a new one (:func:`_cast_postgresql`). One connection per worker thread more
    than the app's own pool; disposed with the app's engine."""
    kept = _kept()
    if kept.engine is None:
        app_engine = db.engine
        kept.engine = create_engine(
            app_engine.url, isolation_level="AUTOCOMMIT", pool_pre_ping=False
        )
        engine = kept.engine
        event.listen(app_engine, "engine_disposed", lambda _engine: engine.dispose())
    return kept.engine


def _cast_postgresql(setup: BallotSetup, statement: DriverSQL, params: dict):
    """Run the statement on a connection of :func:`_engine`, on the driver (psycopg) itself:
    for one fixed statement SQLAlchemy's execution and result layers add nothing but CPU (a
    tenth of a cast's, measured in-process).

    A connection the server closed while it sat in the pool (a restart, a failover) fails
    before the statement runs: the pool's older connections are replaced and the statement is sent
    once more on a new connection, as the pre-ping would have done. Should the server go away
    while running it, the ballot may have been committed: the second try then writes nothing
    (ON CONFLICT) and the complete path tells the resident they voted, as it would on their
    next try after a 503."""
    engine = _engine()
    for attempt in (1, 2):
        pooled = driver = None
        try:
            pooled = engine.raw_connection()  # the pool's own errors are the driver's too
            driver = pooled.driver_connection
            row = driver.execute(statement.text, statement.parameters(params)).fetchone()
        except psycopg.Error as error:
            # Drop this connection rather than return it to the pool in an unknown state, and
            # raise what SQLAlchemy would, so web/errors.py answers as for any other statement
            # (503 when unreachable).
            disconnected = pooled is None or engine.dialect.is_disconnect(error, driver, None)
            if pooled is not None:
                if disconnected:
                    # The server's other connections in the pool are as dead: mark every
                    # connection made before now for a clean close and reconnect at its next
                    # checkout, as SQLAlchemy's own Connection does on a disconnect (a private
                    # method: the raw driver path has no public one). Not engine.dispose(): a
                    # connection another thread holds would go back to the disposed pool and be
                    # dropped unclosed.
                    engine.pool._invalidate(pooled, error)
                else:
                    pooled.invalidate(error)
                if disconnected and attempt == 1:
                    continue
            raise DBAPIError.instance(
                statement.text, None, error, psycopg.Error, connection_invalidated=disconnected
            ) from error
        finally:
            if pooled is not None:
                pooled.close()
        break
    round_open, user_id, locale = row
    if not round_open:
        forget(setup.round_id)  # closed, past its window or gone: load it again
    return user_id, locale


@dataclass(frozen=True)
class _SQLiteStatements:
    voter: Select
    record: Insert
    ballot: Insert


def _sqlite_statements(setup: BallotSetup) -> _SQLiteStatements:
    """The same as _postgresql_statements in three statements (SQLite has no INSERT in WITH)."""
    record = (
        sqlite.insert(VoterRecord)
        .from_select(
            ["round_id", "user_id", "elector_id", "channel", "voted_at"],
            select(
                VotingRound.id,
                _param("user_id", VoterRecord.user_id),
                _param("elector_id", VoterRecord.elector_id),
                *_record_columns(setup),
            ).where(*_round_is_open(setup)),
        )
        .on_conflict_do_nothing()
        .returning(VoterRecord.id)
    )
    ballot = insert(Ballot).values(
        **_ballot_columns(setup),
        area_id=_param("area_id", Ballot.area_id),
        age_band=_param("age_band", Ballot.age_band),
    )
    return _SQLiteStatements(_voter(setup), record, ballot)


def _cast_sqlite(setup: BallotSetup, statements: _SQLiteStatements, params: dict):
    connection = db.session.connection()
    voter = connection.execute(statements.voter, params).first()
    if voter is None:
        db.session.rollback()
        return None, None
    record = connection.execute(
        statements.record, {**params, "user_id": voter.id, "elector_id": voter.elector_id}
    ).first()
    if record is None:
        db.session.rollback()
        forget(setup.round_id)  # perhaps closed or gone: load it again next time
        return None, None
    connection.execute(
        statements.ballot, {**params, "area_id": voter.home_area_id, "age_band": voter.age_band}
    )
    db.session.commit()
    return voter.id, voter.locale
