"""Results a resident understands: each project's outcome in a plain sentence in the reader's
language with its number formats, for greedy and Equal Shares (+Add1), and a short explainer
of the rule; the rule's technical trace only for staff (and in the exports)."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest

from buurtbudget.extensions import db
from buurtbudget.models._base import utcnow
from buurtbudget.services.voting import casting, counting


def _closed_round(make, rule_name: str):
    """Budget 800 for 8 voters: six choose A (400) and B (400), two choose C (200)."""
    municipality = make.municipality("Delft")
    area = make.area(municipality, name="Tanthof", inhabitants=1_000)
    voting_round = make.voting_round(
        area, costs=(400_00, 400_00, 200_00), budget_cents=800_00, rule_name=rule_name,
        title="Tanthof kiest",
    )  # fmt: skip
    a, b, c = (p.id for p in voting_round.projects)
    for index in range(8):
        choices = {a: 1, b: 1} if index < 6 else {c: 1}
        casting.cast_ballot(make.resident(area, birth_year=1950 + index), voting_round, choices)
    voting_round.voting_closes_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    admin = make.administrator(municipality)
    counting.close_round(admin, voting_round)
    make.publish(voting_round, admin)
    return voting_round, admin


def _sentences(page: str) -> str:
    return " ".join(html.unescape(page).split())


def test_equal_shares_says_why_six_votes_lose_to_two(make, client, client_for):
    voting_round, admin = _closed_round(make, "mes")
    url = f"/rounds/{voting_round.id}/results"
    page = _sentences(client.get(url).get_data(as_text=True))
    assert (
        "Not chosen. The 6 voters who chose this project did not together have enough of "
        "their equal shares left to pay its cost of €400.00" in page
    )
    assert (
        "Chosen. The 2 voters who chose this project could together pay its cost of €200.00" in page
    )
    assert "Method of Equal Shares" in page and "each voter's share was €100.00" in page
    assert "Technical trace" not in page and "lowest price per unit" not in page
    staff = _sentences(client_for(admin).get(url).get_data(as_text=True))
    assert "Technical trace" in staff and "lowest price per unit" in staff

    dutch = _sentences(client.get(url, headers={"Accept-Language": "nl"}).get_data(as_text=True))
    assert (
        "Niet gekozen. De 6 stemmers die dit project kozen, hadden samen niet genoeg over van "
        "hun gelijke delen om de kosten van € 400,00 te betalen" in dutch
    )
    assert "Met 8 stembiljetten was ieder gelijk deel € 100,00." in dutch


def test_add1_is_explained(make, client):
    voting_round, _ = _closed_round(make, "mes_add1")
    page = _sentences(client.get(f"/rounds/{voting_round.id}/results").get_data(as_text=True))
    assert "Add1" in page


def test_greedy_says_what_was_left_at_each_turn(make, client):
    voting_round, _ = _closed_round(make, "greedy")
    url = f"/rounds/{voting_round.id}/results"
    page = _sentences(client.get(url).get_data(as_text=True))
    assert "Chosen. With 6 votes this project came first; its cost of €400.00 fitted" in page
    assert (
        "Not chosen. With 2 votes this project came in place 3. When it was its turn, €0.00 "
        "was left: less than its cost of €200.00." in page
    )
    assert "Most votes first" in page
    dutch = _sentences(client.get(url, headers={"Accept-Language": "nl"}).get_data(as_text=True))
    assert "Niet gekozen. Met 2 stemmen kwam dit project op plaats 3." in dutch
    assert "€ 0,00" in dutch


@pytest.mark.parametrize("rule_name", ["greedy", "mes", "mes_add1"])
def test_the_csv_keeps_the_technical_trace(make, client, rule_name):
    voting_round, _ = _closed_round(make, rule_name)
    csv = client.get(f"/rounds/{voting_round.id}/results.csv").get_data(as_text=True)
    assert "Chosen" not in csv and ("fits" in csv or "shared by" in csv)
