"""Open data: areas, budgets, initiatives, voting rounds and results as plain records for the
read-only JSON API (web/api.py) and its CSV files. See docs/api.md.

No personal data, by construction: every record is built here field by field from columns
that describe places, money, plans and counts. Nothing here reads users, initiators, working
group members, comments, voter records, voting codes or single ballots; rounds show how many
ballots came from each area, and their results once published.

Records are built a page at a time with one grouped query per kind of figure, so a page of
100 costs a handful of queries whatever the size of the database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from buurtbudget.domain.budget import Balance
from buurtbudget.domain.initiative_lifecycle import PRIVATE_STATUSES, Status
from buurtbudget.extensions import db
from buurtbudget.models import (
    Area,
    Ballot,
    BudgetPeriod,
    Initiative,
    Municipality,
    RoundProject,
    VotingRound,
)
from buurtbudget.services import monitoring
from buurtbudget.services.errors import NotFound, ValidationFailed
from buurtbudget.services.voting.rounds import population_figures

API_VERSION = "1"
PUBLIC_STATUSES = tuple(s for s in Status if s not in PRIVATE_STATUSES)


def _date(value) -> str | None:
    return value.date().isoformat() if value is not None else None


def _timestamp(value) -> str | None:
    return value.isoformat() if value is not None else None


# Filters -------------------------------------------------------------------------------------


def parse_status(raw: str | None) -> Status | None:
    if raw is None or raw == "":
        return None
    if raw not in {s.value for s in PUBLIC_STATUSES}:
        raise ValidationFailed(_l("This is not a valid choice."), field="status")
    return Status(raw)


def parse_optional_year(raw: str | None) -> int | None:
    return None if raw in (None, "") else monitoring.parse_year(raw, 0)


# Queries -------------------------------------------------------------------------------------


def municipalities_query() -> Select:
    return select(Municipality).order_by(Municipality.id)


def areas_query(municipality_id: int | None = None) -> Select:
    query = select(Area).options(selectinload(Area.populations)).order_by(Area.id)
    if municipality_id is not None:
        query = query.where(Area.municipality_id == municipality_id)
    return query


def budgets_query(
    municipality_id: int | None = None, area_id: int | None = None, year: int | None = None
) -> Select:
    query = select(BudgetPeriod).order_by(BudgetPeriod.id)
    if municipality_id is not None:
        query = query.where(BudgetPeriod.municipality_id == municipality_id)
    if area_id is not None:
        query = query.where(BudgetPeriod.area_id == area_id)
    if year is not None:
        query = query.where(BudgetPeriod.year == year)
    return query


def initiatives_query(
    municipality_id: int | None = None,
    area_id: int | None = None,
    status: Status | None = None,
    year: int | None = None,
) -> Select:
    query = (
        select(Initiative)
        .where(Initiative.status.in_([status] if status else PUBLIC_STATUSES))
        .order_by(Initiative.id)
    )
    if municipality_id is not None:
        query = query.where(
            Initiative.area_id.in_(select(Area.id).where(Area.municipality_id == municipality_id))
        )
    if area_id is not None:
        query = query.where(Initiative.area_id == area_id)
    if year is not None:
        start, end = monitoring.year_bounds(year)
        query = query.where(Initiative.created_at >= start, Initiative.created_at < end)
    return query


def rounds_query(municipality_id: int | None = None, year: int | None = None) -> Select:
    query = select(VotingRound).options(selectinload(VotingRound.areas)).order_by(VotingRound.id)
    if municipality_id is not None:
        query = query.where(VotingRound.municipality_id == municipality_id)
    if year is not None:
        start, end = monitoring.year_bounds(year)
        moment = monitoring.round_moment()
        query = query.where(moment >= start, moment < end)
    return query


def get(model, record_id: int):
    """One public record, or NotFound (drafts do not exist for the API)."""
    record = db.session.get(model, record_id)
    if record is None or (isinstance(record, Initiative) and record.status in PRIVATE_STATUSES):
        raise NotFound(_l("We could not find this page."))
    return record


# Records -------------------------------------------------------------------------------------


def municipality_records(items: Sequence[Municipality]) -> list[dict]:
    return [{"id": m.id, "name": m.name, "slug": m.slug, "cbs_code": m.cbs_code} for m in items]


def area_records(items: Sequence[Area]) -> list[dict]:
    records = []
    for area in items:
        latest = area.populations[-1] if area.populations else None
        records.append(
            {
                "id": area.id,
                "municipality_id": area.municipality_id,
                "name": area.name,
                "cbs_code": area.cbs_code,
                "population": [
                    {"year": p.year, "inhabitants": p.inhabitants, "households": p.households}
                    for p in area.populations
                ],
                "inhabitants": latest.inhabitants if latest else None,
            }
        )
    return records


def budget_records(items: Sequence[BudgetPeriod]) -> list[dict]:
    balances = (
        monitoring.balances_by(BudgetPeriod.id, BudgetPeriod.id.in_([p.id for p in items]))
        if items
        else {}
    )
    records = []
    for period in items:
        balance = balances.get(period.id) or Balance()
        records.append(
            {
                "id": period.id,
                "municipality_id": period.municipality_id,
                "area_id": period.area_id,
                "year": period.year,
                "half": period.half,
                "label": period.label,
                "model": str(period.model_kind),
                "basis": str(period.basis) if period.basis else None,
                "basis_count": period.basis_count,
                "population_year": period.population_year,
                "rate_millicents": period.rate_millicents,
                "budget_cents": balance.budget,
                "committed_cents": balance.committed,
                "paid_cents": balance.paid,
                "available_cents": balance.available,
                "cheques_outstanding_cents": balance.cheques_outstanding,
            }
        )
    return records


def initiative_records(items: Sequence[Initiative]) -> list[dict]:
    ids = [i.id for i in items]
    money = monitoring.money_of_initiatives(ids)
    themes = monitoring.theme_names(ids)
    return [
        {
            "id": i.id,
            "area_id": i.area_id,
            "title": i.title,
            "description": i.description,
            "status": str(i.status),
            "funding_route": str(i.funding_route) if i.funding_route else None,
            "themes": themes.get(i.id, []),
            "requested_amount_cents": i.requested_amount_cents,
            "checked_cost_cents": i.checked_cost_cents,
            "granted_cents": money[i.id].granted,
            "paid_cents": money[i.id].paid,
            "created_on": _date(i.created_at),
            "status_changed_on": _date(i.status_changed_at),
        }
        for i in items
    ]


def _ballots_by_round_and_area(round_ids: list[int]) -> dict[int, dict[int | None, int]]:
    counts: dict[int, dict[int | None, int]] = defaultdict(dict)
    if round_ids:
        for round_id, area_id, count in db.session.execute(
            select(Ballot.round_id, Ballot.area_id, func.count())
            .where(Ballot.round_id.in_(round_ids))
            .group_by(Ballot.round_id, Ballot.area_id)
        ):
            counts[round_id][area_id] = count
    return counts


def round_records(items: Sequence[VotingRound], *, with_results: bool = False) -> list[dict]:
    """Rounds with their ballots per area and turnout; the results once published."""
    counts = _ballots_by_round_and_area([r.id for r in items])
    records = []
    for voting_round in items:
        per_area = counts.get(voting_round.id, {})
        turnout = []
        figures = population_figures(voting_round)  # as when voting opened
        for area in voting_round.areas:
            population = figures[area.id]
            ballots = per_area.get(area.id, 0)
            inhabitants = population["inhabitants"] if population else None
            turnout.append(
                {
                    "area_id": area.id,
                    "ballots": ballots,
                    "inhabitants": inhabitants,
                    "turnout": round(ballots / inhabitants, 4) if inhabitants else None,
                }
            )
        record = {
            "id": voting_round.id,
            "municipality_id": voting_round.municipality_id,
            "title": voting_round.title,
            "year": voting_round.year,
            "phase": str(voting_round.phase()),
            "area_ids": [a.id for a in voting_round.areas],
            "ballot_type": voting_round.ballot_type,
            "rule": voting_round.rule_name,
            "budget_cents": voting_round.budget_cents,
            "voting_opens_at": _timestamp(voting_round.voting_opens_at),
            "voting_closes_at": _timestamp(voting_round.voting_closes_at),
            "ballots": sum(per_area.values()),
            "turnout": turnout,
            "results_published": voting_round.is_published,
        }
        if with_results:
            record["results"] = result_records(voting_round)
        records.append(record)
    return records


def result_records(voting_round: VotingRound) -> list[dict] | None:
    """The projects of a published round with their votes (None before publication)."""
    if not voting_round.is_published:
        return None
    return [
        {
            "round_id": voting_round.id,
            "project_id": p.external_id,
            "initiative_id": p.initiative_id,
            "name": p.name,
            "cost_cents": p.cost_cents,
            "votes": p.votes,
            "selected": bool(p.selected),
            "selection_order": p.selection_order,
        }
        for p in sorted(
            voting_round.projects,
            key=lambda p: (not p.selected, p.selection_order or 0, -(p.votes or 0), p.id),
        )
    ]


def results_query(municipality_id: int | None = None, year: int | None = None) -> Select:
    """Projects of published rounds, for the results CSV."""
    rounds = rounds_query(municipality_id, year).where(
        VotingRound.results_published_at.is_not(None)
    )
    return (
        select(RoundProject)
        .where(RoundProject.round_id.in_(rounds.with_only_columns(VotingRound.id)))
        .order_by(RoundProject.round_id, RoundProject.id)
    )
