"""Issue 15.4 with 15.11: the receipt of direct spending (urgent spending from the
knelpuntenpot) goes through the same upload checks as attachments and payout receipts (image
metadata stripped, no HTML name for a polyglot, no PDF with scripts, size and type), and is
shown to the same people: the area's council and staff, nobody else, also once refused."""

from __future__ import annotations

import io
from datetime import date

import pytest
from PIL import Image
from sqlalchemy import func, select

from buurtbudget.domain.budget import AccountKind
from buurtbudget.extensions import db
from buurtbudget.models import DirectSpending
from buurtbudget.services import direct_spending, ledger
from tests.web.test_receipts_and_uploads import PDF, _flate_pdf, _photo_with_gps

THIS_YEAR = date.today().year


@pytest.fixture
def tanthof(make, uploads):
    municipality = make.municipality("Delft")
    area = make.area(municipality, name="Tanthof", inhabitants=1_000, year=THIS_YEAR)
    other = make.area(municipality, name="Voorhof", inhabitants=1_000, year=THIS_YEAR)
    period = make.budget_period(area)
    make.budget_period(other)
    return {
        "area": area,
        "period": period,
        "fund": period.account(AccountKind.BOTTLENECK),
        "coordinator": make.coordinator(area),
        "second": make.coordinator(area),
        "member": make.council_member(area),
        "admin": make.administrator(municipality),
        "resident": make.resident(area),
        "stranger": make.resident(other),
        "other_coordinator": make.coordinator(other),
        "other_member": make.council_member(other),
        "foreign_admin": make.administrator(make.municipality()),
    }


def _ask(client, period, content: bytes, filename: str):
    """Urgent spending of EUR 2,500 (above the threshold: it needs a receipt)."""
    return client.post(
        f"/budgets/periods/{period.id}/direct",
        data={
            "amount": "2.500,00",
            "purpose": "Verlichting brandgang",
            "theme": "0",
            "receipt": (io.BytesIO(content), filename),
        },
        content_type="multipart/form-data",
    )


def _asked(client_for, tanthof, content: bytes, filename: str) -> DirectSpending:
    response = _ask(client_for(tanthof["coordinator"]), tanthof["period"], content, filename)
    assert response.status_code == 302, response.get_data(as_text=True)
    return db.session.scalars(select(DirectSpending)).one()


def _download(client, item_id: int):
    response = client.get(f"/budgets/direct/{item_id}/receipt")
    response.close()  # a file response keeps its file open until closed
    return response


def test_a_receipt_photo_loses_its_gps_position(tanthof, client_for, uploads):
    original = _photo_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825), "no GPS in the test photo"
    item = _asked(client_for, tanthof, original, "bon.jpg")
    stored = (uploads / item.receipt_stored_name).read_bytes()
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG" and image.size == (64, 48)
        exif = image.getexif()
        assert not exif.get_ifd(0x8825) and 0x010F not in exif
    assert b"SpyCam" not in stored and item.receipt_size_bytes == len(stored)
    response = client_for(tanthof["member"]).get(f"/budgets/direct/{item.id}/receipt")
    assert response.status_code == 200 and response.data == stored
    response.close()


@pytest.mark.parametrize(
    "pdf",
    [
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/OpenAction<</S/JavaScript/JS(app.alert(1))>>>>endobj",
        b"%PDF-1.4\n1 0 obj<</Type/Action/S/J#61vaScript/J#53(app.alert(1))>>endobj",
        _flate_pdf(b"2 0 <</S/JavaScript/JS(app.alert(1))>>"),
    ],
    ids=["plain", "hex-escaped", "compressed"],
)
def test_a_receipt_pdf_with_javascript_is_refused_with_a_message(tanthof, client_for, uploads, pdf):
    response = _ask(client_for(tanthof["coordinator"]), tanthof["period"], pdf, "bon.pdf")
    assert response.status_code == 400
    assert "scripts or automatic actions" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(DirectSpending)) == 0
    assert not list(uploads.iterdir())  # nothing left on disk either


def test_an_html_png_polyglot_receipt_is_not_served_as_html(tanthof, client_for, uploads):
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(out, "PNG")
    polyglot = out.getvalue() + b"<html><script>alert(document.cookie)</script></html>"
    item = _asked(client_for, tanthof, polyglot, "bon.html")
    assert item.receipt_original_name == "bon.png"
    assert b"<script" not in (uploads / item.receipt_stored_name).read_bytes()
    page = client_for(tanthof["second"]).get(f"/budgets/periods/{tanthof['period'].id}")
    assert "bon.png" in page.get_data(as_text=True)
    response = _download(client_for(tanthof["second"]), item.id)
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert ".html" not in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_an_unknown_type_and_an_oversized_file_are_refused_with_a_message(
    app, tanthof, client_for, monkeypatch
):
    client = client_for(tanthof["coordinator"])
    response = _ask(client, tanthof["period"], b"<html>hoi</html>", "bon.pdf")
    assert response.status_code == 400
    assert "Only PNG, JPEG and WebP images and PDF documents" in response.get_data(as_text=True)
    monkeypatch.setitem(app.config, "ATTACHMENT_MAX_BYTES", 50)
    response = _ask(client, tanthof["period"], PDF, "bon.pdf")
    assert response.status_code == 400 and "larger than" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(DirectSpending)) == 0


def test_receipts_only_for_the_areas_council_and_staff_with_sequential_ids(tanthof, client_for):
    item = _asked(client_for, tanthof, PDF, "bon.pdf")
    for who in ("coordinator", "second", "member", "admin"):
        assert _download(client_for(tanthof[who]), item.id).status_code == 200, who
    # An outsider walks the ids: an existing receipt reads exactly like a missing one.
    for who in ("resident", "stranger", "other_coordinator", "other_member", "foreign_admin"):
        client = client_for(tanthof[who])
        for item_id in range(1, item.id + 4):
            assert _download(client, item_id).status_code == 404, (who, item_id)
    assert _download(client_for(None), item.id).status_code != 200


def test_a_refused_spendings_receipt_stays_private(tanthof, client_for):
    item = _asked(client_for, tanthof, PDF, "bon.pdf")
    direct_spending.reject(tanthof["second"], item, "Dubbel ingediend")
    for who in ("resident", "stranger", "other_coordinator"):
        assert _download(client_for(tanthof[who]), item.id).status_code == 404, who
    assert _download(client_for(None), item.id).status_code != 200
    assert _download(client_for(tanthof["member"]), item.id).status_code == 200
    assert ledger.account_balance(tanthof["fund"]).paid == 0
