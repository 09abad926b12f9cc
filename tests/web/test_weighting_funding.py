"""The choice "which projects get money is decided by: the counting rule | the corrected
ranking" on the staff weighting page (saving, refusals with a message, permissions), and what
the public results, ranking and methodology pages say about it (English and Dutch)."""

from __future__ import annotations

import re

import pytest

from buurtbudget.extensions import db
from buurtbudget.services.voting import counting, weighting
from buurtbudget.services.voting.weighting import FUNDING_CORRECTED, WeightingSettings
from tests.weighting_world import (
    add_ballots,
    open_voting,
    two_area_round_with_its_coordinator,
    vote,
)

# Unweighted votes plus the need index (weight 2): the ranking funds Buurttuin, plain greedy
# would fund Speeltuin (see tests/services/test_weighting_funding.py).
SAVE = {
    "enabled": "y",
    "method": "none",
    "weight_cap": "",
    "weighted_support": "1",
    "support": "0",
    "relative_contribution": "0",
    "contribution_measure": "area_percentile",
    "need": "2",
    "funding": FUNDING_CORRECTED,
    "save": "Save",
}


@pytest.fixture
def world(make):
    """The two-area round before voting opens; ``vote(world)`` lets it open, vote and end."""
    return two_area_round_with_its_coordinator(make, voted=False)


def _settings_url(voting_round) -> str:
    return f"/staff/rounds/{voting_round.id}/weighting"


def _text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _text(response) -> str:
    return _text_of(response.get_data(as_text=True))


def test_coordinator_previews_and_saves_the_corrected_ranking_as_funding(world, client_for):
    voting_round = world["round"]
    client = client_for(world["coordinator"])
    page = client.get(_settings_url(voting_round)).get_data(as_text=True)
    assert '<option selected value="rule">' in page

    preview = client.post(_settings_url(voting_round), data={**SAVE, "save": "", "preview": "1"})
    assert preview.status_code == 200 and "Effect of these settings (not saved)" in _text(preview)
    assert voting_round.weighting_config is None

    assert client.post(_settings_url(voting_round), data=SAVE).status_code == 302
    db.session.refresh(voting_round)
    assert voting_round.weighting_config["funding"] == FUNDING_CORRECTED
    page = client.get(_settings_url(voting_round)).get_data(as_text=True)
    assert '<option selected value="corrected_ranking">' in page

    # With the votes in, the preview (a read) shows what the saved choice funds.
    vote(world)
    preview = _text(
        client.post(_settings_url(voting_round), data={**SAVE, "save": "", "preview": "1"})
    )
    assert re.search(r"1 Buurttuin Stadswijk .* Gets money", preview), preview
    assert re.search(r"2 Speeltuin Dorp .* No money", preview), preview


def test_the_settings_page_shows_no_interim_ranking_while_voting_is_open(world, client_for):
    voting_round = world["round"]
    counting.update_weighting(world["admin"], voting_round, WeightingSettings(enabled=True))
    open_voting(voting_round)
    add_ballots(voting_round, [(world["dorp"], "age_25_44", [world["speeltuin"]])] * 3)
    client = client_for(world["coordinator"])
    page = client.get(_settings_url(voting_round)).get_data(as_text=True)
    assert 'name="preview"' not in page and "While voting is open nobody sees" in _text_of(page)
    preview = client.post(_settings_url(voting_round), data={**SAVE, "save": "", "preview": "1"})
    text = _text(preview)
    assert preview.status_code == 409 and "While voting is open nobody sees" in text
    assert "Speeltuin Dorp" not in text and "Effect of these settings" not in text


def test_the_funding_choice_is_refused_once_voting_opens(world, client_for):
    # The attack: voting is open, nobody has voted; switch the money to the corrected ranking.
    voting_round = world["round"]
    open_voting(voting_round)
    client = client_for(world["coordinator"])
    page = client.get(_settings_url(voting_round)).get_data(as_text=True)
    assert '<option selected value="rule">' in page and 'name="save"' not in page
    response = client.post(_settings_url(voting_round), data=SAVE)
    assert response.status_code == 409
    assert "fixed before voting opens" in _text(response)
    db.session.refresh(voting_round)
    assert voting_round.weighting_config is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"enabled": ""}, "only when the correction is on"),
        ({"funding": "lottery"}, "Not a valid choice."),
    ],
)
def test_bad_funding_choices_are_refused_with_a_message(world, client_for, changes, message):
    data = {k: v for k, v in {**SAVE, **changes}.items() if v}
    response = client_for(world["admin"]).post(_settings_url(world["round"]), data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    db.session.refresh(world["round"])
    assert world["round"].weighting_config is None


def test_points_rounds_cannot_let_the_ranking_decide(world, make, client_for):
    points = make.voting_round(
        [world["dorp"], world["wijk"]],
        ballot_type="cumulative",
        max_total_points=10,
        phase="review",
    )
    response = client_for(world["admin"]).post(_settings_url(points), data=SAVE)
    assert response.status_code == 400
    assert "cannot decide the money of a round with points ballots" in _text(response)
    db.session.refresh(points)
    assert points.weighting_config is None


def test_funding_is_refused_after_publication(world, client_for):
    voting_round = world["round"]
    vote(world)
    counting.close_round(world["admin"], voting_round)
    world["make"].publish(voting_round, world["admin"])
    response = client_for(world["admin"]).post(_settings_url(voting_round), data=SAVE)
    assert response.status_code == 409
    assert "the weighting can no longer change" in response.get_data(as_text=True)


def test_only_managers_of_the_round_may_choose_the_funding(world, make, client_for):
    voting_round = world["round"]
    refused = {
        "resident": make.resident(world["dorp"]),
        "council member": make.council_member(world["wijk"]),
        "coordinator of one area only": make.coordinator(world["dorp"]),
        "admin of another municipality": make.administrator(make.municipality("Horst")),
    }
    for who, user in refused.items():
        status = client_for(user).post(_settings_url(voting_round), data=SAVE).status_code
        assert status == 403, (who, status)
    assert client_for(None).post(_settings_url(voting_round), data=SAVE).status_code in (302, 400)
    db.session.refresh(voting_round)
    assert voting_round.weighting_config is None


def _published(world, funding: str):
    voting_round = world["round"]
    settings = WeightingSettings(
        enabled=True, method="none", weighted_support="1", need="2", funding=funding
    )
    counting.update_weighting(world["admin"], voting_round, settings)
    vote(world)
    counting.close_round(world["admin"], voting_round)
    world["make"].publish(voting_round, world["admin"])
    return voting_round


def _pages(client, voting_round, language: str) -> dict[str, str]:
    headers = {"Accept-Language": language}
    return {
        name: _text(client.get(f"/rounds/{voting_round.id}/{name}", headers=headers))
        for name in ("results", "ranking", "methodology")
    }


def test_public_pages_say_the_corrected_ranking_decided_the_money(world, client_for):
    voting_round = _published(world, FUNDING_CORRECTED)
    english = _pages(client_for(None), voting_round, "en")
    assert (
        "The money was decided by the corrected ranking: from the top down, skipping what no "
        "longer fits" in english["results"]
    )
    assert "The corrected ranking decided which projects get money" in english["results"]
    # In plain words for everyone (the rule's trace is for staff and in the exports).
    assert re.search(
        r"Buurttuin Stadswijk 10 10\.00 €5,000\.00 Selected Chosen\. In the corrected ranking "
        r"its turn came while its cost of €5,000\.00 still fitted",
        english["results"],
    ), english["results"]
    assert "Counting rule" not in english["results"]
    assert (
        "In this round the corrected ranking decides which projects get money"
        in (english["ranking"])
    )
    assert "In this round the corrected ranking decides the money." in english["methodology"]
    assert "remaining budget of €6,000.00" in english["methodology"]

    dutch = _pages(client_for(None), voting_round, "nl")
    assert "Het geld is verdeeld volgens de gecorrigeerde ranglijst" in dutch["results"]
    assert (
        "In deze stemronde bepaalt de gecorrigeerde ranglijst het geld." in (dutch["methodology"])
    )


def test_public_pages_say_the_counting_rule_decided_the_money(world, client_for):
    voting_round = _published(world, weighting.FUNDING_RULE)
    english = _pages(client_for(None), voting_round, "en")
    assert "Counting rule Most votes first (greedy) (with the voter weights)" in english["results"]
    assert "(with the voter weights)" in english["results"]
    assert "The counting rule of the round decided which projects get money" in (english["results"])
    assert "corrected ranking: from the top down" not in english["results"]
    assert "In this round the counting rule decides the money." in english["methodology"]
    assert re.search(r"Speeltuin Dorp 30 30\.00 €5,000\.00 Selected", english["results"])

    dutch = _pages(client_for(None), voting_round, "nl")
    assert "In deze stemronde bepaalt de telregel het geld." in dutch["methodology"]
