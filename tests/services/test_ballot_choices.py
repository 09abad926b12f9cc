"""A ballot's choices live in its own row (models.voting: ``project_ids``, ``points``).

What the per-choice table's keys guaranteed must still hold on every way in: the writers store
choices through ``stored_choices`` (sorted, zero points dropped, points only when not all one),
and PostgreSQL itself refuses a ballot whose choices are not the round's projects, repeat one,
or whose points do not match (CHECK constraints and a statement trigger,
models/ballot_choices.py), also for raw SQL that passes every service by. The migration moves
the choices of an existing database into the rows and back."""

from __future__ import annotations

import pytest
import sqlalchemy.exc
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, insert, text

from buurtbudget.app import create_app
from buurtbudget.extensions import db
from buurtbudget.models import Ballot, Channel
from buurtbudget.models.voting import new_ballot_id, stored_choices
from buurtbudget.services.voting import election
from tests.voting_world import tanthof_round


def test_stored_choices_are_sorted_without_zero_points_and_points_only_when_needed():
    assert stored_choices({9: 1, 3: 1, 5: 0}) == ([3, 9], None)
    assert stored_choices({9: 2, 3: 1, 5: 0}) == ([3, 9], [1, 2])
    assert stored_choices({}) == ([], None)


def _raw_ballot(voting_round, project_ids, points=None) -> None:
    """A ballot written with plain SQL, past every service (as a script could)."""
    db.session.execute(
        insert(Ballot).values(
            id=new_ballot_id(),
            round_id=voting_round.id,
            channel=Channel.ONLINE,
            project_ids=project_ids,
            points=points,
        )
    )


def _postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


@pytest.mark.parametrize(
    "what",
    [
        "a project of another round",
        "a project of no round",
        "a project twice",
        "projects out of order",
        "fewer points than projects",
        "zero points",
    ],
)
def test_the_database_refuses_choices_that_are_not_the_rounds(make, what):
    if not _postgresql():
        pytest.skip("PostgreSQL checks the arrays itself; SQLite stores them as text")
    world = tanthof_round(make)
    first, second, _third = sorted(world["projects"])
    other = make.voting_round(world["other"], costs=(100_00,), title="Elders")
    elsewhere = other.projects[0].id
    project_ids, points = {
        "a project of another round": ([first, elsewhere], None),
        "a project of no round": ([first, 10**6], None),
        "a project twice": ([first, first], None),
        "projects out of order": ([second, first], None),
        "fewer points than projects": ([first, second], [2]),
        "zero points": ([first, second], [0, 1]),
    }[what]
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        _raw_ballot(world["round"], project_ids, points)
        db.session.flush()
    db.session.rollback()
    # The same statement with the round's own projects is accepted.
    _raw_ballot(world["round"], [first, second], [2, 1])
    db.session.commit()


def test_changing_a_ballot_to_another_rounds_project_is_refused_too(make):
    if not _postgresql():
        pytest.skip("PostgreSQL checks the arrays itself")
    world = tanthof_round(make)
    other = make.voting_round(world["other"], costs=(100_00,), title="Elders")
    _raw_ballot(world["round"], [world["projects"][0]])
    db.session.commit()
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        db.session.execute(
            text("UPDATE ballot SET project_ids = ARRAY[:project]"),
            {"project": other.projects[0].id},
        )
    db.session.rollback()


BEFORE = "c4e8a1d2f6b3"  # the last revision with the ballot_choice table
# Before 46a5aadf1e53, which rebuilt the ballot tables on SQLite (WITHOUT ROWID): with foreign
# keys on during migrations, dropping the old ballot table deleted every choice (CASCADE).
BEFORE_REBUILD = "c5e1f0a2b3d4"


@pytest.mark.parametrize("start", [BEFORE, BEFORE_REBUILD])
def test_the_migration_moves_the_choices_into_the_ballots_and_back(app, empty_database_url, start):
    migrated = create_app("testing", DATABASE_URL=empty_database_url)
    ballots = {"a" * 32: {2: 1, 1: 1}, "b" * 32: {}, "c" * 32: {3: 4, 1: 2}}
    with migrated.app_context():
        upgrade(revision=start)
        engine = create_engine(empty_database_url)
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO municipality (id, name, slug) VALUES (1, 'Delft', 'delft')")
            )
            connection.execute(
                text(
                    "INSERT INTO voting_round (id, municipality_id, title, description, source,"
                    " ballot_type, rule_name, min_age, uses_voting_codes, allow_ballot_change,"
                    " budget_cents, created_at) VALUES (1, 1, 'R', '', 'pabulib', 'cumulative',"
                    " 'greedy', 0, false, false, 100, '2026-01-01 00:00:00+00')"
                )
            )
            for project in (1, 2, 3):
                connection.execute(
                    text(
                        "INSERT INTO round_project (id, round_id, external_id, name,"
                        " description, cost_cents, category, neighbourhood, position)"
                        " VALUES (:p, 1, :p, 'P', '', 100, '', '', :p)"
                    ),
                    {"p": project},
                )
            for ballot_id, choices in ballots.items():
                connection.execute(
                    text("INSERT INTO ballot (id, round_id, channel) VALUES (:b, 1, 'imported')"),
                    {"b": ballot_id},
                )
                for project, points in choices.items():
                    connection.execute(
                        text(
                            "INSERT INTO ballot_choice (ballot_id, project_id, points)"
                            " VALUES (:b, :p, :v)"
                        ),
                        {"b": ballot_id, "p": project, "v": points},
                    )
        upgrade()
        db.session.expire_all()
        stored = {ballot.id: ballot for ballot in db.session.scalars(db.select(Ballot))}
        assert {ballot_id: ballot.choices for ballot_id, ballot in stored.items()} == ballots
        assert [(stored[b].project_ids, stored[b].points) for b in sorted(stored)] == [
            ([1, 2], None),
            ([], None),
            ([1, 3], [2, 4]),
        ]
        read = election.read_ballots(db.session.get(Ballot, "c" * 32).round)
        assert [read.ballots.ballot_points(voter) for voter in range(3)] == [
            {0: 1, 1: 1},
            {},
            {0: 2, 2: 4},
        ]
        db.session.remove()
        downgrade(revision=BEFORE)
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT ballot_id, project_id, points FROM ballot_choice")
            ).all()
        engine.dispose()
        assert sorted(rows) == sorted(
            (ballot_id, project, points)
            for ballot_id, choices in ballots.items()
            for project, points in choices.items()
        )
        db.engine.dispose()
