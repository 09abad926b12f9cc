"""Voter weights: raking against ipfn, post-stratification, trimming, Kish diagnostics, turnout."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
from ipfn.ipfn import ipfn

from buurtbudget.domain.weighting import (
    EmptyCellsError,
    WeightingError,
    age_band,
    cell_shares,
    design_effect,
    effective_sample_size,
    post_stratification_weights,
    rake,
    representativeness,
    scaled_weights,
    trim_weights,
    turnout,
)


def _instance(seed: int, sizes: tuple[int, ...], n: int):
    """Random voters with skewed categories, and population margins that differ from them."""
    rng = np.random.default_rng(seed)
    attributes = {}
    margins = {}
    for dim, size in enumerate(sizes):
        sample_p = rng.dirichlet(np.ones(size) * 2)
        codes = rng.choice(size, size=n, p=sample_p)
        codes[:size] = np.arange(size)  # every category has at least one voter
        attributes[f"d{dim}"] = [f"c{c}" for c in codes]
        population = rng.integers(1_000, 20_000, size=size)
        margins[f"d{dim}"] = {f"c{c}": int(population[c]) for c in range(size)}
    return attributes, margins


def _ipfn_weights(attributes, margins) -> np.ndarray:
    """Rake the voters' contingency table with ipfn; a voter's weight is fitted / observed."""
    names = list(margins)
    labels = [list(margins[name]) for name in names]
    codes = [
        np.array([labels[d].index(v) for v in attributes[name]]) for d, name in enumerate(names)
    ]
    n = len(codes[0])
    table = np.zeros([len(x) for x in labels])
    np.add.at(table, tuple(codes), 1.0)
    aggregates = []
    for d, name in enumerate(names):
        population = np.array([margins[name][label] for label in labels[d]], dtype=float)
        aggregates.append(population / population.sum() * n)
    fitted = ipfn(
        table.copy(),  # ipfn updates its input in place
        aggregates,
        [[d] for d in range(len(names))],
        convergence_rate=1e-14,
        max_iteration=5000,
        rate_tolerance=0.0,
    ).iteration()
    return fitted[tuple(codes)] / table[tuple(codes)]


@pytest.mark.parametrize(
    ("seed", "sizes", "n"),
    [(1, (4, 3), 500), (2, (6, 2, 5), 2_000), (3, (3, 7, 2), 800), (4, (5, 4, 3), 3_000)],
)
def test_raking_matches_ipfn(seed, sizes, n):
    attributes, margins = _instance(seed, sizes, n)
    result = rake(attributes, margins, tol=1e-13)
    expected = _ipfn_weights(attributes, margins)
    assert result.diagnostics.converged
    np.testing.assert_allclose(result.weights, expected, rtol=1e-9, atol=0)
    assert result.weights.mean() == pytest.approx(1.0, rel=1e-12)


def test_raking_meets_every_margin():
    attributes, margins = _instance(5, (4, 3, 2), 1_500)
    result = rake(attributes, margins)
    for name, population in margins.items():
        shares = cell_shares(attributes[name], result.weights)
        total = sum(population.values())
        for category, size in population.items():
            assert shares[category] == pytest.approx(size / total, rel=1e-9)
    assert result.diagnostics.max_margin_error <= 1e-10


def test_post_stratification_is_exact_per_cell():
    cells = ["Noord"] * 7 + ["Zuid"] * 2 + ["Oost"] * 11
    population = {"Noord": 4_000, "Zuid": 12_500, "Oost": 3_500}
    result = post_stratification_weights(cells, population)
    shares = cell_shares(cells, result.weights)
    eps = 4 * np.finfo(float).eps
    for cell, size in population.items():
        assert shares[cell] == pytest.approx(size / 20_000, rel=eps)
    assert result.weights.sum() == pytest.approx(20, rel=eps)
    # By hand: Zuid's 2 voters stand for 62.5 % of 20 voters, i.e. 12.5 voters -> 6.25 each.
    assert result.weights[7] == pytest.approx(6.25, rel=eps)


def test_post_stratification_with_area_and_age_cells():
    cells = [("A", "18-34")] * 3 + [("A", "35+")] * 9 + [("B", "18-34")] * 2 + [("B", "35+")] * 6
    population = {("A", "18-34"): 300, ("A", "35+"): 700, ("B", "18-34"): 500, ("B", "35+"): 500}
    result = post_stratification_weights(cells, population)
    shares = cell_shares(cells, result.weights)
    assert shares[("B", "18-34")] == pytest.approx(0.25, rel=1e-15)
    assert shares[("A", "35+")] == pytest.approx(0.35, rel=1e-15)


def test_kish_effective_sample_size_and_design_effect_by_hand():
    # w = (1, 1, 2, 4): (sum w)^2 / sum w^2 = 64 / 22; deff = 4 / (64/22) = 88/64 = 1.375
    assert effective_sample_size([1, 1, 2, 4]) == pytest.approx(64 / 22, rel=1e-15)
    assert design_effect([1, 1, 2, 4]) == pytest.approx(1.375, rel=1e-15)
    assert effective_sample_size([3, 3, 3]) == pytest.approx(3)
    assert design_effect([0.5] * 10) == pytest.approx(1.0)
    result = post_stratification_weights(["a", "b", "b", "b"], {"a": 1, "b": 1})
    # weights (2, 2/3, 2/3, 2/3): n_eff = 16 / (4 + 4/3) = 3; deff = 4/3
    assert result.diagnostics.effective_sample_size == pytest.approx(3.0, rel=1e-14)
    assert result.diagnostics.design_effect == pytest.approx(4 / 3, rel=1e-14)
    assert (result.diagnostics.min_weight, result.diagnostics.max_weight) == pytest.approx(
        (2 / 3, 2.0)
    )


def test_trimming_respects_the_cap_and_keeps_the_total():
    cells = ["village"] * 90 + ["city"] * 10
    population = {"village": 3_000, "city": 9_000}
    uncapped = post_stratification_weights(cells, population)
    assert uncapped.diagnostics.max_weight == pytest.approx(7.5)
    capped = post_stratification_weights(cells, population, cap=3)
    assert capped.diagnostics.max_weight <= 3 * (1 + 1e-12)
    assert capped.diagnostics.trimmed == 10
    assert capped.weights.sum() == pytest.approx(100, rel=1e-12)
    assert capped.diagnostics.design_effect < uncapped.diagnostics.design_effect
    # The excess goes to the uncapped voters: 100 - 10*3 = 70 over 90 voters.
    assert capped.weights[0] == pytest.approx(70 / 90, rel=1e-12)

    trimmed, count = trim_weights([1, 1, 1, 1, 6], cap=2)
    assert count == 1 and max(trimmed) == pytest.approx(2 * 10 / 5)
    assert sum(trimmed) == pytest.approx(10)


def test_raking_with_cap_meets_margins_and_cap():
    attributes, margins = _instance(7, (5, 3), 1_000)
    free = rake(attributes, margins)
    cap = 2.5
    assert free.diagnostics.max_weight > cap
    capped = rake(attributes, margins, cap=cap)
    assert capped.diagnostics.converged
    assert capped.weights.max() <= cap * (1 + 1e-9)
    assert capped.diagnostics.trimmed > 0
    assert capped.diagnostics.max_margin_error <= 1e-9
    assert capped.diagnostics.design_effect < free.diagnostics.design_effect


def test_raking_with_an_infeasible_cap_reports_it():
    # 1 voter of 10 must stand for half the population: impossible with weights <= 2.
    attributes = {"area": ["a"] + ["b"] * 9}
    result = rake(attributes, {"area": {"a": 500, "b": 500}}, cap=2)
    assert not result.diagnostics.converged
    assert result.weights.max() <= 2 * (1 + 1e-12)
    assert result.diagnostics.max_margin_error > 0.5


def test_unknown_values_keep_their_own_share():
    attributes = {"age": ["young", "old", "old", "", "old", None], "sex": list("FFMMFM")}
    margins = {"age": {"young": 50, "old": 50}, "sex": {"F": 1, "M": 1}}
    result = rake(attributes, margins)
    w = result.weights
    assert w[3] + w[5] == pytest.approx(2.0, rel=1e-9)  # unknown age: 2 of 6 voters
    assert w[0] == pytest.approx(2.0, rel=1e-9)  # young: half of the 4 known
    assert w[0] + w[1] + w[4] == pytest.approx(3.0, rel=1e-9)  # women: half of 6


def test_empty_and_unknown_cells_are_clear_errors():
    with pytest.raises(WeightingError, match="without population: 'Zuid'"):
        post_stratification_weights(["Noord", "Zuid"], {"Noord": 10})
    with pytest.raises(EmptyCellsError, match="no voters: 'Oost'") as info:
        post_stratification_weights(["Noord"], {"Noord": 10, "Oost": 5})
    assert info.value.cells == ("Oost",)
    spread = post_stratification_weights(["Noord"], {"Noord": 10, "Oost": 5}, empty_cells="spread")
    assert spread.diagnostics.spread_cells == ("Oost",)
    assert spread.weights.tolist() == [1.0]
    with pytest.raises(EmptyCellsError, match="margin 'age'"):
        rake({"age": ["young"]}, {"age": {"young": 1, "old": 1}})
    with pytest.raises(WeightingError, match="without population"):
        rake({"age": ["young", "middle"]}, {"age": {"young": 1}})
    with pytest.raises(WeightingError, match="no voters"):
        post_stratification_weights([], {"a": 1})
    with pytest.raises(WeightingError, match="at least 1"):
        post_stratification_weights(["a"], {"a": 1}, cap=0.5)
    with pytest.raises(WeightingError, match="no attribute 'sex'"):
        rake({"age": ["x"]}, {"sex": {"F": 1}})


def test_scaled_weights_are_rounded_integers():
    assert scaled_weights([1.0, 0.5, 2 / 3]).tolist() == [1_000_000, 500_000, 666_667]
    with pytest.raises(WeightingError):
        scaled_weights([1.0, -0.1])


def test_turnout_and_representativeness_by_hand():
    report = turnout({"dorp": 1_200, "wijk": 400}, {"dorp": 4_000, "wijk": 10_000})
    assert report.cell("dorp").turnout == Fraction(3, 10)
    assert report.cell("wijk").turnout == Fraction(1, 25)
    assert report.turnout == Fraction(1_600, 14_000)
    # voter shares 3/4, 1/4; population shares 2/7, 5/7: D = |3/4 - 2/7| = 13/28
    assert report.dissimilarity == Fraction(13, 28)
    assert report.representativeness == Fraction(15, 28)
    # S^2 = 2/7 (0.3 - 4/35)^2 + 5/7 (0.04 - 4/35)^2
    s = ((2 / 7) * (0.3 - 4 / 35) ** 2 + (5 / 7) * (0.04 - 4 / 35) ** 2) ** 0.5
    assert report.r_indicator == pytest.approx(1 - 2 * s, rel=1e-12)
    assert representativeness({"a": 10, "b": 20}, {"a": 100, "b": 200}) == 1
    assert report.cell("wijk").population_share == Fraction(5, 7)
    with pytest.raises(WeightingError, match="without population"):
        turnout({"elders": 3}, {"dorp": 10})


def test_age_bands():
    cases = {"0": "0-17", "17": "0-17", "18": "18-24", "64": "55-64", "65": "65+", "102": "65+"}
    for text, band in cases.items():
        assert age_band(text) == band
    assert [age_band(x) for x in ("", " ", "n/a", None)] == [None] * 4
    assert age_band(40) == "35-44"


def test_cells_of_several_dimensions_can_be_formed_for_turnout():
    areas = ["A", "A", "B"]
    ages = ["18-24", "65+", "65+"]
    counts = {}
    for cell in zip(areas, ages, strict=True):
        counts[cell] = counts.get(cell, 0) + 1
    population = dict.fromkeys(itertools.product("AB", ("18-24", "65+")), 100)
    report = turnout(counts, population)
    assert report.cell(("B", "18-24")).voters == 0
    assert report.cell(("A", "65+")).turnout == Fraction(1, 100)
