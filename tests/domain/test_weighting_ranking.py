"""Ranking configuration, relative own contribution, factor shares, exact ties, funding."""

from __future__ import annotations

from fractions import Fraction

import pytest

from buurtbudget.domain.weighting import (
    ProjectInfo,
    RankingConfig,
    RankingConfigError,
    area_entitlements,
    area_funding_shares,
    fund_in_order,
    rank_projects,
    relative_own_contribution,
)

PROJECTS = [
    ProjectInfo("speeltuin", "Noord", 30_000_00, own_contribution=40),
    ProjectInfo("buurtfeest", "Noord", 2_500_00, own_contribution=200),
    ProjectInfo("moestuin", "Zuid", 8_000_00, own_contribution=0),
    ProjectInfo("bankjes", "Zuid", 4_000_00, own_contribution=10),
]


def test_config_round_trips_through_json_exactly():
    config = RankingConfig(
        {"weighted_support": "0.7", "relative_contribution": 0.2, "need": Fraction(1, 10)},
        contribution_measure="per_1000_inhabitants",
        weighting="raking",
        weighting_dimensions=("area", "age_band", "sex"),
        weight_cap="5",
        area_balance=True,
    )
    data = config.to_dict()
    assert data["factor_weights"] == {
        "weighted_support": "0.7",
        "relative_contribution": "0.2",
        "need": "0.1",
    }
    assert data["weight_cap"] == "5"
    assert RankingConfig.from_dict(data) == config
    assert RankingConfig.from_dict({"factor_weights": {"support": 1}}).weighting == "none"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"factor_weights": {"popularity": 1}}, "unknown factor"),
        ({"factor_weights": {"support": -1}}, "must not be negative"),
        ({"factor_weights": {"support": 0}}, "at least one factor"),
        ({"factor_weights": {"support": "abc"}}, "must be a number"),
        ({"factor_weights": {"support": True}}, "must be a number"),
        ({"factor_weights": {"support": "0.0000001"}}, "at most 6 decimals"),
        ({"factor_weights": []}, "factor_weights must be an object"),
        ({"factor_weights": {"support": 1}, "extra": 1}, "unknown keys: extra"),
        ({"factor_weights": {"support": 1}, "contribution_measure": "x"}, "contribution_measure"),
        ({"factor_weights": {"support": 1}, "weighting": "magic"}, "weighting must be one of"),
        ({"factor_weights": {"support": 1}, "weighting": "raking"}, "weighting_dimensions"),
        (
            {"factor_weights": {"support": 1}, "weighting_dimensions": ["area"]},
            "weighting_dimensions",
        ),
        (
            {
                "factor_weights": {"support": 1},
                "weighting": "raking",
                "weighting_dimensions": ["area"],
                "weight_cap": "0.5",
            },
            "must be >= 1",
        ),
        ({"factor_weights": {"support": 1}, "area_balance": "yes"}, "area_balance"),
        ("nonsense", "must be an object"),
    ],
)
def test_invalid_configs_are_refused_with_a_reason(data, message):
    with pytest.raises(RankingConfigError, match=message):
        RankingConfig.from_dict(data)


def test_relative_contribution_per_1000_inhabitants_and_percentile():
    per_1000 = relative_own_contribution(
        PROJECTS, "per_1000_inhabitants", {"Noord": 4_000, "Zuid": 10_000}
    )
    assert per_1000 == {
        "speeltuin": Fraction(10),
        "buurtfeest": Fraction(50),
        "moestuin": Fraction(0),
        "bankjes": Fraction(1),
    }
    percentile = relative_own_contribution(PROJECTS, "area_percentile")
    assert percentile == {
        "speeltuin": Fraction(0),  # below the only other Noord project
        "buurtfeest": Fraction(1),
        "moestuin": Fraction(0),  # no contribution
        "bankjes": Fraction(1),
    }
    tied = [ProjectInfo(x, "A", 1, 5) for x in "pqr"] + [ProjectInfo("s", "A", 1, 1)]
    assert relative_own_contribution(tied, "area_percentile")["p"] == Fraction(2, 3)  # (2*1+2)/6
    alone = [ProjectInfo("x", "B", 1, 3)]
    assert relative_own_contribution(alone)["x"] == 1
    with pytest.raises(ValueError, match="no population for area 'Zuid'"):
        relative_own_contribution(PROJECTS, "per_1000_inhabitants", {"Noord": 1})


def test_factor_values_shares_and_both_ranks_by_hand():
    ballots = [["speeltuin", "buurtfeest"], ["speeltuin"], ["moestuin"], ["bankjes", "moestuin"]]
    weights = [0.5, 0.5, 1.5, 1.5]
    config = RankingConfig({"weighted_support": 1, "relative_contribution": "0.5", "need": 1})
    ranking = rank_projects(PROJECTS, ballots, weights, config, need_index={"Noord": 1, "Zuid": 3})
    moestuin = ranking.by_id("moestuin")
    assert moestuin.raw_support == 2 and moestuin.weighted_support == 3
    # weighted support 3/3 = 1, contribution 0, need 3/3 = 1: score 2, shares 1/2, 0, 1/2
    assert moestuin.score == 2
    assert [f.share for f in moestuin.factors] == [Fraction(1, 2), 0, Fraction(1, 2)]
    speeltuin = ranking.by_id("speeltuin")
    # weighted support 1/3, contribution 0, need 1/3: score 2/3
    assert speeltuin.score == Fraction(2, 3)
    buurtfeest = ranking.by_id("buurtfeest")
    # 0.5/3 + 0.5 * 1 + 1/3 = 1
    assert buurtfeest.score == 1
    # bankjes: 1.5/3 + 0.5 * 1 + 1 = 2, an exact tie with moestuin: project id order.
    assert ranking.by_id("bankjes").score == 2
    assert [e.project_id for e in ranking.entries] == [
        "bankjes",
        "moestuin",
        "buurtfeest",
        "speeltuin",
    ]
    # raw: speeltuin 2, moestuin 2 (tie -> id order), bankjes 1, buurtfeest 1
    assert [e.project_id for e in ranking.raw_order()] == [
        "moestuin",
        "speeltuin",
        "bankjes",
        "buurtfeest",
    ]
    assert speeltuin.raw_rank == 2 and speeltuin.corrected_rank == 4
    as_dict = moestuin.to_dict()
    assert as_dict["factors"][0] == {
        "name": "weighted_support",
        "value": 3.0,
        "normalised": 1.0,
        "weight": 1.0,
        "share": 0.5,
    }


def test_float_noise_in_weights_cannot_break_an_exact_tie():
    projects = [ProjectInfo("a", "X", 1), ProjectInfo("b", "X", 1)]
    # 0.1 + 0.2 != 0.3 in floats; both projects have "the same" weighted support.
    ballots = [["a"], ["a"], ["b"]]
    weights = [0.1, 0.2, 0.30000000000000004]
    ranking = rank_projects(projects, ballots, weights, RankingConfig({"weighted_support": 1}))
    assert ranking.by_id("a").score == ranking.by_id("b").score == 1
    assert [e.project_id for e in ranking.entries] == ["a", "b"]  # tie: id order


def test_area_balance_follows_the_weighted_voters_share():
    projects = [ProjectInfo(f"{area}{i}", area, 100) for area in "AB" for i in range(4)]
    ballots = [["A0", "A1", "A2", "A3"]] * 9 + [["B0", "B1", "B2", "B3"]]
    areas = ["A"] * 9 + ["B"]
    config = RankingConfig({"support": 1}, area_balance=True)
    unweighted = rank_projects(projects, ballots, None, config, voter_areas=areas)
    assert unweighted.entries[0].area_entitlement == Fraction(9, 10)
    # B voters are 10 % of the voters: B's first project comes after A's third.
    order = [e.project_id for e in unweighted.entries]
    assert order.index("B0") == 4
    weighted = rank_projects(projects, ballots, [1 / 9 * 5] * 9 + [5], config, voter_areas=areas)
    assert [e.project_id for e in weighted.entries][:4] == ["A0", "B0", "A1", "B1"]
    funded = fund_in_order(weighted.entries, 400)
    shares = area_funding_shares(funded.selected, projects, {"A": 500, "B": 500})
    assert shares["A"].ratio == shares["B"].ratio == 1
    with pytest.raises(ValueError, match="home area"):
        rank_projects(projects, ballots, None, config)
    multiplied = area_entitlements(projects, areas, [1] * 10, {"A": Fraction(1), "B": 9})
    assert multiplied == {"A": Fraction(1, 2), "B": Fraction(1, 2)}


def test_funding_skips_what_does_not_fit():
    projects = [ProjectInfo("a", "X", 60), ProjectInfo("b", "X", 50), ProjectInfo("c", "X", 40)]
    ranking = rank_projects(
        projects, [["a", "b", "c"], ["a", "b"], ["a"]], None, RankingConfig({"support": 1})
    )
    funding = fund_in_order(ranking.entries, 100)
    assert funding.selected == ("a", "c") and funding.leftover == 0
    with pytest.raises(ValueError, match="budget"):
        fund_in_order(ranking.entries, -1)


def test_bad_ballots_and_data_are_clear_errors():
    config = RankingConfig({"support": 1})
    with pytest.raises(ValueError, match="unknown project 'zwembad'"):
        rank_projects(PROJECTS, [["zwembad"]], None, config)
    with pytest.raises(ValueError, match="twice"):
        rank_projects(PROJECTS, [["bankjes", "bankjes"]], None, config)
    with pytest.raises(ValueError, match="2 weights given for 1 ballots"):
        rank_projects(PROJECTS, [["bankjes"]], [1, 1], config)
    with pytest.raises(ValueError, match="no need index for area 'Zuid'"):
        rank_projects(PROJECTS, [], None, RankingConfig({"need": 1}), need_index={"Noord": 1})
    with pytest.raises(ValueError, match="cost"):
        ProjectInfo("x", "A", -5)
    with pytest.raises(ValueError, match="own contribution"):
        ProjectInfo("x", "A", 5, own_contribution=-1)
