"""Counting a voting round: the only orchestrator of the voting package. It reads the round's
ballots once (voting.election), has the weights computed once (voting.weighting), runs the
round's rule (domain/rules), and stores votes / selection / reasons; closing, publishing
(selected initiatives move to "selected" and get their grant), turnout per area and CSV.

    * :func:`ballot_counts` counts ballots per area, age band and channel in one pass,
      :func:`ballot_cells` per ``(area_id, age_band)``, and :func:`turnout` gives
      turnout per area against eligible accounts and against inhabitants (AreaPopulation).
    * :func:`update_weighting` changes a round's weighting settings, before voting opens.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

import numpy as np
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from buurtbudget.domain.initiative_lifecycle import FundingRoute, Status
from buurtbudget.domain.rules import Election, Outcome, compute
from buurtbudget.domain.spreadsheet import csv_writer
from buurtbudget.extensions import db
from buurtbudget.models import (
    Area,
    AuditEntry,
    Ballot,
    Phase,
    RoundProject,
    User,
    VotingCode,
    VotingRound,
)
from buurtbudget.models._base import utcnow
from buurtbudget.services import audit
from buurtbudget.services.errors import Conflict
from buurtbudget.services.permissions import require
from buurtbudget.services.voting import shaking, weighting
from buurtbudget.services.voting.election import (
    EURO,
    RoundBallots,
    build_election,
    money_unit,
    read_ballots,
)
from buurtbudget.services.voting.eligibility import eligible_residents_count
from buurtbudget.services.voting.rounds import (
    ROUND_DATES,
    can_manage_round,
    claim_before_opening,
    fix_population,
    has_opened,
    population_figures,
)


@dataclass(frozen=True)
class Tally:
    """Everything one count starts from, read and computed once (:func:`tally`): the round's
    ballots (the engine's compact arrays, with area and age band per ballot), the Election
    the rules take, the voter weights (None: every voter counts 1) and, when the corrected
    ranking decides the money, the weighting analysis it funds from."""

    data: RoundBallots
    election: Election
    weights: list[Fraction] | None
    analysis: weighting.Analysis | None = None


def tally(voting_round: VotingRound) -> Tally:
    """Read the round's ballots ONCE (one streaming query, voting.election.read_ballots) and
    compute its voter weights ONCE. Results, the corrected ranking and any comparison of
    rules start from this."""
    data = read_ballots(voting_round)
    election = build_election(voting_round, data)
    if weighting.funded_by_corrected_ranking(voting_round):
        analysis = weighting.corrected_analysis(voting_round, data)
        result = analysis.weights
        weights = result.exact_weights() if result is not None else None
        return Tally(data, election, weights, analysis)
    return Tally(data, election, weighting.voter_weights_for(voting_round, data))


def rule_options(voting_round: VotingRound) -> dict:
    """Options the round's rule needs besides the election and the weights."""
    return add1_options(voting_round, voting_round.rule_name)


def add1_options(voting_round: VotingRound, rule_name: str) -> dict[str, object]:
    """Add1 steps one euro per voter (voting.election's doc), also when the election counts
    in cents: for the round's rule and for any rule a comparison runs."""
    if money_unit(voting_round) == 1 and "add1" in rule_name:
        return {"increment": EURO}
    return {}


@dataclass(frozen=True)
class Computation:
    tally: Tally
    outcome: Outcome

    @property
    def election(self) -> Election:
        return self.tally.election

    @property
    def weights(self) -> list[Fraction] | None:
        return self.tally.weights


def compute_outcome(voting_round: VotingRound, counted: Tally | None = None) -> Computation:
    """Run the round's stored rule on its ballots (weighted when its weighting settings say
    so), or, when they say the corrected ranking decides the money, fund down that ranking
    (voting.weighting.corrected_outcome). ``counted``: the round's :func:`tally`, if read."""
    counted = tally(voting_round) if counted is None else counted
    if counted.analysis is not None:
        outcome = weighting.corrected_outcome(voting_round, counted.election, counted.analysis)
    else:
        outcome = compute(
            voting_round.rule_name, counted.election, counted.weights, **rule_options(voting_round)
        )
    return Computation(counted, outcome)


def support(counted: Tally) -> tuple[list[int], list[Fraction]]:
    """Votes (or points) per project, unweighted and weighted, exactly; from the arrays, with
    one pass per distinct weight (a few per area and age band), not one per ballot."""
    ballots = counted.data.ballots
    size = len(counted.election.projects)
    entries = ballots.projects.astype(np.int64)
    points = ballots.points if ballots.points is not None else np.ones(len(entries), np.int64)
    counts = np.zeros(size, dtype=np.int64)
    np.add.at(counts, entries, points)
    if counted.weights is None:
        return counts.tolist(), [Fraction(int(c)) for c in counts]
    distinct: dict[Fraction, int] = {}
    weight_ids = np.array(
        [distinct.setdefault(Fraction(w), len(distinct)) for w in counted.weights], np.int64
    )
    per_weight = np.zeros(len(distinct) * size, dtype=np.int64)
    np.add.at(per_weight, weight_ids[ballots.voter_of_entry()] * size + entries, points)
    per_weight = per_weight.reshape(len(distinct), size)
    scores = [Fraction(0)] * size
    for weight, row in distinct.items():
        for project in np.flatnonzero(per_weight[row]).tolist():
            scores[project] += weight * int(per_weight[row, project])
    return counts.tolist(), scores


def store_results(voting_round: VotingRound) -> Outcome:
    """Compute and store votes, score, selected and the reason per project (not committed)."""
    computation = compute_outcome(voting_round)
    outcome = computation.outcome
    counts, scores = support(computation.tally)
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


def close_round(
    actor,
    voting_round: VotingRound,
    *,
    now: datetime | None = None,
    progress: shaking.Progress | None = None,
) -> Outcome:
    """After voting has ended: shake the ballot box (voting.shaking), count with the round's
    rule and store the results. Staff see them at once; residents once they are published
    (:func:`publish_results`)."""
    if actor is not None:
        require(can_manage_round(actor, voting_round))
    # FOR UPDATE waits for ballots being cast (they hold FOR KEY SHARE on the round, see
    # voting.hold_round_open) and keeps new ones out until the count is stored.
    db.session.refresh(voting_round, ROUND_DATES, with_for_update=True)
    if voting_round.is_closed:
        raise Conflict(_l("This round is already closed."))
    if voting_round.phase(now) is not Phase.COUNTING:
        raise Conflict(_l("Voting has not ended yet: the round can be closed after it ends."))
    # Empty and mix the ballot box before the count, in this transaction (voting.shaking).
    shaking.mix_ballots(actor, voting_round, progress)
    fix_population(voting_round, now)  # counted with the figures of the opening, kept so
    outcome = store_results(voting_round)
    voting_round.closed_at = now or utcnow()
    record_count(actor, voting_round, "close")
    audit.record(
        actor,
        "round.closed",
        voting_round,
        municipality_id=voting_round.municipality_id,
        rule=voting_round.rule_name,
        # Set when not the rule but the corrected ranking decided (services.weighting).
        funding=outcome.details.get("funding"),
        ballots=ballot_count(voting_round),
        selected=list(outcome.selected),
        total_cost_cents=voting_round.result_total_cost_cents,
    )
    db.session.commit()
    shaking.reclaim(progress)
    return outcome


COUNT_ACTION = "round.counted"


def record_count(actor, voting_round: VotingRound, occasion: str) -> None:
    """Audit one count of the round (``occasion``: "close" or "recount") with what it gave per
    project; every count is listed on the public results page (:func:`counts_of`)."""
    audit.record(
        actor,
        COUNT_ACTION,
        voting_round,
        municipality_id=voting_round.municipality_id,
        occasion=occasion,
        rule=voting_round.rule_name,
        weighting=voting_round.weighting_config,
        ballots=ballot_count(voting_round),
        selected=[p.external_id for p in results_in_order(voting_round) if p.selected],
        votes={p.external_id: p.votes for p in voting_round.projects},
        total_cost_cents=voting_round.result_total_cost_cents,
    )


def counts_of(voting_round: VotingRound) -> list:
    """Every count and recount of the round, oldest first (audit entries)."""
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.action == COUNT_ACTION,
                AuditEntry.object_type == "VotingRound",
                AuditEntry.object_id == voting_round.id,
            )
            .order_by(AuditEntry.id)
        )
    )


def needs_the_command_line(voting_round: VotingRound, limit: int) -> bool:
    """Whether the round has more than ``limit`` ballots (config LONG_STEP_BALLOTS): then
    counting and exporting it run with the flask commands, outside any web request."""
    return ballot_count(voting_round) > limit


def ballot_count(voting_round: VotingRound) -> int:
    return db.session.scalar(
        select(func.count(Ballot.id)).where(Ballot.round_id == voting_round.id)
    )


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
    _lock_counted_unpublished(voting_round)
    if actor is not None:
        # Four eyes: publication was asked for by another staff member.
        if voting_round.publication_requested_by_id is None:
            raise Conflict(_l("Ask for publication first: a second staff member then publishes."))
        if voting_round.publication_requested_by_id == actor.id:
            raise Conflict(
                _l("You asked for this publication: a second staff member must publish.")
            )
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
        requested_by_id=voting_round.publication_requested_by_id,
    )
    db.session.commit()
    notifications.deliver(sent)
    return not_funded


def _lock_counted_unpublished(voting_round: VotingRound) -> None:
    """The round's row lock (a parallel request or publication waits, then sees this one),
    and a Conflict unless the round is counted and not yet published."""
    db.session.refresh(voting_round, with_for_update=True)
    if not voting_round.is_closed:
        raise Conflict(_l("Close the round first."))
    if voting_round.is_published:
        raise Conflict(_l("The results are already published."))


def request_publication(actor, voting_round: VotingRound, *, now: datetime | None = None) -> None:
    """The first of the four eyes: a staff member who checked the counted results asks for
    publication; another staff member who may manage the round publishes
    (:func:`publish_results`)."""
    require(can_manage_round(actor, voting_round))
    _lock_counted_unpublished(voting_round)
    if voting_round.publication_requested_by_id is not None:
        raise Conflict(_l("Publication has already been asked for."))
    voting_round.publication_requested_by_id = actor.id
    voting_round.publication_requested_at = now or utcnow()
    audit.record(
        actor,
        "round.publication_requested",
        voting_round,
        municipality_id=voting_round.municipality_id,
    )
    db.session.commit()


# Weighting settings ------------------------------------------------------------------------

WEIGHTING_FIXED = _l(
    "Voting has opened: the weighting of a round, and what decides its money, are fixed before"
    " voting opens, so that residents vote knowing them and nobody can choose them after seeing"
    " votes."
)


def weighting_is_fixed(voting_round: VotingRound, now: datetime | None = None) -> bool:
    """The weighting (with the funding choice) is fixed from the moment voting opens by the
    round's dates, whether or not anyone voted yet, and of course once a ballot locked the
    setup (voting.rounds) or the round was counted. The opening date itself cannot move once
    passed (rounds.update_round), so it cannot be moved later to open this window again."""
    return voting_round.is_locked or voting_round.is_closed or has_opened(voting_round, now)


def update_weighting(
    actor: User | None, voting_round: VotingRound, settings: weighting.WeightingSettings
):
    """Store the round's weighting settings; audited. Only before voting opens: from then on
    they are fixed, so residents vote knowing them and nobody chooses them knowing votes; a
    counted round is never counted again with other weights."""
    if actor is not None:
        require(can_manage_round(actor, voting_round))
    if voting_round.is_published:
        raise Conflict(
            _l("The results of this round are published: the weighting can no longer change.")
        )
    now = utcnow()
    if weighting_is_fixed(voting_round, now):
        raise Conflict(WEIGHTING_FIXED)
    config = weighting.config_from_settings(settings)
    weighting._check_funding(voting_round, settings, config)
    weighting.check_round_can_use(voting_round, config)
    old = voting_round.weighting_config
    new = weighting.stored_settings(config, settings.funding)
    if old == new:
        return
    # Checked again by the write itself, which takes the round's row (PostgreSQL) or database
    # (SQLite) lock: an opening date moved into the past, a first ballot or a count committed
    # since the round was read refuses the change rather than slipping past the check above.
    claim_before_opening(voting_round, now, WEIGHTING_FIXED)
    voting_round.weighting_config = new
    audit.record(
        actor,
        "round.weighting_changed",
        voting_round,
        municipality_id=voting_round.municipality_id,
        old=old,
        new=new,
    )
    db.session.commit()


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


BallotCounts = dict[tuple[int | None, str | None, str], int]
"""Number of ballots per (area id, age band, channel)."""


def ballot_counts(voting_round: VotingRound) -> BallotCounts:
    """The round's ballots counted per area, age band and channel in one query, grouped in
    the order of ix_ballot_round_area_band_channel: the database counts while it reads that
    index (count(*), not count(id): the key is not in it). Grouping by channel alone made
    SQLite sort every ballot first (0.21 s for a million); turnout and the channels of a
    results page come from this one pass (:func:`ballot_cells`, :func:`ballots_by_channel`)."""
    rows = db.session.execute(
        select(Ballot.area_id, Ballot.age_band, Ballot.channel, func.count())
        .where(Ballot.round_id == voting_round.id)
        .group_by(Ballot.area_id, Ballot.age_band, Ballot.channel)
    )
    return {(area_id, band, str(channel)): count for area_id, band, channel, count in rows}


def ballot_cells(
    voting_round: VotingRound, counts: BallotCounts | None = None
) -> dict[tuple[int | None, str | None], int]:
    """Number of ballots per (area_id, age_band); ``counts`` as :func:`ballot_counts` gave them
    (counted now when not given)."""
    counts = ballot_counts(voting_round) if counts is None else counts
    cells: dict[tuple[int | None, str | None], int] = {}
    for (area_id, band, _channel), count in counts.items():
        cells[(area_id, band)] = cells.get((area_id, band), 0) + count
    return cells


def ballots_by_channel(
    voting_round: VotingRound, counts: BallotCounts | None = None
) -> dict[str, int]:
    """Number of ballots per channel (``counts`` as for :func:`ballot_cells`)."""
    counts = ballot_counts(voting_round) if counts is None else counts
    channels: dict[str, int] = {}
    for (_area_id, _band, channel), count in counts.items():
        channels[channel] = channels.get(channel, 0) + count
    return channels


def turnout(voting_round: VotingRound, counts: BallotCounts | None = None) -> list[AreaTurnout]:
    """Turnout per area of the round, plus a row (area None) for ballots without an area
    (``counts`` as for :func:`ballot_cells`)."""
    per_area: dict[int | None, int] = {}
    for (area_id, _band), count in ballot_cells(voting_round, counts).items():
        per_area[area_id] = per_area.get(area_id, 0) + count
    codes = dict(
        db.session.execute(
            select(VotingCode.area_id, func.count(VotingCode.id))
            .where(VotingCode.round_id == voting_round.id)
            .group_by(VotingCode.area_id)
        ).all()
    )
    rows = []
    figures = population_figures(voting_round)  # as when voting opened
    for area in voting_round.areas:
        population = figures[area.id]
        rows.append(
            AreaTurnout(
                area=area,
                ballots=per_area.get(area.id, 0),
                eligible_accounts=eligible_residents_count(voting_round, area),
                voting_codes=codes.get(area.id, 0),
                inhabitants=population["inhabitants"] if population else None,
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
