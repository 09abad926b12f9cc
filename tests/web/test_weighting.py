"""Weighting pages: the staff settings form (preview, save, errors, permissions, read-only once
voting opens, refused after publication) and the public pages "why projects rank where they do"
and the methodology."""

from __future__ import annotations

import re

import pytest

from buurtbudget.extensions import db
from buurtbudget.services.voting import counting
from buurtbudget.services.voting.weighting import WeightingSettings
from tests.weighting_world import (
    end_voting,
    open_voting,
    two_area_round_with_its_coordinator,
    vote,
)

SAVE = {
    "enabled": "y",
    "method": "area",
    "weight_cap": "",
    "weighted_support": "1",
    "support": "0",
    "relative_contribution": "0,2",
    "contribution_measure": "area_percentile",
    "need": "0",
    "save": "Save",
}


@pytest.fixture
def world(make):
    """The two-area round before voting opens; ``vote(world)`` lets it open, vote and end."""
    return two_area_round_with_its_coordinator(make, voted=False)


def _url(voting_round, page: str) -> str:
    return {
        "settings": f"/staff/rounds/{voting_round.id}/weighting",
        "ranking": f"/rounds/{voting_round.id}/ranking",
        "methodology": f"/rounds/{voting_round.id}/methodology",
    }[page]


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def test_coordinator_previews_then_saves_the_settings(world, client_for):
    voting_round = world["round"]
    client = client_for(world["coordinator"])
    page = client.get(_url(voting_round, "settings"))
    assert page.status_code == 200
    assert "Correct this round for differences in turnout" in page.get_data(as_text=True)

    preview = client.post(_url(voting_round, "settings"), data={**SAVE, "save": "", "preview": "1"})
    assert preview.status_code == 200
    assert "Effect of these settings (not saved)" in _text(preview)
    assert voting_round.weighting_config is None  # a preview saves nothing

    saved = client.post(_url(voting_round, "settings"), data=SAVE)
    assert saved.status_code == 302
    db.session.refresh(voting_round)
    assert voting_round.weighting_config["factor_weights"] == {
        "weighted_support": "1",
        "relative_contribution": "0.2",
    }
    again = _text(client.get(_url(voting_round, "settings")))
    assert 'value="0.2"' in client.get(_url(voting_round, "settings")).get_data(as_text=True)
    assert "How this round corrects" in again
    assert "can no longer change" not in again

    # Once the votes are in, the saved settings still preview with them (a read).
    vote(world)
    preview = client.post(_url(voting_round, "settings"), data={**SAVE, "save": "", "preview": "1"})
    assert preview.status_code == 200
    text = _text(preview)
    assert "Effect of these settings (not saved)" in text
    # Dorp votes weigh 1/3, Stadswijk votes 3: the garden is first after correction.
    assert re.search(r"1 Buurttuin Stadswijk Stadswijk 2 \(▲ 1\) 10 30\.00", text), text


def test_the_settings_are_read_only_and_refused_once_voting_opens(world, client_for):
    # The attack: voting is open, nobody has voted yet; the coordinator changes the weighting
    # (or the funding) through the page, or posts the form of the page as it was before.
    voting_round = world["round"]
    client = client_for(world["coordinator"])
    assert client.post(_url(voting_round, "settings"), data=SAVE).status_code == 302
    db.session.refresh(voting_round)
    stored = voting_round.weighting_config
    open_voting(voting_round)

    page = client.get(_url(voting_round, "settings"))
    html, text = page.get_data(as_text=True), _text(page)
    assert page.status_code == 200
    assert "the weighting and what decides the money were fixed then" in text
    assert re.search(r'<fieldset class="plain" disabled>', html), html
    assert 'value="0.2"' in html  # the settings in force, read-only
    assert 'name="save"' not in html
    for changes in ({}, {"method": "raking"}, {"enabled": ""}, {"need": "1"}):
        data = {k: v for k, v in {**SAVE, **changes}.items() if v}
        refused = client.post(_url(voting_round, "settings"), data=data)
        assert refused.status_code == 409, changes
        assert "fixed before voting opens" in _text(refused)
    # No preview while voting is open: it would show the interim standing.
    previewing = {**SAVE, "need": "1", "save": "", "preview": "1"}
    refused = client.post(_url(voting_round, "settings"), data=previewing)
    assert refused.status_code == 409 and "While voting is open nobody sees" in _text(refused)
    # Once voting has ended the preview is a read: the settings in force, whatever was sent.
    end_voting(voting_round)
    preview = client.post(_url(voting_round, "settings"), data=previewing)
    assert preview.status_code == 200
    assert "Effect of these settings (not saved)" in _text(preview)
    assert 'value="0.2"' in preview.get_data(as_text=True)
    db.session.refresh(voting_round)
    assert voting_round.weighting_config == stored


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"weighted_support": "-2"}, "The number cannot be negative."),
        ({"need": "veel"}, "Enter a number, for example 0.5."),
        ({"weight_cap": "0,5"}, "must be at least 1"),
        ({"weighted_support": "0", "relative_contribution": "0"}, "at least one factor"),
        ({"method": "raking", "need": "1"}, None),  # valid: both figures exist
        ({"support": "1" * 30}, "Field cannot be longer than 20 characters."),
        ({"method": "nonsense"}, "Not a valid choice."),
    ],
)
def test_bad_settings_are_refused_with_a_message(world, client_for, changes, message):
    client = client_for(world["admin"])
    response = client.post(_url(world["round"], "settings"), data={**SAVE, **changes})
    if message is None:
        assert response.status_code == 302
        return
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    db.session.refresh(world["round"])
    assert world["round"].weighting_config is None


def test_settings_are_refused_after_publication(world, client_for):
    voting_round = world["round"]
    vote(world)
    counting.close_round(world["admin"], voting_round)
    world["make"].publish(voting_round, world["admin"])
    response = client_for(world["admin"]).post(_url(voting_round, "settings"), data=SAVE)
    assert response.status_code == 409
    assert "the weighting can no longer change" in response.get_data(as_text=True)
    db.session.refresh(voting_round)
    assert voting_round.weighting_config is None


def test_only_managers_of_the_round_reach_the_settings(world, make, client_for):
    voting_round = world["round"]
    other_municipality = make.municipality("Horst")
    refused = {
        "resident": make.resident(world["dorp"]),
        "council member": make.council_member(world["dorp"]),
        "coordinator of one area only": make.coordinator(world["dorp"]),
        "coordinator of another area": make.coordinator(make.area(world["dorp"].municipality)),
        "admin of another municipality": make.administrator(other_municipality),
    }
    for who, user in refused.items():
        client = client_for(user)
        for method in ("get", "post"):
            status = getattr(client, method)(_url(voting_round, "settings"), data=SAVE).status_code
            assert status == 403, (who, method, status)
    assert client_for(None).get(_url(voting_round, "settings")).status_code == 302
    assert client_for(world["admin"]).get("/staff/rounds/987654/weighting").status_code == 404
    db.session.refresh(voting_round)
    assert voting_round.weighting_config is None


def _published(world):
    voting_round = world["round"]
    counting.update_weighting(
        world["admin"],
        voting_round,
        WeightingSettings(enabled=True, method="area", weighted_support="1", need="0.5"),
    )
    vote(world)
    counting.close_round(world["admin"], voting_round)
    world["make"].publish(voting_round, world["admin"])
    return voting_round


def test_residents_see_why_a_project_ranks_where_it_does(world, client_for):
    voting_round = _published(world)
    anonymous = client_for(None)
    text = _text(anonymous.get(_url(voting_round, "ranking")))
    # Corrected rank, project, area, raw rank, votes, weighted support, factors, score.
    # Buurttuin: weighted support 30 (normalised 1, weight 1) and need 1.5 (normalised 1,
    # weight 0.5): score 1.5, shares 66.7 % and 33.3 %.
    assert re.search(
        r"1 Buurttuin Stadswijk Stadswijk 2 \(▲ 1\) 10 30\.00 30\.00 · 66\.7% 1\.50 · 33\.3% "
        r"1\.500 Selected",
        text,
    ), text
    assert "Representativeness score: 0.50" in text
    results = _text(anonymous.get(f"/rounds/{voting_round.id}/results"))
    assert "Weighted support" in results
    assert "Why projects rank where they do" in results
    assert re.search(r"Buurttuin Stadswijk 10 30\.00", results), results


def test_ranking_pages_are_hidden_until_published_and_without_weighting(world, client_for):
    voting_round = world["round"]
    anonymous = client_for(None)
    assert anonymous.get(_url(voting_round, "ranking")).status_code == 404  # not even closed
    counting.update_weighting(
        world["admin"], voting_round, WeightingSettings(enabled=True, method="area")
    )
    vote(world)
    counting.close_round(world["admin"], voting_round)
    assert anonymous.get(_url(voting_round, "ranking")).status_code == 404  # not published
    assert client_for(world["admin"]).get(_url(voting_round, "ranking")).status_code == 200
    assert anonymous.get("/rounds/987654/ranking").status_code == 404


def test_ranking_page_is_hidden_for_a_round_without_weighting(world, client_for):
    voting_round = world["round"]
    vote(world)
    counting.close_round(world["admin"], voting_round)
    assert client_for(world["admin"]).get(_url(voting_round, "ranking")).status_code == 404


def test_methodology_page_in_dutch_and_english_with_the_round_figures(world, client_for):
    voting_round = world["round"]
    anonymous = client_for(None)
    before = _text(anonymous.get(_url(voting_round, "methodology")))
    assert "For this round the correction is off" in before
    voting_round = _published(world)
    english = _text(anonymous.get(_url(voting_round, "methodology")))
    assert "For this round the correction is on." in english
    assert "This round weights by area (post-stratification)." in english
    assert "This round sets no cap on the weights." in english
    assert "Effective number of voters" in english
    # 30 votes of 1/3 and 10 of 3: n_eff = 40^2 / (30/9 + 90) = 17.1
    assert "Effective number of voters 17.1" in english
    assert "Design effect 2.33" in english
    dutch = _text(
        anonymous.get(_url(voting_round, "methodology"), headers={"Accept-Language": "nl"})
    )
    assert "Voor deze stemronde staat de correctie aan." in dutch
    assert "Effectief aantal stemmers 17,1" in dutch
    assert "Representativiteitsscore: 0,50" in dutch
