"""Issue 15.6: staff act only on areas they hold a role for; nobody changes their own area or
roles (attacks through the staff screens and the services)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from buurtbudget.extensions import db
from buurtbudget.models import Role, RoleAssignment
from buurtbudget.services import accounts
from buurtbudget.services.errors import PermissionDenied


@pytest.fixture
def town(make):
    municipality = make.municipality("Delft")
    north = make.area(municipality, name="Noord")
    south = make.area(municipality, name="Zuid")
    coordinator = make.user(south, roles=((Role.COORDINATOR, north),))
    return {
        "municipality": municipality,
        "north": north,
        "south": south,
        "coordinator": coordinator,
        "admin": make.administrator(municipality),
        "south_resident": make.resident(south, display_name="Zuidbewoner"),
    }


def test_coordinator_cannot_move_a_resident_of_an_area_they_do_not_coordinate(town, client_for):
    resident = town["south_resident"]
    client = client_for(town["coordinator"])
    response = client.post(f"/staff/residents/{resident.id}/area", data={"area": town["north"].id})
    assert response.status_code == 403
    db.session.refresh(resident)
    assert resident.home_area_id == town["south"].id


def test_residents_list_does_not_offer_residents_of_other_areas(town, client_for):
    page = client_for(town["coordinator"]).get("/staff/residents").get_data(as_text=True)
    assert "Zuidbewoner" not in page


def test_coordinator_cannot_move_themselves(town, client_for):
    coordinator = town["coordinator"]
    client = client_for(coordinator)
    response = client.post(
        f"/staff/residents/{coordinator.id}/area", data={"area": town["north"].id}
    )
    assert response.status_code == 403
    db.session.refresh(coordinator)
    assert coordinator.home_area_id == town["south"].id


def test_administrator_cannot_change_their_own_area(town, client_for):
    admin = town["admin"]
    response = client_for(admin).post(
        f"/staff/residents/{admin.id}/area", data={"area": town["north"].id}
    )
    assert response.status_code == 403
    db.session.refresh(admin)
    assert admin.home_area_id is None


def test_administrator_moves_residents_within_their_municipality(town, client_for):
    resident = town["south_resident"]
    client = client_for(town["admin"])
    response = client.post(f"/staff/residents/{resident.id}/area", data={"area": town["north"].id})
    assert response.status_code == 302
    db.session.refresh(resident)
    assert resident.home_area_id == town["north"].id


def test_administrator_cannot_grant_themselves_a_role(town, client_for):
    admin = town["admin"]
    response = client_for(admin).post(
        "/staff/roles",
        data={"email": admin.email, "role": "coordinator", "area": town["north"].id},
    )
    assert response.status_code in (400, 403)
    assert not db.session.scalars(
        select(RoleAssignment).where(
            RoleAssignment.user_id == admin.id, RoleAssignment.role == Role.COORDINATOR
        )
    ).all()


def test_administrator_cannot_revoke_their_own_role(town, client_for):
    admin = town["admin"]
    own = admin.roles[0]
    response = client_for(admin).post(f"/staff/roles/{own.id}/revoke", data={"confirm": "y"})
    assert response.status_code == 403
    assert db.session.get(RoleAssignment, own.id) is not None


def test_services_refuse_own_roles_but_not_the_command_line(town):
    admin = town["admin"]
    with pytest.raises(PermissionDenied):
        accounts.grant_role(
            admin, admin, Role.COORDINATOR, municipality=town["municipality"], area=town["north"]
        )
    with pytest.raises(PermissionDenied):
        accounts.revoke_role(admin, admin.roles[0])
    # The operator on the server (actor None) still grants roles.
    granted = accounts.grant_role(
        None, admin, Role.COORDINATOR, municipality=town["municipality"], area=town["north"]
    )
    assert granted.user_id == admin.id
