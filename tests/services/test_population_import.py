"""`flask import-population`: CBS kerncijfers layout, all-or-nothing, line-numbered errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from buurtbudget.domain.population_csv import PopulationCsvError, read_population_csv
from buurtbudget.extensions import db
from buurtbudget.models import Area, AreaPopulation, Municipality, Neighbourhood

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "kerncijfers_delft_sample.csv"


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_import_creates_municipality_areas_neighbourhoods_and_figures(app):
    result = app.test_cli_runner().invoke(args=["import-population", str(SAMPLE), "--year", "2025"])
    assert result.exit_code == 0, result.output
    assert "3 new areas" in result.output
    municipality = db.session.scalar(select(Municipality))
    assert (municipality.name, municipality.cbs_code) == ("Delft", "GM0503")
    buitenhof = db.session.scalar(select(Area).where(Area.cbs_code == "WK050326"))
    figures = buitenhof.population_for(2025)
    assert (figures.inhabitants, figures.households) == (14750, 7100)
    assert figures.age_band_counts() == {
        "age_0_14": 2500,
        "age_15_24": 1900,
        "age_25_44": 4100,
        "age_45_64": 3600,
        "age_65_plus": 2650,
    }
    tanthof = db.session.scalar(select(Area).where(Area.name == "Tanthof"))
    assert tanthof.population_for(2025).age_band_counts() is None  # "." means unknown
    assert _count(Neighbourhood) == 2


def test_import_twice_updates_instead_of_duplicating(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["import-population", str(SAMPLE), "--year", "2025"])
    result = runner.invoke(args=["import-population", str(SAMPLE), "--year", "2025"])
    assert result.exit_code == 0
    assert _count(Area) == 3 and _count(AreaPopulation) == 3


BAD_FILES = {
    "negative inhabitants": (
        "gwb_code;regio;recs;a_inw;a_hh\nGM0503;Delft;Gemeente;1;1\n"
        "WK050321;Binnenstad;Wijk;100;50\nWK050322;Vrijenban;Wijk;-5;50\n",
        "line 4: column a_inw cannot be negative",
    ),
    "not a number": (
        "gwb_code;regio;recs;a_inw;a_hh\nGM0503;Delft;Gemeente;1;1\n"
        "WK050321;Binnenstad;Wijk;100;veel\n",
        "line 3: column a_hh should be a whole number, not 'veel'",
    ),
    "missing column": (
        "gwb_code;regio;recs;a_inw\nGM0503;Delft;Gemeente;1\n",
        "line 1: missing column(s): a_hh",
    ),
    "unknown municipality": (
        "gwb_code;regio;recs;a_inw;a_hh\nWK050321;Binnenstad;Wijk;100;50\n",
        "line 2: municipality GM0503 of WK050321 is unknown",
    ),
    "wrong column count": (
        "gwb_code;regio;recs;a_inw;a_hh\nGM0503;Delft;Gemeente;1;1\nWK050321;Binnenstad;Wijk;1\n",
        "line 3: expected 5 columns, found 4",
    ),
    "bad recs": (
        "gwb_code;regio;recs;a_inw;a_hh\nGM0503;Delft;Provincie;1;1\n",
        "line 2: recs must be Gemeente, Wijk or Buurt",
    ),
    "duplicate code": (
        "gwb_code;regio;recs;a_inw;a_hh\nGM0503;Delft;Gemeente;1;1\n"
        "WK050321;A;Wijk;1;1\nWK050321;B;Wijk;1;1\n",
        "line 4: WK050321 already appeared on line 3",
    ),
    "empty": ("", "line 1: the file is empty"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_gives_line_numbered_error_and_imports_nothing(app, tmp_path, case):
    content, message = BAD_FILES[case]
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import-population", str(path), "--year", "2025"])
    assert result.exit_code == 1
    assert message in result.output
    assert "Nothing was imported" in result.output
    assert "Traceback" not in result.output
    assert _count(Municipality) == 0 and _count(Area) == 0 and _count(AreaPopulation) == 0


def test_file_that_is_not_utf8_is_refused_clearly(app, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        "gwb_code;regio;recs;a_inw;a_hh\nGM0503;Gr\xf6ningen;Gemeente;1;1\n".encode("latin-1")
    )
    result = app.test_cli_runner().invoke(args=["import-population", str(path), "--year", "2025"])
    assert result.exit_code == 1
    assert "not UTF-8" in result.output


def test_missing_year_is_a_clear_error(app):
    result = app.test_cli_runner().invoke(args=["import-population", str(SAMPLE)])
    assert result.exit_code == 1
    assert "line 3: no year" in result.output


def test_parser_accepts_comma_separated_files_and_a_year_column():
    rows = read_population_csv("gwb_code,regio,recs,a_inw,a_hh,jaar\nWK050321,B,Wijk,10,5,2024\n")
    assert rows[0].year == 2024 and rows[0].inhabitants == 10


def test_parser_error_carries_line_number():
    with pytest.raises(PopulationCsvError) as error:
        read_population_csv("gwb_code;regio;recs;a_inw;a_hh\nXX1;B;Wijk;1;1\n")
    assert error.value.line == 2
