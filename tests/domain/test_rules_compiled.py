"""The compiled MES rounds (numba, ``rules._mes_kernel``) against the numpy-only rounds.

Both must give the same ``Outcome``: selection, trace texts (so the same float prices and
payments), details. The random instances are tiny and full of exact ties, so the compiled
rounds hand many rounds over to the exact Python code in the middle of a run; the shared files
are large, so there the compiled rounds decide (almost) everything themselves. The tests below
also check that both situations really occur, so that the comparison is not toothless.
"""

from __future__ import annotations

import sys
from fractions import Fraction

import pytest

from buurtbudget.domain.pabulib import read_pabulib
from buurtbudget.domain.rules import Election, Project, equal_shares
from buurtbudget.domain.rules import _mes_kernel as kernel

from .conftest import SHARED_FILES, SMALL_FILES, reference_weights, shared_file
from .test_rules_random import BATCHES, KINDS, PER_BATCH, random_instance

mes_module = sys.modules["buurtbudget.domain.rules.equal_shares"]
UTILITIES = ["cost", "cardinality"]
COMPLETIONS = [None, "add1"]
LARGE_FILES = ["Netherlands_Amsterdam_252.pb", "Netherlands_Amsterdam_309.pb"]
WARSAW = "Poland_Warszawa_2026.pb"


def _both(election: Election, weights=None, **options):
    compiled = equal_shares(election, weights, compiled=True, **options)
    numpy_only = equal_shares(election, weights, compiled=False, **options)
    return compiled, numpy_only


@pytest.mark.parametrize("kind", KINDS)
def test_random_instances_compiled_equals_numpy(kind: str) -> None:
    mismatches = []
    for seed in range(1000 * KINDS.index(kind), 1000 * KINDS.index(kind) + BATCHES * PER_BATCH):
        election, weights = random_instance(seed, kind)
        for utility in UTILITIES:
            for completion in COMPLETIONS:
                compiled, numpy_only = _both(
                    election, weights, utility=utility, completion=completion
                )
                if compiled != numpy_only:
                    mismatches.append((seed, utility, completion, compiled, numpy_only))
    assert mismatches == []


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("utility", UTILITIES)
# Equal Shares does not count rankings (Krakow's ordinal ballots).
@pytest.mark.parametrize("name", [p.name for p in SHARED_FILES if "Krakow" not in p.name])
def test_shared_files_mes_compiled_equals_numpy(name: str, utility: str, weighted: bool) -> None:
    election = read_pabulib(shared_file(name))
    weights = reference_weights(election.num_voters) if weighted else None
    compiled, numpy_only = _both(election, weights, utility=utility)
    assert compiled == numpy_only


@pytest.mark.parametrize("name", SMALL_FILES + LARGE_FILES)
def test_shared_files_add1_compiled_equals_numpy(name: str) -> None:
    # Cost utilities without weights only: the numpy-only Add1 runs are slow, and the other
    # variants are compared on the random instances and against pabutools' stored results.
    election = read_pabulib(shared_file(name))
    compiled, numpy_only = _both(election, completion="add1")
    assert compiled == numpy_only


@pytest.mark.parametrize("step", [0, 92, 184])
def test_warsaw_add1_runs_leave_the_same_float_state(step: int) -> None:
    """Single runs of the benchmark case (Add1 stops at step 185) with 8k to 19k classes: same
    selection, same classes, and bit for bit the same float money and error bounds."""
    election = read_pabulib(shared_file(WARSAW))
    prepared = mes_module._Prepared(election, None, "cost")
    share = Fraction(election.budget, election.num_voters) + step
    runs = []
    for compiled in (True, False):
        run = mes_module._Run(prepared, share, compiled)
        run.run(with_trace=True)
        runs.append(run)
    compiled_run, numpy_run = runs
    assert compiled_run.steps == numpy_run.steps
    assert compiled_run.num_classes == numpy_run.num_classes > 8000
    used = slice(0, compiled_run.num_classes)
    assert (compiled_run.money_f[used] == numpy_run.money_f[used]).all()
    assert (compiled_run.class_of_voter == numpy_run.class_of_voter).all()
    assert (compiled_run.parent[used] == numpy_run.parent[used]).all()


class _Counting:
    """Counts the rounds played by the exact Python code and the kernel's selections."""

    def __init__(self, monkeypatch) -> None:
        self.python_rounds = 0
        self.kernel_selections = 0
        original_round = mes_module._Run._round
        original_rounds = kernel.mes_rounds

        def counting_round(run, *args):
            self.python_rounds += 1
            return original_round(run, *args)

        def counting_rounds(*args):
            status, count = original_rounds(*args)
            self.kernel_selections += count
            return status, count

        monkeypatch.setattr(mes_module._Run, "_round", counting_round)
        monkeypatch.setattr(kernel, "mes_rounds", counting_rounds)


def test_random_instances_hand_rounds_back_and_forth(monkeypatch) -> None:
    """Guard against a toothless comparison: many random runs mix rounds decided by the kernel
    with rounds handed to the exact code (ties), in the same run."""
    counting = _Counting(monkeypatch)
    mixed = 0
    for seed in range(200):
        election, _ = random_instance(seed, "approval")
        before = (counting.python_rounds, counting.kernel_selections)
        equal_shares(election)
        python_rounds = counting.python_rounds - before[0]
        kernel_selections = counting.kernel_selections - before[1]
        mixed += python_rounds > 0 and kernel_selections > 0
    assert mixed >= 10


def test_large_file_is_decided_by_the_kernel(monkeypatch) -> None:
    election = read_pabulib(shared_file(WARSAW))
    counting = _Counting(monkeypatch)
    outcome = equal_shares(election)
    assert counting.python_rounds == 0
    assert counting.kernel_selections == len(outcome.selected) > 20


def test_exact_money_of_kernel_classes_is_recomputed_from_its_history() -> None:
    """After compiled rounds, a class's exact money comes from the selections the kernel
    recorded (rows, made into _Selection on demand): it matches the numpy rounds' history."""
    projects = [Project("a", 30), Project("b", 18), Project("c", 25), Project("d", 7)]
    election = Election.build(
        60, projects, [["a", "b"], ["b", "d"], ["c", "a"], ["a"], ["d", "c"], ["b"]]
    )
    prepared = mes_module._Prepared(election, None, "cost")
    share = Fraction(election.budget, election.num_voters)
    runs = {}
    for compiled in (True, False):
        run = mes_module._Run(prepared, share, compiled)
        run.run(with_trace=False)
        runs[compiled] = run
    compiled_run, numpy_run = runs[True], runs[False]
    assert compiled_run.selected == numpy_run.selected
    assert compiled_run.num_classes == numpy_run.num_classes
    assert any(isinstance(s, tuple) for s in compiled_run.selections)
    for cls in range(compiled_run.num_classes):
        assert compiled_run.money(cls) == numpy_run.money(cls)
        assert float(compiled_run.money_f[cls]) == float(numpy_run.money_f[cls])
    assert not any(isinstance(s, tuple) for s in compiled_run.selections)


@pytest.mark.parametrize(
    ("budget", "projects", "ballots", "expected"),
    [
        (10, [], [[], []], ()),  # no projects at all
        (10, [Project("a", 5)], [[], []], ()),  # no supporters
        (10, [Project("a", 0)], [["a"]], ("a",)),  # free project only (cardinality picks it)
        (10, [Project("a", 50)], [["a"], ["a"]], ()),  # unaffordable
    ],
    ids=["no-projects", "no-supporters", "free-only", "unaffordable"],
)
def test_degenerate_elections(budget, projects, ballots, expected) -> None:
    election = Election.build(budget, projects, ballots)
    for completion in COMPLETIONS:
        compiled, numpy_only = _both(election, utility="cardinality", completion=completion)
        assert compiled == numpy_only
        assert compiled.selected == expected


def test_kernel_constants_match_the_numpy_code() -> None:
    assert kernel.ZERO_CLASS == mes_module.ZERO_CLASS
    assert kernel.UNIT_ROUNDOFF == mes_module.UNIT_ROUNDOFF
