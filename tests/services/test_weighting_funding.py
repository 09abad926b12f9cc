"""services.voting.weighting: the per-round choice of what decides the money, the counting rule with
the voter weights (default) or the corrected ranking (fund down it, skipping what no longer
fits). Stored in the round's weighting settings, validated, audited, fixed once voting opens, and
used by closing, publishing and the pabulib export."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pytest
from sqlalchemy import select

from buurtbudget.domain.initiative_lifecycle import FundingRoute, Status
from buurtbudget.domain.weighting import RankingConfig, fund_in_order
from buurtbudget.extensions import db
from buurtbudget.models import AuditEntry, VotingRound
from buurtbudget.services.errors import Conflict, PermissionDenied, ValidationFailed
from buurtbudget.services.voting import counting, pabulib, weighting
from buurtbudget.services.voting.weighting import FUNDING_CORRECTED, FUNDING_RULE, WeightingSettings
from tests.weighting_world import open_voting, two_area_round, vote, weighting_settings

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def world(make):
    """The two-area round before voting opens: its settings can still change."""
    return two_area_round(make, voted=False)


def _selected(voting_round) -> list[str]:
    winners = sorted(
        (p for p in voting_round.projects if p.selected), key=lambda p: p.selection_order
    )
    return [p.name for p in winners]


# Dorp (1,000 inhabitants) votes 30 times for Speeltuin, Stadswijk (3,000) 10 times for
# Buurttuin; both cost EUR 5,000 and the budget of EUR 6,000 pays for one.
CASES = {
    # Weights by area (Dorp votes 1/3, Stadswijk votes 3): weighted greedy funds Buurttuin
    # (30 weighted votes against 10). The score also counts the unweighted votes, twice:
    # Speeltuin 2 * 1 + 1 * 1/3 = 2.33, Buurttuin 2 * 1/3 + 1 * 1 = 1.67.
    "weighted rule vs ranking with unweighted votes": (
        weighting_settings(support="2"),
        "Buurttuin Stadswijk",
        "Speeltuin Dorp",
        "funded: corrected rank 1 (raw rank 1), cost 5,000 fits (remaining 1,000)",
        "skipped: corrected rank 2, cost 5,000 exceeds remaining 1,000",
    ),
    # No weights: greedy funds Speeltuin (30 votes to 10). The score adds the need index
    # (Dorp 0.8, Stadswijk 1.5) with weight 2: Speeltuin 1 + 2 * 0.8/1.5 = 2.07, Buurttuin
    # 1/3 + 2 * 1 = 2.33.
    "unweighted rule vs ranking with need": (
        weighting_settings(method="none", need="2"),
        "Speeltuin Dorp",
        "Buurttuin Stadswijk",
        "funded: corrected rank 1 (raw rank 2), cost 5,000 fits (remaining 1,000)",
        "skipped: corrected rank 2, cost 5,000 exceeds remaining 1,000",
    ),
}


@pytest.mark.parametrize(
    ("settings", "by_rule", "by_ranking", "funded", "skipped"), CASES.values(), ids=list(CASES)
)
def test_the_corrected_ranking_funds_a_different_set_than_the_rule(
    make, world, settings, by_rule, by_ranking, funded, skipped
):
    # What the rule would select: the same votes in a round whose money follows the rule.
    with_the_rule = two_area_round(make, settings)
    assert weighting.round_funding(with_the_rule["round"]) == FUNDING_RULE
    by_the_rule = counting.compute_outcome(with_the_rule["round"]).outcome.selected
    names = {p.external_id: p.name for p in with_the_rule["round"].projects}
    assert [names[external_id] for external_id in by_the_rule] == [by_rule]

    # This round first had the rule decide, then, still before voting opened, the
    # corrected ranking: it funds.
    voting_round, admin = world["round"], world["admin"]
    counting.update_weighting(admin, voting_round, settings)
    counting.update_weighting(admin, voting_round, replace(settings, funding=FUNDING_CORRECTED))
    vote(world)
    by_rule_project = next(p for p in voting_round.projects if p.name == by_rule)
    counting.close_round(admin, voting_round)
    assert weighting.funded_by_corrected_ranking(voting_round)
    assert _selected(voting_round) == [by_ranking]
    winner = next(p for p in voting_round.projects if p.name == by_ranking)
    assert winner.selection_order == 0
    assert winner.selection_reason == funded
    assert by_rule_project.selection_reason == skipped
    assert voting_round.result_total_cost_cents == 5_000_00
    # The votes and weighted support per project are stored as before.
    assert world["speeltuin"].votes == 30 and world["buurttuin"].votes == 10
    analysis = weighting.analyse(voting_round)
    assert [row.project.name for row in analysis.rows][0] == by_ranking
    assert {Fraction(p.score) for p in voting_round.projects} == {
        row.ranked.weighted_support for row in analysis.rows
    }
    change = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action == "round.weighting_changed")
        .order_by(AuditEntry.id.desc())
    ).first()
    assert change.details["new"]["funding"] == FUNDING_CORRECTED
    assert "funding" not in change.details["old"]
    # The attack: after the count, switching back to the rule (and a recount) is refused.
    with pytest.raises(Conflict, match="fixed before voting opens"):
        counting.update_weighting(admin, voting_round, replace(settings, funding=FUNDING_RULE))
    assert _selected(voting_round) == [by_ranking]
    closed = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "round.closed"))
    assert closed.details["funding"] == FUNDING_CORRECTED  # the ranking decided the count

    # Publishing selects the initiative the ranking funded, funded by the vote.
    world["make"].publish(voting_round, admin)
    assert winner.initiative.status is Status.SELECTED
    assert winner.initiative.funding_route is FundingRoute.VOTE
    assert by_rule_project.initiative.status is Status.OPEN
    csv = counting.results_csv(voting_round)
    assert f'"{funded}"' in csv


def test_funding_is_stored_beside_the_domain_config_and_read_back(world):
    voting_round = world["round"]
    counting.update_weighting(
        world["admin"],
        voting_round,
        weighting_settings(area_balance=True, funding=FUNDING_CORRECTED),
    )
    stored = voting_round.weighting_config
    assert stored["funding"] == FUNDING_CORRECTED
    assert weighting.round_config(voting_round) == RankingConfig(
        {"weighted_support": 1},
        weighting="post_stratification",
        weighting_dimensions=("area",),
        area_balance=True,
    )
    again = WeightingSettings.from_config(stored)
    assert (again.funding, again.area_balance, again.method) == (FUNDING_CORRECTED, True, "area")

    # Back to the rule: the stored settings are exactly the domain config again.
    counting.update_weighting(world["admin"], voting_round, weighting_settings(area_balance=True))
    assert "funding" not in voting_round.weighting_config
    assert weighting.round_funding(voting_round) == FUNDING_RULE
    assert WeightingSettings.from_config(voting_round.weighting_config).funding == FUNDING_RULE
    counting.update_weighting(world["admin"], voting_round, WeightingSettings(enabled=False))
    assert weighting.round_funding(voting_round) == FUNDING_RULE


def test_funding_choice_changes_are_audited_even_alone(world):
    voting_round = world["round"]
    counting.update_weighting(world["admin"], voting_round, weighting_settings())
    counting.update_weighting(
        world["admin"], voting_round, weighting_settings(funding=FUNDING_CORRECTED)
    )
    entries = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action == "round.weighting_changed")
        .order_by(AuditEntry.id)
    ).all()
    assert len(entries) == 2
    assert entries[1].details["old"] == entries[0].details["new"]
    assert entries[1].details["new"] == {**entries[0].details["new"], "funding": FUNDING_CORRECTED}


def test_corrected_funding_is_refused_without_the_correction_or_for_points(world, make):
    with pytest.raises(ValidationFailed, match="only when the correction is on") as caught:
        counting.update_weighting(
            world["admin"], world["round"], WeightingSettings(funding=FUNDING_CORRECTED)
        )
    assert caught.value.field == "funding"
    with pytest.raises(ValidationFailed, match="from the list") as caught:
        counting.update_weighting(
            world["admin"], world["round"], weighting_settings(funding="lottery")
        )
    assert caught.value.field == "funding"
    assert world["round"].weighting_config is None

    points = make.voting_round(
        world["dorp"], ballot_type="cumulative", max_total_points=10, phase="review"
    )
    with pytest.raises(ValidationFailed, match="points ballots") as caught:
        counting.update_weighting(None, points, weighting_settings(funding=FUNDING_CORRECTED))
    assert caught.value.field == "funding"
    with pytest.raises(ValidationFailed, match="points ballots"):
        weighting.preview(world["admin"], points, weighting_settings(funding=FUNDING_CORRECTED))
    assert points.weighting_config is None


def test_funding_is_locked_once_the_results_are_published(make):
    world = two_area_round(make, weighting_settings())
    voting_round = world["round"]
    counting.close_round(world["admin"], voting_round)
    world["make"].publish(voting_round, world["admin"])
    with pytest.raises(Conflict, match="published"):
        counting.update_weighting(
            world["admin"], voting_round, weighting_settings(funding=FUNDING_CORRECTED)
        )
    assert weighting.round_funding(voting_round) == FUNDING_RULE


def test_only_managers_of_the_round_may_choose_the_funding(world, make):
    voting_round = world["round"]
    for user in (
        make.resident(world["dorp"]),
        make.council_member(world["wijk"]),
        world["coordinator"],  # Dorp only
        make.administrator(make.municipality("Horst")),
    ):
        with pytest.raises(PermissionDenied):
            counting.update_weighting(
                user, voting_round, weighting_settings(funding=FUNDING_CORRECTED)
            )
    assert voting_round.weighting_config is None


def test_funding_is_fixed_once_voting_opens_even_without_a_ballot(world):
    # The attack: voting is open, nobody has voted yet, and the coordinator lets the
    # corrected ranking decide the money (or switches it back to the rule).
    voting_round, admin = world["round"], world["admin"]
    counting.update_weighting(admin, voting_round, weighting_settings(funding=FUNDING_CORRECTED))
    open_voting(voting_round)
    with pytest.raises(Conflict, match="fixed before voting opens"):
        counting.update_weighting(admin, voting_round, weighting_settings())
    assert weighting.round_funding(voting_round) == FUNDING_CORRECTED


def test_preview_shows_what_the_corrected_ranking_would_fund(make):
    # A read: it works once voting has opened (here: ended) and saves nothing.
    world = two_area_round(make)
    voting_round = world["round"]
    analysis = weighting.preview(
        world["admin"],
        voting_round,
        weighting_settings(method="none", need="2", funding=FUNDING_CORRECTED),
    )
    assert analysis.funded == {world["buurttuin"].external_id}
    assert weighting.preview(world["admin"], voting_round, weighting_settings()).funded is None
    assert voting_round.weighting_config is None


def test_closing_records_that_the_corrected_ranking_decided(make):
    world = two_area_round(make, weighting_settings(funding=FUNDING_CORRECTED))
    voting_round = world["round"]
    counting.close_round(world["admin"], voting_round)
    closed = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "round.closed"))
    assert closed.details["funding"] == FUNDING_CORRECTED
    assert closed.details["selected"] == [world["buurttuin"].external_id]


def test_a_round_switched_to_points_after_the_choice_is_not_counted(make):
    world = two_area_round(make, weighting_settings(funding=FUNDING_CORRECTED))
    voting_round = world["round"]
    voting_round.ballot_type = "cumulative"  # as if the setup changed behind the settings' back
    with pytest.raises(Conflict, match="points ballots"):
        counting.close_round(world["admin"], voting_round)


def test_an_unknown_stored_funding_is_reported_not_guessed(make):
    world = two_area_round(make, weighting_settings())
    voting_round = world["round"]
    voting_round.weighting_config = {**voting_round.weighting_config, "funding": "lottery"}
    with pytest.raises(Conflict, match="funding must be one of"):
        counting.close_round(world["admin"], voting_round)
    # The ranking part is still read (the funding key is not part of the domain config).
    assert weighting.round_config(voting_round).weighting == "post_stratification"


def test_pabulib_export_names_the_corrected_ranking_as_the_rule(make):
    world = two_area_round(make, weighting_settings(funding=FUNDING_CORRECTED))
    voting_round = world["round"]
    assert "rule;greedy" in pabulib.export_round(voting_round)  # not counted yet
    counting.close_round(world["admin"], voting_round)
    text = pabulib.export_round(voting_round)
    assert f"rule;{pabulib.CORRECTED_RANKING_RULE}" in text
    assert "rule;greedy" not in text


def test_demo_round_keeps_the_rule_which_funds_what_the_ranking_would(app):
    """The documented choice of demo/weighting.py: its money follows weighted greedy, which
    funds the same projects as the corrected ranking would, in another order."""
    from buurtbudget.demo import STEPS
    from buurtbudget.demo import weighting as demo_weighting

    for _label, step in STEPS:
        step(lambda message: None)
    voting_round = db.session.scalar(
        select(VotingRound).where(VotingRound.title == demo_weighting.TITLE)
    )
    assert weighting.round_funding(voting_round) == FUNDING_RULE
    by_rule = [p.external_id for p in counting.results_in_order(voting_round) if p.selected]
    ranking = weighting.analyse(voting_round).ranking
    by_ranking = list(fund_in_order(ranking.entries, voting_round.budget_cents).selected)
    assert sorted(by_rule) == sorted(by_ranking)
    assert by_rule != by_ranking
