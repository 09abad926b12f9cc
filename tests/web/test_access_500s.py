"""Issue 15, smaller findings: deleting a payout receipt and a very large round budget gave
500 errors (and the error page itself crashed); both are clear 4xx answers now."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from buurtbudget.domain.initiative_lifecycle import Status
from buurtbudget.extensions import db
from buurtbudget.models import Attachment, PayoutReceipt, VotingRound
from buurtbudget.models._base import utcnow
from buurtbudget.services import attachments, ledger, payouts
from buurtbudget.services.errors import Conflict
from tests.voting_world import tanthof_round

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def requested(make, app, tmp_path):
    app.config["UPLOAD_FOLDER"] = str(tmp_path)
    area = make.area(inhabitants=1_000, year=date.today().year)
    make.budget_period(area)
    initiative = make.budget_initiative(area, cost_cents=500_00)
    ledger.grant(None, initiative)
    initiative.status = Status.SELECTED
    db.session.commit()
    initiator = initiative.initiator
    receipt = attachments.add_attachment(initiator, initiative, _stream(PDF), "bon.pdf")
    request = payouts.request_payout(initiator, initiative, 100_00, "Verf", [receipt])
    yield {"initiative": initiative, "initiator": initiator, "receipt": receipt, "req": request}
    app.config["UPLOAD_FOLDER"] = ""


def _stream(content: bytes):
    import io

    return io.BytesIO(content)


def test_deleting_a_payout_receipt_is_refused_with_a_message(requested, client_for):
    receipt = requested["receipt"]
    client = client_for(requested["initiator"])
    response = client.post(f"/attachments/{receipt.id}/delete", data={})
    assert response.status_code == 409
    assert "receipt of a payout request" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Attachment, receipt.id) is not None
    assert db.session.scalar(select(func.count()).select_from(PayoutReceipt)) == 1
    # The request's page still works afterwards.
    page = client.get(f"/budgets/initiatives/{requested['initiative'].id}/payouts")
    assert page.status_code == 200


def test_the_service_refuses_too(requested):
    with pytest.raises(Conflict):
        attachments.remove_attachment(requested["initiator"], requested["receipt"])


def test_a_server_error_page_renders_even_after_a_failed_transaction(app, make):
    """The 500 page itself used to crash: the failed transaction was still open when the
    page loaded the user to choose their language."""
    from flask_login import login_user
    from sqlalchemy.exc import IntegrityError

    resident = make.resident()
    app.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        with app.test_request_context("/", headers={"Accept-Language": "en"}):
            login_user(resident)
            # A constraint fails in the ORM's flush, as deleting a receipt did.
            db.session.add(PayoutReceipt(payout_request_id=987654, attachment_id=987654))
            with pytest.raises(IntegrityError) as failure:
                db.session.flush()
            response = app.handle_exception(failure.value)
    finally:
        app.config["PROPAGATE_EXCEPTIONS"] = None
        db.session.rollback()
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.get_data(as_text=True)


def _round_form(world, **changes) -> dict:
    now = utcnow()
    data = {
        "title": "Heel veel geld",
        "description": "Een ronde.",
        "areas": [world["other"].id],
        "proposals_until": (now + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M"),
        "review_until": (now + timedelta(days=20)).strftime("%Y-%m-%dT%H:%M"),
        "voting_opens_at": (now + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"),
        "voting_closes_at": (now + timedelta(days=44)).strftime("%Y-%m-%dT%H:%M"),
        "ballot_type": "approval",
        "rule_name": "greedy",
        "max_projects": "3",
        "min_age": "16",
        "budget_period": "0",
    }
    data.update(changes)
    return data


@pytest.mark.parametrize(
    "budget", ["99999999999999999999999999", "9.999.999.999.999.999.999,00", "100.000.000.000"]
)
def test_a_huge_round_budget_is_a_form_error(make, client_for, budget):
    world = tanthof_round(make, title="Tanthof kiest")
    admin = client_for(world["admin"])
    before = db.session.scalar(select(func.count()).select_from(VotingRound))
    response = admin.post("/staff/rounds/new", data=_round_form(world, budget=budget))
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(VotingRound)) == before
