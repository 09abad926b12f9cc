"""Voting rounds as pabulib ``.pb`` files (https://pabulib.org/format), the field's standard.

* :func:`export_round`: a round's projects and ballots (and, once counted, each project's votes
  and whether it was selected) as a ``.pb`` file. Ballots carry no voter information beyond
  how they were cast (internet / paper): never their area or age band, which in small areas
  could single a voter out.
* :func:`import_round`: a real file becomes a CLOSED round with its projects (without
  initiatives) and anonymous ballots (channel "imported"), counted with the engine, so its
  results can be shown, compared and exported again. Amounts in files are whole currency units
  (euros); they are stored in cents.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

from flask_babel import lazy_gettext as _l
from sqlalchemy import insert

from buurtbudget.domain.ballots import CUMULATIVE, ORDINAL
from buurtbudget.domain.pabulib import PabulibError, format_pabulib, parse_pabulib
from buurtbudget.domain.rules import RULES, rule_for_meta
from buurtbudget.extensions import db
from buurtbudget.models import (
    Area,
    Ballot,
    BallotChoice,
    Channel,
    Municipality,
    RoundProject,
    RoundSource,
    User,
    VotingRound,
)
from buurtbudget.models._base import utcnow
from buurtbudget.models.voting import new_ballot_id
from buurtbudget.services import audit
from buurtbudget.services.errors import ValidationFailed
from buurtbudget.services.permissions import is_admin_of, require
from buurtbudget.services.voting import weighting
from buurtbudget.services.voting.counting import store_results
from buurtbudget.services.voting.election import build_election

CENTS_PER_UNIT = 100
# META "rule" of an exported round whose money followed the corrected ranking (voting.weighting).
CORRECTED_RANKING_RULE = "buurtbudget-corrected-ranking"


def rule_for_file(meta_rule: str | None) -> str | None:
    """Our rule name for a file's META ``rule``; None when the engine does not know it."""
    return rule_for_meta(meta_rule)


def export_round(voting_round: VotingRound) -> str:
    """The round as the text of a ``.pb`` file."""
    election, _ballots = build_election(voting_round)
    if voting_round.is_closed:
        by_external = {p.external_id: p for p in voting_round.projects}
        projects = []
        for project in election.projects:
            stored = by_external[project.id]
            extra = dict(project.extra)
            extra["votes"] = str(stored.votes or 0)
            extra["selected"] = "1" if stored.selected else "0"
            projects.append(replace(project, extra=extra))
        election = replace(election, projects=tuple(projects))
        if weighting.funded_by_corrected_ranking(voting_round):
            # META "rule" says how the "selected" column came about: not the counting rule.
            election = replace(election, meta={**election.meta, "rule": CORRECTED_RANKING_RULE})
    return format_pabulib(election)


def _cents(amount: int | Fraction, what: str) -> int:
    cents = Fraction(amount) * CENTS_PER_UNIT
    if cents.denominator != 1:
        raise ValidationFailed(
            _l("The file's %(what)s is not a whole number of cents.", what=what), field="file"
        )
    return int(cents)


def import_round(
    actor: User | None,
    municipality: Municipality,
    content: bytes,
    *,
    source_name: str = "",
    areas: list[Area] | tuple[Area, ...] = (),
    rule_name: str | None = None,
) -> VotingRound:
    """Create a closed, published round from a pabulib file and count it with the engine."""
    if actor is not None:
        require(is_admin_of(actor, municipality.id))
    try:
        election = parse_pabulib(content)
    except PabulibError as error:
        raise ValidationFailed(
            _l("This is not a valid pabulib file: %(problem)s", problem=str(error)), field="file"
        ) from None
    if election.vote_type == ORDINAL:
        raise ValidationFailed(
            _l(
                "Rounds with ranked (ordinal) ballots cannot be imported; "
                "'flask pb compute' counts such files."
            ),
            field="file",
        )
    rule = rule_name or rule_for_file(election.meta.get("rule"))
    if rule is None:
        raise ValidationFailed(
            _l(
                "The file's rule %(rule)s cannot be applied; choose a rule to count it with.",
                rule=election.meta.get("rule", "").strip()[:60] or "-",
            ),
            field="rule",
        )
    if rule not in RULES:
        raise ValidationFailed(_l("This is not a valid choice."), field="rule")
    for area in areas:
        if area.municipality_id != municipality.id:
            raise ValidationFailed(_l("This is not a valid choice."), field="area")
    if any(len(voter_id) > 64 for voter_id in election.ballots.voter_ids):
        raise ValidationFailed(_l("A voter id in the file is too long."), field="file")
    rules = election.ballot_rules
    now = utcnow()
    title = (election.meta.get("description") or source_name or "pabulib").strip()[:120]
    voting_round = VotingRound(
        municipality_id=municipality.id,
        title=title,
        description=election.meta.get("comment", "")[:5000],
        source=RoundSource.PABULIB,
        ballot_type=election.vote_type,
        rule_name=rule,
        min_projects=rules.min_length or None,
        max_projects=rules.max_length,
        max_total_cost_cents=(
            _cents(rules.max_total_cost, "max_sum_cost") if rules.max_total_cost else None
        ),
        max_points_per_project=rules.max_points,
        max_total_points=rules.max_total_points,
        min_age=0,
        budget_cents=_cents(election.budget, "budget"),
        rule_meta=dict(election.meta),
        created_by_id=actor.id if actor is not None else None,
        locked_at=now,
    )
    voting_round.areas = list(areas)
    for position, project in enumerate(election.projects):
        voting_round.projects.append(
            RoundProject(
                external_id=project.id[:64],
                name=(project.name or project.id)[:200],
                description=project.extra.get("description", ""),
                cost_cents=project.cost * CENTS_PER_UNIT,
                category=",".join(project.categories)[:200],
                neighbourhood=",".join(project.neighborhoods)[:200],
                position=position,
            )
        )
    db.session.add(voting_round)
    db.session.flush()
    _insert_ballots(voting_round, election)
    db.session.expire(voting_round)
    store_results(voting_round)
    voting_round.closed_at = now
    voting_round.results_published_at = now
    audit.record(
        actor,
        "round.imported",
        voting_round,
        municipality_id=municipality.id,
        source=source_name or None,
        rule=rule,
        ballots=election.num_voters,
        projects=len(election.projects),
        warnings=[str(warning) for warning in election.warnings[:20]] or None,
    )
    db.session.commit()
    return voting_round


def _insert_ballots(voting_round: VotingRound, election) -> None:
    """Bulk insert: files have up to tens of thousands of ballots."""
    project_ids = [project.id for project in voting_round.projects]
    data = election.ballots
    cumulative = election.vote_type == CUMULATIVE
    ballot_rows, choice_rows = [], []
    for voter, voter_id in enumerate(data.voter_ids):
        ballot_id = new_ballot_id()
        ballot_rows.append(
            {
                "id": ballot_id,
                "round_id": voting_round.id,
                "channel": Channel.IMPORTED,
                "external_id": voter_id,
            }
        )
        for project, points in data.ballot_points(voter).items():
            if cumulative and points == 0:
                continue
            choice_rows.append(
                {"ballot_id": ballot_id, "project_id": project_ids[project], "points": points}
            )
    if ballot_rows:
        db.session.execute(insert(Ballot), ballot_rows)
    if choice_rows:
        db.session.execute(insert(BallotChoice), choice_rows)
