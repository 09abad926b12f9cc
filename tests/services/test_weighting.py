"""services.voting.weighting: voter weights from the records (equal to the domain functions on the
same data), the weighted count when a round is closed, settings validation, the settings fixed
once voting opens (ballots or not, on every path), permissions and the figures residents see
(turnout, small cells).

The worlds save their weighting before voting opens and only then let the time pass (see
tests/weighting_world.py)."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

import pytest
from sqlalchemy import select

from buurtbudget.domain.weighting import (
    post_stratification_weights,
    rake,
    turnout,
)
from buurtbudget.extensions import db
from buurtbudget.models import AuditEntry, Phase, Role
from buurtbudget.models._base import utcnow
from buurtbudget.services.errors import Conflict, PermissionDenied, ValidationFailed
from buurtbudget.services.voting import casting, counting, election, rounds, weighting
from buurtbudget.services.voting.weighting import WeightingSettings
from tests.voting_world import opened_behind_its_back, setup_of, tanthof_round
from tests.weighting_world import (
    AGES_A,
    AGES_B,
    add_ballots,
    end_voting,
    open_voting,
    two_area_round,
    vote,
    weighting_settings,
)

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def world(make):
    """The two-area round before voting opens: its settings can still change."""
    return two_area_round(make, voted=False)


def _ballots(voting_round):
    return election.read_ballots(voting_round)


def test_weights_from_the_records_equal_the_domain_function(make):
    world = two_area_round(make, weighting_settings())
    voting_round = world["round"]
    ballots = _ballots(voting_round)
    weights = weighting.voter_weights_for(voting_round, ballots)
    expected = post_stratification_weights(
        [b.area_id for b in ballots], {world["dorp"].id: 1_000, world["wijk"].id: 3_000}
    ).exact_weights()
    assert weights == expected
    dorp_weight = next(
        w for w, b in zip(weights, ballots, strict=True) if b.area_id == world["dorp"].id
    )
    # 40 voters * 25 % / 30 Dorp voters = 1/3, rounded to 6 decimals as the rules count it.
    assert dorp_weight == Fraction(333_333, 10**6)


def _cells(world):
    ballots = _ballots(world["round"])
    return ballots, [(b.area_id, b.age_band) for b in ballots]


def test_weights_by_area_and_age_band_and_by_raking_equal_the_domain(make):
    world = two_area_round(make, weighting_settings(method="area_age", weight_cap="5"))
    voting_round = world["round"]
    ballots, cells = _cells(world)
    # Minimum age 16: the 0-14 band has no voters and is left out of the population.
    population = {
        (world[name].id, band): count
        for name, ages in (("dorp", AGES_A), ("wijk", AGES_B))
        for band, count in ages.items()
        if band != "age_0_14"
    }
    weights = weighting.voter_weights_for(voting_round, ballots)
    assert (
        weights
        == post_stratification_weights(
            cells, population, cap=5, empty_cells="spread"
        ).exact_weights()
    )
    assert max(weights) <= 5

    # The same votes in a round that rakes.
    world = two_area_round(make, weighting_settings(method="raking"))
    voting_round = world["round"]
    ballots, cells = _cells(world)
    area_margin = {world["dorp"].id: 850, world["wijk"].id: 2_400}
    band_margin = {"age_15_24": 600, "age_25_44": 1_200, "age_45_64": 850, "age_65_plus": 600}
    expected = rake(
        {"area": [c[0] for c in cells], "age_band": [c[1] for c in cells]},
        {"area": area_margin, "age_band": band_margin},
        empty_cells="spread",
    ).exact_weights()
    assert weighting.voter_weights_for(voting_round, ballots) == expected


def test_ballots_without_area_keep_weight_one(make):
    world = two_area_round(make, weighting_settings())
    voting_round = world["round"]
    add_ballots(voting_round, [(None, None, [world["speeltuin"]])] * 4)
    ballots = _ballots(voting_round)
    weights = weighting.voter_weights_for(voting_round, ballots)
    known = [b.area_id for b in ballots if b.area_id is not None]
    domain = iter(
        post_stratification_weights(
            known, {world["dorp"].id: 1_000, world["wijk"].id: 3_000}
        ).exact_weights()
    )
    assert weights == [next(domain) if b.area_id is not None else 1 for b in ballots]


def test_closing_a_weighted_round_selects_differently(make):
    unweighted = two_area_round(make)
    outcome = counting.compute_outcome(unweighted["round"]).outcome
    assert list(outcome.selected) == [unweighted["speeltuin"].external_id]  # 30 votes to 10

    # The same votes in a round that weights by area, chosen before voting opened.
    world = two_area_round(make, weighting_settings())
    voting_round = world["round"]
    counting.close_round(world["admin"], voting_round)
    # Counted with the weights: Dorp votes weigh 1/3 (about 10 in all), Stadswijk votes 3.
    assert world["buurttuin"].selected and not world["speeltuin"].selected
    assert world["buurttuin"].votes == 10
    assert Fraction(world["buurttuin"].score) == 30
    assert Fraction(world["speeltuin"].score) == 30 * Fraction(333_333, 10**6)
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "round.weighting_changed")
    )
    assert entry.details.get("old") is None  # audit leaves out None: the correction was off
    assert entry.details["new"]["weighting"] == "post_stratification"


FIXED = "fixed before voting opens"


def test_the_weighting_is_fixed_once_votes_are_cast_or_counted(make):
    # The attack: count, see the winners, change the weighting, recount.
    world = two_area_round(make)
    voting_round = world["round"]
    counting.close_round(world["admin"], voting_round)
    assert world["speeltuin"].selected
    with pytest.raises(Conflict, match=FIXED):
        counting.update_weighting(world["admin"], voting_round, weighting_settings())
    assert world["speeltuin"].selected and voting_round.weighting_config is None
    # A platform round is fixed from its first ballot, before anything is counted.
    tanthof = tanthof_round(make)
    casting.cast_ballot(tanthof["resident"], tanthof["round"], {tanthof["projects"][0]: 1})
    with pytest.raises(Conflict, match=FIXED):
        counting.update_weighting(tanthof["admin"], tanthof["round"], weighting_settings())


def _changes_of_the_weighting() -> int:
    return len(
        db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "round.weighting_changed")
        ).all()
    )


def test_the_weighting_is_fixed_once_voting_opens_even_without_a_ballot(world):
    # The attack: voting is open but nobody voted yet (or the first ballots came in on
    # paper, not yet entered), and the coordinator changes the weighting or the funding.
    voting_round, admin = world["round"], world["admin"]
    counting.update_weighting(admin, voting_round, weighting_settings())  # before: allowed
    stored = voting_round.weighting_config
    open_voting(voting_round)
    assert voting_round.phase() is Phase.VOTING
    assert not voting_round.is_locked and len(_ballots(voting_round)) == 0
    attempts = [
        weighting_settings(method="raking"),
        weighting_settings(funding=weighting.FUNDING_CORRECTED),  # the funding choice alone
        WeightingSettings(enabled=False),  # switching it off
        weighting_settings(),  # even saving what is stored
    ]
    for settings in attempts:
        with pytest.raises(Conflict, match=FIXED):
            counting.update_weighting(admin, voting_round, settings)
    # Also once voting has ended, still without a ballot and not yet counted.
    end_voting(voting_round)
    assert voting_round.phase() is Phase.COUNTING
    with pytest.raises(Conflict, match=FIXED):
        counting.update_weighting(admin, voting_round, WeightingSettings(enabled=False))
    db.session.refresh(voting_round)
    assert voting_round.weighting_config == stored
    assert _changes_of_the_weighting() == 1


def test_a_round_that_opened_while_it_was_read_refuses_the_change(world):
    # The round was read before its opening date was moved into the past (another request,
    # committed meanwhile): the write itself checks the dates it finds.
    voting_round = world["round"]
    opened_behind_its_back(voting_round)
    with pytest.raises(Conflict, match=FIXED):
        counting.update_weighting(world["admin"], voting_round, weighting_settings())
    db.session.refresh(voting_round)
    assert voting_round.weighting_config is None
    assert _changes_of_the_weighting() == 0


def test_moving_the_opening_date_later_does_not_reopen_the_weighting(world):
    # The attack: voting has opened; move the opening date into the future (back to review),
    # change the weighting, move it back.
    voting_round, admin = world["round"], world["admin"]
    # Before the opening the date moves freely, and the settings follow.
    later = voting_round.voting_opens_at + timedelta(days=2)
    rounds.update_round(admin, voting_round, setup_of(voting_round, voting_opens_at=later))
    counting.update_weighting(admin, voting_round, weighting_settings())
    open_voting(voting_round)
    opened = voting_round.voting_opens_at
    closes = voting_round.voting_closes_at
    for moved in (
        utcnow() + timedelta(days=1),  # later: back to review
        closes - timedelta(minutes=1),  # later, still before the closing
        opened - timedelta(days=1),  # earlier
    ):
        with pytest.raises(Conflict, match="opening date can no longer change") as caught:
            rounds.update_round(admin, voting_round, setup_of(voting_round, voting_opens_at=moved))
        assert caught.value.field == "voting_opens_at"
    db.session.refresh(voting_round)
    assert voting_round.voting_opens_at == opened and voting_round.phase() is Phase.VOTING
    with pytest.raises(Conflict, match=FIXED):
        counting.update_weighting(admin, voting_round, weighting_settings(method="raking"))
    # What else may change while voting is open still can (the title, a later closing).
    rounds.update_round(
        admin,
        voting_round,
        setup_of(voting_round, title="Venray kiest", voting_closes_at=closes + timedelta(days=1)),
    )
    assert voting_round.title == "Venray kiest"
    assert voting_round.weighting_config["weighting_dimensions"] == ["area"]


def test_moving_the_opening_date_into_the_past_fixes_the_weighting(world):
    voting_round, admin = world["round"], world["admin"]
    now = utcnow()
    rounds.update_round(
        admin,
        voting_round,
        setup_of(
            voting_round,
            proposals_until=now - timedelta(days=2),
            review_until=now - timedelta(days=1),
            voting_opens_at=now - timedelta(minutes=1),
        ),
    )
    assert voting_round.phase() is Phase.VOTING
    with pytest.raises(Conflict, match=FIXED):
        counting.update_weighting(admin, voting_round, weighting_settings())
    assert voting_round.weighting_config is None


def test_no_preview_shows_the_interim_standing_while_voting_is_open(make):
    # The attack: a coordinator previews the (corrected) ranking mid-vote, to see who leads.
    world = two_area_round(make, weighting_settings(), voted=False)
    voting_round = world["round"]
    open_voting(voting_round)
    add_ballots(voting_round, [(world["dorp"], "age_25_44", [world["speeltuin"]])] * 3)
    for settings in (weighting_settings(), weighting_settings(funding=weighting.FUNDING_CORRECTED)):
        with pytest.raises(Conflict, match="While voting is open nobody sees"):
            weighting.preview(world["admin"], voting_round, settings)
    end_voting(voting_round)
    assert weighting.preview(world["admin"], voting_round, weighting_settings()).ballots == 3


def test_the_preview_still_works_once_voting_opened(make):
    # A preview saves nothing: it may show the effect of other settings after the opening
    # (here: voting has ended, as two_area_round leaves it).
    world = two_area_round(make, weighting_settings())
    voting_round = world["round"]
    stored = voting_round.weighting_config
    analysis = weighting.preview(world["admin"], voting_round, weighting_settings(need="1"))
    assert analysis.ballots == 40 and analysis.rows
    db.session.refresh(voting_round)
    assert voting_round.weighting_config == stored
    assert _changes_of_the_weighting() == 1


def test_settings_are_stored_as_the_domain_config_and_read_back(world):
    voting_round = world["round"]
    settings = weighting_settings(
        weight_cap="3", relative_contribution="0,2", need="0.1", area_balance=True
    )
    counting.update_weighting(world["admin"], voting_round, settings)
    assert voting_round.weighting_config == {
        "factor_weights": {"weighted_support": "1", "relative_contribution": "0.2", "need": "0.1"},
        "contribution_measure": "area_percentile",
        "weighting": "post_stratification",
        "weighting_dimensions": ["area"],
        "weight_cap": "3",
        "area_balance": True,
    }
    again = WeightingSettings.from_config(voting_round.weighting_config)
    assert (again.method, again.weight_cap, again.relative_contribution, again.need) == (
        "area",
        "3",
        "0.2",
        "0.1",
    )
    counting.update_weighting(world["admin"], voting_round, WeightingSettings(enabled=False))
    assert voting_round.weighting_config is None
    vote(world)
    assert weighting.voter_weights_for(voting_round, _ballots(voting_round)) is None


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"weighted_support": "-1"}, "weighted_support", "cannot be negative"),
        ({"need": "veel"}, "need", "Enter a number"),
        ({"support": "0.1234567"}, "support", "at most 6 decimals"),
        ({"support": "1000"}, "support", "at most 100"),
        ({"weighted_support": "0"}, "weighted_support", "at least one factor"),
        ({"weight_cap": "0.5"}, "weight_cap", "at least 1"),
        ({"method": "magic"}, "method", "from the list"),
        ({"contribution_measure": "euros"}, "contribution_measure", "from the list"),
    ],
)
def test_invalid_settings_name_the_field(world, changes, field, message):
    with pytest.raises(ValidationFailed, match=message) as caught:
        counting.update_weighting(world["admin"], world["round"], weighting_settings(**changes))
    assert caught.value.field == field
    assert world["round"].weighting_config is None


def test_settings_need_the_population_figures_they_use(world, make):
    municipality = world["municipality"]
    bare = make.area(municipality, name="Kerkdorp", inhabitants=800)  # no age bands, no need
    voting_round = make.voting_round([world["dorp"], bare], phase="review")
    with pytest.raises(ValidationFailed, match="per age band") as caught:
        counting.update_weighting(None, voting_round, weighting_settings(method="raking"))
    assert caught.value.field == "method"
    with pytest.raises(ValidationFailed, match="Kerkdorp") as caught:
        counting.update_weighting(None, voting_round, weighting_settings(need="0.5"))
    assert caught.value.field == "need"
    points = make.voting_round(
        world["dorp"], ballot_type="cumulative", max_total_points=10, phase="review"
    )
    with pytest.raises(ValidationFailed, match="points ballots"):
        counting.update_weighting(None, points, weighting_settings())


def test_settings_are_locked_once_the_results_are_published(make):
    world = two_area_round(make, weighting_settings())
    voting_round = world["round"]
    counting.close_round(world["admin"], voting_round)
    world["make"].publish(voting_round, world["admin"])
    with pytest.raises(Conflict, match="published"):
        counting.update_weighting(world["admin"], voting_round, WeightingSettings(enabled=False))
    assert voting_round.weighting_config is not None


def test_only_managers_of_the_round_may_change_or_preview_it(world, make):
    voting_round = world["round"]
    elsewhere = make.municipality("Horst")
    outsiders = [
        make.resident(world["dorp"]),
        make.council_member(world["dorp"]),
        world["coordinator"],  # coordinates Dorp only, not every area of the round
        make.administrator(elsewhere),
    ]
    for user in outsiders:
        with pytest.raises(PermissionDenied):
            counting.update_weighting(user, voting_round, weighting_settings())
        with pytest.raises(PermissionDenied):
            weighting.preview(user, voting_round, weighting_settings())
    both = make.user(
        world["dorp"], roles=((Role.COORDINATOR, world["dorp"]), (Role.COORDINATOR, world["wijk"]))
    )
    counting.update_weighting(both, voting_round, weighting_settings())
    assert voting_round.weighting_config is not None


def test_analysis_shows_turnout_representativeness_and_hides_small_cells(make):
    world = two_area_round(make, weighting_settings(method="area_age"))
    voting_round = world["round"]
    analysis = weighting.analyse(voting_round)
    dorp, wijk = world["dorp"].id, world["wijk"].id
    expected = turnout({dorp: 30, wijk: 10}, {dorp: 1_000, wijk: 3_000})
    assert analysis.area_report.representativeness == expected.representativeness == Fraction(1, 2)
    rows = {row.area.name: row for row in analysis.areas}
    assert rows["Dorp"].turnout == Fraction(3, 100)
    # Dorp's 15-24 band (100) has no voters: its inhabitants are spread over the other cells,
    # so Stadswijk's eligible 2,400 weigh against Dorp's 750 represented ones.
    assert rows["Stadswijk"].weighted_share == Fraction(2_400, 3_150)
    assert analysis.spread_labels() == ["Dorp, 15 to 24 years"]
    cells = {(row.area.name, row.band): row for row in analysis.cells}
    assert cells[("Dorp", "age_25_44")].ballots == 10  # shown: 10 ballots
    assert cells[("Stadswijk", "age_25_44")].ballots is None  # 3 ballots: hidden
    assert cells[("Stadswijk", "age_25_44")].turnout is None
    assert ("Dorp", "age_0_14") not in cells  # below the minimum age
    assert analysis.diagnostics.n == 40
    assert analysis.diagnostics.design_effect > 1
    ranking = {row.project.name: row.ranked for row in analysis.rows}
    assert ranking["Speeltuin Dorp"].raw_rank == 1
    assert ranking["Buurttuin Stadswijk"].corrected_rank == 1
