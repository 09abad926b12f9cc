"""Importing areas and population figures (CBS kerncijfers layout) all-or-nothing.

Rounds whose voting has opened keep the figures of their opening: the import stores them with
each such round of its areas first (voting.rounds.fix_population), in the same transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select

from buurtbudget.domain.population_csv import PopulationCsvError, RegionRow, read_population_csv
from buurtbudget.extensions import db
from buurtbudget.models import Area, AreaPopulation, Municipality, Neighbourhood
from buurtbudget.services import audit
from buurtbudget.services.voting.rounds import fix_population_of_areas

# Area codes per query when looking for the rounds of the imported areas.
CODES_PER_QUERY = 500


@dataclass
class ImportSummary:
    municipalities: int = 0
    areas_created: int = 0
    neighbourhoods_created: int = 0
    figures_written: int = 0


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "municipality"


def _by_code(model, code: str):
    return db.session.scalar(select(model).where(model.cbs_code == code))


def import_population(text: str, year: int | None, progress=None) -> ImportSummary:
    """Import the file; on any error nothing is written and PopulationCsvError is raised."""
    rows = read_population_csv(text)
    summary = ImportSummary()
    try:
        # A round whose voting has opened keeps the figures of its opening: stored with it
        # now, before this import changes them (voting.rounds.fix_population).
        codes = [row.code for row in rows if row.kind == "area"]
        for start in range(0, len(codes), CODES_PER_QUERY):
            chunk = codes[start : start + CODES_PER_QUERY]
            fix_population_of_areas(select(Area.id).where(Area.cbs_code.in_(chunk)))
        municipalities: dict[str, Municipality] = {}
        areas: dict[str, Area] = {}
        for number, row in enumerate(rows, start=1):
            if progress and number % 500 == 0:
                progress(number, len(rows))
            if row.kind == "municipality":
                municipalities[row.code] = _upsert_municipality(row, summary)
            elif row.kind == "area":
                municipality = municipalities.get(row.municipality_code) or _by_code(
                    Municipality, row.municipality_code
                )
                if municipality is None:
                    raise PopulationCsvError(
                        row.line,
                        "unknown_municipality",
                        municipality=row.municipality_code,
                        code=row.code,
                    )
                area = _upsert_area(row, municipality, summary)
                areas[row.code] = area
                _write_figures(row, area, year, summary)
            else:
                area = areas.get(row.area_code) or _by_code(Area, row.area_code)
                if area is None:
                    raise PopulationCsvError(
                        row.line, "unknown_wijk", wijk=row.area_code, code=row.code
                    )
                if _by_code(Neighbourhood, row.code) is None:
                    db.session.add(Neighbourhood(area=area, name=row.name, cbs_code=row.code))
                    summary.neighbourhoods_created += 1
        audit.record(
            None,
            "population.imported",
            None,
            rows=len(rows),
            year=year,
            figures=summary.figures_written,
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return summary


def _upsert_municipality(row: RegionRow, summary: ImportSummary) -> Municipality:
    municipality = _by_code(Municipality, row.code)
    if municipality is None:
        slug = slugify(row.name)
        if db.session.scalar(select(Municipality.id).where(Municipality.slug == slug)):
            slug = f"{slug}-{row.code.lower()}"
        municipality = Municipality(name=row.name, slug=slug, cbs_code=row.code)
        db.session.add(municipality)
        summary.municipalities += 1
    return municipality


def _upsert_area(row: RegionRow, municipality: Municipality, summary: ImportSummary) -> Area:
    area = _by_code(Area, row.code)
    if area is None:
        area = Area(municipality=municipality, name=row.name, cbs_code=row.code)
        db.session.add(area)
        summary.areas_created += 1
    elif area.municipality_id != municipality.id and municipality.id is not None:
        raise PopulationCsvError(row.line, "other_municipality", code=row.code)
    return area


def _write_figures(row: RegionRow, area: Area, year: int | None, summary: ImportSummary) -> None:
    figures_year = row.year or year
    if figures_year is None:
        raise PopulationCsvError(row.line, "no_year")
    figures = None
    if area.id is not None:
        figures = db.session.scalar(
            select(AreaPopulation).where(
                AreaPopulation.area_id == area.id, AreaPopulation.year == figures_year
            )
        )
    if figures is None:
        figures = AreaPopulation(area=area, year=figures_year, inhabitants=0, households=0)
        db.session.add(figures)
    figures.inhabitants = row.inhabitants or 0
    figures.households = row.households or 0
    for field_name, count in row.age_bands.items():
        setattr(figures, field_name, count)
    figures.need_index = row.need_index
    summary.figures_written += 1
