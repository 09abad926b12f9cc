"""The initiative pages: proposing with bad input, reviewing, browsing, files, comments,
notifications, agendas and groups, as users see them."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from buurtbudget.extensions import db
from buurtbudget.models import Initiative, WorkingGroup
from tests.initiative_world import build_world


def _png() -> bytes:
    """A real PNG: uploads are decoded (and written anew without metadata)."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), "orange").save(out, "PNG")
    return out.getvalue()


PNG = _png()


@pytest.fixture
def world(make):
    return build_world(make)


def _form(world, **overrides) -> dict:
    data = {
        "area_id": str(world.area.id),
        "title": "Speeltuin opknappen",
        "description": "Nieuwe toestellen voor de speeltuin aan de gracht.",
        "theme_ids": [str(world.play.id)],
        "requested_amount": "4.500,00",
        "volunteer_hours": "60",
        "co_funding": "250",
        "in_kind": "Verf en kwasten",
        "contribution_note": "",
        "working_group_id": "",
    }
    data.update(overrides)
    return data


def test_propose_save_draft_then_submit(world, client_for):
    client = client_for(world.initiator)
    response = client.post("/initiatives/new", data=_form(world, save="1"))
    assert response.status_code == 302
    initiative = db.session.scalar(select(Initiative))
    assert (initiative.status.value, initiative.requested_amount_cents) == ("draft", 4_500_00)
    assert (initiative.volunteer_hours, initiative.co_funding_cents) == (60, 250_00)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "only the initiator and staff can see it" in page
    response = client.post(
        f"/initiatives/{initiative.id}/edit",
        data=_form(world, title="Speeltuin aan de gracht", submit_for_review="1"),
    )
    assert response.status_code == 302
    db.session.refresh(initiative)
    assert (initiative.title, initiative.status.value) == ("Speeltuin aan de gracht", "submitted")


def test_bad_input_gives_form_errors(world, make, client_for):
    foreign_group = make.working_group(world.other_area, world.green, members=(world.initiator,))
    cases = [
        ({"title": "x" * 121}, "Field cannot be longer than 120 characters"),
        ({"title": ""}, "This field is required"),
        ({"description": "x" * 5001}, "Field cannot be longer than 5000 characters"),
        ({"requested_amount": "-50"}, "The amount cannot be negative"),
        ({"requested_amount": "veel"}, "Enter an amount in euros"),
        ({"requested_amount": "2.000.000,00"}, "This amount is too large"),
        ({"co_funding": "-1"}, "The amount cannot be negative"),
        ({"volunteer_hours": "-3"}, "Number must be between 0 and 100000"),
        ({"volunteer_hours": "veel"}, "Enter a whole number"),
        ({"theme_ids": []}, "Choose one or more themes"),
        ({"theme_ids": [str(world.foreign_theme.id)]}, "is not a valid choice for this field"),
        ({"area_id": str(world.other_area.id)}, "Not a valid choice"),
        ({"area_id": "987654"}, "Not a valid choice"),
        ({"working_group_id": str(foreign_group.id)}, "Not a valid choice"),
        ({"working_group_id": "abc"}, "Invalid Choice: could not coerce"),
    ]
    client = client_for(world.initiator)
    wrong = []
    for overrides, message in cases:
        response = client.post("/initiatives/new", data=_form(world, **overrides))
        if response.status_code != 400 or message not in response.get_data(as_text=True):
            wrong.append((overrides, response.status_code))
    assert wrong == []
    assert db.session.scalar(select(Initiative.id)) is None


def test_coordinator_reviews_from_the_queue(world, make, client_for):
    initiative = make.initiative(world.area, world.initiator, status="submitted", title="Bankjes")
    make.initiative(world.other_area, status="submitted", title="Elders")
    coordinator = client_for(world.coordinator)
    queue = coordinator.get("/coordinator/reviews").get_data(as_text=True)
    assert "Bankjes" in queue and "Elders" not in queue
    url = f"/initiatives/{initiative.id}/status"
    assert coordinator.post(url, data={"new_status": "in_review"}).status_code == 302
    response = coordinator.post(url, data={"new_status": "rejected", "rejected-reason": ""})
    assert response.status_code == 400
    assert "Please give a reason." in response.get_data(as_text=True)
    response = coordinator.post(url, data={"new_status": "open", "open-checked_cost": "-5"})
    assert response.status_code == 400
    assert "The amount cannot be negative" in response.get_data(as_text=True)
    response = coordinator.post(url, data={"new_status": "open"})
    assert response.status_code == 400
    assert "Enter the checked cost" in response.get_data(as_text=True)
    assert coordinator.post(url, data={"new_status": "nonsense"}).status_code == 400
    assert coordinator.post(url, data={"new_status": "completed"}).status_code == 409
    response = coordinator.post(url, data={"new_status": "open", "open-checked_cost": "2.100,50"})
    assert response.status_code == 302
    db.session.refresh(initiative)
    assert (initiative.status.value, initiative.checked_cost_cents) == ("open", 2_100_50)
    page = client_for(world.resident_other_area).get(f"/initiatives/{initiative.id}")
    text = page.get_data(as_text=True)
    money = re.search(r'<section aria-labelledby="money-heading".*?</section>', text, re.S)[0]
    figures = re.findall(r"<dd[^>]*>(.*?)</dd>", money)
    assert figures == ["€2,500.00", "€2,100.50", "€0.00", "€0.00"]
    assert "Open for support" in text and "Coördinator B" in text  # the history names the actor


def test_a_rejected_initiative_shows_its_reason(world, make, client):
    initiative = make.initiative(
        world.area, world.initiator, status="rejected", reason="Geen gemeentegrond."
    )
    text = client.get(f"/initiatives/{initiative.id}").get_data(as_text=True)
    assert "This initiative was rejected." in text
    assert "Reason: Geen gemeentegrond." in text


def test_browse_filters_searches_and_paginates(app, world, make, client):
    app.config["PAGE_SIZE"] = 2
    try:
        for n in range(3):
            make.initiative(world.area, status="open", title=f"Boom {n}", themes=[world.green])
        make.initiative(world.other_area, status="rejected", title="Schommel", themes=[world.play])
        make.initiative(world.area, status="draft", title="Geheim plan")
        first = client.get("/initiatives").get_data(as_text=True)
        assert "4 initiatives found." in first and "Page 1 of 2" in first
        assert "Geheim" not in first
        second = client.get("/initiatives?page=2").get_data(as_text=True)
        titles = re.findall(r'href="/initiatives/\d+">([^<]+)</a>', first + second)
        assert sorted(titles) == ["Boom 0", "Boom 1", "Boom 2", "Schommel"]
        filtered = client.get(f"/initiatives?theme={world.green.id}&q=boom").get_data(as_text=True)
        assert "3 initiatives found." in filtered
        assert f"theme={world.green.id}" in filtered and "q=boom" in filtered  # kept on paging
        rejected = client.get(f"/initiatives?status=rejected&area={world.other_area.id}")
        assert "Schommel" in rejected.get_data(as_text=True)
        assert client.get("/initiatives?status=draft").status_code == 400
        assert client.get("/initiatives?area=xyz").status_code == 400
        assert client.get("/initiatives?q=" + "x" * 101).status_code == 400
        assert client.get("/initiatives?page=99").status_code == 200
    finally:
        app.config["PAGE_SIZE"] = 25


def test_attachments_upload_download_and_private_drafts(app, world, make, client_for, tmp_path):
    app.config["UPLOAD_FOLDER"] = str(tmp_path)
    try:
        initiative = make.initiative(world.area, world.initiator, status="draft")
        initiator = client_for(world.initiator)
        url = f"/initiatives/{initiative.id}/attachments"
        bad = initiator.post(url, data={"file": (io.BytesIO(b"<html>"), "plan.png")})
        assert bad.status_code == 400 and "Only PNG, JPEG and WebP" in bad.get_data(as_text=True)
        assert initiator.post(url, data={}).status_code == 400
        good = initiator.post(url, data={"file": (io.BytesIO(PNG), "spéél tuin.png")})
        assert good.status_code == 302
        attachment = initiative.attachments[0]
        response = initiator.get(f"/attachments/{attachment.id}")
        assert response.data == PNG and response.mimetype == "image/png"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Disposition"].startswith("inline;")
        assert "no-store" in response.headers["Cache-Control"]
        response.close()
        assert client_for(world.resident).get(f"/attachments/{attachment.id}").status_code == 404
        confirm = initiator.get(f"/attachments/{attachment.id}/delete")
        assert "Do you really want to remove" in confirm.get_data(as_text=True)
        assert initiator.post(f"/attachments/{attachment.id}/delete").status_code == 302
        assert list(tmp_path.iterdir()) == []
    finally:
        app.config["UPLOAD_FOLDER"] = ""


def test_pdf_is_offered_as_download(app, world, make, client, tmp_path):
    app.config["UPLOAD_FOLDER"] = str(tmp_path)
    try:
        from buurtbudget.services import attachments

        initiative = make.initiative(world.area, world.initiator, status="open")
        pdf = attachments.add_attachment(
            world.initiator, initiative, io.BytesIO(b"%PDF-1.4 begroting"), "begroting.pdf"
        )
        response = client.get(f"/attachments/{pdf.id}")
        assert response.headers["Content-Disposition"] == "attachment; filename=begroting.pdf"
        assert response.mimetype == "application/pdf"
        response.close()
    finally:
        app.config["UPLOAD_FOLDER"] = ""


def test_comments_moderation_as_seen_on_the_page(world, make, client_for):
    initiative = make.initiative(world.area, world.initiator, status="open")
    resident = client_for(world.resident)
    assert (
        resident.post(f"/initiatives/{initiative.id}/comments", data={"body": ""}).status_code
        == 400
    )
    too_long = resident.post(f"/initiatives/{initiative.id}/comments", data={"body": "x" * 2001})
    assert too_long.status_code == 400
    assert "Field cannot be longer than 2000 characters" in too_long.get_data(as_text=True)
    resident.post(f"/initiatives/{initiative.id}/comments", data={"body": "Wat een onzin, sukkels"})
    comment = initiative.comments[0]
    reporter = client_for(world.resident_other_area)
    assert reporter.post(f"/comments/{comment.id}/report", data={}).status_code == 302
    again = reporter.post(f"/comments/{comment.id}/report", data={})
    assert again.status_code == 409
    assert "already reported" in again.get_data(as_text=True)
    coordinator = client_for(world.coordinator)
    reports = coordinator.get("/coordinator/reports").get_data(as_text=True)
    assert "Wat een onzin" in reports
    empty_reason = coordinator.post(f"/comments/{comment.id}/hide", data={})
    assert empty_reason.status_code == 400
    response = coordinator.post(
        f"/comments/{comment.id}/hide",
        data={f"hide{comment.id}-reason": "Scheldwoorden", "back": "reports"},
    )
    assert response.headers["Location"] == "/coordinator/reports"
    page = client_for(world.council_member).get(f"/initiatives/{initiative.id}")
    text = page.get_data(as_text=True)
    assert "Hidden by moderator: Scheldwoorden" in text and "sukkels" not in text
    assert "No open reports." in coordinator.get("/coordinator/reports").get_data(as_text=True)


def test_notifications_page_and_unread_count_in_header(world, make, client_for):
    initiative = make.initiative(world.area, world.initiator, status="submitted", title="Bankjes")
    client_for(world.coordinator).post(
        f"/initiatives/{initiative.id}/status", data={"new_status": "in_review"}
    )
    initiator = client_for(world.initiator)
    page = initiator.get("/notifications").get_data(as_text=True)
    assert "Your initiative “Bankjes” now has the status: In review." in page
    assert re.search(r"Notifications <span class=\"badge unread-count\">1<", page)
    assert initiator.post("/notifications/read").status_code == 302
    page = initiator.get("/notifications").get_data(as_text=True)
    assert not re.search(r"Notifications <span class=\"badge unread-count\">", page)


def test_area_agenda_limit_is_a_form_error(app, world, make, client_for, client):
    extra = [make.theme(world.municipality, name=f"Thema {n}") for n in range(4)]
    ids = [str(t.id) for t in (world.green, world.play, *extra)]
    coordinator = client_for(world.coordinator)
    url = f"/areas/{world.area.id}/agenda/edit"
    response = coordinator.post(url, data={"year": "2026", "theme_ids": ids})
    assert response.status_code == 400
    assert "An area agenda has at most 5 themes." in response.get_data(as_text=True)
    response = coordinator.post(
        url, data={"year": "2026", "theme_ids": ids[:5], "note": "Uit de wijkschouw"}
    )
    assert response.status_code == 302
    page = client.get(f"/areas/{world.area.id}/agenda").get_data(as_text=True)
    assert page.count("<li>") >= 5 and "Uit de wijkschouw" in page
    bad_year = coordinator.post(url, data={"year": "abc", "theme_ids": ids[:1]})
    assert bad_year.status_code == 400


def test_working_group_pages(world, make, client_for, client):
    resident = client_for(world.resident)
    response = resident.post(
        "/groups/new",
        data={"area_id": str(world.area.id), "theme_id": str(world.green.id), "name": "Jeugd",
              "ends_on": "2020-01-01", "starts_on": "2026-03-01"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "The end date must not be before the start." in response.get_data(as_text=True)
    response = resident.post(
        "/groups/new",
        data={"area_id": str(world.area.id), "theme_id": str(world.green.id), "name": "Jeugd"},
    )
    assert response.status_code == 302
    group = db.session.scalar(select(WorkingGroup))
    resident.post(f"/groups/{group.id}/messages", data={"body": "Eerste overleg dinsdag"})
    member_view = resident.get(f"/groups/{group.id}").get_data(as_text=True)
    assert "Eerste overleg dinsdag" in member_view and "You are a member." in member_view
    outsider = client.get(f"/groups/{group.id}").get_data(as_text=True)
    assert "Eerste overleg" not in outsider and "Only members can read the discussion." in outsider
    too_long = resident.post(f"/groups/{group.id}/messages", data={"body": "x" * 2001})
    assert too_long.status_code == 400
    assert client.get("/groups").get_data(as_text=True).count(">Jeugd</a>") == 1


def test_group_members_propose_for_their_group(world, make, client_for):
    group = make.working_group(world.area, world.green, members=(world.initiator,), name="Groen")
    client = client_for(world.initiator)
    form = client.get("/initiatives/new").get_data(as_text=True)
    assert f'<option value="{group.id}">Groen</option>' in form
    response = client.post(
        "/initiatives/new", data=_form(world, working_group_id=str(group.id), save="1")
    )
    assert response.status_code == 302
    initiative = db.session.scalar(select(Initiative))
    assert initiative.working_group_id == group.id
    page = client.get(f"/initiatives/{initiative.id}").get_data(as_text=True)
    assert "on behalf of working group" in page
