"""What is happening now in each area, for the home and area pages: rounds open for voting or
coming up, initiatives open for support, working groups that are running and the latest
published results. Read-only; a handful of queries for all areas together."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from buurtbudget.domain.initiative_lifecycle import Status
from buurtbudget.extensions import db
from buurtbudget.models import Initiative, RoundProject, VotingRound, WorkingGroup
from buurtbudget.models._base import utcnow
from buurtbudget.models.voting import Phase


@dataclass
class AreaNow:
    voting: list[VotingRound] = field(default_factory=list)
    upcoming: list[VotingRound] = field(default_factory=list)
    open_initiatives: list[Initiative] = field(default_factory=list)
    groups: list[WorkingGroup] = field(default_factory=list)
    latest_results: VotingRound | None = None

    @property
    def is_quiet(self) -> bool:
        return not (
            self.voting
            or self.upcoming
            or self.open_initiatives
            or self.groups
            or self.latest_results
        )


def happening_now(area_ids: list[int], today: date | None = None) -> dict[int, AreaNow]:
    """AreaNow for each of the given areas (every id gets one, possibly quiet)."""
    now = utcnow()
    today = today or now.date()
    result: dict[int, AreaNow] = defaultdict(AreaNow)
    for area_id in area_ids:
        result[area_id] = AreaNow()
    if not area_ids:
        return result
    wanted = set(area_ids)
    rounds = db.session.scalars(
        select(VotingRound).options(selectinload(VotingRound.areas)).order_by(VotingRound.id)
    ).all()
    for voting_round in rounds:
        phase = voting_round.phase(now)
        for area in voting_round.areas:
            if area.id not in wanted:
                continue
            entry = result[area.id]
            if phase is Phase.VOTING:
                entry.voting.append(voting_round)
            elif phase in (Phase.PROPOSALS, Phase.REVIEW):
                entry.upcoming.append(voting_round)
            elif voting_round.is_published and (
                entry.latest_results is None
                or voting_round.results_published_at > entry.latest_results.results_published_at
            ):
                entry.latest_results = voting_round
    for initiative in db.session.scalars(
        select(Initiative)
        .where(Initiative.area_id.in_(wanted), Initiative.status == Status.OPEN)
        .order_by(Initiative.id.desc())
    ):
        result[initiative.area_id].open_initiatives.append(initiative)
    for group in db.session.scalars(
        select(WorkingGroup).where(WorkingGroup.area_id.in_(wanted)).order_by(WorkingGroup.name)
    ):
        if not group.has_ended_by(today):
            result[group.area_id].groups.append(group)
    return result


def ballots_of(initiative_id: int) -> list[VotingRound]:
    """The rounds whose ballot carries this initiative, newest first."""
    return list(
        db.session.scalars(
            select(VotingRound)
            .join(RoundProject, RoundProject.round_id == VotingRound.id)
            .where(RoundProject.initiative_id == initiative_id)
            .order_by(VotingRound.id.desc())
        )
    )
