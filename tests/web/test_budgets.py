"""The budget pages: who may see where the euros went, the figures on them, cheques, payouts
and council meetings through the web."""

from __future__ import annotations

import io
from datetime import date

import pytest
from sqlalchemy import select

from buurtbudget.domain.budget import AccountKind, format_cheque_code
from buurtbudget.domain.initiative_lifecycle import Status
from buurtbudget.extensions import db
from buurtbudget.models import CouncilMeeting, DirectSpending, PayoutRequest, PayoutStatus
from buurtbudget.services import cheques, ledger

THIS_YEAR = date.today().year
PDF = b"%PDF-1.4\n% receipt\n"


@pytest.fixture
def delft(app, make):
    municipality = make.municipality("Delft")
    area = make.area(municipality, name="Binnenstad", inhabitants=1_000, year=THIS_YEAR)
    other = make.area(municipality, name="Tanthof", year=THIS_YEAR)
    period = make.budget_period(area)
    coordinator = make.coordinator(area)
    initiative = make.budget_initiative(area, cost_cents=2_500_00, title="Geveltuinen Markt")
    ledger.grant(coordinator, initiative)
    return {
        "area": area,
        "period": period,
        "initiative": initiative,
        "coordinator": coordinator,
        "member": make.council_member(area),
        "other_member": make.council_member(other),
        "other_coordinator": make.coordinator(other),
        "resident": make.resident(area),
        "admin": make.administrator(municipality),
        "foreign_admin": make.administrator(make.municipality()),
    }


def test_council_member_sees_where_every_euro_went(delft, client_for):
    client = client_for(delft["member"])
    page = client.get(f"/budgets/periods/{delft['period'].id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "1,000 inhabitants" in html and "EUR 10.00 per inhabitant" in html
    assert "€10,000.00" in html  # the calculated budget
    assert "Geveltuinen Markt" in html and "€2,500.00" in html
    totals = html.split("<tfoot>")[1].split("</tfoot>")[0]
    # EUR 10,000 + the EUR 5,000 bottleneck fund; EUR 2,500 committed; EUR 12,500 available.
    assert [cell.split("</td>")[0] for cell in totals.split('<td class="num">')[1:]] == [
        "€15,000.00",
        "€2,500.00",
        "€0.00",
        "€12,500.00",
    ]
    ledger_page = client.get(f"/budgets/periods/{delft['period'].id}/ledger")
    assert ledger_page.status_code == 200
    assert "Commitment" in ledger_page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("anonymous", 302),
        ("resident", 403),
        ("other_member", 403),
        ("other_coordinator", 403),
        ("foreign_admin", 403),
        ("member", 200),
        ("coordinator", 200),
        ("admin", 200),
    ],
)
def test_finance_pages_are_for_the_areas_own_council_and_staff(delft, client_for, who, status):
    client = client_for(delft.get(who))
    period_id = delft["period"].id
    for url in (
        f"/budgets/periods/{period_id}",
        f"/budgets/periods/{period_id}/ledger",
        f"/budgets/periods/{period_id}/report",
        f"/budgets/periods/{period_id}/report.csv",
        f"/budgets/areas/{delft['area'].id}",
    ):
        assert client.get(url).status_code == status, url


def test_unknown_ids_are_404(delft, client_for):
    client = client_for(delft["admin"])
    for url in (
        "/budgets/periods/999999",
        "/budgets/periods/999999/report.csv",
        "/budgets/areas/999999",
        "/budgets/cheques/999999/letter",
    ):
        assert client.get(url).status_code == 404, url


def test_report_csv_matches_the_ledger(delft, client_for):
    response = client_for(delft["member"]).get(f"/budgets/periods/{delft['period'].id}/report.csv")
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True).lstrip("\ufeff")
    assert "initiative;Geveltuinen Markt;;2500,00;0,00" in text
    assert "total;unspent;;12500,00;" in text  # 10,000 + 5,000 - 2,500


def test_coordinator_writes_the_report_and_books_urgent_spending(delft, client_for):
    client = client_for(delft["coordinator"])
    period_id = delft["period"].id
    response = client.post(
        f"/budgets/periods/{period_id}/report", data={"summary": "Veel bewoners deden mee."}
    )
    assert response.status_code == 302
    page = client.get(f"/budgets/periods/{period_id}/report").get_data(as_text=True)
    assert "Veel bewoners deden mee." in page and "Published on" not in page
    client_for(delft["member"]).post(f"/budgets/periods/{period_id}/report/publish")
    page = client.get(f"/budgets/periods/{period_id}/report").get_data(as_text=True)
    assert "Veel bewoners deden mee." in page and "Published on" in page
    response = client.post(
        f"/budgets/periods/{period_id}/direct",
        data={"amount": "350,00", "purpose": "Gat in de stoep", "theme": "0"},
    )
    assert response.status_code == 302
    fund = delft["period"].account(AccountKind.BOTTLENECK)
    assert ledger.account_balance(fund).paid == 350_00
    bad = client.post(
        f"/budgets/periods/{period_id}/direct",
        data={"amount": "-5", "purpose": "x", "theme": "0"},
    )
    assert bad.status_code == 400 and "Enter an amount in euros" in bad.get_data(as_text=True)
    too_much = client.post(
        f"/budgets/periods/{period_id}/direct",
        data={
            "amount": "99.999,00",
            "purpose": "x",
            "theme": "0",
            "receipt": (io.BytesIO(PDF), "bon.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert too_much.status_code == 400
    assert "not enough money" in too_much.get_data(as_text=True)


def test_direct_spending_from_a_council_budget_is_refused_with_a_message(app, make, client_for):
    # Zaanstad has no knelpuntenpot: the route fell back to the council's own pot.
    area = make.area(inhabitants=8_000, year=THIS_YEAR)
    period = make.budget_period(area, "council_budget")
    for actor in (make.coordinator(area), make.administrator(area.municipality)):
        response = client_for(actor).post(
            f"/budgets/periods/{period.id}/direct",
            data={"amount": "350,00", "purpose": "Bloembakken", "theme": "0"},
        )
        assert response.status_code == 409
        assert "decision recorded in a council meeting" in response.get_data(as_text=True)
    assert ledger.account_balance(period.account(AccountKind.AREA)).paid == 0


def test_urgent_spending_from_the_threshold_is_approved_by_a_second_coordinator(
    app, delft, client_for, make, tmp_path, monkeypatch
):
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(tmp_path))
    period_id = delft["period"].id
    fund = delft["period"].account(AccountKind.BOTTLENECK)
    first = client_for(delft["coordinator"])
    url = f"/budgets/periods/{period_id}/direct"
    data = {"amount": "2.500,00", "purpose": "Verlichting brandgang", "theme": "0"}
    without = first.post(url, data=data)
    assert without.status_code == 400 and "add a receipt" in without.get_data(as_text=True)
    response = first.post(
        url,
        data={**data, "receipt": (io.BytesIO(PDF), "bon.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert ledger.account_balance(fund).paid == 0
    item = db.session.scalars(select(DirectSpending)).one()
    page = first.get(f"/budgets/periods/{period_id}").get_data(as_text=True)
    assert "Spending waiting for a second approval" in page and "bon.pdf" in page
    assert "Another coordinator must approve this spending." in page
    assert first.post(f"/budgets/direct/{item.id}/approve").status_code == 409
    receipt = client_for(delft["member"]).get(f"/budgets/direct/{item.id}/receipt")
    assert receipt.status_code == 200 and receipt.data == PDF
    receipt.close()
    # "Not found", as for payout receipts: an outsider cannot tell which ids exist.
    assert (
        client_for(delft["resident"]).get(f"/budgets/direct/{item.id}/receipt").status_code == 404
    )
    outsider = client_for(delft["other_coordinator"])
    assert outsider.post(f"/budgets/direct/{item.id}/approve").status_code == 403
    second = client_for(make.coordinator(delft["area"]))
    page = second.get(f"/budgets/periods/{period_id}").get_data(as_text=True)
    assert f"/budgets/direct/{item.id}/approve" in page
    assert second.post(f"/budgets/direct/{item.id}/approve").status_code == 302
    assert ledger.account_balance(fund).paid == 2_500_00


def test_council_member_cannot_book_or_publish(delft, client_for):
    client = client_for(delft["member"])
    period_id = delft["period"].id
    assert client.post(f"/budgets/periods/{period_id}/report", data={}).status_code == 403
    response = client.post(
        f"/budgets/periods/{period_id}/direct", data={"amount": "1", "purpose": "x"}
    )
    assert response.status_code == 403
    other = client_for(delft["other_coordinator"])
    response = other.post(
        f"/budgets/periods/{period_id}/direct",
        data={"amount": "1", "purpose": "x", "theme": "0"},
    )
    assert response.status_code == 403


# Payouts -------------------------------------------------------------------------------------


def test_payout_request_with_receipt_and_two_approvals(
    app, delft, client_for, make, tmp_path, monkeypatch
):
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(tmp_path))
    initiative = delft["initiative"]
    initiative.status = Status.SELECTED
    db.session.commit()
    initiator = client_for(initiative.initiator)
    response = initiator.post(
        f"/budgets/initiatives/{initiative.id}/payouts",
        data={
            "amount": "1.200,00",
            "description": "Planten en potgrond",
            "receipts": (io.BytesIO(PDF), "bon.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    request = db.session.scalars(select(PayoutRequest)).one()
    assert request.amount_cents == 1_200_00 and len(request.receipts) == 1

    first = client_for(delft["coordinator"])
    queue = first.get("/budgets/payouts").get_data(as_text=True)
    assert "Geveltuinen Markt" in queue and "bon.pdf" in queue
    assert first.post(f"/budgets/payouts/{request.id}/approve").status_code == 302
    db.session.refresh(request)
    assert request.status is PayoutStatus.AWAITING_SECOND
    again = first.post(f"/budgets/payouts/{request.id}/approve")
    assert again.status_code == 409
    assert "another coordinator" in again.get_data(as_text=True)
    assert (
        client_for(delft["other_coordinator"])
        .post(f"/budgets/payouts/{request.id}/approve")
        .status_code
        == 403
    )
    second = client_for(make.coordinator(delft["area"]))
    assert second.post(f"/budgets/payouts/{request.id}/approve").status_code == 302
    db.session.refresh(request)
    assert request.status is PayoutStatus.PAID
    assert ledger.initiative_totals(initiative).paid == 1_200_00


def test_payout_bad_input(delft, client_for, make):
    initiative = delft["initiative"]
    initiative.status = Status.SELECTED
    db.session.commit()
    initiator = client_for(initiative.initiator)
    url = f"/budgets/initiatives/{initiative.id}/payouts"
    no_receipt = initiator.post(url, data={"amount": "10", "description": "x"})
    assert no_receipt.status_code == 400 and "receipt" in no_receipt.get_data(as_text=True)
    nonsense = initiator.post(url, data={"amount": "tien", "description": "x"})
    assert nonsense.status_code == 400
    too_long = initiator.post(url, data={"amount": "10", "description": "x" * 1001})
    assert too_long.status_code == 400
    stranger = client_for(make.resident(delft["area"]))
    assert stranger.get(url).status_code == 403
    request = PayoutRequest(
        initiative=initiative,
        account_id=delft["period"].account(AccountKind.AREA).id,
        amount_cents=100,
        description="x",
        requested_by_id=initiative.initiator_user_id,
    )
    db.session.add(request)
    db.session.commit()
    coordinator = client_for(delft["coordinator"])
    empty = coordinator.post(f"/budgets/payouts/{request.id}/reject", data={"reason": ""})
    assert empty.status_code == 400 and "Give a reason" in empty.get_data(as_text=True)
    ok = coordinator.post(f"/budgets/payouts/{request.id}/reject", data={"reason": "Geen bon"})
    assert ok.status_code == 302
    assert client_for(delft["member"]).get("/budgets/payouts").status_code == 403
    assert coordinator.post("/budgets/payouts/999999/approve").status_code == 404


# Cheques -------------------------------------------------------------------------------------


def test_residents_pool_cheques_until_the_initiative_is_funded(ede, client_for, make):
    resident = client_for(make.resident(ede["area"]))
    initiative = ede["initiative"]
    url = f"/budgets/initiatives/{initiative.id}/cheques"
    first, second = (format_cheque_code(c.code) for c in ede["cheques"])
    assert resident.post(url, data={"code": first}).status_code == 302
    again = resident.post(url, data={"code": first})
    assert again.status_code == 400 and "already been used" in again.get_data(as_text=True)
    wrong = resident.post(url, data={"code": "ABCD-EFGH-JKMN-PQRS-T"})
    assert wrong.status_code == 400 and "not valid" in wrong.get_data(as_text=True)
    assert resident.post(url, data={"code": second}).status_code == 302
    db.session.refresh(initiative)
    assert initiative.status is Status.SELECTED
    assert ledger.initiative_totals(initiative).granted == 1_500
    assert client_for().post(url, data={"code": first}).status_code == 302  # to the login page


# Council meetings ----------------------------------------------------------------------------


def test_council_member_records_a_meeting_and_a_decision(app, make, client_for):
    area = make.area(inhabitants=8_000, year=THIS_YEAR)
    period = make.budget_period(area, "council_budget")
    member, *others = make.council(area)
    client = client_for(member)
    form = client.get(f"/budgets/areas/{area.id}/meetings/new").get_data(as_text=True)
    assert all(m.display_name in form for m in [member, *others])
    assert "at least 3 council members present" in form
    # Without a quorum the meeting is recorded, but it cannot decide.
    response = client.post(
        f"/budgets/areas/{area.id}/meetings/new",
        data={"held_on": date.today().isoformat(), "attendees_count": "4", "present": [member.id]},
    )
    assert response.status_code == 302
    lonely = db.session.scalars(select(CouncilMeeting)).one()
    page = client.get(f"/budgets/meetings/{lonely.id}/decisions/new").get_data(as_text=True)
    assert "cannot take decisions" in page
    refused = client.post(
        f"/budgets/meetings/{lonely.id}/decisions/new",
        data={"title": "Bankjes", "amount": "100", "spend_kind": "physical", "initiative": "0"},
    )
    assert refused.status_code == 400 and "must be present" in refused.get_data(as_text=True)
    stranger = make.resident(area)
    bad = client.post(
        f"/budgets/areas/{area.id}/meetings/new",
        data={
            "held_on": date.today().isoformat(),
            "attendees_count": "4",
            "present": [stranger.id],
        },
    )
    assert bad.status_code == 400
    response = client.post(
        f"/budgets/areas/{area.id}/meetings/new",
        data={
            "held_on": date.today().isoformat(),
            "attendees_count": "31",
            "location": "De Kolk",
            "present": [m.id for m in [member, *others]],
        },
    )
    assert response.status_code == 302
    meeting = db.session.scalars(select(CouncilMeeting).order_by(CouncilMeeting.id.desc())).first()
    page = client.get(f"/budgets/meetings/{meeting.id}/decisions/new").get_data(as_text=True)
    assert all(m.display_name in page for m in [member, *others])
    initiative = make.budget_initiative(area, cost_cents=4_000_00, title="Burendag")
    response = client.post(
        f"/budgets/meetings/{meeting.id}/decisions/new",
        data={
            "title": "Subsidie Burendag",
            "amount": "4.000",
            "spend_kind": "social",
            "initiative": str(initiative.id),
        },
    )
    assert response.status_code == 302
    assert ledger.initiative_totals(initiative).granted == 4_000_00
    missing_kind = client.post(
        f"/budgets/meetings/{meeting.id}/decisions/new",
        data={"title": "Bankjes", "amount": "100", "spend_kind": "", "initiative": "0"},
    )
    assert missing_kind.status_code == 400
    page = client.get(f"/budgets/periods/{period.id}").get_data(as_text=True)
    assert "2 of the at least 4 meetings a year took place" in page
    assert "Social measures: 100% of spending" in page
    outsider = client_for(make.council_member(make.area()))
    assert outsider.get(f"/budgets/areas/{area.id}/meetings/new").status_code == 403
    assert outsider.get(f"/budgets/meetings/{meeting.id}/decisions/new").status_code == 403
    future = client.post(
        f"/budgets/areas/{area.id}/meetings/new",
        data={"held_on": f"{THIS_YEAR + 1}-01-01", "attendees_count": "3"},
    )
    assert future.status_code == 400


def test_initiative_page_links_to_pooling_and_payouts(ede, delft, client_for, make):
    resident = client_for(make.resident(ede["area"]))
    page = resident.get(f"/initiatives/{ede['initiative'].id}").get_data(as_text=True)
    assert f"/budgets/initiatives/{ede['initiative'].id}/cheques" in page
    initiative = delft["initiative"]
    initiative.status = Status.SELECTED
    db.session.commit()
    page = client_for(initiative.initiator).get(f"/initiatives/{initiative.id}")
    html = page.get_data(as_text=True)
    assert f"/budgets/initiatives/{initiative.id}/payouts" in html
    assert "/cheques" not in html  # Delft does not use cheques
    assert "€2,500.00" in html  # granted, from the ledger
    member = client_for(delft["member"])
    assert "/staff/" in member.get("/").get_data(as_text=True)  # "My area council" in the menu
    hub = member.get("/staff/").get_data(as_text=True)
    assert f"/budgets/areas/{delft['area'].id}" in hub


def test_cheque_figures_on_the_period_page(ede, client_for, make):
    cheques.redeem(make.resident(ede["area"]), ede["cheques"][0].code, ede["initiative"])
    page = client_for(ede["admin"]).get(f"/budgets/periods/{ede['period'].id}")
    html = page.get_data(as_text=True)
    assert "2 cheques issued, 1 pooled on initiatives, 0 expired." in html
    assert "Value of cheques in circulation: €7.50" in html


def test_typing_cheque_codes_is_rate_limited(app, ede, client_for, make, monkeypatch):
    monkeypatch.setitem(app.config, "CHEQUE_REDEEM_RATE_LIMIT", "3 per minute")
    client = client_for(make.resident(ede["area"]))
    url = f"/budgets/initiatives/{ede['initiative'].id}/cheques"
    statuses = [client.post(url, data={"code": "XXXX"}).status_code for _ in range(4)]
    assert statuses == [400, 400, 400, 429]
