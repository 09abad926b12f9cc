"""Issue 14 items 4 and 6 on the screens: linking a stempas to an account, voting with the
stempas code, and nothing secret in clear in the session cookie."""

from __future__ import annotations

import json

import pytest
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import func, select

from buurtbudget.domain.budget import format_cheque_code, new_cheque_code
from buurtbudget.extensions import db
from buurtbudget.models import Ballot, Elector
from buurtbudget.services import electorate
from buurtbudget.web.sealed import seal, unseal


def _text(response) -> str:
    return response.get_data(as_text=True)


def _session_as_seen(app, client) -> str:
    """What anyone who sees the browser's session cookie can read (it is signed, not
    encrypted)."""
    cookie = client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    return json.dumps(serializer.loads(cookie.value)) if cookie else ""


@pytest.fixture
def round_with_code(make):
    area = make.area(name="Tanthof")
    voting_round = make.voting_round(area, costs=(100_00, 200_00), allow_ballot_change=True)
    code = new_cheque_code()
    make.elector(voting_round, area_id=area.id, stempas_hash=electorate.stempas_hash(code))
    return voting_round, code, area


def test_stempas_code_and_receipt_token_never_sit_in_clear_in_the_cookie(
    app, client, round_with_code
):
    voting_round, code, _area = round_with_code
    typed = format_cheque_code(code)
    entered = client.post(f"/rounds/{voting_round.id}/code", data={"code": typed})
    assert entered.status_code == 302
    seen = _session_as_seen(app, client)
    assert code not in seen and typed not in seen and "voting_codes" in seen
    project = voting_round.projects[0].id
    done = client.post(f"/rounds/{voting_round.id}/ballot/confirm", data={"project": [project]})
    assert done.status_code == 302
    receipt = _text(client.get(f"/rounds/{voting_round.id}/receipt"))
    token = receipt.split('class="receipt-code">')[1].split("<")[0]
    assert len(token) >= 20  # shown to the voter once, on the page
    assert token not in _session_as_seen(app, client)
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 1


def test_sealed_values_cannot_be_read_or_altered(app):
    with app.test_request_context():
        sealed = seal("7KQ2M9XH4TD0PB3R6")
        assert "7KQ2" not in sealed and unseal(sealed) == "7KQ2M9XH4TD0PB3R6"
        assert seal("same") != seal("same")  # a fresh nonce every time
        tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
        assert unseal(tampered) is None and unseal("rubbish") is None and unseal(None) is None


def test_linking_a_stempas_on_its_page(app, make, client, client_for, round_with_code):
    voting_round, code, area = round_with_code
    url = f"/rounds/{voting_round.id}/stempas"
    assert client.get(url).status_code == 302  # log in first
    resident = make.resident(area, elector=False)
    browser = client_for(resident)
    page = _text(browser.get(url, query_string={"code": format_cheque_code(code)}))
    assert format_cheque_code(code) in page  # the QR code's link fills the form in
    assert db.session.scalar(select(Elector.user_id).where(Elector.user_id == resident.id)) is None
    wrong = browser.post(url, data={"code": "AAAA-BBBB-CCCC-DDDD-E"})
    assert wrong.status_code == 400 and "not a stempas code" in _text(wrong)
    linked = browser.post(url, data={"code": code.lower()})
    assert linked.status_code == 302 and linked.headers["Location"].endswith("/ballot")
    assert electorate.elector_of(resident, voting_round).area_id == area.id
    other = client_for(make.resident(area, elector=False))
    taken = other.post(url, data={"code": code})
    assert taken.status_code == 400 and "already linked to another account" in _text(taken)
