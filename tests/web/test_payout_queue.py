"""The payout queue: a coordinator who gave the first approval sees who approved and when,
not the approve button again (which could only lead to a refusal)."""

from __future__ import annotations

import io

from sqlalchemy import select

from buurtbudget.domain.initiative_lifecycle import Status
from buurtbudget.extensions import db
from buurtbudget.models import PayoutRequest
from buurtbudget.services import ledger

PDF = b"%PDF-1.4\n% receipt\n"


def test_the_first_approver_sees_their_approval_not_the_button(
    app, make, client_for, tmp_path, monkeypatch
):
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(tmp_path))
    area = make.area(make.municipality("Delft"), name="Binnenstad", inhabitants=1_000)
    make.budget_period(area)
    first, second = make.coordinator(area, display_name="Fien"), make.coordinator(area)
    initiative = make.budget_initiative(area, cost_cents=2_500_00, title="Geveltuinen")
    ledger.grant(first, initiative)
    initiative.status = Status.SELECTED
    db.session.commit()
    client_for(initiative.initiator).post(
        f"/budgets/initiatives/{initiative.id}/payouts",
        data={
            "amount": "1.200,00",
            "description": "Planten",
            "receipts": (io.BytesIO(PDF), "b.pdf"),
        },
        content_type="multipart/form-data",
    )
    request = db.session.scalars(select(PayoutRequest)).one()
    approve = f'action="/budgets/payouts/{request.id}/approve"'

    coordinator = client_for(first)
    assert approve in coordinator.get("/budgets/payouts").get_data(as_text=True)
    assert coordinator.post(f"/budgets/payouts/{request.id}/approve").status_code == 302
    page = coordinator.get("/budgets/payouts").get_data(as_text=True)
    assert approve not in page
    assert "You approved this on" in page
    other = client_for(second).get("/budgets/payouts").get_data(as_text=True)
    assert approve in other and "first approval by Fien on" in other
