"""Themes, the area agenda's theme limit, and working groups."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from buurtbudget.extensions import db
from buurtbudget.models import AuditEntry
from buurtbudget.services import themes, working_groups
from buurtbudget.services.errors import Conflict, PermissionDenied, ValidationFailed
from buurtbudget.services.working_groups import GroupData
from tests.initiative_world import build_world


@pytest.fixture
def world(make):
    return build_world(make)


def test_administrators_manage_their_own_municipalitys_themes(world):
    theme = themes.create_theme(world.admin, world.municipality, " Verkeer ", "Veilig op straat")
    assert (theme.name, theme.description) == ("Verkeer", "Veilig op straat")
    with pytest.raises(Conflict) as caught:
        themes.create_theme(world.admin, world.municipality, "Verkeer")
    assert caught.value.field == "name"
    for role in ("coordinator", "admin_other_municipality", "resident"):
        with pytest.raises(PermissionDenied):
            themes.create_theme(world.people[role], world.municipality, "Jeugd")
    themes.update_theme(world.admin, theme, "Verkeer en parkeren", "", is_active=False)
    assert [t.name for t in themes.themes_of(world.municipality.id)] == ["Groen", "Spelen"]
    assert "Verkeer en parkeren" in [
        t.name for t in themes.themes_of(world.municipality.id, active_only=False)
    ]
    with pytest.raises(PermissionDenied):
        themes.update_theme(world.admin_other_municipality, theme, "X", "", is_active=True)


def test_area_agenda_holds_at_most_the_configured_number_of_themes(app, world, make):
    extra = [make.theme(world.municipality, name=f"Thema {n}") for n in range(4)]
    five = [world.green.id, world.play.id] + [t.id for t in extra[:3]]
    agenda = themes.set_area_agenda(world.coordinator, world.area, 2026, five, "Na de wijkschouw")
    assert len(agenda.themes) == 5
    with pytest.raises(ValidationFailed) as caught:
        themes.set_area_agenda(world.coordinator, world.area, 2026, [*five, extra[3].id])
    assert caught.value.field == "theme_ids"
    with force_locale("en"):
        assert "at most 5 themes" in str(caught.value.message)

    app.config["AREA_AGENDA_MAX_THEMES"] = 3
    try:
        with pytest.raises(ValidationFailed):
            themes.set_area_agenda(world.coordinator, world.area, 2027, five[:4])
        three = themes.set_area_agenda(world.coordinator, world.area, 2027, five[:3])
    finally:
        app.config["AREA_AGENDA_MAX_THEMES"] = 5
    assert len(three.themes) == 3
    # Setting a year again replaces its themes: one agenda per area and year.
    themes.set_area_agenda(world.admin, world.area, 2026, [world.green.id])
    assert [a.year for a in themes.agendas_of(world.area)] == [2027, 2026]
    assert [t.name for t in themes.agenda_for(world.area, 2026).themes] == ["Groen"]
    assert db.session.scalar(
        select(AuditEntry.details).where(AuditEntry.action == "area_agenda.set")
    ) == {"area_id": world.area.id, "year": 2026, "theme_ids": sorted(five)}


def test_area_agenda_only_by_the_areas_staff_and_with_own_themes(world):
    for role in ("coordinator_other_area", "admin_other_municipality", "council_member"):
        with pytest.raises(PermissionDenied):
            themes.set_area_agenda(world.people[role], world.area, 2026, [world.green.id])
    with pytest.raises(ValidationFailed) as caught:
        themes.set_area_agenda(world.coordinator, world.area, 2026, [world.foreign_theme.id])
    assert caught.value.field == "theme_ids"
    with pytest.raises(ValidationFailed) as caught:
        themes.set_area_agenda(world.coordinator, world.area, 1999, [world.green.id])
    assert caught.value.field == "year"


def _group(world, **overrides) -> GroupData:
    values = {
        "area_id": world.area.id,
        "theme_id": world.green.id,
        "name": "Groene Binnenstad",
        "description": "Meer groen in de straten.",
    }
    values.update(overrides)
    return GroupData(**values)


def test_residents_and_staff_start_groups_in_their_area(world):
    group = working_groups.create_group(world.resident, _group(world))
    assert group.has_member(world.resident)
    assert group.starts_on == working_groups.today() and group.ends_on is None
    staff_group = working_groups.create_group(
        world.coordinator, _group(world, name="Jeugdraad", ends_on=date(2030, 1, 1))
    )
    assert staff_group.memberships == []  # staff organise, they are not members
    with pytest.raises(Conflict):
        working_groups.create_group(world.initiator, _group(world))
    for role in ("resident_other_area", "coordinator_other_area", "admin_other_municipality"):
        with pytest.raises(PermissionDenied):
            working_groups.create_group(world.people[role], _group(world, name=role))


def test_group_input_is_checked(world):
    cases = [
        ({"theme_id": world.foreign_theme.id}, "theme_id"),
        ({"theme_id": 987654}, "theme_id"),
        ({"area_id": 987654}, "area_id"),
        ({"name": ""}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"starts_on": date(2026, 5, 1), "ends_on": date(2026, 4, 30)}, "ends_on"),
    ]
    wrong = []
    for overrides, field in cases:
        with pytest.raises(ValidationFailed) as caught:
            working_groups.create_group(world.resident, _group(world, **overrides))
        if caught.value.field != field:
            wrong.append((overrides, caught.value.field))
    assert wrong == []


def test_join_leave_and_discuss(world, make):
    group = make.working_group(world.area, world.green, members=(world.initiator,))
    assert working_groups.can_join(world.resident, group)
    assert not working_groups.can_read_discussion(world.resident, group)
    working_groups.join(world.resident, group)
    with pytest.raises(Conflict):
        working_groups.join(world.resident, group)
    working_groups.post_message(world.resident, group, "Wie helpt zaterdag?")
    working_groups.post_message(world.coordinator, group, "Ik regel de containers.")
    assert [m.body for m in group.messages] == ["Wie helpt zaterdag?", "Ik regel de containers."]
    for role in ("resident_other_area", "council_member", "coordinator_other_area"):
        with pytest.raises(PermissionDenied):
            working_groups.post_message(world.people[role], group, "Hallo")
    with pytest.raises(ValidationFailed):
        working_groups.post_message(world.resident, group, "x" * 2001)
    working_groups.leave(world.resident, group)
    assert not group.has_member(world.resident)
    with pytest.raises(Conflict):
        working_groups.leave(world.resident, group)
    with pytest.raises(PermissionDenied):
        working_groups.join(world.resident_other_area, group)


def test_an_ended_group_takes_no_members_and_no_messages(world, make):
    yesterday = working_groups.today() - timedelta(days=1)
    group = make.working_group(
        world.area,
        world.green,
        members=(world.initiator,),
        starts_on=yesterday - timedelta(days=60),
        ends_on=yesterday,
    )
    assert group.has_ended_by(working_groups.today())
    with pytest.raises(Conflict):
        working_groups.join(world.resident, group)
    with pytest.raises(PermissionDenied):
        working_groups.post_message(world.initiator, group, "Nog iemand?")
    assert working_groups.can_read_discussion(world.initiator, group)
    assert working_groups.groups_to_propose_for(world.initiator) == []
