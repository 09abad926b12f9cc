"""The open-data API v1: envelope, pagination, filters, errors as JSON, CSV files, and no
personal data anywhere."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from buurtbudget.domain.budget import AccountKind
from buurtbudget.extensions import db
from buurtbudget.models import User
from buurtbudget.services import ledger

THIS_YEAR = date.today().year


@pytest.fixture
def world(app, make):
    municipality = make.municipality("Delft")
    area = make.area(municipality, name="Tanthof", year=THIS_YEAR)
    period = make.budget_period(area)
    initiatives = [make.budget_initiative(area, title=f"Plan {n}") for n in range(7)]
    ledger.grant(None, initiatives[0], 400_00)
    make.initiative(area, status="draft", title="Nog geheim")
    return {"municipality": municipality, "area": area, "period": period, "items": initiatives}


def test_list_envelope_and_pagination(world, client_for):
    client = client_for(None)
    body = client.get("/api/v1/initiatives?per_page=3&page=2").get_json()
    assert set(body) == {"data", "meta", "links"}
    assert body["meta"] == {"api_version": "1", "page": 2, "per_page": 3, "total": 7, "pages": 3}
    assert [i["title"] for i in body["data"]] == ["Plan 3", "Plan 4", "Plan 5"]
    assert body["links"]["next"] == "/api/v1/initiatives?page=3&per_page=3"
    assert body["links"]["prev"] == "/api/v1/initiatives?page=1&per_page=3"
    last = client.get(body["links"]["next"]).get_json()
    assert last["links"]["next"] is None and len(last["data"]) == 1
    assert "Nog geheim" not in str(client.get("/api/v1/initiatives?per_page=100").get_json())
    beyond = client.get("/api/v1/initiatives?page=9").get_json()
    assert (
        beyond["data"] == [] and beyond["links"]["prev"] == "/api/v1/initiatives?page=1&per_page=25"
    )


def test_figures_come_from_the_ledger(world, client_for):
    client = client_for(None)
    first = world["items"][0]
    one = client.get(f"/api/v1/initiatives/{first.id}").get_json()
    assert one["data"]["granted_cents"] == 400_00 and one["data"]["paid_cents"] == 0
    assert one["links"]["self"] == f"/api/v1/initiatives/{first.id}"
    budget = client.get(f"/api/v1/budgets?area={world['area'].id}").get_json()["data"][0]
    balance = ledger.account_balance(world["period"].account(AccountKind.AREA))
    assert budget["budget_cents"] == world["period"].amount_cents + 5_000_00  # + knelpuntenpot
    assert budget["committed_cents"] == 400_00
    assert budget["available_cents"] == balance.available + 5_000_00  # + knelpuntenpot
    area = client.get(f"/api/v1/areas/{world['area'].id}").get_json()["data"]
    assert area["name"] == "Tanthof" and area["inhabitants"] == 10_000
    filtered = client.get(f"/api/v1/initiatives?status=open&year={THIS_YEAR}").get_json()
    assert filtered["meta"]["total"] == 7
    assert client.get(f"/api/v1/initiatives?year={THIS_YEAR - 1}").get_json()["meta"]["total"] == 0


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/initiatives?page=-1",
        "/api/v1/initiatives?page=0",
        "/api/v1/initiatives?per_page=10000",
        "/api/v1/initiatives?per_page=0",
        "/api/v1/initiatives?area=abc",
        "/api/v1/initiatives?status=draft",
        "/api/v1/budgets?year=1234",
        "/api/v1/rounds?year=x",
        "/api/v1/initiatives.csv?status=nonsense",
    ],
)
def test_bad_input_answers_400_json(world, client_for, url):
    response = client_for(None).get(url)
    assert response.status_code == 400
    body = response.get_json()
    assert body["status"] == 400 and body["message"]


def test_unknown_ids_answer_404_json(world, client_for, make):
    client = client_for(None)
    draft = make.initiative(world["area"], status="draft")
    for url in (
        "/api/v1/areas/987654",
        "/api/v1/budgets/987654",
        "/api/v1/rounds/987654",
        f"/api/v1/initiatives/{draft.id}",
        "/api/v1/nothing",
    ):
        response = client.get(url)
        assert response.status_code == 404 and response.get_json()["status"] == 404, url


def test_csv_files(world, client_for):
    client = client_for(None)
    response = client.get(f"/api/v1/initiatives.csv?area={world['area'].id}")
    assert response.mimetype == "text/csv"
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0].startswith("id,area_id,title,status")
    assert len(lines) == 1 + 7
    for name in ("areas", "budgets", "rounds", "results"):
        assert client.get(f"/api/v1/{name}.csv").status_code == 200
    assert client.get("/api/v1/").get_json()["data"]["initiatives"]["csv"] == (
        "/api/v1/initiatives.csv"
    )


def test_rounds_show_turnout_and_results_only_once_published(world, client_for, make):
    voting_round = make.voting_round(world["area"], costs=(100_00, 200_00))
    record = client_for(None).get(f"/api/v1/rounds/{voting_round.id}").get_json()["data"]
    assert record["results"] is None and record["ballots"] == 0
    assert record["turnout"] == [
        {"area_id": world["area"].id, "ballots": 0, "inhabitants": 10_000, "turnout": 0.0}
    ]


def test_no_personal_data_in_any_response_of_the_demo(app, client_for):
    from buurtbudget.demo import seed_demo

    seed_demo(progress=lambda _message: None)
    users = db.session.scalars(select(User)).all()
    secrets = {u.email for u in users} | {u.display_name for u in users}
    secrets |= {u.postcode for u in users if u.postcode}
    client = client_for(None)
    urls = ["/api/v1/", "/api/v1/municipalities"]
    for name in ("areas", "budgets", "initiatives", "rounds"):
        body = client.get(f"/api/v1/{name}?per_page=100").get_json()
        urls.append(f"/api/v1/{name}?per_page=100")
        urls += [f"/api/v1/{name}/{record['id']}" for record in body["data"]]
        urls.append(f"/api/v1/{name}.csv")
    urls.append("/api/v1/results.csv")
    leaks = []
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        text = response.get_data(as_text=True)
        leaks += [f"{url}: {s}" for s in secrets if s and s in text]
        assert "@" not in text, url
    assert leaks == []
    assert len(urls) > 50


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/api/v1/initiatives?page=0", "page must be a whole number from 1."),
        ("/api/v1/initiatives?per_page=101", "per_page must be a whole number from 1 to 100."),
        ("/api/v1/initiatives?area=%C2%B2", "This is not a valid choice."),
        ("/api/v1/areas?municipality=-1", "This is not a valid choice."),
    ],
)
def test_a_bad_number_in_the_query_says_what_the_parameter_takes(world, client_for, url, message):
    """The API keeps its own messages for numbers it reads with web.params.arg_int."""
    body = client_for(None).get(url).get_json()
    assert body["status"] == 400 and body["message"] == message, body
