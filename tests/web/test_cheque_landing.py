"""Ede: a household that scans the cheque's QR code without an account registers (or logs in)
from the landing page and comes back with its code; it is offered, and may pool on, only
initiatives of its own area; the demo's letters go to addresses of their own area."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest

from buurtbudget.extensions import db
from buurtbudget.models import Cheque
from buurtbudget.services import cheques, ledger
from buurtbudget.services.errors import ValidationFailed
from tests.factories import TEST_PASSWORD

THIS_YEAR = date.today().year


@pytest.fixture
def ede(app, make):
    municipality = make.municipality("Ede")
    veldhuizen = make.area(
        municipality, name="Veldhuizen", households=300, year=THIS_YEAR, postcode="6712AA"
    )
    lunteren = make.area(
        municipality, name="Lunteren", households=300, year=THIS_YEAR, postcode="6715AA"
    )
    periods = {a.name: make.budget_period(a, "household_cheques") for a in (veldhuizen, lunteren)}
    issued = cheques.issue_cheques(None, periods["Veldhuizen"], [cheques.Household("6712AA", 7)])
    return {
        "municipality": municipality,
        "veldhuizen": veldhuizen,
        "lunteren": lunteren,
        "periods": periods,
        "cheque": issued[0],
        "party": make.budget_initiative(veldhuizen, cost_cents=1_500, title="Straatfeest"),
        "elsewhere": make.budget_initiative(lunteren, cost_cents=1_500, title="Dorpsfeest"),
    }


def _follow_link(page_text: str, link_id: str) -> str:
    href = page_text.split(f'id="{link_id}"')[0].rsplit('href="', 1)[1].split('"')[0]
    return href.replace("&amp;", "&")


def _session_text(app, client) -> str:
    cookie = client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    if cookie is None:
        return ""
    return str(app.session_interface.get_signing_serializer(app).loads(cookie.value))


def test_a_household_registers_from_the_qr_landing_page_and_pools(ede, app, client_for):
    code = ede["cheque"].code
    client = client_for()
    landing = client.get(f"/budgets/cheques/redeem?code={code}")
    assert landing.status_code == 200
    register_url = _follow_link(landing.text, "landing-register")
    assert urlsplit(register_url).path == "/account/register"
    response = client.post(
        register_url,
        data={
            "display_name": "Fam. Jansen",
            "email": "jansen@example.org",
            "postcode": "6712 AA",
            "house_number": "7",
            "birth_year": "1980",
            "municipality": str(ede["municipality"].id),
            "password": TEST_PASSWORD,
            "confirm": TEST_PASSWORD,
        },
    )
    assert response.status_code == 302, response.text
    back = response.headers["Location"]
    assert urlsplit(back).path == "/budgets/cheques/redeem"
    assert parse_qs(urlsplit(back).query)["code"] == [code]
    assert code not in _session_text(app, client)  # never a clear code in the cookie
    form = client.get(back)
    assert f'value="{code}"' in form.text
    assert "Straatfeest" in form.text and "Dorpsfeest" not in form.text  # own area only
    pooled = client.post(back, data={"code": code, "initiative": str(ede["party"].id)})
    assert pooled.status_code == 302
    assert ledger.initiative_totals(ede["party"]).pooled == ede["cheque"].cheque.value_cents


def test_logging_in_from_the_landing_page_keeps_the_code(ede, make, client_for):
    resident = make.resident(ede["veldhuizen"])
    code = ede["cheque"].code
    client = client_for()
    landing = client.get(f"/budgets/cheques/redeem?code={code}")
    login_url = _follow_link(landing.text, "landing-login")
    login_page = client.get(login_url)
    assert "/account/register?next=" in login_page.text  # registering keeps it too
    response = client.post(login_url, data={"email": resident.email, "password": TEST_PASSWORD})
    assert response.status_code == 302
    assert parse_qs(urlsplit(response.headers["Location"]).query)["code"] == [code]


def test_a_household_pools_only_on_initiatives_of_its_own_area(ede, make, client_for):
    """The cheque's area is the initiative's, but the resident lives elsewhere: refused."""
    outsider = make.resident(ede["lunteren"])
    with pytest.raises(ValidationFailed, match="eigen wijk"):
        cheques.redeem(outsider, ede["cheque"].code, ede["party"])
    db.session.rollback()
    assert db.session.get(Cheque, ede["cheque"].cheque.id).redeemed_at is None
    page = client_for(outsider).get("/budgets/cheques/redeem").text
    assert "Dorpsfeest" in page and "Straatfeest" not in page


def test_letters_go_to_addresses_of_their_own_area(ede):
    with pytest.raises(ValidationFailed, match="ligt in Lunteren"):
        cheques.issue_cheques(None, ede["periods"]["Veldhuizen"], [cheques.Household("6715AA", 3)])
    households = [
        cheques.Household("6712AA", 8),
        cheques.Household("9999ZZ", 1),  # an address the table does not know
    ]
    assert len(cheques.issue_cheques(None, ede["periods"]["Veldhuizen"], households)) == 2
