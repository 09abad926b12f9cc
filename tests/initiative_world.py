"""A small world for the initiative tests: two municipalities, three areas and one person in
every role that matters for initiatives."""

from __future__ import annotations

from types import SimpleNamespace

# Every role the permission tests walk through, in the order of the conventions.
ROLES = (
    "anonymous",
    "resident_other_area",
    "resident",
    "council_member",
    "coordinator_other_area",
    "coordinator",
    "admin_other_municipality",
    "admin",
    "initiator",
)


def build_world(make) -> SimpleNamespace:
    delft = make.municipality("Delft")
    zaanstad = make.municipality("Zaanstad")
    area = make.area(delft, name="Binnenstad")
    other_area = make.area(delft, name="Tanthof")
    foreign_area = make.area(zaanstad, name="Poelenburg")
    world = SimpleNamespace(
        municipality=delft,
        other_municipality=zaanstad,
        area=area,
        other_area=other_area,
        foreign_area=foreign_area,
        green=make.theme(delft, name="Groen"),
        play=make.theme(delft, name="Spelen"),
        foreign_theme=make.theme(zaanstad, name="Ontmoeting"),
    )
    world.people = {
        "anonymous": None,
        "resident_other_area": make.resident(other_area, display_name="Bram"),
        "resident": make.resident(area, display_name="Anouk"),
        "council_member": make.council_member(area, display_name="Chantal"),
        "coordinator_other_area": make.coordinator(other_area, display_name="Coördinator T"),
        "coordinator": make.coordinator(area, display_name="Coördinator B"),
        "admin_other_municipality": make.administrator(zaanstad, display_name="Beheer Z"),
        "admin": make.administrator(delft, display_name="Beheer D"),
        "initiator": make.resident(area, display_name="Iris"),
    }
    for role, person in world.people.items():
        setattr(world, role, person)
    return world
