"""Progress of a funded initiative through the web: the initiator plans, adds milestones and
posts public updates with photos; a neighbour cannot; a late initiative shows on the area
and municipality dashboards."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest

from buurtbudget.domain.initiative_lifecycle import Status

THIS_YEAR = date.today().year


def _png() -> bytes:
    """A real PNG: uploads are decoded (and written anew without metadata)."""
    import io as _io

    from PIL import Image

    out = _io.BytesIO()
    Image.new("RGB", (4, 4), "orange").save(out, "PNG")
    return out.getvalue()


PNG = _png()


@pytest.fixture
def funded(app, make, tmp_path):
    app.config["UPLOAD_FOLDER"] = str(tmp_path)
    area = make.area(name="Tanthof", inhabitants=1_000, year=THIS_YEAR)
    initiative = make.budget_initiative(area, title="Moestuin", status=Status.IN_EXECUTION)
    return {
        "area": area,
        "initiative": initiative,
        "coordinator": make.coordinator(area, display_name="Coördinator Tanthof"),
        "neighbour": make.resident(area),
    }


def test_progress_through_the_screens(funded, client_for):
    initiative = funded["initiative"]
    base = f"/initiatives/{initiative.id}/progress"
    client = client_for(initiative.initiator)
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    response = client.post(
        f"{base}/plan",
        data={
            "responsible": str(funded["coordinator"].id),
            "start": (date.today() - timedelta(days=30)).isoformat(),
            "end": (date.today() + timedelta(days=30)).isoformat(),
        },
    )
    assert response.status_code == 302
    assert client.post(f"{base}/milestones", data={"title": "Bakken", "due_on": yesterday})
    response = client.post(
        f"{base}/updates",
        data={"body": "Eerste oogst!", "photos": [(io.BytesIO(PNG), "oogst.png")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    page = client_for().get(f"/initiatives/{initiative.id}").text  # public
    assert "Eerste oogst!" in page and "Coördinator Tanthof" in page
    assert 'id="late-badge"' in page and "Bakken" in page
    dashboard = client_for().get(f"/monitoring/areas/{funded['area'].id}").text
    assert 'id="late-initiatives"' in dashboard and "Moestuin" in dashboard
    overview = client_for().get(f"/monitoring/municipalities/{funded['area'].municipality_id}")
    assert "Funded initiatives running late" in overview.text


def test_a_neighbour_cannot_report_progress(funded, client_for):
    initiative = funded["initiative"]
    base = f"/initiatives/{initiative.id}/progress"
    client = client_for(funded["neighbour"])
    assert client.post(f"{base}/updates", data={"body": "Nep-nieuws"}).status_code == 403
    plan = client.post(f"{base}/plan", data={"responsible": str(funded["neighbour"].id)})
    assert plan.status_code == 403
    page = client_for().get(f"/initiatives/{initiative.id}").text
    assert "Nep-nieuws" not in page
    assert "Post a progress update" not in client.get(f"/initiatives/{initiative.id}").text
