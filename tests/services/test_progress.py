"""Progress of funded initiatives: a responsible person, planned start and end, milestones,
public updates with photos through the attachment checks; late initiatives flagged on the
area and municipality dashboards; completion records the final cost and returns the rest."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest

from buurtbudget.domain.initiative_lifecycle import Status
from buurtbudget.extensions import db
from buurtbudget.models import Attachment
from buurtbudget.services import initiatives, ledger, monitoring, progress
from buurtbudget.services.errors import PermissionDenied, ValidationFailed

THIS_YEAR = date.today().year
TODAY = date.today()


def _png() -> bytes:
    """A real PNG: uploads are decoded (and written anew without metadata)."""
    import io as _io

    from PIL import Image

    out = _io.BytesIO()
    Image.new("RGB", (4, 4), "orange").save(out, "PNG")
    return out.getvalue()


PNG = _png()
PDF = b"%PDF-1.4\n%\xe2\xe3\n"

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def funded(app, make, tmp_path):
    app.config["UPLOAD_FOLDER"] = str(tmp_path)
    area = make.area(inhabitants=1_000, year=THIS_YEAR)
    make.budget_period(area)
    coordinator = make.coordinator(area)
    initiative = make.budget_initiative(area, cost_cents=1_000_00, title="Speelplek")
    ledger.grant(coordinator, initiative)
    initiatives.change_status(coordinator, initiative, Status.SELECTED, funding_route="programme")
    return {
        "area": area,
        "initiative": initiative,
        "coordinator": coordinator,
        "initiator": initiative.initiator,
        "neighbour": make.resident(area),
    }


def test_the_initiator_plans_and_reports_progress_with_photos(funded):
    initiative, initiator = funded["initiative"], funded["initiator"]
    progress.set_plan(
        initiator, initiative, funded["coordinator"], TODAY, TODAY + timedelta(days=60)
    )
    assert initiative.responsible_user_id == funded["coordinator"].id
    progress.add_milestone(initiator, initiative, "Toestellen besteld", TODAY + timedelta(7))
    update = progress.post_update(
        initiator, initiative, "De grond is vlak.", [(io.BytesIO(PNG), "plein.png")]
    )
    assert [p.content_type for p in update.photos] == ["image/png"]
    block = progress.progress_of(initiative)
    assert [m.title for m in block.milestones] == ["Toestellen besteld"]
    assert not block.late


def test_only_the_initiator_responsible_and_staff_report(funded):
    initiative, neighbour = funded["initiative"], funded["neighbour"]
    with pytest.raises(PermissionDenied):
        progress.post_update(neighbour, initiative, "Ik doe ook mee", [])
    with pytest.raises(PermissionDenied):
        progress.set_plan(neighbour, initiative, neighbour, None, None)
    with pytest.raises(PermissionDenied):
        progress.add_milestone(neighbour, initiative, "x", TODAY)


def test_the_responsible_person_is_the_initiator_or_staff(funded):
    with pytest.raises(ValidationFailed, match="initiator or staff"):
        progress.set_plan(
            funded["initiator"], funded["initiative"], funded["neighbour"], None, None
        )
    with pytest.raises(ValidationFailed, match="before the start"):
        progress.set_plan(
            funded["initiator"], funded["initiative"], None, TODAY, TODAY - timedelta(1)
        )


def test_photos_go_through_the_attachment_checks(funded):
    initiative, initiator = funded["initiative"], funded["initiator"]
    for content, name in ((b"<script>alert(1)</script>", "x.png"), (PDF, "bon.pdf")):
        with pytest.raises(ValidationFailed):
            progress.post_update(initiator, initiative, "Kijk", [(io.BytesIO(content), name)])
        db.session.rollback()
    assert db.session.query(Attachment).count() == 0
    assert progress.progress_of(initiative).updates == []


def test_late_initiatives_are_flagged_on_both_dashboards(funded, make):
    initiative, initiator = funded["initiative"], funded["initiator"]
    progress.add_milestone(initiator, initiative, "Opening", TODAY - timedelta(days=1))
    assert progress.progress_of(initiative).late
    area = funded["area"]
    dashboard = monitoring.area_dashboard(None, area, str(THIS_YEAR))
    assert [i.title for i in dashboard.late] == ["Speelplek"]
    overview = monitoring.municipality_overview(area.municipality, str(THIS_YEAR))
    row = next(r for r in overview.rows if r.area.id == area.id)
    assert monitoring.SIGNAL_LATE_INITIATIVES in row.signals
    milestone = progress.progress_of(initiative).milestones[0]
    progress.complete_milestone(initiator, milestone)
    assert not progress.progress_of(initiative).late
    progress.set_plan(initiator, initiative, None, None, TODAY - timedelta(days=1))
    assert progress.progress_of(initiative).late  # past its planned end


def test_completion_records_the_final_cost_and_returns_the_rest(funded):
    initiative, coordinator = funded["initiative"], funded["coordinator"]
    pot = ledger.accounts_of_initiative(initiative)[0]
    from buurtbudget.domain.budget import EntryKind
    from buurtbudget.models import BudgetAccount

    ledger.lock_account(pot)
    ledger.post(
        None, db.session.get(BudgetAccount, pot), EntryKind.PAYOUT, 640_00, initiative=initiative
    )
    db.session.commit()
    initiatives.change_status(None, initiative, Status.IN_EXECUTION)
    initiatives.change_status(coordinator, initiative, Status.COMPLETED, reason="Klaar")
    assert initiative.final_cost_cents == 640_00
    money = ledger.initiative_totals(initiative)
    assert (money.granted, money.paid, money.outstanding) == (640_00, 640_00, 0)
    assert not progress.progress_of(initiative).late  # completed: no longer running
