"""One definition of who may vote (services/voting/eligibility.py): the one-statement ballot
box, the complete use case, the ballot page's guard and turnout's count of eligible accounts
all decide from the same rules, so a voter one path refuses is refused by every path, and a
rule added in that one place holds on all of them."""

from __future__ import annotations

import pytest
from sqlalchemy import func

from buurtbudget.models import User
from buurtbudget.services.errors import PermissionDenied
from buurtbudget.services.voting import ballot_box, casting, eligibility
from tests.voting_world import tanthof_round, written_counts

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def world(make):
    world = tanthof_round(make)
    # The first ballot locks the round, so the ballot box's one-statement path is open.
    casting.cast_ballot(
        make.resident(world["area"], birth_year=1960), world["round"], {world["projects"][0]: 1}
    )
    return world


def _ineligible(make, world, kind: str) -> User:
    area, year = world["area"], world["round"].year
    return {
        "another area": lambda: make.resident(world["other"], birth_year=1980),
        "no area": lambda: make.user(None, birth_year=1980, municipality=world["municipality"]),
        "too young": lambda: make.resident(area, birth_year=year - 10),
        "no year of birth": lambda: make.resident(area, birth_year=None),
        "closed account": lambda: make.resident(area, birth_year=1980, is_active_account=False),
    }[kind]()


def _refused_everywhere(world, voter: User, client_for=None) -> str:
    """Assert that every path refuses ``voter``, writing nothing; the complete path's message."""
    voting_round, first = world["round"], world["projects"][0]
    before = written_counts()
    setup = ballot_box.setup_for(voting_round.id)
    assert setup is not None
    assert ballot_box.try_cast(setup, voter.session_token, {first: 1}) is None  # the fast path
    assert written_counts() == before
    problem = eligibility.eligibility_problem(voter, voting_round)  # the guard of the pages
    assert problem is not None
    with pytest.raises(PermissionDenied) as refused:  # the complete path
        casting.cast_ballot(voter, voting_round, {first: 1})
    assert str(refused.value.message) == problem
    assert written_counts() == before
    return problem


@pytest.mark.parametrize(
    "kind", ["another area", "no area", "too young", "no year of birth", "closed account"]
)
def test_the_fast_and_the_complete_path_refuse_the_same_voter(make, world, kind):
    voter = _ineligible(make, world, kind)
    eligible_before = eligibility.eligible_residents_count(world["round"], world["area"])
    _refused_everywhere(world, voter)
    # ... and turnout does not count them as eligible either.
    assert eligibility.eligible_residents_count(world["round"], world["area"]) == eligible_before


def test_an_eligible_voter_is_accepted_by_either_path(make, world):
    fast, complete = (make.resident(world["area"], birth_year=1980) for _ in range(2))
    setup = ballot_box.setup_for(world["round"].id)
    assert eligibility.eligibility_problem(fast, world["round"]) is None
    assert ballot_box.try_cast(setup, fast.session_token, {world["projects"][0]: 1}) is not None
    casting.cast_ballot(complete, world["round"], {world["projects"][1]: 1})
    assert casting.has_voted(fast, world["round"]) and casting.has_voted(complete, world["round"])


def test_a_rule_added_in_one_place_holds_on_every_path(make, world, monkeypatch):
    """A new rule (here: residents whose language is German may not vote) goes into
    eligibility.RULES only; the fast path, the complete path, the guard and the count of
    eligible accounts all apply it."""
    blocked = make.resident(world["area"], birth_year=1980, locale="de")
    allowed = make.resident(world["area"], birth_year=1980, locale="nl")
    counted_before = eligibility.eligible_residents_count(world["round"], world["area"])
    rule = eligibility.Rule(
        "not_german",
        lambda electorate: func.coalesce(User.locale, "") != "de",
        lambda electorate: "Nicht hier.",
    )
    monkeypatch.setattr(eligibility, "RULES", [*eligibility.RULES, rule])
    ballot_box.forget_all()  # statements built before the rule existed are per process

    assert _refused_everywhere(world, blocked) == "Nicht hier."
    assert eligibility.eligible_residents_count(world["round"], world["area"]) == (
        counted_before - 1
    )
    setup = ballot_box.setup_for(world["round"].id)
    assert ballot_box.try_cast(setup, allowed.session_token, {world["projects"][0]: 1})


def test_the_ballot_page_turns_away_whom_the_rules_refuse(make, world, client_for):
    voter = _ineligible(make, world, "too young")
    response = client_for(voter).get(f"/rounds/{world['round'].id}/ballot")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/rounds/{world['round'].id}")
