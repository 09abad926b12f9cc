"""Greedy by votes: pabutools equality, official results, caps and leftover policy, traces."""

from __future__ import annotations

import random
from fractions import Fraction

import numpy as np
import pytest

from buurtbudget.domain.pabulib import project_flags, read_pabulib
from buurtbudget.domain.rules import Election, Project, compute, greedy
from buurtbudget.domain.rules.greedy import sum_by_project

from .conftest import (
    SMALL_FILES,
    pabutools_outcome,
    reference_cases,
    reference_weights,
    shared_file,
)


@pytest.mark.parametrize("utility", ["cost", "cardinality"])
@pytest.mark.parametrize("name", SMALL_FILES)
def test_small_files_match_pabutools_live(name: str, utility: str) -> None:
    election = read_pabulib(shared_file(name))
    # pabutools knows no caps: compare the plain rule.
    ours = greedy(election, utility=utility, caps=False)
    assert list(ours.selected) == pabutools_outcome(election, "greedy", utility)


@pytest.mark.parametrize(("name", "utility", "weighted", "expected"), reference_cases("greedy"))
def test_shared_files_match_stored_pabutools_results(name, utility, weighted, expected) -> None:
    election = read_pabulib(shared_file(name))
    weights = reference_weights(election.num_voters) if weighted else None
    ours = compute("greedy", election, weights, utility=utility, caps=False)
    assert list(ours.selected) == expected


def test_official_result_rembertow() -> None:
    election = read_pabulib(shared_file("Poland_Warszawa_2019_Rembertow.pb"))
    assert election.meta["rule"] == "greedy"
    assert sorted(greedy(election).selected) == sorted(project_flags(election))


def test_official_result_warsaw_2026_with_threshold() -> None:
    # rule greedy-threshold: projects under min_project_score_threshold (3000 votes) are out.
    election = read_pabulib(shared_file("Poland_Warszawa_2026.pb"))
    outcome = greedy(election)
    assert outcome.details["min_score"] == 3000
    assert sorted(outcome.selected) == sorted(project_flags(election))
    # Without the threshold the result is different, so the threshold is really applied.
    assert sorted(greedy(election, caps=False).selected) != sorted(project_flags(election))


def slow_capped_greedy(election: Election, category_caps, neighborhood_caps, leftover: bool):
    """Independent, deliberately plain re-implementation of our reading of the Amsterdam rules."""
    votes = {p.id: 0 for p in election.projects}
    for voter in range(election.num_voters):
        for index in election.ballots.ballot(voter):
            votes[election.projects[index].id] += 1
    ranking = sorted(election.projects, key=lambda p: (-votes[p.id], p.id))
    remaining = election.budget
    spent: dict[str, int] = {}
    chosen: list[str] = []
    for project in ranking:
        groups = [("c", c) for c in project.categories if c in category_caps]
        groups += [("n", n) for n in project.neighborhoods if n in neighborhood_caps]
        caps = {**{("c", k): v for k, v in category_caps.items()}}
        caps.update({("n", k): v for k, v in neighborhood_caps.items()})
        fits_caps = all(spent.get(g, 0) + project.cost <= caps[g] for g in groups)
        if project.cost <= remaining and fits_caps:
            chosen.append(project.id)
            remaining -= project.cost
            for g in groups:
                spent[g] = spent.get(g, 0) + project.cost
    if leftover:
        for project in ranking:
            if project.id not in chosen and project.cost <= remaining:
                chosen.append(project.id)
                remaining -= project.cost
    return chosen


def test_amsterdam_179_category_caps_and_leftover() -> None:
    election = read_pabulib(shared_file("Netherlands_Amsterdam_179.pb"))
    outcome = greedy(election)
    caps = {"Jeugd": 82000, "Groen": 53000, "Ontmoeting": 115000}
    assert outcome.details["category_caps"] == caps
    assert outcome.details["leftover"] == "fill"
    assert list(outcome.selected) == slow_capped_greedy(election, caps, {}, leftover=True)
    # The caps really bind on this file: some project is skipped for a category cap ...
    reasons = [step.reason for step in outcome.trace if step.action == "skipped"]
    assert any("category cap" in reason for reason in reasons)
    # ... and the first (capped) pass never exceeds a cap.
    capped_pass = [s.project_id for s in outcome.trace if s.action == "selected"]
    capped_pass = [
        pid
        for pid, step in zip(
            capped_pass, [s for s in outcome.trace if s.action == "selected"], strict=True
        )
        if not step.reason.startswith("leftover")
    ]
    for category, cap in caps.items():
        spent = sum(
            election.project(pid).cost
            for pid in capped_pass
            if category in election.project(pid).categories
        )
        assert spent <= cap
    assert outcome.total_cost <= election.budget


def test_amsterdam_252_neighbourhood_caps_without_leftover() -> None:
    election = read_pabulib(shared_file("Netherlands_Amsterdam_252.pb"))
    outcome = greedy(election)
    caps = {"Oostelijke Eilanden": 150000, "Haarlemmerhouttuinen": 100000, "Other": 250000}
    assert outcome.details["neighborhood_caps"] == caps
    assert outcome.details["leftover"] == "none"
    assert list(outcome.selected) == slow_capped_greedy(election, {}, caps, leftover=False)
    assert list(outcome.selected) != list(greedy(election, caps=False).selected)


@pytest.mark.parametrize("seed", range(40))
def test_random_caps_match_the_plain_reference(seed: int) -> None:
    rng = random.Random(seed)
    categories = ["green", "youth", "meet"]
    projects = [
        Project(str(i), rng.randint(1, 30), categories=(rng.choice(categories),)) for i in range(8)
    ]
    ballots = [[p.id for p in projects if rng.random() < 0.4] for _ in range(rng.randint(1, 12))]
    caps = {c: rng.randint(5, 40) for c in categories if rng.random() < 0.8}
    budget = rng.randint(20, 120)
    election = Election.build(budget, projects, ballots)
    for leftover in (True, False):
        ours = greedy(
            election, category_caps=caps, leftover="fill" if leftover else "none"
        ).selected
        assert list(ours) == slow_capped_greedy(election, caps, {}, leftover)


def test_trace_explains_each_decision() -> None:
    election = Election.build(
        100,
        [Project("a", 60), Project("b", 50), Project("c", 40), Project("d", 10)],
        [["a", "b"], ["a", "c"], ["b", "c", "a"], ["d"]],
    )
    outcome = compute("greedy", election)
    assert outcome.selected == ("a", "c")
    assert [(s.project_id, s.action, s.reason) for s in outcome.trace] == [
        ("a", "selected", "3 votes, cost 60 fits (remaining 40)"),
        ("b", "skipped", "cost 50 exceeds remaining 40"),
        ("c", "selected", "2 votes, cost 40 fits (remaining 0)"),
        ("d", "skipped", "cost 10 exceeds remaining 0"),
    ]
    assert outcome.total_cost == 100 and outcome.leftover == 0


def test_ties_go_to_the_smallest_id_as_a_string() -> None:
    projects = [Project("9", 10), Project("10", 10), Project("b", 10)]
    election = Election.build(10, projects, [["9", "10", "b"]])
    assert compute("greedy", election).selected == ("10",)


def test_weights_count_as_repeated_voters() -> None:
    projects = [Project("a", 6), Project("b", 6)]
    ballots = [["a"], ["b"], ["b"]]
    election = Election.build(10, projects, ballots)
    assert greedy(election).selected == ("b",)
    assert greedy(election, [3, 1, 1]).selected == ("a",)
    assert greedy(election, [Fraction(5, 2), 1, 1]).selected == ("a",)
    assert greedy(election, [2, 1, 1]).selected == ("a",)  # 2 vs 2: tie, "a" < "b"
    assert greedy(election, ["1.9", 1, 1]).selected == ("b",)
    assert greedy(election, [0.5, 0.25, 0.25]).selected == ("a",)


def test_cumulative_greedy_ranks_by_points() -> None:
    election = Election.build(
        10,
        [Project("a", 6), Project("b", 6)],
        [{"a": 3}, {"b": 1}, {"b": 1}],
        vote_type="cumulative",
    )
    outcome = greedy(election)
    assert outcome.selected == ("a",)
    assert outcome.trace[0].reason.startswith("3 points")


def test_bad_options_are_refused() -> None:
    election = Election.build(10, [Project("a", 6)], [["a"]])
    with pytest.raises(ValueError, match="unknown utility"):
        greedy(election, utility="joy")
    with pytest.raises(ValueError, match="leftover must be"):
        greedy(election, leftover="maybe")
    with pytest.raises(ValueError, match="unknown rule"):
        compute("borda", election)
    with pytest.raises(ValueError, match="2 weights given for 1 voters"):
        greedy(election, [1, 2])
    with pytest.raises(ValueError, match="must not be negative"):
        greedy(election, [-1])


@pytest.mark.parametrize("scale", [1, 3, 2**40, 2**50])
def test_sums_per_project_are_exact_for_small_and_huge_values(scale):
    """Small sums take numpy's bincount (float64, exact below 2**53), huge ones the exact
    sorted path: both equal Python's integer sums."""
    rng = np.random.default_rng(scale % 1000)
    projects = rng.integers(0, 7, 5_000)
    values = rng.integers(1, 4, 5_000).astype(np.int64) * scale // 3
    expected = [0] * 8
    for project, value in zip(projects.tolist(), values.tolist(), strict=True):
        expected[project] += value
    assert sum_by_project(values, projects, 8) == expected
