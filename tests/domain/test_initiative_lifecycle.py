"""The initiative state machine, checked exhaustively over every pair of statuses and actors."""

from __future__ import annotations

import itertools

import pytest

from buurtbudget.domain.initiative_lifecycle import (
    COMMENTABLE_STATUSES,
    EDITABLE_STATUSES,
    FINAL_STATUSES,
    HAPPY_PATH,
    REASON_MAX_LENGTH,
    TRANSITIONS,
    Actor,
    CheckedCostRequired,
    FundingRoute,
    FundingRouteRequired,
    NoSuchTransition,
    ReasonRequired,
    ReasonTooLong,
    Status,
    WrongActor,
    available_transitions,
    check_transition,
    path_to,
    transition_for,
)

INI, C, S = Actor.INITIATOR, Actor.COORDINATOR, Actor.SYSTEM

# The whole table, written out independently of the module: (from, to) -> who may.
EXPECTED = {
    ("draft", "submitted"): {INI},
    ("submitted", "draft"): {INI},
    ("submitted", "in_review"): {C},
    ("in_review", "open"): {C},
    ("in_review", "rejected"): {C},
    ("in_review", "draft"): {C},
    ("open", "selected"): {C, S},
    ("selected", "in_execution"): {INI, C, S},
    ("in_execution", "completed"): {C, S},
    ("draft", "cancelled"): {INI},
    ("submitted", "cancelled"): {INI, C},
    ("in_review", "cancelled"): {INI, C},
    ("open", "cancelled"): {INI, C},
    ("selected", "cancelled"): {INI, C},
    ("in_execution", "cancelled"): {C},
}
NEEDS_REASON = {("in_review", "rejected"), ("in_review", "draft")} | {
    (s, "cancelled")
    for s in ("draft", "submitted", "in_review", "open", "selected", "in_execution")
}

DETAILS = {
    "reason": "Past niet in het budget",
    "checked_cost_cents": 1000,
    "funding_route": FundingRoute.VOTE,
}


@pytest.mark.parametrize(
    ("source", "target", "actor"), list(itertools.product(Status, Status, Actor))
)
def test_every_pair_and_actor(source, target, actor):
    allowed = actor in EXPECTED.get((source.value, target.value), set())
    if allowed:
        transition = check_transition(source, target, {actor}, **DETAILS)
        assert (transition.source, transition.target) == (source, target)
    else:
        expected = WrongActor if (source.value, target.value) in EXPECTED else NoSuchTransition
        with pytest.raises(expected) as caught:
            check_transition(source, target, {actor}, **DETAILS)
        assert caught.value.code in {"wrong_actor", "no_such_transition"}


def test_table_has_exactly_the_expected_edges():
    assert {(t.source.value, t.target.value): set(t.actors) for t in TRANSITIONS} == EXPECTED


@pytest.mark.parametrize(("source", "target"), sorted(EXPECTED))
def test_reason_is_required_exactly_where_expected(source, target):
    actor = next(iter(EXPECTED[(source, target)]))
    details = {**DETAILS, "reason": "   "}
    if (source, target) in NEEDS_REASON:
        with pytest.raises(ReasonRequired):
            check_transition(Status(source), Status(target), {actor}, **details)
    else:
        check_transition(Status(source), Status(target), {actor}, **details)


def test_reason_may_not_be_too_long():
    check_transition("in_review", "rejected", {C}, reason="x" * REASON_MAX_LENGTH)
    with pytest.raises(ReasonTooLong):
        check_transition("in_review", "rejected", {C}, reason="x" * (REASON_MAX_LENGTH + 1))
    with pytest.raises(ReasonTooLong):
        check_transition("draft", "submitted", {INI}, reason="x" * (REASON_MAX_LENGTH + 1))


@pytest.mark.parametrize("cost", [None, -1])
def test_accepting_needs_a_non_negative_checked_cost(cost):
    with pytest.raises(CheckedCostRequired):
        check_transition("in_review", "open", {C}, checked_cost_cents=cost)
    assert check_transition("in_review", "open", {C}, checked_cost_cents=0).action == "accept"


def test_selecting_needs_a_funding_route():
    with pytest.raises(FundingRouteRequired):
        check_transition("open", "selected", {S})
    assert check_transition("open", "selected", {S}, funding_route=FundingRoute.CHEQUES)


def test_anyone_of_several_actor_roles_may_act():
    # A coordinator who is also the initiator may do what either may.
    assert check_transition("draft", "submitted", {INI, C})
    assert check_transition("submitted", "in_review", {INI, C})
    with pytest.raises(WrongActor):
        check_transition("submitted", "in_review", set())


def test_final_statuses_have_no_way_out():
    for status in FINAL_STATUSES:
        assert available_transitions(status, set(Actor)) == []
    assert {s for s in Status if not available_transitions(s, set(Actor))} == FINAL_STATUSES


def test_available_transitions_per_actor():
    assert [t.action for t in available_transitions(Status.DRAFT, {INI})] == ["submit", "cancel"]
    assert [t.action for t in available_transitions(Status.IN_REVIEW, {C})] == [
        "accept",
        "reject",
        "return",
        "cancel",
    ]
    assert [t.action for t in available_transitions(Status.OPEN, {S})] == ["select"]
    assert available_transitions(Status.DRAFT, {C}) == []


def test_every_status_is_reachable_from_draft_and_paths_are_valid():
    for target in Status:
        path = path_to(target)
        assert path[0] is Status.DRAFT and path[-1] is target
        for source, nxt in itertools.pairwise(path):
            assert transition_for(source, nxt) is not None


def test_status_groups():
    assert {Status.DRAFT, Status.SUBMITTED} == EDITABLE_STATUSES
    assert COMMENTABLE_STATUSES.isdisjoint(FINAL_STATUSES)
    assert HAPPY_PATH[-1] is Status.COMPLETED
    assert transition_for("open", "draft") is None
