"""Results of a voting round: building the election from the database, running the round's
rule (domain/rules), storing votes / selection / reasons, turnout per area, CSV, closing and
publishing (selected initiatives move to "selected" and get their grant).

For the weighting module
    * :func:`round_ballots` gives the round's ballots in the order of the election's voters;
      each carries ``area_id`` and ``age_band`` (CBS band names of models.geo.AGE_BANDS).
    * :func:`voter_weights_for` is THE hook: return one weight per ballot of
      :func:`round_ballots` (same order) from ``voting_round.weighting_config``; ``None`` means
      unweighted. Every result computation goes through it.
    * :func:`ballot_cells` counts ballots per ``(area_id, age_band)`` and :func:`turnout` gives
      turnout per area against eligible accounts and against inhabitants (AreaPopulation).

Money unit of the election
    The rules see whole euros when every project cost (and the ballot's cost limit) is a whole
    number of euros, as in pabulib files and nearly every round; otherwise cents. Greedy and MES
    give the same result in either unit; only Add1's step depends on it, so it is always one euro
    per voter (``increment=100`` when counting in cents). Amounts in the rules' trace texts are
    in that unit.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from buurtbudget.domain import ballots as ballot_domain
from buurtbudget.domain.ballots import BallotRules
from buurtbudget.domain.initiative_lifecycle import FundingRoute, Status
from buurtbudget.domain.rules import Ballots, Election, Outcome, Project, compute
from buurtbudget.domain.spreadsheet import csv_writer
from buurtbudget.extensions import db
from buurtbudget.models import Area, Ballot, Channel, Phase, RoundProject, VotingCode, VotingRound
from buurtbudget.models._base import utcnow
from buurtbudget.services import audit
from buurtbudget.services.errors import Conflict
from buurtbudget.services.permissions import require
from buurtbudget.services.voting import ROUND_DATES, can_manage_round, eligible_residents_count

EURO = 100
# pabulib's names for how a ballot was cast; imported ballots keep no method.
_VOTING_METHODS = {Channel.ONLINE: "internet", Channel.CODE: "internet", Channel.PAPER: "paper"}


# Building the election -----------------------------------------------------------------------


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


def voter_weights_for(
    voting_round: VotingRound, ballots: Sequence[Ballot]
) -> Sequence[Fraction] | None:
    """One weight per ballot (same order as ``ballots``), or None for "every voter counts 1".

    The hook for the weighting module (services.weighting): it reads
    ``voting_round.weighting_config`` and each ballot's ``area_id`` / ``age_band``, and gives
    the exact (rounded) weights the ranking counts with too.
    """
    from buurtbudget.services import weighting

    return weighting.voter_weights_for(voting_round, ballots)


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


@dataclass(frozen=True)
class Computation:
    election: Election
    outcome: Outcome
    ballots: list[Ballot]
    weights: Sequence[Fraction] | None


def compute_outcome(voting_round: VotingRound) -> Computation:
    """Run the round's stored rule on its ballots (weighted if the weighting hook says so), or,
    when its weighting settings say the corrected ranking decides the money, fund down that
    ranking (services.weighting.corrected_outcome)."""
    from buurtbudget.services import weighting

    election, ballots = build_election(voting_round)
    weights = voter_weights_for(voting_round, ballots)
    if weighting.funded_by_corrected_ranking(voting_round):
        outcome = weighting.corrected_outcome(voting_round, election)
        return Computation(election, outcome, ballots, weights)
    options = {}
    if money_unit(voting_round) == 1 and "add1" in voting_round.rule_name:
        options["increment"] = EURO
    outcome = compute(voting_round.rule_name, election, weights, **options)
    return Computation(election, outcome, ballots, weights)


def _support(
    election: Election, weights: Sequence[Fraction] | None
) -> tuple[list[int], list[Fraction]]:
    """Votes (or points) per project, unweighted and weighted, exactly."""
    data = election.ballots
    counts = [0] * len(election.projects)
    scores = [Fraction(0)] * len(election.projects)
    for voter in range(len(data)):
        weight = Fraction(weights[voter]) if weights is not None else Fraction(1)
        for project, points in data.ballot_points(voter).items():
            counts[project] += points
            scores[project] += weight * points
    return counts, scores


def store_results(voting_round: VotingRound) -> Outcome:
    """Compute and store votes, score, selected and the reason per project (not committed)."""
    computation = compute_outcome(voting_round)
    outcome = computation.outcome
    counts, scores = _support(computation.election, computation.weights)
    order = {project_id: position for position, project_id in enumerate(outcome.selected)}
    reasons: dict[str, str] = {}
    for step in outcome.trace:
        reasons[step.project_id] = step.reason
    unit = money_unit(voting_round)
    for position, project in enumerate(voting_round.projects):
        project.votes = counts[position]
        project.score = str(scores[position])
        project.selected = project.external_id in order
        project.selection_order = order.get(project.external_id)
        reason = reasons.get(project.external_id) or _default_reason(project.selected)
        project.selection_reason = reason[:500]
    voting_round.result_total_cost_cents = int(outcome.total_cost * unit)
    return outcome


def _default_reason(selected: bool) -> str:
    return "selected" if selected else "not selected: its supporters could not pay for it"


# Closing and publishing ----------------------------------------------------------------------


def close_round(actor, voting_round: VotingRound, *, now: datetime | None = None) -> Outcome:
    """After voting has ended: count with the round's rule and store the results. Staff see
    them at once; residents once they are published (:func:`publish_results`)."""
    if actor is not None:
        require(can_manage_round(actor, voting_round))
    # FOR UPDATE waits for ballots being cast (they hold FOR KEY SHARE on the round, see
    # voting.hold_round_open) and keeps new ones out until the count is stored.
    db.session.refresh(voting_round, ROUND_DATES, with_for_update=True)
    if voting_round.is_closed:
        raise Conflict(_l("This round is already closed."))
    if voting_round.phase(now) is not Phase.COUNTING:
        raise Conflict(_l("Voting has not ended yet: the round can be closed after it ends."))
    outcome = store_results(voting_round)
    voting_round.closed_at = now or utcnow()
    audit.record(
        actor,
        "round.closed",
        voting_round,
        municipality_id=voting_round.municipality_id,
        rule=voting_round.rule_name,
        # Set when not the rule but the corrected ranking decided (services.weighting).
        funding=outcome.details.get("funding"),
        ballots=len(voting_round_ballot_ids(voting_round)),
        selected=list(outcome.selected),
        total_cost_cents=voting_round.result_total_cost_cents,
    )
    db.session.commit()
    return outcome


def voting_round_ballot_ids(voting_round: VotingRound) -> list[str]:
    return list(db.session.scalars(select(Ballot.id).where(Ballot.round_id == voting_round.id)))


def grant_for_winner(voting_round: VotingRound, project: RoundProject) -> None:
    """Commit the winner's cost from its area's budget (services.ledger, in the caller's
    transaction). Rounds without a budget period keep their money outside the ledger."""
    from buurtbudget.services import ledger

    if voting_round.budget_period_id is None or project.initiative is None:
        return
    period = voting_round.budget_period
    ledger.grant(
        None,
        project.initiative,
        project.cost_cents,
        memo=f"selected in round {voting_round.title}",
        period=period if period.area_id == project.initiative.area_id else None,
        commit=False,
    )


def publish_results(
    actor, voting_round: VotingRound, *, now: datetime | None = None
) -> list[RoundProject]:
    """Make the results public; selected initiatives move to "selected" (funded by the vote)
    and get their grant from the area budget, all in one transaction. Returns the winners
    that were not funded because their initiative is no longer open (withdrawn or funded
    otherwise meanwhile): the audit entry names them and the caller says so. Projects
    without an initiative (imported from a .pb file) are results only."""
    from buurtbudget.services import initiatives, notifications

    if actor is not None:
        require(can_manage_round(actor, voting_round))
    if not voting_round.is_closed:
        raise Conflict(_l("Close the round first."))
    if voting_round.is_published:
        raise Conflict(_l("The results are already published."))
    sent = []
    reason = f"selected in round {voting_round.title}"
    winners = sorted(
        (p for p in voting_round.projects if p.selected), key=lambda p: p.selection_order or 0
    )
    not_funded = []
    for project in winners:
        initiative = project.initiative
        if initiative is None:
            continue
        if initiative.status is not Status.OPEN:
            not_funded.append(project)
            continue
        sent += initiatives.apply_status_change(
            None, initiative, Status.SELECTED, reason, funding_route=FundingRoute.VOTE
        )
        grant_for_winner(voting_round, project)
    voting_round.results_published_at = now or utcnow()
    audit.record(
        actor,
        "round.results_published",
        voting_round,
        municipality_id=voting_round.municipality_id,
        selected=[p.external_id for p in winners],
        not_funded=[p.external_id for p in not_funded],
    )
    db.session.commit()
    notifications.deliver(sent)
    return not_funded


# Turnout -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AreaTurnout:
    area: Area | None  # None: paper ballots without an area
    ballots: int
    eligible_accounts: int
    voting_codes: int
    inhabitants: int | None

    @property
    def share_of_inhabitants(self) -> Fraction | None:
        return Fraction(self.ballots, self.inhabitants) if self.inhabitants else None

    @property
    def share_of_eligible(self) -> Fraction | None:
        """Ballots per eligible account or voting code (can exceed 1 with paper ballots)."""
        denominator = self.eligible_accounts + self.voting_codes
        return Fraction(self.ballots, denominator) if denominator else None


def ballot_cells(voting_round: VotingRound) -> dict[tuple[int | None, str | None], int]:
    """Number of ballots per (area_id, age_band)."""
    rows = db.session.execute(
        select(Ballot.area_id, Ballot.age_band, func.count(Ballot.id))
        .where(Ballot.round_id == voting_round.id)
        .group_by(Ballot.area_id, Ballot.age_band)
    )
    return {(area_id, band): count for area_id, band, count in rows}


def ballots_by_channel(voting_round: VotingRound) -> dict[str, int]:
    rows = db.session.execute(
        select(Ballot.channel, func.count(Ballot.id))
        .where(Ballot.round_id == voting_round.id)
        .group_by(Ballot.channel)
    )
    return {str(channel): count for channel, count in rows}


def turnout(voting_round: VotingRound) -> list[AreaTurnout]:
    """Turnout per area of the round, plus a row (area None) for ballots without an area."""
    per_area: dict[int | None, int] = {}
    for (area_id, _band), count in ballot_cells(voting_round).items():
        per_area[area_id] = per_area.get(area_id, 0) + count
    codes = dict(
        db.session.execute(
            select(VotingCode.area_id, func.count(VotingCode.id))
            .where(VotingCode.round_id == voting_round.id)
            .group_by(VotingCode.area_id)
        ).all()
    )
    rows = []
    for area in voting_round.areas:
        population = area.population_for(voting_round.year)
        rows.append(
            AreaTurnout(
                area=area,
                ballots=per_area.get(area.id, 0),
                eligible_accounts=eligible_residents_count(voting_round, area),
                voting_codes=codes.get(area.id, 0),
                inhabitants=population.inhabitants if population else None,
            )
        )
    unknown = sum(n for area_id, n in per_area.items() if area_id not in voting_round.area_ids)
    if unknown:
        rows.append(AreaTurnout(None, unknown, 0, codes.get(None, 0), None))
    return rows


# CSV -----------------------------------------------------------------------------------------

CSV_HEADER = ("project_id", "name", "cost_eur", "votes", "score", "selected", "reason")


def _euros(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def results_csv(voting_round: VotingRound) -> str:
    """The results per project as CSV (UTF-8, comma separated, amounts in euros)."""
    buffer = io.StringIO()
    writer = csv_writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for project in results_in_order(voting_round):
        writer.writerow(
            (
                project.external_id,
                project.name,
                _euros(project.cost_cents),
                project.votes,
                project.score,
                "1" if project.selected else "0",
                project.selection_reason or "",
            )
        )
    return buffer.getvalue()


def results_in_order(voting_round: VotingRound) -> list[RoundProject]:
    """Selected first in selection order, then the others by votes (descending)."""
    return sorted(
        voting_round.projects,
        key=lambda p: (
            not p.selected,
            p.selection_order if p.selection_order is not None else 0,
            -(p.votes or 0),
            p.name.lower(),
        ),
    )
