"""Counting: results with the round's rule, turnout per area, CSV, publishing (initiatives
selected and granted), and pabulib export / import of whole rounds."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from buurtbudget.domain.initiative_lifecycle import FundingRoute, Status
from buurtbudget.domain.pabulib import parse_pabulib, project_flags, read_pabulib
from buurtbudget.domain.rules import compute
from buurtbudget.extensions import db
from buurtbudget.models import AuditEntry, Ballot, Channel, Phase, RoundSource
from buurtbudget.models._base import utcnow
from buurtbudget.services.errors import Conflict, PermissionDenied, ValidationFailed
from buurtbudget.services.voting import casting, counting, election, pabulib, weighting
from tests.paths import PABULIB_DIR

pytestmark = pytest.mark.usefixtures("english")


PABULIB = PABULIB_DIR


@pytest.fixture
def counted(make):
    """A Tanthof round with 5 online and 2 paper ballots, voting just ended."""
    municipality = make.municipality("Delft")
    area = make.area(municipality, name="Tanthof", inhabitants=1_000)
    other = make.area(municipality, name="Buitenhof")
    voting_round = make.voting_round(
        area, costs=(400_00, 300_00, 500_00), budget_cents=800_00, max_projects=2
    )
    a, b, c = (p.id for p in voting_round.projects)
    ballots = [{a: 1}, {a: 1, b: 1}, {a: 1, c: 1}, {c: 1}, {b: 1, c: 1}]
    for index, choices in enumerate(ballots):
        casting.cast_ballot(
            make.resident(area, birth_year=1950 + index * 10), voting_round, choices
        )
    admin = make.administrator(municipality)
    make.paper_ballot(voting_round, {c: 1}, keyers=(admin, make.coordinator(area)))
    make.paper_ballot(voting_round, {a: 1}, keyers=(admin, make.coordinator(area)))
    voting_round.voting_closes_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    return {"round": voting_round, "admin": admin, "area": area, "other": other, "make": make}


def test_results_follow_the_rule_and_explain_each_project(counted):
    voting_round = counted["round"]
    assert voting_round.phase() is Phase.COUNTING
    outcome = counting.close_round(counted["admin"], voting_round)
    # Votes: Project 1 = 4, Project 2 = 2, Project 3 = 4. Greedy: equal votes -> id order.
    projects = {p.name: p for p in voting_round.projects}
    assert {name: p.votes for name, p in projects.items()} == {
        "Project 1": 4,
        "Project 2": 2,
        "Project 3": 4,
    }
    assert outcome.selected == (
        projects["Project 1"].external_id,
        projects["Project 2"].external_id,
    )
    assert [projects[n].selected for n in ("Project 1", "Project 2", "Project 3")] == [
        True,
        True,
        False,
    ]
    assert "exceeds remaining" in projects["Project 3"].selection_reason
    assert "4 votes" in projects["Project 1"].selection_reason
    assert voting_round.result_total_cost_cents == 700_00
    assert voting_round.phase() is Phase.RESULTS
    assert counting.results_in_order(voting_round)[0].name == "Project 1"
    with pytest.raises(Conflict, match="already closed"):
        counting.close_round(counted["admin"], voting_round)


def test_turnout_per_area_counts_paper_ballots(counted):
    rows = counting.turnout(counted["round"])
    [tanthof] = rows
    assert tanthof.area.name == "Tanthof"
    # 5 online + 2 paper ballots, which take the area of their stempas' elector.
    assert tanthof.ballots == 7
    assert tanthof.inhabitants == 1_000
    assert tanthof.share_of_inhabitants == pytest.approx(0.007)
    # Eligible: the round's electors: the 5 online voters, the 3 initiators of the projects
    # (born 1980) and the 2 electors who voted on paper.
    assert tanthof.eligible_accounts == 10
    assert counting.ballots_by_channel(counted["round"]) == {"online": 5, "paper": 2}
    cells = counting.ballot_cells(counted["round"])
    assert cells[(counted["area"].id, "age_65_plus")] == 2  # born 1950 and 1960
    assert (None, None) not in cells


@pytest.mark.parametrize("count", ["ballot_cells", "ballots_by_channel"])
def test_turnout_counts_read_the_ballot_index_alone(counted, count):
    """The results page of a round of a million ballots counts per area, age band and channel:
    those counts are answered from an index, never by reading every (wide) ballot row."""
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "FROM ballot" in statement and "GROUP BY" in statement:
            statements.append((statement, parameters))

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        getattr(counting, count)(counted["round"])
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)
    [(statement, parameters)] = statements
    connection = db.session.connection()
    driver = connection.connection.driver_connection
    if engine.dialect.name == "sqlite":
        plan = " ".join(
            row[3] for row in driver.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        )
        assert "COVERING INDEX ix_ballot_round_area_band_channel" in plan, plan
    else:
        # Seven ballots: a sequential scan is cheaper, so forbid it to see what the index can do.
        with driver.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_bitmapscan = off")
            cursor.execute("EXPLAIN " + statement, parameters)
            plan = " ".join(row[0] for row in cursor.fetchall())
        assert "Index Only Scan using ix_ballot_round_area_band_channel" in plan, plan


def test_results_csv(counted):
    counting.close_round(counted["admin"], counted["round"])
    rows = list(csv.reader(io.StringIO(counting.results_csv(counted["round"]))))
    assert rows[0] == list(counting.CSV_HEADER)
    assert [(r[1], r[2], r[3], r[5]) for r in rows[1:]] == [
        ("Project 1", "400.00", "4", "1"),
        ("Project 2", "300.00", "2", "1"),
        ("Project 3", "500.00", "4", "0"),
    ]


def test_publishing_selects_the_winning_initiatives(counted):
    voting_round = counted["round"]
    counting.close_round(counted["admin"], voting_round)
    resident = counted["make"].resident(counted["area"])
    with pytest.raises(PermissionDenied):
        counting.publish_results(resident, voting_round)
    counted["make"].publish(voting_round, counted["admin"])
    statuses = {p.name: p.initiative.status for p in voting_round.projects}
    assert statuses == {
        "Project 1": Status.SELECTED,
        "Project 2": Status.SELECTED,
        "Project 3": Status.OPEN,
    }
    winner = voting_round.projects[0].initiative
    assert winner.funding_route is FundingRoute.VOTE
    assert winner.history[-1].reason == f"selected in round {voting_round.title}"
    assert winner.history[-1].actor is None
    with pytest.raises(Conflict, match="already published"):
        counting.publish_results(counted["admin"], voting_round)


def test_a_winner_cancelled_meanwhile_is_named_not_funded(counted):
    from buurtbudget.models import AuditEntry
    from buurtbudget.services import initiatives

    voting_round = counted["round"]
    counting.close_round(counted["admin"], voting_round)
    first, second, _third = voting_round.projects
    assert first.selected and second.selected
    initiative = second.initiative
    initiatives.apply_status_change(
        initiative.initiator, initiative, Status.CANCELLED, "the street is being rebuilt"
    )
    not_funded = counted["make"].publish(voting_round, counted["admin"])
    assert not_funded == [second]
    assert first.initiative.status is Status.SELECTED
    assert second.initiative.status is Status.CANCELLED
    assert second.initiative.funding_route is None
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "round.results_published")
    ).one()
    assert entry.details["not_funded"] == [second.external_id]
    assert set(entry.details["selected"]) == {first.external_id, second.external_id}


def test_publishing_needs_a_second_staff_member(counted):
    # The attack: one coordinator counted, and nothing stopped them publishing alone.
    voting_round, admin = counted["round"], counted["admin"]
    counting.close_round(admin, voting_round)
    with pytest.raises(Conflict, match="Ask for publication first"):
        counting.publish_results(admin, voting_round)
    counting.request_publication(admin, voting_round)
    with pytest.raises(Conflict, match="a second staff member must publish"):
        counting.publish_results(admin, voting_round)
    with pytest.raises(Conflict, match="already been asked"):
        counting.request_publication(admin, voting_round)
    outsider = counted["make"].administrator(counted["make"].municipality())
    with pytest.raises(PermissionDenied):
        counting.publish_results(outsider, voting_round)
    assert not voting_round.is_published
    counting.publish_results(counted["make"].administrator(voting_round.municipality), voting_round)
    assert voting_round.is_published


def test_every_count_is_audited_and_shown_on_the_public_results_page(counted, client):
    voting_round = counted["round"]
    counting.close_round(counted["admin"], voting_round)
    (count,) = counting.counts_of(voting_round)
    assert count.details["occasion"] == "close" and count.details["ballots"] > 0
    assert count.details["selected"] == [p.external_id for p in voting_round.projects[:2]]
    counted["make"].publish(voting_round, counted["admin"])
    page = client.get(f"/rounds/{voting_round.id}/results").get_data(as_text=True)
    assert "Every count of this round" in page and "Count at closing" in page


def test_publish_needs_a_closed_round(counted):
    with pytest.raises(Conflict, match="Close the round first"):
        counting.publish_results(counted["admin"], counted["round"])


def test_weighting_hook_is_unweighted_by_default(counted):
    ballots = election.read_ballots(counted["round"])
    assert weighting.voter_weights_for(counted["round"], ballots) is None
    assert [b.id for b in ballots] == sorted(b.id for b in ballots)


# pabulib ---------------------------------------------------------------------------------------


def _import(make, name: str, **options):
    municipality = make.municipality("Amsterdam")
    content = (PABULIB / name).read_bytes()
    return pabulib.import_round(
        None, municipality, content, source_name=name, **options
    ), read_pabulib(PABULIB / name)


def test_import_amsterdam_179_equals_the_engine_on_the_file(make):
    voting_round, election = _import(make, "Netherlands_Amsterdam_179.pb")
    expected = compute("greedy", election)
    selected = [p.external_id for p in voting_round.projects if p.selected]
    assert sorted(selected) == sorted(expected.selected)
    ordered = sorted(
        (p for p in voting_round.projects if p.selected), key=lambda p: p.selection_order
    )
    assert tuple(p.external_id for p in ordered) == expected.selected
    assert voting_round.source is RoundSource.PABULIB
    assert voting_round.is_closed and voting_round.is_published and voting_round.is_locked
    assert voting_round.budget_cents == 250_000_00
    assert db.session.query(Ballot).filter_by(channel=Channel.IMPORTED).count() == 219
    # The file's own vote counts equal ours.
    file_votes = {p.id: int(p.extra["votes"]) for p in election.projects}
    assert {p.external_id: p.votes for p in voting_round.projects} == file_votes
    # The caps of the file are kept: some project was skipped for its category cap.
    assert any("cap" in (p.selection_reason or "") for p in voting_round.projects)


def test_import_assen_2024_reproduces_the_official_winners(make):
    voting_round, election = _import(make, "Netherlands_Assen_2024.pb")
    assert voting_round.rule_name == "mes_add1"
    selected = sorted(p.external_id for p in voting_round.projects if p.selected)
    assert selected == sorted(project_flags(election))


def test_import_counts_with_the_files_official_rule(make):
    voting_round, election = _import(make, "Poland_Gdynia_2020_Chylonia__large.pb")
    assert voting_round.rule_name == "greedy_no_skip"
    selected = sorted(p.external_id for p in voting_round.projects if p.selected)
    assert selected == sorted(project_flags(election))


def test_import_keeps_a_doubled_project_once_and_audits_the_warning(make):
    voting_round, _election = _import(make, "Netherlands_Amsterdam_604.pb")
    ballot = db.session.scalars(
        select(Ballot).where(
            Ballot.round_id == voting_round.id, Ballot.external_id == "13650977333"
        )
    ).one()
    assert len(ballot.choices) == 5
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "round.imported")
    ).one()
    assert any("line 1927" in warning for warning in entry.details["warnings"])


def test_import_refuses_an_unknown_rule_and_ranked_ballots(make):
    municipality = make.municipality()
    wieliczka = (PABULIB / "Poland_Wieliczka_2023_Green_Budget.pb").read_bytes()
    with pytest.raises(ValidationFailed, match="equalshares/add1-comparison cannot be applied"):
        pabulib.import_round(None, municipality, wieliczka)
    counted = pabulib.import_round(None, municipality, wieliczka, rule_name="mes_add1")
    assert counted.rule_name == "mes_add1"
    krakow = (PABULIB / "Poland_Krakow_2018_Bienczyce.pb").read_bytes()
    with pytest.raises(ValidationFailed, match="ranked"):
        pabulib.import_round(None, municipality, krakow)


def test_export_and_import_round_trip(counted):
    counting.close_round(counted["admin"], counted["round"])
    text = pabulib.export_round(counted["round"])
    election = parse_pabulib(text)
    assert election.num_voters == 7
    assert election.budget == 800  # euros
    assert [p.cost for p in election.projects] == [400, 300, 500]
    assert [p.extra["selected"] for p in election.projects] == ["1", "1", "0"]
    assert election.meta["rule"] == "greedy" and election.meta["max_length"] == "2"
    assert (
        sorted(election.ballots.voter_columns["voting_method"]) == ["internet"] * 5 + ["paper"] * 2
    )
    assert "area" not in text.lower().split("votes")[-1]  # no area / age per ballot
    again = pabulib.import_round(
        None, counted["round"].municipality, text.encode(), source_name="export.pb"
    )
    assert [p.selected for p in again.projects] == [p.selected for p in counted["round"].projects]


def test_import_refuses_broken_files(make):
    municipality = make.municipality()
    with pytest.raises(ValidationFailed, match="not a valid pabulib file.*line 1"):
        pabulib.import_round(None, municipality, b"hello")
    admin = make.administrator(make.municipality())
    content = (PABULIB / "Netherlands_Assen_2024.pb").read_bytes()
    with pytest.raises(PermissionDenied):
        pabulib.import_round(admin, municipality, content)
    with pytest.raises(ValidationFailed, match="not a valid choice"):
        pabulib.import_round(None, municipality, content, rule_name="borda")
    assert pabulib.rule_for_file("equalshares/add1") == "mes_add1"
    assert pabulib.rule_for_file("greedy-no-skip") == "greedy_no_skip"
    assert pabulib.rule_for_file("something-new") is None
