"""One ballot per voter under 200 simultaneous attempts, and the secret ballot: nothing in the
ballot tables leads back to a voter. Run on SQLite (default) and on PostgreSQL
(BUURTBUDGET_TEST_DATABASE_URL)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import Date, func, inspect, select

from buurtbudget.extensions import db
from buurtbudget.models import Ballot, User, VoterRecord, VotingRound
from buurtbudget.models._base import utcnow
from buurtbudget.services.errors import Conflict
from buurtbudget.services.voting import casting, counting, pabulib

ATTEMPTS = 200


@pytest.mark.parametrize("precheck", [True, False], ids=["with-precheck", "constraint-only"])
def test_200_simultaneous_attempts_by_one_voter_give_exactly_one_ballot(
    app, make, monkeypatch, precheck
):
    if not precheck:
        # Without the friendly "already voted?" query every attempt reaches the INSERT, so the
        # database's unique constraint alone must decide.
        monkeypatch.setattr(casting, "has_voted", lambda user, voting_round: False)
    area = make.area(name="Tanthof")
    voting_round = make.voting_round(area, costs=(100_00, 200_00))
    voter = make.resident(area)
    round_id, voter_id = voting_round.id, voter.id
    project_id = voting_round.projects[0].id
    db.session.remove()
    start = threading.Barrier(ATTEMPTS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt() -> None:
        # A request context per thread: its own session, and messages in English.
        with app.test_request_context(headers={"Accept-Language": "en"}):
            # Wait before touching the database: threads holding pool connections at the
            # barrier would keep the others from ever reaching it.
            start.wait(timeout=30)
            try:
                user = db.session.get(User, voter_id)
                this_round = db.session.get(VotingRound, round_id)
                casting.cast_ballot(user, this_round, {project_id: 1})
                result = "cast"
            except Conflict as error:
                result = str(error.message)
            except Exception as error:  # noqa: BLE001 - any other failure is reported below
                result = f"{type(error).__name__}: {error}"
            finally:
                db.session.remove()
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=attempt) for _ in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    counts = Counter(outcomes)
    assert counts == {"cast": 1, "You have already voted in this round.": ATTEMPTS - 1}
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 1
    assert db.session.scalar(select(func.count()).select_from(VoterRecord)) == 1
    assert len(db.session.scalars(select(Ballot)).one().choices) == 1


def test_ballot_tables_hold_nothing_that_points_to_a_person(app):
    inspector = inspect(db.engine)
    ballot_columns = {c["name"] for c in inspector.get_columns("ballot")}
    # Any new column must be reviewed for secrecy: this list is exhaustive on purpose.
    assert ballot_columns == {
        "id",
        "round_id",
        "channel",
        "paper_number",
        "external_id",
        "area_id",
        "age_band",
        "cast_on",
        "receipt_hash",
        "project_ids",
        "points",
    }
    # The choices are in the ballot's row: no table of their own, with keys of its own.
    assert "ballot_choice" not in inspector.get_table_names()
    targets = {fk["referred_table"] for fk in inspector.get_foreign_keys("ballot")}
    assert targets <= {"voting_round", "area"}
    # The ballot knows the day it was cast, not the time (the voter record knows the time).
    assert isinstance(Ballot.__table__.c.cast_on.type, Date)


def test_ballot_ids_do_not_follow_the_order_of_voting(make):
    area = make.area()
    voting_round = make.voting_round(area, costs=tuple(100_00 * n for n in range(1, 6)))
    projects = [p.id for p in voting_round.projects]
    # Voter n chooses a set of projects unique to them, so we know which ballot is whose.
    signatures = []
    for n in range(1, 25):
        choice = frozenset(projects[i] for i in range(5) if n & (1 << i))
        signatures.append(choice)
        casting.cast_ballot(make.resident(area), voting_round, dict.fromkeys(choice, 1))
    ballots = db.session.scalars(select(Ballot).order_by(Ballot.id)).all()
    by_id_order = [frozenset(b.choices) for b in ballots]
    assert sorted(by_id_order, key=signatures.index) == signatures  # the same 24 ballots
    assert by_id_order != signatures  # 1 in 24! that a random order matches
    assert len({b.id for b in ballots}) == 24 and all(len(b.id) == 32 for b in ballots)
    assert {b.cast_on for b in ballots} == {ballots[0].cast_on}
    # Results, CSV and the pabulib export never show a ballot id (closing gives every ballot
    # a new one, voting.shaking: neither the old nor the new ids are shown).
    cast_ids = {b.id for b in ballots}
    voting_round.voting_closes_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    counting.close_round(None, voting_round)
    counted_ids = set(counting.voting_round_ballot_ids(voting_round))
    assert len(counted_ids) == 24 and not counted_ids & cast_ids
    published = counting.results_csv(voting_round) + pabulib.export_round(voting_round)
    assert not any(ballot_id in published for ballot_id in cast_ids | counted_ids)
