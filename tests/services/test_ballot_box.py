"""The ballot box's hot path (services/voting/ballot_box.py): it writes exactly what the
complete use case writes, and answers None, writing nothing, whenever it is not the common case."""

from __future__ import annotations

import gc
import threading
import warnings
from datetime import date, timedelta

import pytest
from sqlalchemy import create_engine, select, text, update

from buurtbudget.extensions import db
from buurtbudget.models import Ballot, Channel, User, VoterRecord, VotingRound
from buurtbudget.models._base import utcnow
from buurtbudget.services.voting import ballot_box, casting, counting, eligibility, shaking
from tests.voting_world import tanthof_round, written_counts

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def world(make):
    world = tanthof_round(make)
    # The first ballot locks the round (the complete use case); the hot path starts after it.
    first_voter = make.resident(world["area"], birth_year=1960)
    casting.cast_ballot(first_voter, world["round"], {world["projects"][0]: 1})
    return world


def _setup(world) -> ballot_box.BallotSetup:
    setup = ballot_box.setup_for(world["round"].id)
    assert setup is not None
    return setup


def test_casts_what_the_complete_use_case_casts(make, world):
    resident = make.resident(world["area"], birth_year=2005, locale="nl")
    first, second, _ = world["projects"]
    cast = ballot_box.try_cast(_setup(world), resident.session_token, {first: 1, second: 1})
    assert cast == ballot_box.QuickCast(resident.id, "nl", date.today(), None)
    db.session.expire_all()
    record = db.session.scalars(select(VoterRecord).where(VoterRecord.user_id == resident.id)).one()
    assert (record.round_id, record.channel) == (world["round"].id, Channel.ONLINE)
    assert abs(record.voted_at - utcnow()) < timedelta(minutes=1)
    ballots = db.session.scalars(select(Ballot).where(Ballot.age_band == "age_15_24")).all()
    assert len(ballots) == 1  # born 2005: 15-24 in the round's year, as age_band_for says
    ballot = ballots[0]
    assert eligibility.age_band_for(2005, world["round"].year) == "age_15_24"
    assert (ballot.round_id, ballot.channel, ballot.area_id) == (
        world["round"].id,
        Channel.ONLINE,
        world["area"].id,
    )
    assert (ballot.cast_on, ballot.receipt_hash, ballot.paper_number) == (date.today(), None, None)
    assert ballot.choices == {first: 1, second: 1}
    assert (ballot.project_ids, ballot.points) == (sorted([first, second]), None)
    assert casting.has_voted(resident, world["round"])


def test_refuses_without_writing_when_it_is_not_the_common_case(make, world):
    round_, area, other = world["round"], world["area"], world["other"]
    first, second, third = world["projects"]
    setup = _setup(world)
    resident = make.resident(area)
    cases = {
        "unknown session": ("not-a-session-token", {first: 1}),
        "another area": (make.resident(other).session_token, {first: 1}),
        "too young": (make.resident(area, birth_year=round_.year - 10).session_token, {first: 1}),
        "no year of birth": (make.resident(area, birth_year=None).session_token, {first: 1}),
        "closed account": (
            make.resident(area, is_active_account=False).session_token,
            {first: 1},
        ),
        "too many projects": (resident.session_token, {first: 1, second: 1, third: 1}),
        "a project of no round": (resident.session_token, {first: 1, 10**6: 1}),
        "points on an approval ballot": (resident.session_token, {first: 2}),
    }
    before = written_counts()
    for name, (token, choices) in cases.items():
        assert ballot_box.try_cast(setup, token, choices) is None, name
        assert written_counts() == before, name
    # ... and the same resident with a valid ballot is accepted, once.
    assert ballot_box.try_cast(setup, resident.session_token, {first: 1}) is not None
    assert written_counts() == (before[0] + 1, before[1] + 1, before[2] + 1)
    assert ballot_box.try_cast(setup, resident.session_token, {second: 1}) is None
    assert written_counts() == (before[0] + 1, before[1] + 1, before[2] + 1)


def test_an_unlocked_or_closed_round_has_no_setup(make):
    world = tanthof_round(make)
    assert ballot_box.setup_for(world["round"].id) is None  # nobody voted yet: not locked
    assert ballot_box.setup_for(10**6) is None


def test_the_round_is_checked_when_writing_not_when_kept(make, world):
    """The kept setup of a round that closed, ended or is gone makes the hot path answer None
    (and forget it), never write."""
    round_id, first = world["round"].id, world["projects"][0]
    setup = _setup(world)
    residents = [make.resident(world["area"]) for _ in range(3)]
    before = written_counts()

    db.session.execute(
        update(VotingRound)
        .where(VotingRound.id == round_id)
        .values(voting_closes_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    assert ballot_box.try_cast(setup, residents[0].session_token, {first: 1}) is None
    assert not ballot_box.is_kept(round_id)  # loaded again next time

    db.session.execute(
        update(VotingRound)
        .where(VotingRound.id == round_id)
        .values(voting_closes_at=utcnow() + timedelta(days=1), closed_at=utcnow())
    )
    db.session.commit()
    assert ballot_box.try_cast(setup, residents[1].session_token, {first: 1}) is None
    assert ballot_box.setup_for(round_id) is None

    # A kept setup of an earlier round with the same id (ids are used again after a reset).
    stale = ballot_box.BallotSetup(
        **{**setup.__dict__, "locked_at": setup.locked_at - timedelta(1)}
    )
    db.session.execute(update(VotingRound).values(closed_at=None))
    db.session.commit()
    assert ballot_box.try_cast(stale, residents[2].session_token, {first: 1}) is None
    assert written_counts() == before


def test_a_receipt_when_ballots_may_change(make):
    world = tanthof_round(make, allow_ballot_change=True)
    first, second, _ = world["projects"]
    casting.cast_ballot(make.resident(world["area"]), world["round"], {first: 1})
    resident = make.resident(world["area"])
    cast = ballot_box.try_cast(_setup(world), resident.session_token, {second: 1})
    assert cast is not None and cast.receipt_token
    own = casting.ballot_for_receipt(world["round"], cast.receipt_token)
    assert own.choices == {second: 1}
    # Changing goes the complete way (the voter record exists): the hot path refuses.
    assert ballot_box.try_cast(_setup(world), resident.session_token, {first: 1}) is None


def test_cumulative_ballots_keep_their_points(make):
    world = tanthof_round(
        make, ballot_type="cumulative", max_points_per_project=5, max_total_points=6
    )
    first, second, third = world["projects"]
    casting.cast_ballot(make.resident(world["area"]), world["round"], {first: 1})
    resident = make.resident(world["area"])
    setup = _setup(world)
    assert ballot_box.try_cast(setup, resident.session_token, {first: 6}) is None  # > 5 a project
    assert ballot_box.try_cast(setup, resident.session_token, {first: 4, second: 2}) is not None
    db.session.expire_all()
    ballot = db.session.scalars(select(Ballot).where(Ballot.points.is_not(None))).one()
    assert ballot.choices == {first: 4, second: 2}
    assert third  # not chosen


def test_age_band_sql_matches_age_band_for(make):
    make.resident(make.area(), birth_year=None)
    for birth_year in range(1900, 2031, 3):
        make.resident(make.area(), birth_year=birth_year)
    for year in (2026, 2031):
        rows = db.session.execute(
            select(User.birth_year, eligibility.age_band_sql(User.birth_year, year))
        ).all()
        assert len(rows) > 40
        for birth_year, band in rows:
            assert band == eligibility.age_band_for(birth_year, year), (birth_year, year)


def _waits_for_lock(app, round_id: int, lock: dict, action, before_release=None):
    """Hold ``lock`` (with_for_update's arguments) on the round row in another connection, run
    ``action()`` in a thread with an app context, check that it waits, then run
    ``before_release(connection)``, commit and return what ``action`` returned."""
    other = create_engine(db.engine.url)
    outcome = {}
    try:
        with other.connect() as connection:
            connection.execute(
                select(VotingRound.id).where(VotingRound.id == round_id).with_for_update(**lock)
            )

            def run() -> None:
                with app.app_context(), app.test_request_context():
                    outcome["value"] = action()
                    db.session.remove()

            thread = threading.Thread(target=run)
            thread.start()
            thread.join(timeout=1.5)
            assert thread.is_alive(), f"should wait for the lock {lock}"
            if before_release is not None:
                before_release(connection)
            connection.commit()
            thread.join(timeout=30)
            assert not thread.is_alive()
    finally:
        other.dispose()
    return outcome["value"]


def test_closing_waits_for_ballots_being_cast_and_keeps_later_ones_out(app, make, world):
    """Close takes the round row FOR UPDATE: a cast that comes while the count runs waits,
    then sees the round closed and writes nothing (PostgreSQL; SQLite has one writer)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL only")
    round_id, first = world["round"].id, world["projects"][0]
    setup = _setup(world)
    resident = make.resident(world["area"])
    token = resident.session_token
    db.session.commit()

    def close(connection) -> None:
        connection.execute(
            text("UPDATE voting_round SET closed_at = now() WHERE id = :id"), {"id": round_id}
        )

    cast = _waits_for_lock(
        app,
        round_id,
        {},  # FOR UPDATE
        lambda: ballot_box.try_cast(setup, token, {first: 1}),
        before_release=close,
    )
    assert cast is None
    db.session.expire_all()
    assert not casting.has_voted(resident, world["round"])


def test_close_round_waits_for_a_ballot_being_cast(app, make, world):
    """A cast in progress holds FOR KEY SHARE on the round until it commits; close_round's
    FOR UPDATE waits for it, so the count includes that ballot (PostgreSQL)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL only")

    round_id = world["round"].id
    db.session.execute(
        update(VotingRound)
        .where(VotingRound.id == round_id)
        .values(voting_closes_at=utcnow() + timedelta(seconds=3))
    )
    db.session.commit()

    def close():
        voting_round = db.session.get(VotingRound, round_id)
        now = utcnow() + timedelta(seconds=5)
        return counting.close_round(None, voting_round, now=now)

    assert _waits_for_lock(app, round_id, {"read": True, "key_share": True}, close) is not None


def _statement(sql: str) -> ballot_box.DriverSQL:
    return ballot_box.DriverSQL(sql, {}, {})


def _pool_still_works() -> None:
    """Every connection the pools hand out works; the app's are not left in autocommit."""
    db.session.remove()
    for engine, autocommit in ((db.engine, False), (ballot_box._engine(), True)):
        held = [engine.connect() for _ in range(engine.pool.checkedin() + 1)]
        try:
            for connection in held:
                assert connection.scalar(text("SELECT 1")) == 1
                assert connection.connection.driver_connection.autocommit is autocommit
        finally:
            for connection in held:
                connection.close()


def test_a_failing_statement_raises_as_sqlalchemy_would_and_spoils_no_connection(world):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the driver path is PostgreSQL's")
    from sqlalchemy.exc import DataError

    with pytest.raises(DataError) as raised:
        ballot_box._cast_postgresql(_setup(world), _statement("SELECT 1/0, 1, 'nl'"), {})
    assert not raised.value.connection_invalidated
    _pool_still_works()


def test_a_lost_connection_is_dropped_and_answered_as_unavailable(world):
    """Web/errors.py answers 503 for an OperationalError; the next request gets a new
    connection (the dead one is not returned to the pool)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the driver path is PostgreSQL's")
    from sqlalchemy.exc import OperationalError

    killed = "SELECT pg_terminate_backend(pg_backend_pid()), 1, 'nl'"
    for _ in range(ballot_box._engine().pool.size() + 1):  # more than the pool holds
        with pytest.raises(OperationalError) as raised:
            ballot_box._cast_postgresql(_setup(world), _statement(killed), {})
        assert raised.value.connection_invalidated
    _pool_still_works()


def test_the_driver_statement_keeps_fixed_parameters_and_converts_the_rest():
    from sqlalchemy import bindparam, literal
    from sqlalchemy.dialects import postgresql

    from buurtbudget.models._base import UTCDateTime

    statement = select(
        literal(Channel.ONLINE, Ballot.channel.type), bindparam("now", type_=UTCDateTime())
    )
    driver = ballot_box.DriverSQL.compile(statement, postgresql.dialect(), ["now"])
    assert list(driver.fixed.values()) == ["online"]
    amsterdam = utcnow().astimezone(__import__("zoneinfo").ZoneInfo("Europe/Amsterdam"))
    converted = driver.parameters({"now": amsterdam})
    assert converted["now"] == amsterdam and converted["now"].tzname() == "UTC"
    with pytest.raises(ValueError, match="no parameters"):
        ballot_box.DriverSQL.compile(statement, postgresql.dialect(), ["now", "missing"])


def test_no_connection_to_be_had_is_answered_as_unavailable(world, monkeypatch):
    """The pool's connect raises the driver's errors; the hot path raises them as
    SQLAlchemy's OperationalError, which web/errors.py answers with a 503."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the driver path is PostgreSQL's")
    import psycopg
    from sqlalchemy.exc import OperationalError

    def refused():
        raise psycopg.OperationalError("connection refused")

    setup = _setup(world)
    with monkeypatch.context() as patched, pytest.raises(OperationalError) as raised:
        patched.setattr(ballot_box._engine(), "raw_connection", refused)
        ballot_box._cast_postgresql(setup, _statement("SELECT 1, 1, 'nl'"), {})
    assert raised.value.connection_invalidated


def test_a_connection_the_server_closed_in_the_pool_is_replaced_without_a_ping(make, world):
    """The ballot box's connections are not pre-pinged (a round trip per cast): after a
    restart the statement finds its connection closed before it ran and runs once more on a
    new one; the resident's ballot counts once."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the driver path is PostgreSQL's")
    setup = _setup(world)
    first, second, _ = world["projects"]
    voter = make.resident(world["area"], birth_year=1980)
    assert ballot_box.try_cast(setup, voter.session_token, {first: 1}) is not None
    engine = ballot_box._engine()
    held = [engine.connect() for _ in range(engine.pool.checkedin())]
    backends = [connection.scalar(text("SELECT pg_backend_pid()")) for connection in held]
    for connection in held:
        connection.close()
    assert backends
    # What a restart leaves in the pool: connections whose server process has ended.
    admin = create_engine(db.engine.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as other:
        for backend in backends:
            assert other.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
    admin.dispose()
    before = written_counts()
    resident = make.resident(world["area"], birth_year=1980)
    cast = ballot_box.try_cast(setup, resident.session_token, {first: 1, second: 1})
    assert cast is not None and cast.user_id == resident.id
    db.session.expire_all()
    assert written_counts() == (before[0] + 1, before[1] + 1, before[2] + 2)
    _pool_still_works()


def test_a_disconnect_leaves_no_connection_of_another_worker_unclosed(make, world):
    """A worker thread holds a live connection of the ballot box while another finds the
    pool's connections dead (a restart): the live one, returned afterwards, is closed and
    replaced cleanly, not dropped open with a disposed pool (CI's restart test caught
    psycopg's "deleted while still open" warnings)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the driver path is PostgreSQL's")
    setup = _setup(world)
    first, second, _ = world["projects"]
    voter = make.resident(world["area"], birth_year=1980)
    assert ballot_box.try_cast(setup, voter.session_token, {first: 1}) is not None
    engine = ballot_box._engine()
    idle = [engine.raw_connection() for _ in range(engine.pool.checkedin())]
    held = engine.raw_connection()  # a new, live connection, in use by "another thread"
    backends = [c.driver_connection.info.backend_pid for c in idle]
    for connection in idle:
        connection.close()
    admin = create_engine(db.engine.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as other:
        for backend in backends:
            assert other.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
    admin.dispose()
    resident = make.resident(world["area"], birth_year=1980)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert ballot_box.try_cast(setup, resident.session_token, {first: 1, second: 1})
        driver = held.driver_connection
        pooled_before = engine.pool.checkedin()
        held.close()
        # Back in the pool the engine uses (to be recycled at its next checkout), or closed:
        # not in a pool nobody refers to any more, left to the garbage collector.
        assert driver.closed or engine.pool.checkedin() == pooled_before + 1
        del held, driver
        gc.collect()
    unclosed = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert unclosed == []
    _pool_still_works()


def test_a_shake_waits_for_a_ballot_being_cast(app, make, world):
    """A shake of the ballot box takes the lock closing takes (voting.shaking): a cast in
    progress (FOR KEY SHARE on the round) commits first and is mixed in (PostgreSQL)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL only")
    round_id = world["round"].id

    def shake():
        return shaking.shake_round(None, db.session.get(VotingRound, round_id))

    assert _waits_for_lock(app, round_id, {"read": True, "key_share": True}, shake) == 1
