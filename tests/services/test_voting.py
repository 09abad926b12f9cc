"""Voting rounds: setup and its lock, eligibility, casting once, changing a ballot, paper
ballots, voting codes."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from buurtbudget.extensions import db
from buurtbudget.models import (
    AuditEntry,
    Ballot,
    Channel,
    Phase,
    VoterRecord,
    VotingCode,
)
from buurtbudget.models._base import utcnow
from buurtbudget.services.errors import Conflict, PermissionDenied, ValidationFailed
from buurtbudget.services.voting import casting, codes, counting, rounds
from tests.factories import move_dates
from tests.voting_world import opened_behind_its_back, setup_of, tanthof_round

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def world(make):
    return tanthof_round(make)


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_round_puts_open_initiatives_of_its_areas_on_the_ballot(make, world):
    make.open_initiative(world["other"], "Elders")
    assert [p.name for p in world["round"].projects] == ["Project 1", "Project 2", "Project 3"]
    assert [p.cost_cents for p in world["round"].projects] == [300_00, 500_00, 700_00]
    assert world["round"].phase() is Phase.VOTING


def test_a_resident_votes_once_and_the_ballot_is_anonymous(world):
    first, second, _ = world["projects"]
    result = casting.cast_ballot(world["resident"], world["round"], {first: 1, second: 1})
    assert result.cast_on == date.today()
    assert result.receipt_token is None  # no receipt when ballots cannot change
    ballot = db.session.scalars(select(Ballot)).one()
    assert ballot.channel is Channel.ONLINE
    assert ballot.area_id == world["area"].id
    assert ballot.age_band == "age_25_44"  # born 1990, voting in 2026 or later
    assert ballot.cast_on == date.today()
    assert sorted(ballot.choices) == [first, second]
    record = db.session.scalars(select(VoterRecord)).one()
    assert record.user_id == world["resident"].id
    assert world["round"].locked_at is not None
    # Casting leaves no audit trace with a time next to the ballot.
    assert _count(AuditEntry) == 1  # only "round.created"

    with pytest.raises(Conflict, match="already voted"):
        casting.cast_ballot(world["resident"], world["round"], {first: 1})
    assert (_count(Ballot), _count(VoterRecord)) == (1, 1)
    assert casting.has_voted(world["resident"], world["round"])


def test_ballot_rules_of_the_round_are_enforced_with_translated_messages(make, world):
    first, second, third = world["projects"]
    with pytest.raises(ValidationFailed, match=r"Choose at most 2 projects \(you chose 3\)"):
        casting.cast_ballot(world["resident"], world["round"], {first: 1, second: 1, third: 1})
    with pytest.raises(ValidationFailed, match="not in this round"):
        casting.cast_ballot(world["resident"], world["round"], {987654: 1})
    with pytest.raises(ValidationFailed, match="does not use points"):
        casting.cast_ballot(world["resident"], world["round"], {first: 3})
    knapsack = make.voting_round(
        world["other"], costs=(600_00, 500_00), max_total_cost_cents=1000_00
    )
    a, b = (p.id for p in knapsack.projects)
    voter = make.resident(world["other"])
    with pytest.raises(ValidationFailed, match="1.100,00|1,100.00") as error:
        casting.cast_ballot(voter, knapsack, {a: 1, b: 1})
    assert "limit is" in str(error.value.message)
    assert _count(Ballot) == 0 and _count(VoterRecord) == 0


def test_cumulative_ballot_with_points(make, world):
    points_round = make.voting_round(
        world["other"],
        costs=(100_00, 200_00, 300_00),
        ballot_type="cumulative",
        max_total_points=10,
        max_points_per_project=6,
    )
    a, b, c = (p.id for p in points_round.projects)
    voter = make.resident(world["other"])
    with pytest.raises(ValidationFailed, match="at most 10 points in total"):
        casting.cast_ballot(voter, points_round, {a: 6, b: 5})
    with pytest.raises(ValidationFailed, match="at most 6 points to project Project"):
        casting.cast_ballot(voter, points_round, {a: 7})
    casting.cast_ballot(voter, points_round, {a: 6, b: 4, c: 0})
    ballot = db.session.scalars(select(Ballot).where(Ballot.round_id == points_round.id)).one()
    assert ballot.choices == {a: 6, b: 4}


def test_who_may_vote(make, world):
    first = world["projects"][0]
    # Only electors (from the register, bound by stempas) vote: the factories make none of
    # these an elector (another area, too young, no year of birth, staff without a home).
    cases = [
        (make.resident(world["other"]), "Only electors of Tanthof"),
        (make.resident(world["area"], birth_year=date.today().year - 10), "Only electors of"),
        (make.resident(world["area"], birth_year=None), "Only electors of Tanthof"),
        (world["coordinator"], "Only electors of Tanthof"),
    ]
    for user, message in cases:
        with pytest.raises(PermissionDenied, match=message):
            casting.cast_ballot(user, world["round"], {first: 1})
    assert _count(Ballot) == 0


def test_min_age_is_configurable(make, world):
    young_round = make.voting_round(world["other"], costs=(100_00,), min_age=12)
    twelve = make.resident(world["other"], birth_year=young_round.year - 12)
    casting.cast_ballot(twelve, young_round, {young_round.projects[0].id: 1})
    assert db.session.scalars(select(Ballot)).one().age_band == "age_0_14"


def test_no_voting_outside_the_voting_phase(make, world):
    early = make.voting_round(world["other"], costs=(100_00,), phase="proposals")
    late = make.voting_round(world["other"], costs=(100_00,), phase="counting")
    voter = make.resident(world["other"])
    for voting_round in (early, late):
        with pytest.raises(Conflict, match="not open"):
            casting.cast_ballot(voter, voting_round, {voting_round.projects[0].id: 1})
    assert early.phase() is Phase.PROPOSALS and late.phase() is Phase.COUNTING


SETUP_FIELDS = (
    "ballot_type",
    "rule_name",
    "min_projects",
    "max_projects",
    "max_total_cost_cents",
    "max_points_per_project",
    "max_total_points",
    "min_age",
    "allow_ballot_change",
    "uses_voting_codes",
    "budget_cents",
    "budget_period_id",
    "voting_opens_at",
    "rule_meta",
)


def _open(voting_round) -> None:
    """The time passes until voting opens (a second ago)."""
    move_dates(voting_round, utcnow() - timedelta(seconds=1) - voting_round.voting_opens_at)


def _as_stored(voting_round) -> tuple:
    """What decides how votes count, as the database has it (the setup and the ballot)."""
    db.session.expire_all()
    return (
        tuple(getattr(voting_round, name) for name in SETUP_FIELDS),
        voting_round.area_ids,
        [(p.initiative_id, p.name, p.cost_cents, p.position) for p in voting_round.projects],
    )


def test_setup_is_fixed_once_voting_opens_even_without_a_ballot(make):
    # The attack: voting is open, nobody voted yet, and the coordinator changes the counting
    # rule, the ballot, the limits, the areas, the budget or the projects on the ballot.
    world = tanthof_round(make, phase="review")
    voting_round, admin = world["round"], world["admin"]
    area, other = world["area"], world["other"]
    # Before the opening the setup and the ballot change freely.
    rounds.update_round(admin, voting_round, setup_of(voting_round, rule_name="mes"))
    assert voting_round.rule_name == "mes"
    late = make.open_initiative(area, "Late project", 200_00)
    rounds.refresh_projects(admin, voting_round)
    assert "Late project" in [p.name for p in voting_round.projects]
    _open(voting_round)
    assert voting_round.phase() is Phase.VOTING and not voting_round.is_locked
    assert _count(Ballot) == 0
    stored = _as_stored(voting_round)
    attempts = [
        {"rule_name": "greedy"},
        {"ballot_type": "choose-1"},
        {"ballot_type": "cumulative", "max_total_points": 10},
        {"max_projects": 3},
        {"min_projects": 1},
        {"max_total_cost_cents": 500_00},
        {"budget_cents": 2_000_000},
        {"min_age": 12},
        {"allow_ballot_change": True},
        {"uses_voting_codes": True},
        {"areas": [area, other]},
        {"rule_meta": {"max_selected": 1}},
    ]
    for changes in attempts:
        with pytest.raises(Conflict, match="cannot change any more"):
            rounds.update_round(admin, voting_round, setup_of(voting_round, **changes))
    # The projects on the ballot: an initiative opened since, or a new cost, stays off.
    make.open_initiative(area, "Too late", 100_00)
    late.checked_cost_cents = 900_00
    db.session.commit()
    with pytest.raises(Conflict, match="projects on the ballot cannot change"):
        rounds.refresh_projects(admin, voting_round)
    # Shortening the vote: the closing date only moves later, ballots or not.
    with pytest.raises(Conflict, match="closing date can only move later") as caught:
        rounds.update_round(
            admin,
            voting_round,
            setup_of(voting_round, voting_closes_at=utcnow() + timedelta(minutes=5)),
        )
    assert caught.value.field == "voting_closes_at"
    # What may change while voting is open still can, and leaves the ballot as it was.
    later = voting_round.voting_closes_at + timedelta(days=2)
    rounds.update_round(
        admin, voting_round, setup_of(voting_round, title="Tanthof kiest", voting_closes_at=later)
    )
    assert (voting_round.title, voting_round.voting_closes_at) == ("Tanthof kiest", later)
    assert _as_stored(voting_round) == stored
    assert [p.name for p in voting_round.projects] == [
        "Late project",
        "Project 1",
        "Project 2",
        "Project 3",
    ]
    # And so it stays after the first ballot.
    casting.cast_ballot(world["resident"], voting_round, {world["projects"][0]: 1})
    with pytest.raises(Conflict, match="cannot change any more"):
        rounds.update_round(admin, voting_round, setup_of(voting_round, max_projects=3))
    with pytest.raises(Conflict, match="projects on the ballot cannot change"):
        rounds.refresh_projects(admin, voting_round)
    assert _as_stored(voting_round) == stored


def test_a_round_that_opened_while_it_was_read_refuses_a_setup_change(make):
    # The write itself checks the dates it finds, under the round's lock.
    world = tanthof_round(make, phase="review")
    voting_round, admin = world["round"], world["admin"]
    make.open_initiative(world["area"], "Late project", 200_00)
    stored = _as_stored(voting_round)
    for changes in ({"rule_name": "mes"}, {"max_projects": 3}, {"budget_cents": 5_000_00}):
        setup = setup_of(voting_round, **changes)
        opened_behind_its_back(voting_round)
        with pytest.raises(Conflict, match="cannot change any more"):
            rounds.update_round(admin, voting_round, setup)
        assert _as_stored(voting_round) == stored
    opened_behind_its_back(voting_round)
    with pytest.raises(Conflict, match="projects on the ballot cannot change"):
        rounds.refresh_projects(admin, voting_round)
    assert _as_stored(voting_round) == stored
    assert "Late project" not in [p.name for p in voting_round.projects]


def test_once_ballots_exist_the_closing_date_only_moves_later(world):
    # The attack: the closing date of a running round moved into the past, then counted.
    voting_round = world["round"]
    casting.cast_ballot(world["resident"], voting_round, {world["projects"][0]: 1})
    closes = voting_round.voting_closes_at
    for earlier in (utcnow() - timedelta(minutes=1), closes - timedelta(minutes=1)):
        with pytest.raises(Conflict, match="closing date can only move later"):
            rounds.update_round(
                world["admin"], voting_round, setup_of(voting_round, voting_closes_at=earlier)
            )
    db.session.refresh(voting_round)
    assert voting_round.voting_closes_at == closes
    with pytest.raises(Conflict, match="has not ended"):
        counting.close_round(world["admin"], voting_round)


def test_setup_validation_and_permissions(make, world):
    voting_round = world["round"]
    bad = [
        ({"title": ""}, "required"),
        ({"title": "x" * 121}, "longer than 120"),
        ({"rule_name": "dictator"}, "not a valid choice"),
        ({"ballot_type": "ranked"}, "not a valid choice"),
        ({"min_projects": 3, "max_projects": 2}, "above the maximum"),
        ({"budget_cents": -5}, "above zero"),
        ({"min_age": 200}, "from 0 to 120"),
        ({"review_until": voting_round.voting_closes_at}, "follow each other"),
    ]
    for changes, message in bad:
        with pytest.raises(ValidationFailed, match=message):
            rounds.update_round(world["admin"], voting_round, setup_of(voting_round, **changes))
    outsider = make.coordinator(world["other"])
    with pytest.raises(PermissionDenied):
        rounds.update_round(outsider, voting_round, setup_of(voting_round))
    with pytest.raises(PermissionDenied):
        rounds.update_round(world["resident"], voting_round, setup_of(voting_round))
    other_admin = make.administrator(make.municipality())
    with pytest.raises(PermissionDenied):
        rounds.update_round(other_admin, voting_round, setup_of(voting_round))


def test_ballot_change_with_the_receipt_token_only(make, world):
    voting_round = make.voting_round(
        world["other"], costs=(100_00, 200_00), allow_ballot_change=True
    )
    a, b = (p.id for p in voting_round.projects)
    voter = make.resident(world["other"])
    result = casting.cast_ballot(voter, voting_round, {a: 1})
    assert len(result.receipt_token) >= 22  # 128 random bits
    ballot = db.session.scalars(select(Ballot)).one()
    assert ballot.receipt_hash != result.receipt_token and len(ballot.receipt_hash) == 64

    with pytest.raises(ValidationFailed, match="receipt code is not valid"):
        casting.change_ballot(voter, voting_round, "guess", {b: 1})
    someone_else = make.resident(world["other"])
    with pytest.raises(Conflict, match="not voted"):
        casting.change_ballot(someone_else, voting_round, result.receipt_token, {b: 1})
    casting.change_ballot(voter, voting_round, result.receipt_token, {b: 1})
    db.session.expire_all()
    ballot = db.session.scalars(select(Ballot)).one()
    assert list(ballot.choices) == [b]
    assert (_count(Ballot), _count(VoterRecord)) == (1, 1)

    with pytest.raises(Conflict, match="cannot be changed"):
        casting.change_ballot(world["resident"], world["round"], result.receipt_token, {a: 1})


def test_voting_codes_for_residents_without_an_account(make, world):
    voting_round = make.voting_round(
        world["area"], costs=(100_00,), uses_voting_codes=True, electorate=False
    )
    project = voting_round.projects[0].id
    issued = codes.issue_voting_codes(
        world["coordinator"],
        voting_round,
        [
            codes.CodeRecipient("Kruithuisweg 12", world["area"], "age_45_64"),
            codes.CodeRecipient("Kruithuisweg 14", world["area"]),
        ],
    )
    plain = [code for _recipient, code in issued]
    assert all(len(codes.normalise_code(code)) == 12 for code in plain)
    assert len(set(plain)) == 2
    stored = [row[0] for row in db.session.execute(select(VotingCode.code_hash))]
    assert not set(plain) & set(stored) and all(len(h) == 64 for h in stored)

    casting.cast_ballot(None, voting_round, {project: 1}, voting_code=plain[0].lower())
    ballot = db.session.scalars(select(Ballot)).one()
    assert (ballot.channel, ballot.area_id, ballot.age_band) == (
        Channel.CODE,
        world["area"].id,
        "age_45_64",
    )
    with pytest.raises(Conflict, match="already been used"):
        casting.cast_ballot(None, voting_round, {project: 1}, voting_code=plain[0])
    with pytest.raises(ValidationFailed, match="not valid for this round"):
        casting.cast_ballot(None, voting_round, {project: 1}, voting_code="AAAA-BBBB-CCCC")
    # A round with an electorate takes stempas codes only.
    with pytest.raises(ValidationFailed, match="not a stempas code"):
        casting.cast_ballot(None, world["round"], {world["projects"][0]: 1}, voting_code=plain[1])
    with pytest.raises(PermissionDenied):
        codes.issue_voting_codes(world["resident"], voting_round, [codes.CodeRecipient("x")])
    record = db.session.scalars(select(VoterRecord)).one()
    assert record.user_id is None and record.voting_code_id is not None


def test_close_is_refused_while_voting_is_open(world):

    with pytest.raises(Conflict, match="not ended"):
        counting.close_round(world["admin"], world["round"])
    with pytest.raises(PermissionDenied):
        counting.close_round(world["resident"], world["round"], now=utcnow() + timedelta(days=30))
