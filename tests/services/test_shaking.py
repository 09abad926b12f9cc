"""Shaking the ballot box (services/voting/shaking.py): every cast ballot rewritten in a random
order with a new id; the count, the receipts and the paper register stay as they were; who may
shake; the command line. The orders themselves: tests/services/test_unlinkable_ballot_box.py."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from buurtbudget.extensions import db
from buurtbudget.models import AuditEntry, Ballot, PaperBallotSheet
from buurtbudget.models._base import utcnow
from buurtbudget.services import paper_ballots
from buurtbudget.services.errors import Conflict, PermissionDenied
from buurtbudget.services.voting import casting, counting, pabulib, shaking
from tests.paths import PABULIB_DIR


def _box(voting_round) -> dict[str, tuple]:
    """The round's ballots as stored: id -> everything but the id, choices included."""
    ballots = db.session.scalars(select(Ballot).where(Ballot.round_id == voting_round.id)).all()
    return {
        b.id: (
            b.channel,
            b.paper_number,
            b.external_id,
            b.area_id,
            b.age_band,
            b.cast_on,
            b.receipt_hash,
            tuple(b.choices.items()),
        )
        for b in ballots
    }


def _voted_round(make, *, ballots: int = 30, **fields):
    area = make.area()
    voting_round = make.voting_round(area, costs=(100_00, 200_00, 300_00, 400_00), **fields)
    projects = [p.id for p in voting_round.projects]
    tokens = []
    for n in range(ballots):
        chosen = [projects[i] for i in range(4) if (n * 7 + 3) & (1 << i)] or projects[:1]
        cast = casting.cast_ballot(make.resident(area), voting_round, dict.fromkeys(chosen, 1))
        tokens.append(cast.receipt_token)
    return voting_round, tokens


def _outcome(voting_round):
    computation = counting.compute_outcome(voting_round)
    return (
        computation.outcome.selected,
        counting.support(computation.tally),
        counting.ballot_cells(voting_round),
        counting.ballots_by_channel(voting_round),
    )


def test_shaking_keeps_every_ballot_and_the_outcome_with_new_ids(make):
    voting_round, _tokens = _voted_round(make)
    number = make.paper_ballot(voting_round, {voting_round.projects[1].id: 1})
    before_box, before = _box(voting_round), _outcome(voting_round)
    assert len(before_box) == 31

    assert shaking.shake_round(None, voting_round) == 31

    after_box = _box(voting_round)
    assert not set(after_box) & set(before_box)  # every id is new ...
    assert all(len(ballot_id) == 32 for ballot_id in after_box)
    assert Counter(after_box.values()) == Counter(before_box.values())  # ... the rest is not
    assert _outcome(voting_round) == before
    # The paper stays entered (once): its register row was mixed too, not lost.
    sheet = db.session.scalar(select(PaperBallotSheet).where(PaperBallotSheet.number == number))
    assert sheet.entered
    with pytest.raises(Conflict):
        paper_ballots.key_paper(
            make.administrator(voting_round.municipality), voting_round, number, "x", {}
        )
    # Idempotent: again, the same ballots and the same outcome; each shake is audited.
    assert shaking.shake_round(None, voting_round) == 31
    assert Counter(_box(voting_round).values()) == Counter(before_box.values())
    assert _outcome(voting_round) == before
    mixes = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "round.ballots_mixed")
    ).all()
    assert [entry.details["ballots"] for entry in mixes] == [31, 31]


def test_closing_shakes_before_the_count(make):
    voting_round, _tokens = _voted_round(make, ballots=12)
    before_box, before = _box(voting_round), _outcome(voting_round)
    voting_round.voting_closes_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    counting.close_round(None, voting_round)
    after_box = _box(voting_round)
    assert not set(after_box) & set(before_box)
    assert Counter(after_box.values()) == Counter(before_box.values())
    assert _outcome(voting_round) == before
    assert [p.votes for p in voting_round.projects] == before[1][0]


def test_receipts_verify_and_change_the_ballot_after_a_shake(make, monkeypatch):
    voting_round, tokens = _voted_round(make, ballots=10, allow_ballot_change=True)
    first, second = voting_round.projects[0].id, voting_round.projects[3].id
    mine = casting.ballot_for_receipt(voting_round, tokens[4])
    old_id, old_choices = mine.id, mine.choices

    shaking.shake_round(None, voting_round)

    mine = casting.ballot_for_receipt(voting_round, tokens[4])
    assert mine.id != old_id and mine.choices == old_choices
    assert all(casting.ballot_for_receipt(voting_round, token) for token in tokens)
    voter = make.resident(voting_round.areas[0])
    casting.cast_ballot(voter, voting_round, {first: 1})
    casting.change_ballot(voter, voting_round, tokens[4], {second: 1}, voting_code_used=True)
    assert list(casting.ballot_for_receipt(voting_round, tokens[4]).choices) == [second]

    # A shake that commits between the receipt's check and the change (it waits for the
    # round's lock): the change finds the ballot under its new id.
    hold = casting.hold_round_open

    def shaken_meanwhile(*args):
        shaking.shake_round(None, voting_round)
        hold(*args)

    monkeypatch.setattr(casting, "hold_round_open", shaken_meanwhile)
    casting.change_ballot(None, voting_round, tokens[2], {first: 1}, voting_code_used=True)
    assert list(casting.ballot_for_receipt(voting_round, tokens[2]).choices) == [first]
    assert len(_box(voting_round)) == 11


def test_only_staff_of_the_round_may_shake_it(make):
    voting_round, _tokens = _voted_round(make, ballots=3)
    before = set(_box(voting_round))
    other_municipality = make.administrator(make.municipality())
    other_area = make.coordinator(make.area(voting_round.municipality))
    for outsider in (other_municipality, other_area, make.resident(voting_round.areas[0])):
        with pytest.raises(PermissionDenied):
            shaking.shake_round(outsider, voting_round)
    assert set(_box(voting_round)) == before
    assert shaking.shake_round(make.coordinator(voting_round.areas[0]), voting_round) == 3
    assert not set(_box(voting_round)) & before


def test_imported_ballots_are_left_alone(make):
    municipality = make.municipality()
    content = (PABULIB_DIR / "Netherlands_Assen_2024.pb").read_bytes()
    voting_round = pabulib.import_round(None, municipality, content, source_name="assen.pb")
    before = _box(voting_round)
    assert before and all(row[2] is not None for row in before.values())
    assert shaking.shake_round(None, voting_round) == 0
    assert _box(voting_round) == before


def test_the_command_line_shakes_with_progress(app, make):
    voting_round, _tokens = _voted_round(make, ballots=5)
    before = set(_box(voting_round))
    runner = app.test_cli_runner()
    unknown = runner.invoke(args=["rounds", "shake", "999999"])
    assert unknown.exit_code == 1 and "no voting round 999999" in unknown.output
    result = runner.invoke(args=["rounds", "shake", str(voting_round.id)])
    assert result.exit_code == 0, result.output
    assert f"shaking round {voting_round.id}" in result.output
    assert "new ids: 5 / 5" in result.output
    assert "ballots rewritten: 5 / 5" in result.output
    assert result.output.rstrip().endswith("5 ballots mixed: new order, new ids")
    if db.engine.dialect.name == "postgresql":
        assert "vacuum ballot: 1 / 1" in result.output
    db.session.expire_all()
    assert not set(_box(voting_round)) & before
    # Closing from the command line shakes with the same progress.
    voting_round.voting_closes_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    closed = runner.invoke(args=["rounds", "close", str(voting_round.id)])
    assert closed.exit_code == 0, closed.output
    assert "ballots rewritten: 5 / 5" in closed.output


def test_vacuum_reclaims_the_dead_rows_of_the_cast_order(make):
    """The rows deleted by the shake (the ballots in cast order) do not stay in the heap."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("VACUUM: PostgreSQL only")
    if not db.session.scalar(
        text("SELECT count(*) FROM pg_available_extensions WHERE name = 'pgstattuple'")
    ):
        pytest.skip("needs the pgstattuple extension (postgresql-contrib)")
    db.session.execute(text("CREATE EXTENSION IF NOT EXISTS pgstattuple"))
    db.session.commit()
    voting_round, _tokens = _voted_round(make, ballots=20)
    shaking.shake_round(None, voting_round)
    dead = {
        table: db.session.scalar(
            text("SELECT dead_tuple_count FROM pgstattuple(CAST(:t AS text))"), {"t": table}
        )
        for table in ("ballot", "paper_ballot_sheet")
    }
    assert dead == {"ballot": 0, "paper_ballot_sheet": 0}
