"""The Tanthof voting round that the voting service and web tests share: one area with three
projects (EUR 300, 500 and 700, at most two on a ballot), voting open, and the people who act
on it."""

from __future__ import annotations


def tanthof_round(make, **round_fields) -> dict:
    """``round_fields`` go to ``make.voting_round`` (e.g. a title)."""
    municipality = make.municipality("Delft")
    area = make.area(municipality, name="Tanthof", inhabitants=13_600)
    other = make.area(municipality, name="Buitenhof")
    voting_round = make.voting_round(
        area, costs=(300_00, 500_00, 700_00), max_projects=2, **round_fields
    )
    return {
        "municipality": municipality,
        "area": area,
        "other": other,
        "round": voting_round,
        "projects": [p.id for p in voting_round.projects],
        "resident": make.resident(area, birth_year=1990),
        "coordinator": make.coordinator(area),
        "admin": make.administrator(municipality),
    }
