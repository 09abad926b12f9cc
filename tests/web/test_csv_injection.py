"""Every CSV the app writes neutralises cells a spreadsheet would run as a formula (issue 15:
an initiative titled =HYPERLINK(...) reached the public CSV exports unescaped)."""

from __future__ import annotations

import ast
import csv
import io
from pathlib import Path

import pytest

from buurtbudget.domain.spreadsheet import csv_writer, neutralise
from buurtbudget.services.voting import counting as voting_results

PACKAGE = Path(__file__).resolve().parents[2] / "buurtbudget"
FORMULA = '=HYPERLINK("http://evil.example/steal","Klik hier")'


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        (FORMULA, "'" + FORMULA),
        ("+31 6 12345678", "'+31 6 12345678"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("Speeltuin Tanthof", "Speeltuin Tanthof"),
        ("-1234,56", "-1234,56"),
        ("-12", "-12"),
        (-5, -5),
        (None, None),
    ],
)
def test_formula_cells_are_neutralised_and_numbers_kept(cell, shown):
    assert neutralise(cell) == shown


def test_the_writer_neutralises_every_cell():
    out = io.StringIO()
    csv_writer(out, delimiter=";").writerows([["a", FORMULA], ["-1,50", "@x"]])
    assert list(csv.reader(io.StringIO(out.getvalue()), delimiter=";")) == [
        ["a", "'" + FORMULA],
        ["-1,50", "'@x"],
    ]


def test_no_module_writes_csv_past_the_shared_writer():
    """csv.writer and csv.DictWriter only in domain/spreadsheet.py (and domain/pabulib.py, whose
    .pb files are a data format read by programs, where text must stay as it was)."""
    allowed = {"spreadsheet.py", "pabulib.py"}
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in {"writer", "DictWriter"}
                and isinstance(node.value, ast.Name)
                and node.value.id == "csv"
            ):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []


def _rows(body: bytes, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=delimiter))


def test_open_data_csv_neutralises_an_initiative_title(client, make):
    area = make.area(make.municipality("Delft"), name="Tanthof")
    make.open_initiative(area, FORMULA, 500_00)
    response = client.get("/api/v1/initiatives.csv")
    assert response.status_code == 200
    cells = [cell for row in _rows(response.data) for cell in row]
    assert "'" + FORMULA in cells
    assert FORMULA not in cells


def test_open_data_csv_neutralises_an_area_name(client, make):
    make.area(make.municipality("Delft"), name="@Tanthof")
    cells = [cell for row in _rows(client.get("/api/v1/areas.csv").data) for cell in row]
    assert "'@Tanthof" in cells and "@Tanthof" not in cells


def test_results_csv_neutralises_a_project_name(app, make):
    area = make.area(make.municipality("Delft"), name="Tanthof")
    make.open_initiative(area, FORMULA, 300_00)
    voting_round = make.voting_round(area)
    cells = [
        cell for row in _rows(voting_results.results_csv(voting_round).encode()) for cell in row
    ]
    assert "'" + FORMULA in cells and FORMULA not in cells
