"""The printable cheque letter with its QR code (made when a lost letter is reprinted with a
new code), and the redeem form the QR code opens."""

from __future__ import annotations

import re
from datetime import date, timedelta

import segno
from sqlalchemy import select

from buurtbudget.domain.budget import normalise_cheque_code
from buurtbudget.domain.initiative_lifecycle import Status
from buurtbudget.extensions import db
from buurtbudget.models import AuditEntry, Cheque
from buurtbudget.services import cheques, ledger

THIS_YEAR = date.today().year


def _reprint(client, cheque_id: int):
    """POST the reprint confirmation; the new letter and its code (read off the page)."""
    response = client.post(f"/budgets/cheques/{cheque_id}/reprint")
    html = response.get_data(as_text=True)
    code = re.search(r'<p class="cheque-code">([^<]*)</p>', html)
    return response, html, code.group(1).strip() if code else None


def test_a_reprinted_letter_has_a_new_code_and_a_qr_code_of_its_redeem_link(ede, client_for):
    old = ede["cheques"][0]
    admin = client_for(ede["admin"])
    confirm = admin.get(f"/budgets/cheques/{old.cheque.id}/reprint")
    assert confirm.status_code == 200 and "stops working" in confirm.text
    assert old.printed_code not in confirm.text  # the confirmation shows no code
    response, html, printed = _reprint(admin, old.cheque.id)
    assert response.status_code == 200 and "no-store" in response.headers["Cache-Control"]
    code = normalise_cheque_code(printed)
    assert code != old.code and "6712 AA, 1" in html
    svg = re.search(r"<svg .*?</svg>", html, re.S).group(0)
    assert "style=" not in svg and "<script" not in svg  # the CSP forbids inline style/script
    expected = segno.make(
        f"http://localhost/budgets/cheques/redeem?code={code}", error="m"
    ).svg_inline(scale=4, title="QR code to pool this cheque", svgclass="qr-code")
    assert svg == expected  # the very QR code of the new code's link
    assert "http://localhost/budgets/cheques/redeem" in html  # printed for typing too
    # The old letter's code no longer redeems; the new one does, once.
    resident = client_for(ede["resident"])
    url = f"/budgets/initiatives/{ede['initiative'].id}/cheques"
    refused = resident.post(url, data={"code": old.printed_code})
    assert refused.status_code == 400 and "not valid" in refused.text
    assert resident.post(url, data={"code": printed}).status_code == 302
    assert ledger.initiative_totals(ede["initiative"]).pooled == old.cheque.value_cents
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "cheque.reprinted"))
    assert entry.object_id == old.cheque.id and entry.actor_id == ede["admin"].id
    assert code not in str(entry.details) and old.code not in str(entry.details)


def test_a_pooled_or_expired_cheque_is_not_reprinted(ede, client_for):
    pooled, lapsed = ede["cheques"]
    cheques.redeem(ede["resident"], pooled.code, ede["initiative"])
    lapsed.cheque.expires_on = date.today() - timedelta(days=1)
    db.session.commit()
    admin = client_for(ede["admin"])
    for issued, reason in ((pooled, "already been pooled"), (lapsed, "has expired")):
        page = admin.get(f"/budgets/cheques/{issued.cheque.id}/reprint")
        assert page.status_code == 200 and reason in page.text
        assert "give this cheque a new code" not in page.text  # no button
        response, _, printed = _reprint(admin, issued.cheque.id)
        assert response.status_code == 409 and reason in response.text and printed is None
    db.session.expire_all()
    assert db.session.get(Cheque, lapsed.cheque.id).code_hash == cheques.cheque_hash(lapsed.code)
    listing = admin.get(f"/budgets/periods/{ede['period'].id}/cheques").text
    assert "Reprint letter" not in listing  # neither cheque offers a reprint


def test_only_administrators_of_the_municipality_reprint(ede, client_for, make):
    issued = ede["cheques"][0]
    url = f"/budgets/cheques/{issued.cheque.id}/reprint"
    for outsider in (make.coordinator(ede["area"]), make.administrator(make.municipality())):
        client = client_for(outsider)
        assert client.get(url).status_code == 403
        assert client.post(url).status_code == 403
    assert client_for(ede["admin"]).post("/budgets/cheques/999999/reprint").status_code == 404
    db.session.expire_all()
    assert db.session.get(Cheque, issued.cheque.id).code_hash == cheques.cheque_hash(issued.code)
    listing = client_for(ede["admin"]).get(f"/budgets/periods/{ede['period'].id}/cheques")
    assert listing.text.count("Reprint letter (new code)") == 2


def test_the_qr_link_only_fills_in_the_form(ede, client_for):
    issued = ede["cheques"][0]
    client = client_for(ede["resident"])
    page = client.get(f"/budgets/cheques/redeem?code={issued.code}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'value="{issued.code}"' in html and "Straatfeest" in html
    db.session.refresh(issued.cheque)
    assert issued.cheque.redeemed_at is None  # a GET redeems nothing
    response = client.post(
        "/budgets/cheques/redeem",
        data={"code": issued.code, "initiative": str(ede["initiative"].id)},
    )
    assert response.status_code == 302
    assert ledger.initiative_totals(ede["initiative"]).pooled == issued.cheque.value_cents
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
