"""The Tanthof voting round that the voting service and web tests share: one area with three
projects (EUR 300, 500 and 700, at most two on a ballot), voting open, and the people who act
on it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from buurtbudget.extensions import db
from buurtbudget.models import Ballot, Phase, VoterRecord, VotingRound
from buurtbudget.models._base import utcnow
from buurtbudget.services.voting import rounds


def tanthof_round(make, **round_fields) -> dict:
    """``round_fields`` go to ``make.voting_round`` (e.g. a title)."""
    municipality = make.municipality("Delft")
    area = make.area(municipality, name="Tanthof", inhabitants=13_600)
    other = make.area(municipality, name="Buitenhof")
    voting_round = make.voting_round(
        area, costs=(300_00, 500_00, 700_00), max_projects=2, **round_fields
    )
    return {
        "municipality": municipality,
        "area": area,
        "other": other,
        "round": voting_round,
        "projects": [p.id for p in voting_round.projects],
        "resident": make.resident(area, birth_year=1990),
        "coordinator": make.coordinator(area),
        "admin": make.administrator(municipality),
    }


def written_counts() -> tuple[int, int, int]:
    """Voter records, ballots and their choices in the database: what casting writes."""
    ballots = db.session.scalars(select(Ballot)).all()
    voters = db.session.scalar(select(func.count()).select_from(VoterRecord))
    return voters, len(ballots), sum(len(ballot.choices) for ballot in ballots)


def setup_of(voting_round, **changes) -> rounds.RoundSetup:
    """The round's setup as it stands, with ``changes``: what the edit page sends."""
    fields = {
        name: getattr(voting_round, name)
        for name in (
            "title",
            "proposals_until",
            "review_until",
            "voting_opens_at",
            "voting_closes_at",
            "ballot_type",
            "rule_name",
            "min_projects",
            "max_projects",
            "max_total_cost_cents",
            "min_age",
            "allow_ballot_change",
            "uses_voting_codes",
            "budget_cents",
        )
    }
    fields["areas"] = list(voting_round.areas)
    fields["rule_meta"] = voting_round.rule_meta
    fields.update(changes)
    return rounds.RoundSetup(**fields)


def opened_behind_its_back(voting_round) -> None:
    """Another request moved the opening date into the past; this session still holds the
    round as it read it, before its opening (not refreshed)."""
    db.session.execute(
        update(VotingRound)
        .where(VotingRound.id == voting_round.id)
        .values(
            proposals_until=utcnow() - timedelta(days=3),
            review_until=utcnow() - timedelta(days=2),
            voting_opens_at=utcnow() - timedelta(days=1),
        )
        .execution_options(synchronize_session=False)
    )
    assert voting_round.phase() is Phase.REVIEW  # what this session still believes
