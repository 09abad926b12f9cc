# ruff: noqa: E501 - the route table reads best one route per line
"""Every initiative, working-group, theme and notification route, for every role.

One test per role walks all routes in a fixed order against a fresh world, so actions that
succeed (a status change, joining a group) are checked for real and not just "not refused".
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest

from buurtbudget.extensions import db
from buurtbudget.models import Attachment, Initiative
from tests.initiative_world import ROLES, build_world


def _png() -> bytes:
    """A real PNG: uploads are decoded (and written anew without metadata)."""
    import io as _io

    from PIL import Image

    out = _io.BytesIO()
    Image.new("RGB", (4, 4), "orange").save(out, "PNG")
    return out.getvalue()


PNG = _png()

RESIDENTS = ("resident_other_area", "resident", "council_member", "initiator")
AREA_STAFF = ("coordinator", "admin")


@dataclass
class Route:
    method: str
    url: str
    expected: dict  # role -> status; "*" for every other logged-in role
    data: dict | None = None

    def status_for(self, role: str) -> int:
        if role == "anonymous":
            return self.expected.get("anonymous", 302)
        return self.expected.get(role, self.expected["*"])


def _only(allowed: tuple[str, ...], ok: int, refused: int = 403, **others) -> dict:
    return {"*": refused, **dict.fromkeys(allowed, ok), **others}


@pytest.fixture
def setup(app, make, tmp_path):
    app.config["UPLOAD_FOLDER"] = str(tmp_path)
    world = build_world(make)
    w = world
    draft = make.initiative(w.area, w.initiator, status="draft", themes=[w.green])
    submitted = make.initiative(w.area, w.initiator, status="submitted", themes=[w.green])
    open_ = make.initiative(w.area, w.initiator, status="open", themes=[w.green])
    comment = make.comment(open_, w.resident, "Goed plan")
    for initiative in (draft, open_):
        (tmp_path / f"f{initiative.id}.png").write_bytes(PNG)
        db.session.add(
            Attachment(
                initiative=initiative,
                stored_name=f"f{initiative.id}.png",
                original_name="foto.png",
                content_type="image/png",
                size_bytes=len(PNG),
            )
        )
    group = make.working_group(w.area, w.green, members=(w.initiator,), name="Groen")
    db.session.commit()
    draft_file, open_file = draft.attachments[0], open_.attachments[0]
    i, c, a, g = open_.id, comment.id, w.area.id, group.id
    draft_only = {"*": 404, "coordinator": 200, "admin": 200, "initiator": 200}
    routes = [
        Route("GET", "/initiatives", {"*": 200, "anonymous": 200}),
        Route("GET", "/initiatives?q=plan&status=open", {"*": 200, "anonymous": 200}),
        Route("GET", "/initiatives/mine", {"*": 200}),
        Route("GET", "/initiatives/new", _only(RESIDENTS, 200)),
        Route("GET", f"/initiatives/{draft.id}", {**draft_only, "anonymous": 404}),
        Route("GET", f"/initiatives/{i}", {"*": 200, "anonymous": 200}),
        Route("GET", f"/initiatives/{draft.id}/edit", {**draft_only, **dict.fromkeys(AREA_STAFF, 403)}),
        Route("GET", f"/initiatives/{i}/edit", _only(("initiator",), 302)),
        Route("GET", f"/attachments/{draft_file.id}", {**draft_only, "anonymous": 404}),
        Route("GET", f"/attachments/{open_file.id}", {"*": 200, "anonymous": 200}),
        Route("GET", f"/attachments/{open_file.id}/delete", _only((*AREA_STAFF, "initiator"), 200)),
        Route("GET", "/coordinator/reviews", _only((*AREA_STAFF, "coordinator_other_area", "admin_other_municipality"), 200)),
        Route("GET", "/coordinator/reports", _only((*AREA_STAFF, "coordinator_other_area", "admin_other_municipality"), 200)),
        Route("GET", "/groups", {"*": 200, "anonymous": 200}),
        Route("GET", f"/groups/{g}", {"*": 200, "anonymous": 200}),
        Route("GET", "/groups/new", {"*": 200}),
        Route("GET", "/themes", _only(("admin", "admin_other_municipality"), 200)),
        Route("GET", f"/themes/{w.green.id}/edit", _only(("admin",), 200)),
        Route("GET", f"/areas/{a}/agenda", {"*": 200, "anonymous": 200}),
        Route("GET", f"/areas/{a}/agenda/edit", _only(AREA_STAFF, 200)),
        Route("GET", "/notifications", {"*": 200}),
        # Changes, in an order where one cannot hide the effect of another.
        Route("POST", f"/initiatives/{submitted.id}/status", _only(AREA_STAFF, 302), {"new_status": "in_review"}),
        Route("POST", f"/initiatives/{draft.id}/status", {**draft_only, "initiator": 302, **dict.fromkeys(AREA_STAFF, 403)}, {"new_status": "submitted"}),
        Route("POST", f"/initiatives/{i}/comments", _only((*RESIDENTS, *AREA_STAFF), 302), {"body": "Ik doe mee"}),
        Route("POST", f"/comments/{c}/report", {"*": 302}, {f"report{c}-reason": "Spam"}),
        Route("POST", f"/comments/{c}/hide", _only(AREA_STAFF, 302), {f"hide{c}-reason": "Ongepast"}),
        Route("POST", f"/comments/{c}/dismiss", _only(AREA_STAFF, 302)),
        Route("POST", f"/initiatives/{i}/attachments", _only((*AREA_STAFF, "initiator"), 302), {"file": "png"}),
        Route("POST", f"/attachments/{open_file.id}/delete", _only((*AREA_STAFF, "initiator"), 302)),
        Route("POST", f"/groups/{g}/messages", _only((*AREA_STAFF, "initiator"), 302), {"body": "Hallo"}),
        Route("POST", f"/groups/{g}/leave", _only(("initiator",), 302, refused=409)),
        Route("POST", f"/groups/{g}/join", _only(("resident", "council_member", "initiator"), 302)),
        Route("POST", f"/areas/{a}/agenda/edit", _only(AREA_STAFF, 302), {"year": "2026", "theme_ids": str(w.green.id)}),
        Route("POST", "/themes", _only(("admin",), 302, admin_other_municipality=400), {"municipality_id": str(w.municipality.id), "name": "Verkeer"}),
        Route("POST", f"/themes/{w.play.id}/edit", _only(("admin",), 302), {"municipality_id": str(w.municipality.id), "name": "Spelen en sport", "is_active": "y"}),
        Route("POST", "/groups/new", _only(("resident", "council_member", "initiator", *AREA_STAFF), 302, refused=400), {"area_id": str(a), "theme_id": str(w.green.id), "name": "Nieuw"}),
        Route("POST", "/initiatives/new", _only(("resident", "council_member", "initiator"), 302, resident_other_area=400), {"area_id": str(a), "title": "Bankjes", "description": "Bankjes in het park", "theme_ids": str(w.green.id), "requested_amount": "800"}),
        Route("POST", f"/initiatives/{draft.id}/edit", {**draft_only, "initiator": 302, **dict.fromkeys(AREA_STAFF, 403)}, {"area_id": str(a), "title": "Nieuw", "description": "Nieuw", "theme_ids": str(w.green.id), "requested_amount": "10"}),
        Route("POST", "/notifications/read", {"*": 302}),
    ]  # fmt: skip
    yield world, routes, {"submitted": submitted.id, "draft": draft.id}
    app.config["UPLOAD_FOLDER"] = ""


@pytest.mark.parametrize("role", ROLES)
def test_every_route_for_every_role(setup, client_for, role):
    world, routes, ids = setup
    client = client_for(world.people[role])
    failures = []
    for route in routes:
        data = dict(route.data or {})
        if data.get("file") == "png":
            data["file"] = (io.BytesIO(PNG), "nieuw.png")
        response = client.open(route.url, method=route.method, data=data)
        response.close()  # downloads stream their file
        expected = route.status_for(role)
        if response.status_code != expected:
            failures.append(f"{route.method} {route.url}: {response.status_code} != {expected}")
    assert failures == []
    submitted = db.session.get(Initiative, ids["submitted"])
    assert submitted.status.value == ("in_review" if role in AREA_STAFF else "submitted")
