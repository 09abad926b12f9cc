"""Counting reads a round's ballots once, in one streaming query, into the engine's arrays
(voting.election.read_ballots, voting.counting.tally). The read gives exactly the ballots the
ORM read gave (the reference below is that former read, kept here), in the same order, and the
outcome of real pabulib files imported as rounds equals the engine's on the file itself."""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import event, func, insert, select

from buurtbudget.domain import ballots as ballot_domain
from buurtbudget.domain.pabulib import read_pabulib
from buurtbudget.domain.rules import Ballots, compute
from buurtbudget.extensions import db
from buurtbudget.models import Ballot, Channel
from buurtbudget.models.voting import new_ballot_id, stored_choices
from buurtbudget.services.voting import casting, counting, election, pabulib, weighting
from tests.voting_world import tanthof_round
from tests.weighting_world import two_area_round, weighting_settings

DATA = Path(__file__).resolve().parents[1] / "data" / "pabulib"
_VOTING_METHODS = {"online": "internet", "code": "internet", "paper": "paper"}


def orm_ballots(voting_round) -> tuple[Ballots, list[Ballot]]:
    """The ballots as the counting read them before: an ORM object per ballot."""
    ballots = list(
        db.session.scalars(
            select(Ballot).where(Ballot.round_id == voting_round.id).order_by(Ballot.id)
        )
    )
    index = {project.id: position for position, project in enumerate(voting_round.projects)}
    cumulative = voting_round.ballot_type == ballot_domain.CUMULATIVE
    rows = [
        {index[project_id]: points for project_id, points in ballot.choices.items()}
        if cumulative
        else sorted(index[project_id] for project_id in ballot.choices)
        for ballot in ballots
    ]
    methods = [_VOTING_METHODS.get(str(ballot.channel.value), "") for ballot in ballots]
    reference = Ballots.from_lists(
        rows,
        cumulative=cumulative,
        voter_ids=[b.external_id or str(n) for n, b in enumerate(ballots, start=1)],
        voter_columns={"voting_method": methods} if any(methods) else None,
    )
    return reference, ballots


def assert_same_as_orm(voting_round) -> election.RoundBallots:
    data = election.read_ballots(voting_round)
    reference, ballots = orm_ballots(voting_round)
    assert data.ballots == reference  # offsets, projects, points, voter ids, voting method
    assert list(data.ids) == [b.id for b in ballots]
    assert list(data.area_ids) == [b.area_id for b in ballots]
    assert list(data.age_bands) == [b.age_band for b in ballots]
    return data


def test_mixed_channels_read_as_the_orm_read_them(make):
    world = tanthof_round(make)
    voting_round, area = world["round"], world["area"]
    first, second, third = world["projects"]
    ballots = [{first: 1}, {second: 1, third: 1}, {first: 1, third: 1}, {third: 1}]
    for index, choices in enumerate(ballots):
        casting.cast_ballot(
            make.resident(area, birth_year=1950 + 15 * index), voting_round, choices
        )
    # A paper ballot as the paper register stores it (its double keying is not read here).
    paper = new_ballot_id()
    db.session.execute(
        insert(Ballot).values(
            id=paper,
            round_id=voting_round.id,
            channel=Channel.PAPER,
            paper_number="P-1",
            project_ids=[second],
        )
    )
    db.session.commit()
    data = assert_same_as_orm(voting_round)
    assert len(data) == 5
    assert sorted(data.ballots.voter_columns["voting_method"]) == ["internet"] * 4 + ["paper"]


def test_an_empty_round_reads_as_no_ballots(make):
    voting_round = tanthof_round(make)["round"]
    data = assert_same_as_orm(voting_round)
    assert len(data) == 0 and list(data.ballots.offsets) == [0]


def _insert_ballot(voting_round, choices: dict[int, int]) -> str:
    ballot_id = new_ballot_id()
    project_ids, points = stored_choices(choices)
    db.session.execute(
        insert(Ballot).values(
            id=ballot_id,
            round_id=voting_round.id,
            channel=Channel.ONLINE,
            project_ids=project_ids,
            points=points,
        )
    )
    return ballot_id


@pytest.mark.parametrize("ballot_type", ["approval", "cumulative"])
def test_points_empty_ballots_and_projects_out_of_id_order_read_as_the_orm_read_them(
    make, monkeypatch, ballot_type
):
    """Ballots without choices between others, batches that split them, points beside their
    projects, and projects whose places on the ballot run against their ids (each ballot's
    choices are then put in order after the read)."""
    points = {"max_points_per_project": 5, "max_total_points": 10}
    world = tanthof_round(
        make, ballot_type=ballot_type, **(points if ballot_type != "approval" else {})
    )
    voting_round = world["round"]
    first, second, third = world["projects"]
    for position, project in enumerate(sorted(voting_round.projects, key=lambda p: -p.id)):
        project.position = position  # the highest id first on the ballot
    db.session.commit()
    db.session.expire(voting_round)
    approval = ballot_type == "approval"
    ballots = [
        {first: 1, third: 1 if approval else 4},
        {},
        {second: 1 if approval else 3},
        {},
        {first: 1 if approval else 2, second: 1, third: 1 if approval else 5},
        {},
    ]
    for choices in ballots:
        _insert_ballot(voting_round, choices)
    db.session.commit()
    monkeypatch.setattr(election, "READ_BATCH", 2)
    data = assert_same_as_orm(voting_round)
    assert [project.id for project in data.projects] == [third, second, first]
    assert sorted(len(data.chosen(voter)) for voter in range(len(data))) == [0, 0, 0, 1, 2, 3]
    if not approval:
        given = sorted(sorted(data.ballots.ballot_points(v).values()) for v in range(len(data)))
        assert given == [[], [], [], [1, 2, 5], [1, 4], [3]]


def test_choices_are_put_in_order_within_each_ballot_with_their_points():
    """The sorting step on its own (the databases usually send the choices in order already):
    per ballot by the project's place, or by project id for points ballots."""
    from types import SimpleNamespace

    projects = tuple(SimpleNamespace(id=project_id) for project_id in (30, 10, 20))
    offsets = np.array([0, 3, 3, 5])  # three choices, none, two
    chosen = [np.array([10, 30, 20], np.int32), np.array([20, 30], np.int32)]
    entries, points = election._choices(projects, chosen, None, offsets)
    assert entries.tolist() == [0, 1, 2, 0, 2]  # places: 30 -> 0, 10 -> 1, 20 -> 2
    given = [np.array([1, 3, 2], np.int32), np.array([5, 4], np.int32)]
    entries, points = election._choices(projects, chosen, given, offsets)
    assert entries.tolist() == [1, 2, 0, 2, 0]  # by id: 10, 20, 30 | 20, 30
    assert points.tolist() == [1, 2, 3, 5, 4]
    with pytest.raises(RuntimeError, match="not on the round's ballot"):
        election._choices(projects, [np.array([10, 99], np.int32)], None, np.array([0, 2]))
    with pytest.raises(RuntimeError, match="choices where the ballots count"):
        election._choices(projects, [np.array([10], np.int32)], None, np.array([0, 2]))


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("Netherlands_Assen_2024.pb", "mes_add1"),
        ("Netherlands_Amsterdam_179.pb", "greedy"),
        ("France_Toulouse_2019.pb", "greedy"),
    ],
)
def test_pabulib_files_imported_as_rounds_read_and_count_as_the_file(make, name, rule):
    content = (DATA / name).read_bytes()
    voting_round = pabulib.import_round(
        None, make.municipality("Pabulib"), content, source_name=name, rule_name=rule
    )
    data = assert_same_as_orm(voting_round)
    on_file = read_pabulib(DATA / name)
    assert len(data) == on_file.num_voters
    counted = counting.tally(voting_round)
    outcome = counting.compute_outcome(voting_round, counted).outcome
    assert outcome.selected == compute(rule, on_file).selected
    stored = [p for p in voting_round.projects if p.selected]
    assert sorted(p.external_id for p in stored) == sorted(outcome.selected)


@pytest.mark.parametrize("funding", ["rule", "corrected_ranking"])
def test_a_count_reads_the_ballots_once_and_weighs_once(make, monkeypatch, funding):
    """Also when the corrected ranking decides the money (it read and weighed a second time)."""
    world = two_area_round(make, weighting_settings(funding=funding))
    voting_round = world["round"]
    reads, weighings = [], []
    real_read, real_weights = election.read_ballots, counting.weighting.compute_weights
    monkeypatch.setattr(counting, "read_ballots", lambda r: reads.append(r) or real_read(r))
    monkeypatch.setattr(
        counting.weighting,
        "compute_weights",
        lambda *args: weighings.append(args) or real_weights(*args),
    )
    streams, statements = [], []
    real_stream = election._stream
    monkeypatch.setattr(election, "_stream", lambda q: streams.append(q) or real_stream(q))

    def other_choice_reads(conn, cursor, statement, parameters, context, executemany):
        if "project_ids" in statement and "FROM ballot" in statement:
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", other_choice_reads)
    try:
        counting.store_results(voting_round)
    finally:
        event.remove(db.engine, "before_cursor_execute", other_choice_reads)
    # One read of the ballots (one query on the driver), one weighing, no other choice query.
    assert (len(reads), len(streams), len(weighings), statements) == (1, 1, 1, [])


def test_weighted_support_from_the_arrays_equals_counting_ballot_by_ballot(make):
    world = two_area_round(make, weighting_settings(method="raking"))
    voting_round = world["round"]
    counted = counting.tally(voting_round)
    assert counted.weights is not None and len(set(counted.weights)) > 1
    size = len(counted.election.projects)
    votes, scores = [0] * size, [Fraction(0)] * size
    for voter, weight in enumerate(counted.weights):
        for project, points in counted.data.ballots.ballot_points(voter).items():
            votes[project] += points
            scores[project] += Fraction(weight) * points
    assert counting.support(counted) == (votes, scores)


# Bulk import -----------------------------------------------------------------------------------


def test_import_writes_in_batches_with_progress_and_reads_back_the_file(make, monkeypatch):
    monkeypatch.setattr(pabulib, "WRITE_BATCH", 50)
    calls = []
    content = (DATA / "Netherlands_Assen_2024.pb").read_bytes()
    voting_round = pabulib.import_round(
        None, make.municipality("Assen"), content, progress=lambda *call: calls.append(call)
    )
    assert calls == [
        ("ballots", 50, 84),
        ("ballots", 84, 84),
        ("counting", 0, 1),
        ("counting", 1, 1),
    ]
    on_file = read_pabulib(DATA / "Netherlands_Assen_2024.pb")
    data = assert_same_as_orm(voting_round)
    by_voter = dict(zip(data.external_ids, range(len(data)), strict=True))
    externals = [p.external_id for p in data.projects]
    for voter, voter_id in enumerate(on_file.ballots.voter_ids):
        read = sorted(externals[i] for i in data.chosen(by_voter[voter_id]))
        assert read == sorted(on_file.projects[i].id for i in on_file.ballots.ballot(voter))


def test_an_import_that_fails_while_counting_leaves_nothing(make, monkeypatch):
    from buurtbudget.models import VotingRound
    from buurtbudget.services.errors import Conflict

    def broken(voting_round):
        raise Conflict("the count failed")

    monkeypatch.setattr(pabulib, "store_results", broken)
    content = (DATA / "Netherlands_Assen_2024.pb").read_bytes()
    with pytest.raises(Conflict):
        pabulib.import_round(None, make.municipality("Assen"), content)
    db.session.rollback()
    for model in (VotingRound, Ballot):
        assert db.session.scalar(select(func.count()).select_from(model)) == 0


def test_the_cli_shows_the_import_progress(app, make):
    slug = make.municipality("Assen").slug
    result = app.test_cli_runner().invoke(
        args=["pb", "import", str(DATA / "Netherlands_Assen_2024.pb"), "--municipality", slug]
    )
    assert result.exit_code == 0, result.output
    assert "ballots: 84 / 84" in result.output and "counted" in result.output


# The ranking page of a published round ----------------------------------------------------------


def test_a_published_round_is_analysed_once_until_its_figures_change(make, monkeypatch):
    from buurtbudget.models import AreaPopulation

    world = two_area_round(make, weighting_settings())
    voting_round = world["round"]
    reads = []
    real_read = weighting.read_ballots
    monkeypatch.setattr(weighting, "read_ballots", lambda r: reads.append(r) or real_read(r))
    first = weighting.analyse(voting_round)
    weighting.analyse(voting_round)
    assert len(reads) == 2  # not published: read every time (ballots may still come in)

    voting_round.closed_at = voting_round.results_published_at = voting_round.voting_closes_at
    db.session.commit()
    published = weighting.analyse(voting_round)
    again = weighting.analyse(voting_round)
    assert len(reads) == 3
    assert [r.ranked for r in again.rows] == [r.ranked for r in published.rows]
    assert [r.ranked for r in published.rows] == [r.ranked for r in first.rows]
    assert [(a.area.id, a.ballots) for a in again.areas] == [
        (a.area.id, a.ballots) for a in first.areas
    ]
    # New population figures change the ranking's inputs: computed again.
    figures = db.session.scalars(select(AreaPopulation)).first()
    figures.inhabitants += 1_000
    db.session.commit()
    changed = weighting.analyse(voting_round)
    assert len(reads) == 4
    assert [a.inhabitants for a in changed.areas] != [a.inhabitants for a in again.areas]


@pytest.mark.parametrize("table_up_to", [election.LOOKUP_TABLE_MAX_ID, 0])
def test_project_ids_become_indices_by_table_or_by_search(monkeypatch, table_up_to):
    """Both ways (a lookup table for ids up to a bound, a binary search above it) give each
    known id its index, and an unknown id an index whose id differs (so the read refuses)."""
    monkeypatch.setattr(election, "LOOKUP_TABLE_MAX_ID", table_up_to)
    known = np.asarray([40, 7, 19, 3], dtype=np.int32)
    chosen = np.asarray([3, 40, 19, 7, 7], dtype=np.int32)
    assert election._indices(known, chosen).tolist() == [3, 0, 2, 1, 1]
    for unknown in (5, 41, -1, 10**9):
        found = election._indices(known, np.asarray([unknown], dtype=np.int32))
        assert known[found].tolist() != [unknown]


class _Cursor:
    """Gives ``batches`` batches of rows, then fails if ``fails``; counts its fetches."""

    def __init__(self, batches: int, fails: bool = False) -> None:
        self.left, self.fails, self.fetched = batches, fails, 0

    def fetchmany(self, size: int) -> list[tuple]:
        self.fetched += 1
        if self.left == 0:
            if self.fails:
                raise OSError("server closed the connection")
            return []
        self.left -= 1
        return [(self.left,)] * 3


def test_batches_fetched_ahead_come_in_order_and_the_helper_thread_ends(monkeypatch):
    before = threading.active_count()
    assert [batch[0][0] for batch in election._fetched_ahead(_Cursor(5))] == [4, 3, 2, 1, 0]
    # A caller that stops early: the thread stops fetching (at most the batches in the queue
    # and the one in hand ahead of the caller) and ends.
    cursor = _Cursor(1000)
    for _batch in election._fetched_ahead(cursor):
        break
    assert cursor.fetched <= 4
    # An error while fetching reaches the caller, after the batches before it.
    seen = []
    with pytest.raises(OSError, match="server closed"):
        for batch in election._fetched_ahead(_Cursor(2, fails=True)):
            seen.append(batch[0][0])
    assert seen == [1, 0]
    assert threading.active_count() == before
