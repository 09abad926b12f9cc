"""The area report (wijkverslag) is public once the area council publishes it: residents and
visitors read the HTML and download the PDF and CSV; a draft stays with the area's council
and staff, and only the council publishes where the area has one."""

from __future__ import annotations

from datetime import date

import pytest

from buurtbudget.extensions import db
from buurtbudget.models import AreaReport
from buurtbudget.services import budgets, ledger

THIS_YEAR = date.today().year


@pytest.fixture
def area_report(app, make):
    municipality = make.municipality("Delft")
    area = make.area(municipality, name="Hof van Delft", inhabitants=1_000, year=THIS_YEAR)
    period = make.budget_period(area)
    coordinator = make.coordinator(area)
    initiative = make.budget_initiative(area, cost_cents=1_234_00, title="Bankjes Hofpark")
    ledger.grant(coordinator, initiative)
    budgets.save_report(coordinator, period, "Het jaar van de bankjes.", publish=False)
    return {
        "area": area,
        "period": period,
        "coordinator": coordinator,
        "member": make.council_member(area),
        "other_member": make.council_member(make.area(municipality, year=THIS_YEAR)),
        "resident": make.resident(area),
    }


def _urls(period_id: int) -> list[str]:
    return [
        f"/budgets/periods/{period_id}/report",
        f"/budgets/periods/{period_id}/report.csv",
        f"/monitoring/periods/{period_id}/report.pdf",
    ]


def _published(period) -> bool:
    db.session.expire_all()
    report = db.session.query(AreaReport).filter_by(period_id=period.id).one()
    return report.published_at is not None


def test_a_draft_is_not_public(area_report, client_for):
    anonymous, resident = client_for(), client_for(area_report["resident"])
    for url in _urls(area_report["period"].id):
        assert anonymous.get(url).status_code == 302, url
        assert resident.get(url).status_code == 403, url
    assert "Bankjes" not in anonymous.get("/budgets/reports").text


def test_only_the_area_council_publishes(area_report, client_for):
    period_id = area_report["period"].id
    url = f"/budgets/periods/{period_id}/report/publish"
    for who in ("resident", "other_member"):
        assert client_for(area_report[who]).post(url).status_code == 403, who
    coordinator = client_for(area_report["coordinator"])
    assert coordinator.post(url).status_code == 403
    response = coordinator.post(
        f"/budgets/periods/{period_id}/report", data={"summary": "Toch zelf", "publish": "y"}
    )
    assert response.status_code == 400 and "area council publishes" in response.text
    assert not _published(area_report["period"])
    assert client_for(area_report["member"]).post(url).status_code == 302
    assert _published(area_report["period"])


def test_a_published_report_is_public_as_html_pdf_and_csv(area_report, client_for):
    period = area_report["period"]
    client_for(area_report["member"]).post(f"/budgets/periods/{period.id}/report/publish")
    visitor = client_for()
    html, csv, pdf = (visitor.get(url) for url in _urls(period.id))
    assert html.status_code == 200
    assert "Het jaar van de bankjes." in html.text and "Bankjes Hofpark" in html.text
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert "initiative;Bankjes Hofpark;;1234,00;0,00" in csv.text
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    listing = visitor.get("/budgets/reports")
    assert listing.status_code == 200 and f"/budgets/periods/{period.id}/report" in listing.text
    # The finances behind it stay with the council and staff.
    assert visitor.get(f"/budgets/periods/{period.id}").status_code == 302


def test_nothing_to_publish_before_the_coordinator_wrote_it(app, make, client_for):
    area = make.area(inhabitants=1_000, year=THIS_YEAR)
    period = make.budget_period(area)
    member = make.council_member(area)
    response = client_for(member).post(f"/budgets/periods/{period.id}/report/publish")
    assert response.status_code == 409
    assert client_for().get(f"/budgets/periods/{period.id}/report").status_code == 302
