"""Administrators set up area budgets through the web: the model, opening periods with the
calculation shown first, issuing and expiring cheques, and the money that came back."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from buurtbudget.domain.budget import AccountKind, EntryKind, normalise_cheque_code
from buurtbudget.extensions import db
from buurtbudget.models import AuditEntry, BudgetModelConfig, BudgetPeriod, Cheque
from buurtbudget.services import budgets, cheques, ledger

THIS_YEAR = date.today().year
HALF = 1 if date.today().month <= 6 else 2
MODEL = {
    "kind": "area_programme",
    "basis": "per_inhabitant",
    "rate": "9,30",
    "periods_per_year": "1",
    "bottleneck_fund": "5.000",
    "citywide_pot": "",
    "min_meetings_per_year": "0",
    "social_target_percent": "",
    "cheque_value": "",
    "cheque_valid_days": "365",
    "unpooled_value_policy": "area_pot",
}


@pytest.fixture
def delft(app, make):
    municipality = make.municipality("Delft")
    area = make.area(municipality, name="Hof van Delft", inhabitants=12_345, year=THIS_YEAR)
    other = make.area(municipality, name="Tanthof", inhabitants=1_001, year=THIS_YEAR)
    return {
        "municipality": municipality,
        "area": area,
        "other": other,
        "admin": make.administrator(municipality),
        "coordinator": make.coordinator(area),
        "member": make.council_member(area),
        "resident": make.resident(area),
        "foreign_admin": make.administrator(make.municipality()),
    }


def _config(municipality, area=None):
    return db.session.scalar(
        select(BudgetModelConfig).where(
            BudgetModelConfig.municipality_id == municipality.id,
            BudgetModelConfig.area_id == (area.id if area else None)
            if area
            else BudgetModelConfig.area_id.is_(None),
        )
    )


def test_administrator_configures_the_model(delft, client_for):
    client = client_for(delft["admin"])
    assert client.get("/staff/budgets/model").status_code == 200
    defaults = client.get("/staff/budgets/model?kind=household_cheques").get_data(as_text=True)
    assert 'value="7,50"' in defaults  # the Ede defaults as a starting point
    response = client.post("/staff/budgets/model", data={**MODEL, "citywide_pot": "25.000"})
    assert response.status_code == 302
    config = _config(delft["municipality"])
    assert (config.rate_millicents, config.bottleneck_fund_cents) == (930_000, 500_000)
    assert config.citywide_pot_cents == 2_500_000
    # An area with a model of its own: household cheques, EUR 2 per household.
    area = delft["other"]
    own = {
        **MODEL,
        "kind": "household_cheques",
        "basis": "per_household",
        "rate": "2",
        "periods_per_year": "2",
        "cheque_value": "2,00",
        "unpooled_value_policy": "municipality",
    }
    assert client.post(f"/staff/budgets/model?area={area.id}", data=own).status_code == 302
    assert budgets.config_for(area).unpooled_value_policy.value == "municipality"
    assert budgets.config_for(delft["area"]).kind.value == "area_programme"
    audits = db.session.scalar(
        select(func.count()).where(AuditEntry.action == "budget_model.configured")
    )
    assert audits == 2
    overview = client.get("/staff/budgets/").get_data(as_text=True)
    assert "own model" in overview and "EUR 9.30 per inhabitant" in overview
    assert client.post(f"/staff/budgets/areas/{area.id}/model/remove").status_code == 302
    assert _config(delft["municipality"], area) is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rate": "-9,30"}, "Enter a rate in euros"),
        ({"rate": "negen"}, "Enter a rate in euros"),
        ({"bottleneck_fund": "-5"}, "cannot be negative"),
        ({"citywide_pot": "veel"}, "Enter an amount in euros"),
        ({"social_target_percent": "120"}, "between 0 and 100"),
        ({"cheque_valid_days": "0"}, "between 1 and 3650"),
        ({"min_meetings_per_year": "vier"}, "Enter a whole number"),
        ({"kind": "household_cheques"}, "needs a cheque value"),
        ({"kind": "lottery"}, "Not a valid choice"),
    ],
)
def test_model_bad_input(delft, client_for, changes, message):
    response = client_for(delft["admin"]).post("/staff/budgets/model", data={**MODEL, **changes})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert _config(delft["municipality"]) is None


def test_who_may_set_up_budgets(delft, client_for):
    delft_area = delft["area"]
    for who in ("coordinator", "member", "resident"):
        client = client_for(delft[who])
        assert client.post("/staff/budgets/model", data=MODEL).status_code == 403, who
        assert client.post("/staff/budgets/periods/new", data={}).status_code == 403, who
        remove = client.post(f"/staff/budgets/areas/{delft_area.id}/model/remove")
        assert remove.status_code == 403, who
    # An administrator of another municipality only reaches their own.
    foreign = client_for(delft["foreign_admin"])
    assert foreign.get(f"/staff/budgets/model?area={delft_area.id}").status_code == 404
    assert foreign.post(f"/staff/budgets/areas/{delft_area.id}/model/remove").status_code == 403
    assert foreign.post(f"/staff/budgets/model?area={delft_area.id}", data=MODEL).status_code == 404
    assert _config(delft["municipality"]) is None
    # Coordinators see their own areas' budgets, not the settings buttons.
    page = client_for(delft["coordinator"]).get("/staff/budgets/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Hof van Delft" in html and "Tanthof" not in html and "Open budget periods" not in html
    assert client_for(delft["member"]).get("/staff/budgets/").status_code == 403


def test_opening_periods_shows_the_calculation_first(delft, client_for, make):
    make.budget_period(delft["area"], rate_millicents=930_000)  # Delft: EUR 9.30
    client = client_for(delft["admin"])
    choice = {"area": "0", "year": str(THIS_YEAR + 1), "half": "0"}
    preview = client.post("/staff/budgets/periods/new", data=choice)
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    # 12,345 x EUR 9.30 = EUR 114,808.50; 1,001 x EUR 9.30 = EUR 9,309.30; + 2 x EUR 5,000.
    assert f"12,345 × EUR 9.30 per inhabitant (figures of {THIS_YEAR})" in html
    assert "€114,808.50" in html and "€9,309.30" in html and "€134,117.80" in html
    assert db.session.scalar(select(func.count(BudgetPeriod.id))) == 1  # nothing opened yet
    opened = client.post("/staff/budgets/periods/new", data={**choice, "confirm": "1"})
    assert opened.status_code == 302
    periods = db.session.scalars(select(BudgetPeriod).where(BudgetPeriod.year == THIS_YEAR + 1))
    assert sorted(p.amount_cents for p in periods) == [930_930, 11_480_850]
    # Again: both areas already have it.
    again = client.post("/staff/budgets/periods/new", data=choice)
    assert f"Hof van Delft already has the budget period {THIS_YEAR + 1}" in again.get_data(
        as_text=True
    )
    nothing = client.post("/staff/budgets/periods/new", data={**choice, "confirm": "1"})
    assert nothing.status_code == 400 and "no budget period to open" in nothing.get_data(True)


@pytest.mark.parametrize(
    ("choice", "message"),
    [
        ({"year": "1999"}, "between 2000 and 2100"),
        ({"year": "volgend jaar"}, "Enter a whole number"),
        ({"half": "1"}, "has no such period"),  # a yearly model has no half-years
        ({"area": "987654"}, "Not a valid choice"),
        ({"half": "7"}, "Not a valid choice"),
    ],
)
def test_opening_periods_bad_input(delft, client_for, make, choice, message):
    make.budget_period(delft["area"])
    data = {"area": str(delft["area"].id), "year": str(THIS_YEAR + 1), "half": "0", **choice}
    response = client_for(delft["admin"]).post("/staff/budgets/periods/new", data=data)
    assert message in response.get_data(as_text=True)
    assert response.status_code in (200, 400)  # refusals of a plan are shown, not errors
    assert db.session.scalar(select(func.count(BudgetPeriod.id))) == 1


def test_a_half_year_cannot_overlap_an_opened_year(app, delft, make):
    make.budget_period(delft["area"])  # the whole year
    budgets.configure_model(
        None,
        delft["municipality"],
        budgets.config_for(delft["area"]).settings().with_changes(periods_per_year=2),
    )
    with (
        app.test_request_context(headers={"Accept-Language": "en"}),
        pytest.raises(budgets.Conflict, match="already has the budget period"),
    ):
        budgets.open_period(None, delft["area"], THIS_YEAR, 1)


# Cheques -------------------------------------------------------------------------------------


@pytest.fixture
def veldhuizen(app, make):
    municipality = make.municipality("Ede")
    area = make.area(municipality, name="Veldhuizen", households=4, year=THIS_YEAR)
    period = make.budget_period(area, "household_cheques")  # 4 x EUR 7.50 = EUR 30
    return {
        "area": area,
        "period": period,
        "admin": make.administrator(municipality),
        "coordinator": make.coordinator(area),
        "member": make.council_member(area),
        "foreign_admin": make.administrator(make.municipality()),
    }


def _cheque_count(period) -> int:
    return db.session.scalar(
        select(func.count(Cheque.id)).where(
            Cheque.account_id == period.account(AccountKind.AREA).id
        )
    )


def test_issuing_cheques_with_a_check_and_a_confirmation(veldhuizen, client_for):
    client = client_for(veldhuizen["admin"])
    url = f"/staff/budgets/periods/{veldhuizen['period'].id}/cheques/issue"
    assert client.get(url).status_code == 200
    text = "postcode;huisnummer;toevoeging\n6712 AA;1;\n6712AA;2;b\n6712AA;1\n"
    preview = client.post(url, data={"households": text})
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "0 of the 4 households" in html and "2 addresses in the list" in html
    assert "2 × €7.50 = €15.00" in html and "available in the area budget: €30.00" in html
    assert _cheque_count(veldhuizen["period"]) == 0
    # Confirming issues and answers with the letters: the only place the codes exist.
    letters = client.post(url, data={"households": text, "confirm": "pdf"})
    assert letters.status_code == 200 and letters.mimetype == "application/pdf"
    assert letters.headers["Content-Disposition"].startswith("attachment;")
    assert "no-store" in letters.headers["Cache-Control"]
    assert len(re.findall(rb"/Type /Page\b(?!s)", letters.data)) == 2  # one letter each
    assert len(re.findall(rb"/Subtype /Image", letters.data)) == 2  # with its QR code
    assert _cheque_count(veldhuizen["period"]) == 2
    # Issuing is idempotent per household: the same list again issues nothing new.
    again = client.post(url, data={"households": text + "6712AB;3\n"}).get_data(as_text=True)
    assert "2 of the 4 households" in again and "of which 2 already have a cheque" in again
    merge = client.post(url, data={"households": text + "6712AB;3\n", "confirm": "csv"})
    assert merge.status_code == 200 and merge.mimetype == "text/csv"
    assert "no-store" in merge.headers["Cache-Control"]
    rows = list(csv.DictReader(io.StringIO(merge.text.lstrip("\ufeff")), delimiter=";"))
    assert [(r["postcode"], r["huisnummer"]) for r in rows] == [("6712 AB", "3")]
    assert rows[0]["url"] == (
        f"http://localhost/budgets/cheques/redeem?code={normalise_cheque_code(rows[0]['chequecode'])}"
    )
    new = db.session.scalar(select(Cheque).where(Cheque.house_number == 3))
    assert new.code_hash == cheques.cheque_hash(normalise_cheque_code(rows[0]["chequecode"]))
    assert _cheque_count(veldhuizen["period"]) == 3
    nothing_new = client.post(url, data={"households": text, "confirm": "csv"})
    assert nothing_new.status_code == 302 and nothing_new.location.endswith("/cheques")
    odd = client.post(url, data={"households": "6712AB;4", "confirm": "xlsx"})
    assert odd.status_code == 400 and "Choose the letters as PDF or CSV" in odd.text
    assert _cheque_count(veldhuizen["period"]) == 3
    too_many = "\n".join(f"6712AC;{n}" for n in range(1, 6))
    refused = client.post(url, data={"households": too_many}).get_data(as_text=True)
    assert "There is not enough money available" in refused


def test_issuing_cheques_bad_input_and_permissions(veldhuizen, client_for, make):
    url = f"/staff/budgets/periods/{veldhuizen['period'].id}/cheques/issue"
    client = client_for(veldhuizen["admin"])
    bad = client.post(url, data={"households": "6712AA;1\nnonsense\n0000AA;2"})
    assert bad.status_code == 400
    assert "These lines are not addresses: 2 (nonsense), 3 (0000AA;2)" in bad.get_data(True)
    assert client.post(url, data={"households": ""}).status_code == 400
    assert client.post("/staff/budgets/periods/987654/cheques/issue").status_code == 404
    delft_area = make.area(year=THIS_YEAR)
    delft_period = make.budget_period(delft_area)
    admin_there = client_for(make.administrator(delft_area.municipality))
    response = admin_there.get(f"/staff/budgets/periods/{delft_period.id}/cheques/issue")
    assert response.status_code == 409 and "does not use household cheques" in response.get_data(
        True
    )
    assert client_for(veldhuizen["foreign_admin"]).get(url).status_code == 403
    assert client_for(veldhuizen["coordinator"]).get(url).status_code == 403
    assert (
        client_for(veldhuizen["member"]).post(url, data={"households": "6712AA;1"}).status_code
        == 403
    )
    assert _cheque_count(veldhuizen["period"]) == 0


@pytest.mark.parametrize("policy", ["area_pot", "municipality"])
def test_expiring_cheques_with_a_confirmation(veldhuizen, client_for, make, policy):
    config = budgets.config_for(veldhuizen["area"])
    config.unpooled_value_policy = policy
    db.session.commit()
    period = veldhuizen["period"]
    issued = cheques.issue_cheques(None, period, [cheques.Household("6712AA", n) for n in (1, 2)])
    initiative = make.budget_initiative(veldhuizen["area"], cost_cents=15_00, title="Straatfeest")
    cheques.redeem(make.resident(veldhuizen["area"]), issued[0].code, initiative)
    db.session.execute(update(Cheque).values(expires_on=date.today() - timedelta(days=1)))
    db.session.commit()
    client = client_for(
        veldhuizen["coordinator"]
    )  # coordinators may let their area's cheques expire
    url = f"/staff/budgets/periods/{period.id}/cheques/expire"
    html = client.get(url).get_data(as_text=True)
    assert "Unused cheques past their date: 1, worth €7.50." in html
    assert "Pooled on Straatfeest without reaching its cost: €7.50 is released." in html
    label = {"area_pot": "stays in the area budget", "municipality": "goes back to the"}[policy]
    assert label in html
    assert ledger.account_balance(period.account(AccountKind.AREA)).cheques_outstanding == 7_50
    assert client.post(url).status_code == 302
    balance = ledger.account_balance(period.account(AccountKind.AREA))
    assert balance.cheques_outstanding == 0 and balance.committed == 0
    # EUR 30 budget; EUR 15 back in the pot, or withdrawn to the municipality.
    assert balance.available == (30_00 if policy == "area_pot" else 15_00)
    returned = client.get(f"/budgets/periods/{period.id}/returned").get_data(as_text=True)
    assert "Cheque value that funded nothing" in returned
    withdrawn = "€15.00" if policy == "municipality" else "€0.00"
    assert f'Returned to the municipality</th><td class="num">{withdrawn}' in returned
    assert "There is nothing to expire now." in client.get(url).get_data(as_text=True)
    assert (
        client_for(make.coordinator(make.area(veldhuizen["area"].municipality)))
        .get(url)
        .status_code
        == 403
    )
    assert client_for(veldhuizen["member"]).post(url).status_code == 403


def test_returned_money_page_and_booking_a_return(delft, client_for, make):
    period = make.budget_period(delft["area"])
    initiative = make.budget_initiative(delft["area"], cost_cents=1_000_00, title="Bankjes")
    ledger.grant(delft["coordinator"], initiative)
    pot = period.account(AccountKind.AREA)
    ledger.lock_account(pot.id)
    ledger.post(None, pot, EntryKind.PAYOUT, 400_00, initiative=initiative)
    db.session.commit()
    url = f"/budgets/periods/{period.id}/returned"
    coordinator = client_for(delft["coordinator"])
    booked = coordinator.post(
        url, data={"initiative": str(initiative.id), "amount": "50", "memo": "Bon terug"}
    )
    assert booked.status_code == 302
    too_much = coordinator.post(
        url, data={"initiative": str(initiative.id), "amount": "500", "memo": "Te veel"}
    )
    assert too_much.status_code == 400 and "more than was paid out" in too_much.get_data(True)
    negative = coordinator.post(
        url, data={"initiative": str(initiative.id), "amount": "-5", "memo": "x"}
    )
    assert negative.status_code == 400 and "cannot be negative" in negative.get_data(True)
    unknown = coordinator.post(url, data={"initiative": "987654", "amount": "5", "memo": "x"})
    assert unknown.status_code == 400
    page = client_for(delft["member"]).get(url)  # the council sees it, cannot book
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Bon terug" in html and "€50.00" in html and "Book money paid back" not in html
    assert ledger.initiative_totals(initiative).paid == 350_00
    for who in ("resident", "foreign_admin"):
        assert client_for(delft[who]).get(url).status_code == 403, who
    member_post = client_for(delft["member"]).post(
        url, data={"initiative": str(initiative.id), "amount": "5", "memo": "x"}
    )
    assert member_post.status_code == 403
    other_coordinator = client_for(make.coordinator(delft["other"])).post(
        url, data={"initiative": str(initiative.id), "amount": "5", "memo": "x"}
    )
    assert other_coordinator.status_code == 403
    assert ledger.initiative_totals(initiative).paid == 350_00
    assert coordinator.get("/budgets/periods/987654/returned").status_code == 404
