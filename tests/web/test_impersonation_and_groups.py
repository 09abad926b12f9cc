"""Issue 15, smaller findings: a resident registered under a coordinator's exact name and
commented (staff comments now carry a role badge; display names cannot read as a staff or
council member's); working-group member names were visible to any logged-in user (now only
to the group's members and the area's staff)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from buurtbudget.extensions import db
from buurtbudget.models import User


def _register(client, name):
    return client.post(
        "/account/register",
        data={
            "display_name": name,
            "email": "nep@example.org",
            "postcode": "2611 aa",
            "house_number": "12",
            "birth_year": "1990",
            "password": "een lang wachtwoord",
            "confirm": "een lang wachtwoord",
        },
    )


@pytest.mark.parametrize(
    "name", ["Wijkcoordinator Tanthof", "wijkcoördinator  tanthof", "WIJKCOORDINATOR-TANTHOF"]
)
def test_a_resident_cannot_register_under_a_staff_members_name(make, client, name):
    area = make.area(name="Tanthof", postcode="2611AA")
    make.coordinator(area, display_name="Wijkcoordinator Tanthof")
    users_before = db.session.scalar(select(func.count()).select_from(User))
    response = _register(client, name)
    assert response.status_code == 400
    assert "used by a staff or council member" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(User)) == users_before


def test_other_names_still_register(make, client):
    area = make.area(name="Tanthof", postcode="2611AA")
    make.coordinator(area, display_name="Wijkcoordinator Tanthof")
    assert _register(client, "Fatima uit Tanthof").status_code == 302


def test_staff_comments_carry_a_role_badge(make, client_for):
    area = make.area(name="Tanthof")
    coordinator = make.coordinator(area, display_name="Wijkcoordinator Tanthof")
    council = make.council_member(area, display_name="Raadslid Anna")
    resident = make.resident(area, display_name="Bewoner Bob")
    initiative = make.initiative(area, status="open")
    make.comment(initiative, coordinator, body="Officieel antwoord")
    make.comment(initiative, council, body="Namens de wijkraad")
    make.comment(initiative, resident, body="Mijn mening")
    page = client_for(None).get(f"/initiatives/{initiative.id}").get_data(as_text=True)
    assert 'Wijkcoordinator Tanthof <span class="badge role">Area coordinator</span>' in page
    assert 'Raadslid Anna <span class="badge role">Area council</span>' in page
    assert 'Bewoner Bob <span class="badge' not in page


def test_a_coordinator_of_another_area_gets_no_badge_here(make, client_for):
    area = make.area(name="Tanthof")
    elsewhere = make.coordinator(make.area(area.municipality, name="Buitenhof"))
    initiative = make.initiative(area, status="open")
    make.comment(initiative, elsewhere, body="Ik ben hier bewoner")
    page = client_for(None).get(f"/initiatives/{initiative.id}").get_data(as_text=True)
    assert "Area coordinator" not in page


@pytest.fixture
def group(make):
    area = make.area(name="Tanthof")
    member = make.resident(area, display_name="Geheim Lid")
    return {
        "group": make.working_group(area, members=(member,)),
        "member": member,
        "coordinator": make.coordinator(area),
        "admin": make.administrator(area.municipality),
        "neighbour": make.resident(area),
        "stranger": make.resident(make.area()),
        "other_coordinator": make.coordinator(make.area(area.municipality)),
    }


@pytest.mark.parametrize(
    ("who", "sees"),
    [
        ("member", True),
        ("coordinator", True),
        ("admin", True),
        ("neighbour", False),
        ("stranger", False),
        ("other_coordinator", False),
        (None, False),
    ],
)
def test_member_names_only_for_members_and_the_areas_staff(group, client_for, who, sees):
    client = client_for(group[who] if who else None)
    page = client.get(f"/groups/{group['group'].id}").get_data(as_text=True)
    assert ("Geheim Lid" in page) is sees
    assert "Members (1)" in page
