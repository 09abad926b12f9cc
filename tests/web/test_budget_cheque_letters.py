"""The printable cheque letter with its QR code, and the redeem form the QR code opens."""

from __future__ import annotations

import re
from datetime import date

import segno

from buurtbudget.domain.budget import format_cheque_code
from buurtbudget.domain.initiative_lifecycle import Status
from buurtbudget.extensions import db
from buurtbudget.services import ledger

THIS_YEAR = date.today().year


def test_the_letter_has_a_qr_code_of_the_redeem_link(ede, client_for):
    cheque = ede["cheques"][0]
    html = client_for(ede["admin"]).get(f"/budgets/cheques/{cheque.id}/letter").get_data(True)
    assert format_cheque_code(cheque.code) in html
    svg = re.search(r"<svg .*?</svg>", html, re.S).group(0)
    assert "style=" not in svg and "<script" not in svg  # the CSP forbids inline style/script
    expected = segno.make(
        f"http://localhost/budgets/cheques/redeem?code={cheque.code}", error="m"
    ).svg_inline(scale=4, title="QR code to pool this cheque", svgclass="qr-code")
    assert svg == expected  # the very QR code of this cheque's link
    assert "http://localhost/budgets/cheques/redeem" in html  # printed for typing too


def test_the_qr_link_only_fills_in_the_form(ede, client_for):
    cheque = ede["cheques"][0]
    client = client_for(ede["resident"])
    page = client.get(f"/budgets/cheques/redeem?code={cheque.code}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'value="{cheque.code}"' in html and "Straatfeest" in html
    db.session.refresh(cheque)
    assert cheque.redeemed_at is None  # a GET redeems nothing
    response = client.post(
        "/budgets/cheques/redeem",
        data={"code": cheque.code, "initiative": str(ede["initiative"].id)},
    )
    assert response.status_code == 302
    assert ledger.initiative_totals(ede["initiative"]).pooled == cheque.value_cents
    prefilled = client.get(f"/budgets/initiatives/{ede['initiative'].id}/cheques?code=ABC")
    assert 'value="ABC"' in prefilled.get_data(as_text=True)


def test_redeem_form_bad_input(ede, client_for, make):
    client = client_for(ede["resident"])
    code = ede["cheques"][1].code
    unknown = client.post("/budgets/cheques/redeem", data={"code": code, "initiative": "999999"})
    assert unknown.status_code == 400 and "Not a valid choice" in unknown.get_data(as_text=True)
    wrong = client.post(
        "/budgets/cheques/redeem",
        data={"code": "ABCD-EFGH", "initiative": str(ede["initiative"].id)},
    )
    assert wrong.status_code == 400 and "not valid" in wrong.get_data(as_text=True)
    # Initiatives of other areas are not offered, nor closed ones.
    other = make.area(ede["area"].municipality, year=THIS_YEAR)
    elsewhere = make.budget_initiative(other, title="Elders")
    closed = make.budget_initiative(ede["area"], title="Al klaar", status=Status.SELECTED)
    html = client.get("/budgets/cheques/redeem").get_data(as_text=True)
    assert elsewhere.title not in html and closed.title not in html
    outsider = client_for(make.resident(other))
    response = outsider.post(
        "/budgets/cheques/redeem", data={"code": code, "initiative": str(ede["initiative"].id)}
    )
    assert response.status_code == 400  # not one of their choices
    landing = client_for().get("/budgets/cheques/redeem?code=X")  # log in or register first
    assert landing.status_code == 200 and "/account/login?next=" in landing.text
    assert client_for().get("/budgets/cheques/redeem").status_code == 302
