"""The demo's voting rounds: a closed Delft round with results and an open one in which demo
residents can vote; seeding twice changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from buurtbudget.demo import people, places
from buurtbudget.demo import voting as demo_voting
from buurtbudget.extensions import db
from buurtbudget.models import Ballot, Channel, Phase, User, VoterRecord, VotingRound
from buurtbudget.services import electorate
from buurtbudget.services.voting import casting


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_demo_has_a_closed_and_an_open_round(app):
    for step in (places.seed_places, people.seed_people, demo_voting.seed_voting):
        step(lambda message: None)
    closed, open_round = db.session.scalars(select(VotingRound).order_by(VotingRound.id)).all()
    assert (closed.title, closed.phase()) == (demo_voting.CLOSED_TITLE, Phase.RESULTS)
    assert closed.is_published and any(p.selected for p in closed.projects)
    by_channel = dict(
        db.session.execute(
            select(Ballot.channel, func.count())
            .where(Ballot.round_id == closed.id)
            .group_by(Ballot.channel)
        ).all()
    )
    assert by_channel[Channel.PAPER] == demo_voting.PAPER_BALLOTS
    assert by_channel[Channel.CODE] == demo_voting.CODE_VOTERS
    assert 60 <= sum(by_channel.values()) <= 150
    assert all(p.initiative.status.value == "selected" for p in closed.projects if p.selected)

    assert (open_round.title, open_round.phase()) == (demo_voting.OPEN_TITLE, Phase.VOTING)
    tanthof = open_round.areas[0]
    residents = db.session.scalars(
        select(User).where(User.home_area_id == tanthof.id).order_by(User.id)
    ).all()
    assert residents[0].email.startswith("bewoner") and residents[0].email.endswith(
        ".delft@demo.buurtbudget.nl"
    )
    # A demo resident whose account is bound to their stempas and who has not voted yet votes.
    voter = next(
        r
        for r in residents
        if electorate.elector_of(r, open_round) and not casting.has_voted(r, open_round)
    )
    casting.cast_ballot(voter, open_round, {open_round.projects[0].id: 1})
    assert casting.has_voted(voter, open_round)

    counts = (_count(VotingRound), _count(Ballot), _count(VoterRecord))
    demo_voting.seed_voting(lambda message: None)
    assert (_count(VotingRound), _count(Ballot), _count(VoterRecord)) == counts
