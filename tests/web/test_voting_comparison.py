"""The rule comparison as a page, a CSV and in the open-data API: staff once voting has ended,
everyone once results are published; nobody sees interim results."""

from __future__ import annotations

from datetime import timedelta

import pytest

from buurtbudget.extensions import db
from buurtbudget.models._base import utcnow
from buurtbudget.services.voting import casting, counting


@pytest.fixture
def ended(make):
    municipality = make.municipality("Delft")
    area = make.area(municipality, name="Tanthof", inhabitants=1_000)
    voting_round = make.voting_round(
        area, costs=(400_00, 300_00, 500_00), budget_cents=800_00, title="Tanthof 2026"
    )
    a, b, c = (p.id for p in voting_round.projects)
    for index, choices in enumerate([{a: 1}, {a: 1, b: 1}, {c: 1}, {b: 1, c: 1}]):
        casting.cast_ballot(make.resident(area, birth_year=1960 + index), voting_round, choices)
    voting_round.voting_closes_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    return {
        "round": voting_round,
        "admin": make.administrator(municipality),
        "resident": make.resident(area),
    }


def _urls(round_id: int) -> list[str]:
    return [f"/rounds/{round_id}/comparison", f"/rounds/{round_id}/comparison.csv"]


def test_staff_see_it_after_voting_and_the_public_after_publication(client, client_for, ended):
    voting_round = ended["round"]
    admin = client_for(ended["admin"])
    resident = client_for(ended["resident"])
    api = f"/api/v1/rounds/{voting_round.id}/comparison"
    for url in _urls(voting_round.id):
        assert admin.get(url).status_code == 200
        assert resident.get(url).status_code == 404
        assert client.get(url).status_code == 404
    assert client.get(api).status_code == 404
    page = admin.get(_urls(voting_round.id)[0]).get_data(as_text=True)
    assert "Rules compared for Tanthof 2026" in page
    assert "Method of Equal Shares with Add1 completion" in page
    assert "Only staff can see this comparison" in page

    counting.close_round(ended["admin"], voting_round)
    counting.publish_results(ended["admin"], voting_round)
    assert client.get(_urls(voting_round.id)[0]).status_code == 200
    text = client.get(_urls(voting_round.id)[1]).get_data(as_text=True)
    assert text.splitlines()[0].startswith("rule,projects_funded,spent_cents,unspent_cents")
    data = client.get(api).get_json()["data"]
    assert [rule["rule"] for rule in data["rules"]] == ["greedy", "mes", "mes_add1"]
    assert data["rules"][0]["voters"] == 4
    assert all(rule["ejr_up_to_one"] in (True, False) for rule in data["rules"])


def test_while_voting_runs_even_staff_see_nothing(client_for, ended):
    voting_round = ended["round"]
    voting_round.voting_closes_at = utcnow() + timedelta(days=1)
    db.session.commit()
    admin = client_for(ended["admin"])
    for url in _urls(voting_round.id):
        assert admin.get(url).status_code == 404


def test_the_dutch_page(client_for, ended):
    admin = client_for(ended["admin"])
    response = admin.get(
        f"/rounds/{ended['round'].id}/comparison", headers={"Accept-Language": "nl"}
    )
    page = response.get_data(as_text=True)
    assert "Regels vergeleken voor Tanthof 2026" in page
