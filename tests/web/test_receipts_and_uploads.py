"""Issue 15.11 and the attachment-limit finding: payout receipts only for the initiative's
people, its area council and staff; image metadata (GPS) stripped on upload; an HTML/PNG
polyglot keeps no .html name; PDFs with JavaScript refused; the limit of 8 files per initiative
holds under parallel uploads (threads, on SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import threading
import zlib
from collections import Counter
from datetime import date

import pytest
from PIL import Image
from sqlalchemy import func, select

from buurtbudget.domain.initiative_lifecycle import Status
from buurtbudget.extensions import db
from buurtbudget.models import Attachment, Initiative, User
from buurtbudget.services import attachments, ledger, payouts
from buurtbudget.services.errors import ServiceError

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


@pytest.fixture
def paid(make, uploads):
    municipality = make.municipality()
    area = make.area(municipality, inhabitants=1_000, year=date.today().year)
    make.budget_period(area)
    initiator = make.resident(area)
    member = make.resident(area)
    group = make.working_group(area, members=(initiator, member))
    initiative = make.budget_initiative(
        area, initiator=initiator, cost_cents=500_00, working_group=group
    )
    ledger.grant(None, initiative)
    initiative.status = Status.SELECTED
    db.session.commit()
    receipt = attachments.add_attachment(
        initiator, initiative, io.BytesIO(PDF), "bon-bouwmarkt.pdf"
    )
    request = payouts.request_payout(initiator, initiative, 100_00, "Verf", [receipt])
    return {
        "area": area,
        "initiative": initiative,
        "receipt": receipt,
        "request": request,
        "initiator": initiator,
        "member": member,
        "council": make.council_member(area),
        "coordinator": make.coordinator(area),
        "neighbour": make.resident(area),
        "stranger": make.resident(make.area()),
    }


def _get(client, url) -> int:
    response = client.get(url)
    response.close()  # a file response keeps its file open until closed
    return response.status_code


@pytest.fixture
def download_url(app):
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == "initiatives.download")
    return lambda attachment: rule.rule.replace("<int:attachment_id>", str(attachment.id))


def test_receipts_only_for_the_initiatives_people_council_and_staff(paid, client_for, download_url):
    url = download_url(paid["receipt"])
    allowed = ("initiator", "member", "council", "coordinator")
    for who in allowed:
        assert _get(client_for(paid[who]), url) == 200, who
    for who in ("neighbour", "stranger"):
        assert _get(client_for(paid[who]), url) == 404, who
    assert _get(client_for(None), url) == 404
    page = client_for(None).get(f"/initiatives/{paid['initiative'].id}").get_data(as_text=True)
    assert "bon-bouwmarkt" not in page
    own_page = client_for(paid["initiator"]).get(f"/initiatives/{paid['initiative'].id}")
    assert "bon-bouwmarkt" in own_page.get_data(as_text=True)


def test_a_rejected_requests_receipts_stay_private(paid, client_for, download_url):
    payouts.reject(paid["coordinator"], paid["request"], "Bon onleesbaar")
    url = download_url(paid["receipt"])
    assert _get(client_for(None), url) == 404
    assert _get(client_for(paid["neighbour"]), url) == 404
    assert _get(client_for(paid["council"]), url) == 200


def _photo_with_gps() -> bytes:
    image = Image.new("RGB", (64, 48), "green")
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Maker"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (52.0, 0.0, 41.0)  # latitude
    gps[3], gps[4] = "E", (4.0, 21.0, 30.0)  # longitude
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def _open_initiative(make):
    area = make.area()
    initiator = make.resident(area)
    return make.initiative(area, initiator=initiator, status="open"), initiator


def test_uploaded_photos_lose_their_gps_position(make, uploads):
    original = _photo_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825), "no GPS in the test photo"
    initiative, initiator = _open_initiative(make)
    stored = attachments.add_attachment(initiator, initiative, io.BytesIO(original), "foto.jpg")
    content = attachments.path_of(stored).read_bytes()
    with Image.open(io.BytesIO(content)) as image:
        assert image.format == "JPEG" and image.size == (64, 48)
        exif = image.getexif()
        assert not exif.get_ifd(0x8825) and 0x010F not in exif
    assert b"SpyCam" not in content
    assert stored.size_bytes == len(content)


def test_png_text_chunks_are_dropped(make, uploads):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "Kruithuisweg 12, Delft")
    out = io.BytesIO()
    Image.new("RGBA", (10, 10), (0, 0, 255, 128)).save(out, "PNG", pnginfo=info)
    out.seek(0)
    initiative, initiator = _open_initiative(make)
    stored = attachments.add_attachment(initiator, initiative, out, "plan.png")
    content = attachments.path_of(stored).read_bytes()
    assert b"Kruithuisweg" not in content
    assert Image.open(io.BytesIO(content)).mode == "RGBA"


def test_an_html_png_polyglot_keeps_no_html_name(make, uploads, client_for, download_url):
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(out, "PNG")
    polyglot = out.getvalue() + b"<html><script>alert(document.cookie)</script></html>"
    initiative, initiator = _open_initiative(make)
    stored = attachments.add_attachment(initiator, initiative, io.BytesIO(polyglot), "x.html")
    assert stored.original_name == "x.png"
    assert b"<script" not in attachments.path_of(stored).read_bytes()
    response = client_for(None).get(download_url(stored))
    response.close()
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert ".html" not in response.headers.get("Content-Disposition", "")


def _flate_pdf(body: bytes) -> bytes:
    packed = zlib.compress(body)
    return (
        b"%PDF-1.5\n1 0 obj<</Type/ObjStm/N 1/First 4/Filter/FlateDecode/Length "
        + str(len(packed)).encode()
        + b">>stream\n"
        + packed
        + b"\nendstream\nendobj\n%%EOF\n"
    )


@pytest.mark.parametrize(
    "pdf",
    [
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/OpenAction<</S/JavaScript/JS(app.alert(1))>>>>endobj",
        b"%PDF-1.4\n1 0 obj<</Type/Action/S/J#61vaScript/J#53(app.alert(1))>>endobj",
        b"%PDF-1.4\n1 0 obj<</Type/Action/S/Launch/F(cmd.exe)>>endobj",
        _flate_pdf(b"2 0 <</S/JavaScript/JS(app.alert(1))>>"),
    ],
    ids=["plain", "hex-escaped", "launch", "compressed"],
)
def test_pdfs_with_javascript_are_refused(make, uploads, client_for, pdf):
    initiative, initiator = _open_initiative(make)
    response = client_for(initiator).post(
        f"/initiatives/{initiative.id}/attachments",
        data={"file": (io.BytesIO(pdf), "bon.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "scripts or automatic actions" in response.get_data(as_text=True)
    assert not db.session.scalars(select(Attachment)).all()


def test_a_plain_pdf_is_accepted(make, uploads):
    initiative, initiator = _open_initiative(make)
    stored = attachments.add_attachment(initiator, initiative, io.BytesIO(PDF), "bon.pdf")
    assert attachments.path_of(stored).read_bytes() == PDF


THREADS = 16


def test_the_attachment_limit_holds_under_parallel_uploads(app, make, uploads):
    limit = app.config["ATTACHMENTS_PER_INITIATIVE"]
    initiative, initiator = _open_initiative(make)
    initiative_id, initiator_id = initiative.id, initiator.id
    barrier = threading.Barrier(THREADS)
    outcomes: Counter = Counter()
    lock = threading.Lock()

    def upload(index: int) -> None:
        with app.test_request_context():
            try:
                barrier.wait()
                attachments.add_attachment(
                    db.session.get(User, initiator_id),
                    db.session.get(Initiative, initiative_id),
                    io.BytesIO(PDF),
                    f"bon-{index}.pdf",
                )
                outcome = "ok"
            except ServiceError as error:
                db.session.rollback()
                outcome = type(error).__name__
            except Exception as error:  # noqa: BLE001 - reported to the test
                db.session.rollback()
                outcome = f"unexpected {type(error).__name__}: {error}"
            finally:
                db.session.remove()
            with lock:
                outcomes[outcome] += 1

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    db.session.expire_all()
    stored = db.session.scalar(
        select(func.count())
        .select_from(Attachment)
        .where(Attachment.initiative_id == initiative_id)
    )
    assert outcomes == Counter({"ok": limit, "Conflict": THREADS - limit})
    assert stored == limit
    assert len(list(uploads.iterdir())) == limit  # no orphaned files either
