"""Validation of one ballot against the round's ballot rules."""

from __future__ import annotations

from fractions import Fraction

import pytest

from buurtbudget.domain.ballots import BallotError, BallotRules, validate_ballot

COSTS = {"a": 100, "b": 250, "c": 400}


def codes(errors: list[BallotError]) -> list[str]:
    return [error.code for error in errors]


def test_valid_approval_ballot() -> None:
    assert validate_ballot(["a", "b"], BallotRules(min_length=1, max_length=2), COSTS) == []


@pytest.mark.parametrize(
    ("ballot", "rules", "expected"),
    [
        ([], BallotRules(min_length=2), ["too_few_projects"]),
        (["a", "b", "c"], BallotRules(max_length=2), ["too_many_projects"]),
        (["a", "a"], BallotRules(), ["duplicate_project"]),
        (["zz"], BallotRules(), ["unknown_project"]),
        (["b", "c"], BallotRules(max_total_cost=600), ["total_cost_too_high"]),
        (["a"], BallotRules(min_total_cost=Fraction(201, 2)), ["total_cost_too_low"]),
        (["a", "b"], BallotRules(kind="choose-1"), ["choose_exactly_one"]),
        ([], BallotRules.for_vote_type("choose-1"), ["choose_exactly_one"]),
        ({"a": 1}, BallotRules(), ["points_not_allowed"]),
    ],
)
def test_approval_errors(ballot, rules, expected) -> None:
    assert codes(validate_ballot(ballot, rules, COSTS)) == expected


def test_choose_one_valid() -> None:
    assert validate_ballot(["c"], BallotRules.for_vote_type("choose-1"), COSTS) == []


def test_knapsack_ballot_at_the_limit_is_valid() -> None:
    assert validate_ballot(["b", "c"], BallotRules(max_total_cost=650), COSTS) == []


CUMULATIVE = BallotRules(kind="cumulative", max_points=3, max_total_points=5)


@pytest.mark.parametrize(
    ("ballot", "expected"),
    [
        ({"a": 3, "b": 2}, []),
        ({"a": 4}, ["too_many_points_for_project"]),
        ({"a": 3, "b": 3}, ["too_many_points"]),
        ({"a": -1}, ["points_negative"]),
        ({"a": 1.5}, ["points_not_whole"]),
        ({"a": True}, ["points_not_whole"]),
        ({"q": 1}, ["unknown_project"]),
        (["a"], ["points_required"]),
    ],
)
def test_cumulative_errors(ballot, expected) -> None:
    assert codes(validate_ballot(ballot, CUMULATIVE, COSTS)) == expected


def test_zero_points_do_not_count_as_chosen() -> None:
    rules = BallotRules(kind="cumulative", min_length=2)
    assert codes(validate_ballot({"a": 2, "b": 0}, rules, COSTS)) == ["too_few_projects"]


def test_messages_are_english_templates_with_named_parameters() -> None:
    (error,) = validate_ballot(["a", "b", "c"], BallotRules(max_length=2), COSTS)
    assert error.template == "Choose at most %(max)d projects (you chose %(count)d)."
    assert dict(error.params) == {"max": 2, "count": 3}
    assert error.message == str(error) == "Choose at most 2 projects (you chose 3)."


def test_rules_from_pabulib_meta() -> None:
    rules = BallotRules.from_pabulib_meta("approval", {"min_length": "2", "max_sum_cost": "300"})
    assert rules == BallotRules(min_length=2, max_total_cost=300)
    with pytest.raises(ValueError, match="max_length must be a whole number"):
        BallotRules.from_pabulib_meta("approval", {"max_length": "2.5"})
    with pytest.raises(ValueError, match="larger than its maximum"):
        BallotRules(min_length=3, max_length=2)
