"""Dashboard pages: who sees which version, figures shown against the ledger, bad input, and the
summary and area report files (CSV, PDF)."""

from __future__ import annotations

import re
import zlib
from datetime import date

import pytest

from buurtbudget.domain.budget import AccountKind, SpendKind
from buurtbudget.services import council, ledger

THIS_YEAR = date.today().year


def pdf_text(body: bytes) -> str:
    """The text drawn in a PDF: its content streams, inflated (fpdf2 compresses them)."""
    assert body.startswith(b"%PDF-")
    parts = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", body, re.S):
        try:
            parts.append(zlib.decompress(stream).decode("cp1252", "replace"))
        except zlib.error:
            continue
    return "\n".join(parts)


@pytest.fixture
def world(app, make):
    municipality = make.municipality("Zaanstad")
    area = make.area(municipality, name="Poelenburg", inhabitants=8_000, year=THIS_YEAR)
    other = make.area(municipality, name="Peldersveld", year=THIS_YEAR)
    period = make.budget_period(area, "council_budget", year=THIS_YEAR)
    member, *quorum = make.council(area)
    meeting = council.record_meeting(member, area, date.today(), 12, present=[member, *quorum])
    garden = make.budget_initiative(area, cost_cents=2_500_00, title="Buurttuin Poelenburg")
    council.record_decision(
        member, meeting, "Buurttuin", 2_500_00, spend_kind=SpendKind.PHYSICAL, initiative=garden
    )
    council.record_decision(member, meeting, "Bankjes", 750_00, spend_kind="social")
    return {
        "municipality": municipality,
        "area": area,
        "period": period,
        "member": member,
        "anonymous": None,
        "resident": make.resident(area),
        "other_member": make.council_member(other),
        "coordinator": make.coordinator(area),
        "other_coordinator": make.coordinator(other),
        "admin": make.administrator(municipality),
        "foreign_admin": make.administrator(make.municipality()),
    }


def test_public_dashboard_shows_the_ledger_figures_to_everyone(world, client_for):
    page = client_for(None).get(f"/monitoring/areas/{world['area'].id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    balance = ledger.account_balance(world["period"].account(AccountKind.AREA))
    assert balance.paid == 750_00 and balance.budget == 40_000_00
    assert '<dd id="figure-paid">€750.00</dd>' in html
    assert '<dd id="figure-budget">€40,000.00</dd>' in html
    assert '<dd id="figure-available">€36,750.00</dd>' in html
    # Each chart has its table, with the raw numbers the script reads.
    assert 'data-chart="doughnut"' in html and 'data-value="2500.00"' in html
    assert "vendor/chart.js/chart.umd.min.js" in html
    assert "Still to pay" not in html  # council figures stay on the council version


@pytest.mark.parametrize(
    ("role", "status"),
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
def test_council_version_only_for_the_areas_council_and_staff(world, client_for, role, status):
    response = client_for(world[role]).get(f"/monitoring/areas/{world['area'].id}/council")
    assert response.status_code == status
    if status == 200:
        html = response.get_data(as_text=True)
        assert "Still to pay" in html and "Buurttuin Poelenburg" in html
        assert "report.pdf" in html


@pytest.mark.parametrize(
    "url",
    [
        "/monitoring/areas/{area}?year=abc",
        "/monitoring/areas/{area}?year=1800",
        "/monitoring/municipalities/{m}?year=99999",
        "/monitoring/municipalities/{m}/projects?area=x",
        "/monitoring/municipalities/{m}/projects?area=987654",
        "/monitoring/municipalities/{m}/projects?status=draft",
        "/monitoring/municipalities/{m}/summary.pdf?year=-1",
    ],
)
def test_bad_input_is_a_clear_400(world, client_for, url):
    response = client_for(None).get(url.format(area=world["area"].id, m=world["municipality"].id))
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "not a valid year" in text or "not a valid choice" in text


def test_unknown_ids_are_404(world, client_for):
    client = client_for(world["admin"])
    for url in (
        "/monitoring/areas/987654",
        "/monitoring/areas/987654/council",
        "/monitoring/municipalities/987654",
        "/monitoring/municipalities/987654/summary.csv",
        "/monitoring/periods/987654/report.pdf",
    ):
        assert client.get(url).status_code == 404, url


def test_municipality_overview_projects_and_summary(world, client_for):
    client = client_for(None)
    m = world["municipality"].id
    html = client.get(f"/monitoring/municipalities/{m}").get_data(as_text=True)
    assert 'id="total-paid">€750.00' in html
    assert "Peldersveld" in html and "Areas that lag behind" in html
    projects = client.get(f"/monitoring/municipalities/{m}/projects?year={THIS_YEAR}")
    assert "Buurttuin Poelenburg" in projects.get_data(as_text=True)
    assert "1 project" in projects.get_data(as_text=True)
    summary = client.get(f"/monitoring/municipalities/{m}/summary").get_data(as_text=True)
    assert "Summary" in summary and "€40,000.00" in summary
    csv_response = client.get(f"/monitoring/municipalities/{m}/summary.csv")
    assert csv_response.mimetype == "text/csv"
    lines = csv_response.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("area;inhabitants;budget;committed;paid")
    poelenburg = next(line for line in lines if line.startswith("Poelenburg;"))
    assert poelenburg.split(";")[2:6] == ["40000,00", "2500,00", "750,00", "36750,00"]
    pdf = client.get(f"/monitoring/municipalities/{m}/summary.pdf")
    assert pdf.mimetype == "application/pdf"
    text = pdf_text(pdf.data)
    assert "Poelenburg" in text and "€750.00" in text


def test_area_report_pdf_for_those_who_read_the_finances(world, client_for):
    url = f"/monitoring/periods/{world['period'].id}/report.pdf"
    assert client_for(None).get(url).status_code == 302
    assert client_for(world["resident"]).get(url).status_code == 403
    assert client_for(world["other_member"]).get(url).status_code == 403
    response = client_for(world["member"]).get(url)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    assert f"Area report {THIS_YEAR} of Poelenburg" in text
    assert "Buurttuin Poelenburg" in text and "€2,500.00" in text and "€750.00" in text


def test_dashboards_in_dutch(world, client_for):
    client = client_for(None)
    html = client.get(
        f"/monitoring/areas/{world['area'].id}", headers={"Accept-Language": "nl"}
    ).get_data(as_text=True)
    assert "Dashboard van Poelenburg" in html and "€\xa0750,00" in html
