"""Weighting on real data: Warszawa 2026 raked to (approximate) population margins.

The full comparison with Equal Shares is in bench/weighting_warszawa.py (about 8 s); this test
checks the weights and the weighted greedy run (the file's own rule) in about 2 s.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from buurtbudget.domain.rules.greedy import greedy
from buurtbudget.domain.weighting import cell_shares
from tests.domain.conftest import shared_file

BENCH = Path(__file__).resolve().parents[2] / "bench" / "weighting_warszawa.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("weighting_warszawa", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert shared_file(module.WARSZAWA_2026.name) == module.WARSZAWA_2026  # the repository's copy
    return module


@pytest.fixture(scope="module")
def election(bench):
    return bench.read_pabulib(bench.WARSZAWA_2026)


@pytest.fixture(scope="module")
def weighting(bench, election):
    return bench.warsaw_weights(election, cap=5.0)


def test_raking_warsaw_voters_to_age_sex_and_district(bench, election, weighting):
    d = weighting.diagnostics
    assert d.n == election.num_voters == 61_668
    assert d.converged and d.max_margin_error < 1e-9
    assert d.max_weight <= 5.0 * (1 + 1e-9)
    assert d.trimmed > 0  # children and 65+ voted far below their population share
    assert 1.5 < d.design_effect < 2.5
    assert d.effective_sample_size == pytest.approx(d.n / d.design_effect)
    attributes = bench.voter_attributes(election)
    known = [i for i, band in enumerate(attributes["age_band"]) if band is not None]
    assert len(known) == d.n - 32  # 32 voters without age keep their own share
    shares = cell_shares([attributes["age_band"][i] for i in known], weighting.weights[known])
    assert shares["65+"] == pytest.approx(0.19, rel=1e-6)
    assert shares["0-17"] == pytest.approx(0.17, rel=1e-6)
    women = cell_shares(attributes["sex"], weighting.weights)["F"]
    assert women == pytest.approx(0.53, rel=1e-6)  # 63.5 % of the voters are women


def test_weighted_greedy_changes_the_warsaw_winners(bench, election, weighting):
    before = greedy(election)
    after = greedy(election, weighting.exact_weights())
    change = bench.compare(election, before, after)
    # The file's own winners are reproduced unweighted.
    official = [p.id for p in election.projects if p.extra.get("selected") == "1"]
    assert sorted(before.selected) == sorted(official)
    # Measured: 17 -> 14 winners; 1227, 1945, 278 and 711 drop out (their weighted votes
    # fall below the 3,000 threshold or they no longer fit), 1405 comes in.
    assert change["dropped"] == ["1227", "1945", "278", "711"]
    assert change["added"] == ["1405"]
    assert after.total_cost <= election.budget
