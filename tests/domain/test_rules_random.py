"""Our rules against pabutools 1.2.3 on many small random instances (seeded, reproducible).

The instances are tiny on purpose: few voters, few small costs and ids such as "9" and "10",
so exact ties (decided by the string order of ids) and voters running out of money happen
often. Each instance is checked for greedy, MES and MES+Add1 with cost and cardinality
utilities; selection order must be identical, not only the set.
"""

from __future__ import annotations

import random

import pytest

from buurtbudget.domain.rules import Election, Project, compute

from .conftest import pabutools_outcome, to_pabutools

ID_POOL = ["1", "2", "3", "9", "10", "11", "20", "a", "b", "B"]
KINDS = ["approval", "approval-weighted", "cumulative", "cumulative-weighted"]
BATCHES = 5
PER_BATCH = 30  # 4 kinds x 5 batches x 30 = 600 instances
RULES = [
    (rule, utility) for rule in ("greedy", "mes", "mes_add1") for utility in ("cost", "cardinality")
]


def random_instance(seed: int, kind: str) -> tuple[Election, list[int] | None]:
    rng = random.Random(seed)
    num_projects = rng.randint(1, 7)
    ids = rng.sample(ID_POOL, num_projects)
    cost_pool = [rng.randint(1, 12) for _ in range(3)]  # few distinct costs: more ties
    projects = [Project(pid, rng.choice(cost_pool + [rng.randint(1, 20)])) for pid in ids]
    total = sum(p.cost for p in projects)
    budget = rng.randint(max(1, total // 5), total)
    num_voters = rng.randint(1, 9)
    cumulative = kind.startswith("cumulative")
    ballots: list = []
    for _ in range(num_voters):
        density = rng.uniform(0.15, 0.8)
        chosen = [p.id for p in projects if rng.random() < density]
        if cumulative:
            ballots.append({pid: rng.randint(1, 3) for pid in chosen})
        else:
            ballots.append(chosen)
    weights = [rng.randint(1, 3) for _ in range(num_voters)] if kind.endswith("weighted") else None
    election = Election.build(
        budget, projects, ballots, vote_type="cumulative" if cumulative else "approval"
    )
    return election, weights


@pytest.mark.parametrize("batch", range(BATCHES))
@pytest.mark.parametrize("kind", KINDS)
def test_random_instances_match_pabutools(kind: str, batch: int) -> None:
    mismatches = []
    for offset in range(PER_BATCH):
        seed = 1000 * KINDS.index(kind) + PER_BATCH * batch + offset
        election, weights = random_instance(seed, kind)
        for rule, utility in RULES:
            ours = list(compute(rule, election, weights, utility=utility).selected)
            expected = pabutools_outcome(election, rule, utility, weights)
            if ours != expected:
                mismatches.append((seed, rule, utility, ours, expected))
    assert mismatches == []


def _reverse_id_order(instance, profile, project):
    return tuple(-ord(char) for char in project.name) + (0,)


def test_random_instances_exercise_tie_breaking() -> None:
    """Guard against a toothless comparison: with pabutools' tie-breaking reversed, a good
    share of these instances must change outcome, so ties really are decided by the id order
    we claim (and our equality with pabutools above is not luck)."""
    from pabutools.election import Cost_Sat
    from pabutools.rules import greedy_utilitarian_welfare, method_of_equal_shares
    from pabutools.tiebreaking import TieBreakingRule

    reverse = TieBreakingRule(_reverse_id_order)
    changed = {"greedy": 0, "mes": 0}
    for seed in range(150):
        election, _ = random_instance(seed, "approval")
        instance, profile = to_pabutools(election)
        forward_greedy = pabutools_outcome(election, "greedy", "cost")
        backward_greedy = greedy_utilitarian_welfare(
            instance, profile, sat_class=Cost_Sat, tie_breaking=reverse
        )
        changed["greedy"] += forward_greedy != [p.name for p in backward_greedy]
        forward_mes = pabutools_outcome(election, "mes", "cost")
        backward_mes = method_of_equal_shares(
            instance, profile, sat_class=Cost_Sat, tie_breaking=reverse
        )
        changed["mes"] += forward_mes != [p.name for p in backward_mes]
        if forward_mes != [p.name for p in backward_mes]:
            # ... and on those instances we side with the forward (documented) order.
            assert list(compute("mes", election).selected) == forward_mes
    assert changed["greedy"] >= 20
    assert changed["mes"] >= 20
