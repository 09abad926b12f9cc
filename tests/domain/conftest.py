"""Shared helpers for the domain tests (no Flask here).

pabutools (GPL, test-only, pinned to 1.2.3 in pyproject) is the reference implementation; the
helpers below turn our :class:`Election` into pabutools objects so the same instance is computed
by both.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from buurtbudget.domain.rules import Election
from tests.paths import PABULIB_DIR, pabulib_file

DATA_DIR = Path(__file__).resolve().parent / "data"
REFERENCE_FILE = DATA_DIR / "pabutools_reference.json"
SHARED_FILES = sorted(PABULIB_DIR.glob("*.pb"))
SMALL_FILES = [
    "Netherlands_Assen_2024.pb",
    "Netherlands_Amsterdam_179.pb",
    "Poland_Warszawa_2019_Rembertow.pb",
    "Poland_Wieliczka_2023_Green_Budget.pb",
    "France_Toulouse_2019.pb",
]


def reference_weights(num_voters: int) -> list[int]:
    """The weights bench/make_pabutools_reference.py uses: 1, 2, 3, 1, 2, 3, ..."""
    return [1 + i % 3 for i in range(num_voters)]


def load_reference() -> dict:
    return json.loads(REFERENCE_FILE.read_text())


def reference_cases(rule: str) -> list:
    """pytest params (file, utility, weighted, expected selection) stored for ``rule``."""
    results = load_reference()["results"]
    cases = []
    for key in sorted(results):
        name, key_rule, utility, weighting = key.split("|")
        if key_rule == rule:
            expected = results[key]["selected"]
            cases.append(pytest.param(name, utility, weighting == "weighted", expected, id=key))
    return cases


def shared_file(name: str) -> Path:
    """A real pabulib file from tests/data/pabulib (a missing file fails, never skips)."""
    return pabulib_file(name)


def to_pabutools(election: Election, weights: list[int] | None = None):
    """(instance, profile) for pabutools; a voter of weight w becomes w identical ballots."""
    from pabutools.election import (
        ApprovalBallot,
        ApprovalProfile,
        CumulativeBallot,
        CumulativeProfile,
        Instance,
        Project,
    )

    projects = [Project(p.id, p.cost) for p in election.projects]
    instance = Instance(projects, budget_limit=election.budget)
    ballots = []
    for voter in range(election.num_voters):
        copies = 1 if weights is None else weights[voter]
        for _ in range(copies):
            if election.vote_type == "cumulative":
                points = election.ballots.ballot_points(voter)
                ballots.append(CumulativeBallot({projects[i]: v for i, v in points.items()}))
            else:
                ballots.append(ApprovalBallot(projects[i] for i in election.ballots.ballot(voter)))
    if election.vote_type == "cumulative":
        return instance, CumulativeProfile(ballots, instance=instance)
    return instance, ApprovalProfile(ballots, instance=instance)


def pabutools_sat(election: Election, utility: str):
    """The pabutools satisfaction class matching our ``utility`` for this ballot type."""
    from pabutools.election import Additive_Cardinal_Sat, Cardinality_Sat, Cost_Sat
    from pabutools.election.satisfaction import AdditiveSatisfaction

    if election.vote_type != "cumulative":
        return {"cost": Cost_Sat, "cardinality": Cardinality_Sat}[utility]
    if utility == "cardinality":
        return Additive_Cardinal_Sat

    # pabutools' Cost_Sat ignores points; our cost utility on a points ballot is points * cost,
    # expressed through pabutools' own AdditiveSatisfaction hook.
    class PointsTimesCostSat(AdditiveSatisfaction):
        def __init__(self, instance, profile, ballot):
            super().__init__(
                instance, profile, ballot, lambda inst, prof, b, p, pre: b.get(p, 0) * p.cost
            )

    return PointsTimesCostSat


def pabutools_outcome(election: Election, rule: str, utility: str, weights=None) -> list[str]:
    from pabutools.rules import greedy_utilitarian_welfare, method_of_equal_shares

    instance, profile = to_pabutools(election, weights)
    sat = pabutools_sat(election, utility)
    if rule == "greedy":
        result = greedy_utilitarian_welfare(instance, profile, sat_class=sat)
    elif rule == "mes":
        result = method_of_equal_shares(instance, profile, sat_class=sat)
    elif rule == "mes_add1":
        result = method_of_equal_shares(instance, profile, sat_class=sat, voter_budget_increment=1)
    else:
        raise ValueError(rule)
    return [p.name for p in result]
