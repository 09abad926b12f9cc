"""Staff pages: assigning home areas and granting/revoking roles, with permission checks."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from buurtbudget.extensions import db
from buurtbudget.models import AuditEntry, Role, RoleAssignment


@pytest.fixture
def town(make):
    municipality = make.municipality("Delft")
    north = make.area(municipality, name="Noord")
    south = make.area(municipality, name="Zuid")
    other_town = make.municipality("Ede")
    elsewhere = make.area(other_town, name="Veldhuizen")
    newcomer = make.user(None, municipality=municipality, display_name="Nieuwkomer")
    return {
        "municipality": municipality,
        "north": north,
        "south": south,
        "newcomer": newcomer,
        "admin": make.administrator(municipality),
        "coordinator_north": make.coordinator(north),
        "council_north": make.council_member(north),
        "resident": make.resident(north),
        "foreign_admin": make.administrator(other_town),
        "foreign_coordinator": make.coordinator(elsewhere),
    }


@pytest.mark.parametrize(
    ("who", "residents_status", "roles_status"),
    [
        (None, 302, 302),
        ("resident", 403, 403),
        ("council_north", 403, 403),
        ("coordinator_north", 200, 403),
        ("admin", 200, 200),
    ],
)
def test_staff_pages_permissions(town, client_for, who, residents_status, roles_status):
    client = client_for(town[who] if who else None)
    assert client.get("/staff/residents").status_code == residents_status
    assert client.get("/staff/roles").status_code == roles_status


def test_coordinator_assigns_area_they_coordinate_but_not_another(town, client_for):
    client = client_for(town["coordinator_north"])
    newcomer = town["newcomer"]
    listing = client.get("/staff/residents?unassigned=1").get_data(as_text=True)
    assert "Nieuwkomer" in listing
    response = client.post(f"/staff/residents/{newcomer.id}/area", data={"area": town["south"].id})
    assert response.status_code == 403
    assert newcomer.home_area_id is None
    response = client.post(f"/staff/residents/{newcomer.id}/area", data={"area": town["north"].id})
    assert response.status_code == 302
    assert newcomer.home_area_id == town["north"].id
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "account.home_area_set")
    )
    assert entry.actor_id == town["coordinator_north"].id


def test_staff_of_another_municipality_cannot_touch_residents(town, client_for):
    client = client_for(town["foreign_admin"])
    newcomer = town["newcomer"]
    assert "Nieuwkomer" not in client.get("/staff/residents").get_data(as_text=True)
    response = client.post(f"/staff/residents/{newcomer.id}/area", data={"area": town["north"].id})
    assert response.status_code == 404
    assert newcomer.home_area_id is None


def test_assign_area_bad_input_is_4xx(town, client_for):
    client = client_for(town["admin"])
    assert client.post("/staff/residents/999999/area", data={"area": 1}).status_code == 404
    newcomer = town["newcomer"]
    response = client.post(f"/staff/residents/{newcomer.id}/area", data={"area": "x"})
    assert response.status_code == 400


def test_admin_grants_and_revokes_roles_with_confirmation(town, client_for):
    client = client_for(town["admin"])
    resident = town["resident"]
    response = client.post(
        "/staff/roles",
        data={"email": resident.email, "role": "council_member", "area": town["north"].id},
    )
    assert response.status_code == 302
    assert resident.has_role(Role.COUNCIL_MEMBER, town["north"])
    assignment = db.session.scalar(
        select(RoleAssignment).where(RoleAssignment.user_id == resident.id)
    )
    confirm = client.get(f"/staff/roles/{assignment.id}/revoke")
    assert confirm.status_code == 200 and b"Yes, revoke" in confirm.data
    assert resident.has_role(Role.COUNCIL_MEMBER)  # nothing happens before the confirmation
    assert client.post(f"/staff/roles/{assignment.id}/revoke").status_code == 302
    db.session.expire_all()
    assert not resident.has_role(Role.COUNCIL_MEMBER)
    actions = db.session.scalars(select(AuditEntry.action)).all()
    assert "role.granted" in actions and "role.revoked" in actions


def test_grant_role_bad_input(town, client_for):
    client = client_for(town["admin"])
    unknown = client.post(
        "/staff/roles", data={"email": "nobody@example.org", "role": "coordinator", "area": 0}
    )
    assert unknown.status_code == 400 and b"No account with this e-mail" in unknown.data
    no_area = client.post(
        "/staff/roles", data={"email": town["resident"].email, "role": "coordinator", "area": 0}
    )
    assert no_area.status_code == 400 and b"Choose an area" in no_area.data
    bad_role = client.post(
        "/staff/roles", data={"email": town["resident"].email, "role": "king", "area": 0}
    )
    assert bad_role.status_code == 400


def test_admin_of_other_municipality_cannot_revoke(town, client_for):
    assignment = town["coordinator_north"].roles[0]
    client = client_for(town["foreign_admin"])
    assert client.post(f"/staff/roles/{assignment.id}/revoke").status_code == 403
    assert client.get(f"/staff/roles/{assignment.id}/revoke").status_code == 403


@pytest.mark.parametrize(
    ("who", "status", "expected", "absent"),
    [
        (None, 302, None, None),
        ("resident", 403, None, None),
        ("council_north", 200, b"Dashboard of Noord", b"Payout requests"),
        ("coordinator_north", 200, b"Payout requests", b"Roles</a>"),
        ("admin", 200, b"Roles</a>", b"Dashboard of"),
    ],
)
def test_management_hub_shows_the_tools_of_each_role(
    town, client_for, who, status, expected, absent
):
    response = client_for(town[who] if who else None).get("/staff/")
    assert response.status_code == status
    if expected:
        assert expected in response.data
        assert absent not in response.data
