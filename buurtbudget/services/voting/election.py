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

from collections.abc import Sequence
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from buurtbudget.domain import ballots as ballot_domain
from buurtbudget.domain.ballots import BallotRules
from buurtbudget.domain.rules import Ballots, Election, Project
from buurtbudget.extensions import db
from buurtbudget.models import Ballot, Channel, VotingRound

EURO = 100
# pabulib's names for how a ballot was cast; imported ballots keep no method.
_VOTING_METHODS = {Channel.ONLINE: "internet", Channel.CODE: "internet", Channel.PAPER: "paper"}


def money_unit(voting_round: VotingRound) -> int:
    """Cents per unit of the amounts the rule sees (see module doc): 100 or 1."""
    amounts = [p.cost_cents for p in voting_round.projects]
    if voting_round.max_total_cost_cents is not None:
        amounts.append(voting_round.max_total_cost_cents)
    return EURO if all(amount % EURO == 0 for amount in amounts) else 1


def _in_unit(cents: int, unit: int) -> int | Fraction:
    value = Fraction(cents, unit)
    return int(value) if value.denominator == 1 else value


def round_ballots(voting_round: VotingRound) -> list[Ballot]:
    """The round's ballots with their choices, in a fixed order that says nothing about when
    they were cast (their ids are random)."""
    return list(
        db.session.scalars(
            select(Ballot)
            .where(Ballot.round_id == voting_round.id)
            .options(selectinload(Ballot.choices))
            .order_by(Ballot.id)
        )
    )


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


def build_election(
    voting_round: VotingRound, ballots: Sequence[Ballot] | None = None
) -> tuple[Election, list[Ballot]]:
    """The round as a rules-engine Election (projects, ballots, META), and the ballots in the
    order of its voters."""
    ballots = list(round_ballots(voting_round) if ballots is None else ballots)
    unit = money_unit(voting_round)
    projects = list(voting_round.projects)
    index = {project.id: position for position, project in enumerate(projects)}
    cumulative = voting_round.ballot_type == ballot_domain.CUMULATIVE
    rows: list[list[int] | dict[int, int]] = []
    for ballot in ballots:
        if cumulative:
            rows.append({index[c.project_id]: c.points for c in ballot.choices})
        else:
            rows.append(sorted(index[c.project_id] for c in ballot.choices))
    voter_ids = [
        ballot.external_id or str(number) for number, ballot in enumerate(ballots, start=1)
    ]
    methods = [_VOTING_METHODS.get(ballot.channel, "") for ballot in ballots]
    election = Election(
        budget=_in_unit(voting_round.budget_cents, unit),
        projects=tuple(
            Project(
                id=project.external_id,
                cost=int(_in_unit(project.cost_cents, unit)),
                name=project.name,
                categories=project.categories,
                neighborhoods=project.neighbourhoods,
            )
            for project in projects
        ),
        ballots=Ballots.from_lists(
            rows,
            cumulative=cumulative,
            voter_ids=voter_ids,
            voter_columns={"voting_method": methods} if any(methods) else None,
        ),
        vote_type=voting_round.ballot_type,
        meta=_meta(voting_round, unit),
        ballot_rules=_ballot_rules_in_unit(voting_round, unit),
    )
    return election, ballots
