"""Reading population figures in the layout of CBS "Kerncijfers wijken en buurten".

CBS publishes one table per year with a row per municipality, wijk and buurt. We read the
columns below (names as CBS uses them); others are ignored. Separator ';' or ',' (detected).

=============  ===========================================================================
column         meaning
=============  ===========================================================================
gwb_code       region code: GM0503 (municipality), WK050321 (wijk), BU05032101 (buurt)
regio          region name ("Binnenstad")
recs           "Gemeente", "Wijk" or "Buurt"
a_inw          inhabitants (required for Wijk rows)
a_hh           households (required for Wijk rows)
a_00_14 ...    optional inhabitants per age band: a_00_14, a_15_24, a_25_44, a_45_64, a_65_oo
need_index     optional, not a CBS column: a need/deprivation index chosen by the municipality
jaar           optional year column; otherwise the year is given on the command line
=============  ===========================================================================

CBS writes "." (or an empty cell) for unknown or suppressed figures; those read as "unknown",
which is only allowed for the optional columns. Thousands separators are not used by CBS.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field

from buurtbudget.domain.numbers import INT32_MAX, InvalidNumber, is_ascii_digits, parse_int

AGE_COLUMNS = {
    "a_00_14": "age_0_14",
    "a_15_24": "age_15_24",
    "a_25_44": "age_25_44",
    "a_45_64": "age_45_64",
    "a_65_oo": "age_65_plus",
}
REQUIRED_COLUMNS = ("gwb_code", "regio", "recs", "a_inw", "a_hh")
KINDS = {"gemeente": "municipality", "wijk": "area", "buurt": "neighbourhood"}


# Why a file is refused: a code with its English text, for the command line and the logs. The
# screens translate the code instead (services/file_messages.py), so the domain stays free of
# Babel; every code here has a translation there (tests/services/test_file_messages.py).
MESSAGES = {
    "empty_file": "the file is empty; a header row is needed",
    "missing_columns": "missing column(s): %(columns)s",
    "wrong_width": "expected %(expected)d columns, found %(found)d",
    "bad_recs": "recs must be Gemeente, Wijk or Buurt, not %(value)s",
    "bad_municipality_code": "%(code)s is not a valid code for a municipality",
    "bad_area_code": "%(code)s is not a valid code for a area",
    "bad_neighbourhood_code": "%(code)s is not a valid code for a neighbourhood",
    "duplicate_code": "%(code)s already appeared on line %(first)d",
    "empty_name": "column regio (name) is empty",
    "bad_need_index": "need_index should be a number, not %(value)s",
    "empty_count": "column %(column)s is empty, a whole number is needed",
    "bad_count": "column %(column)s should be a whole number, not %(value)s",
    "negative_count": "column %(column)s cannot be negative (%(number)d)",
    "no_data_rows": "the file has a header but no data rows",
    # Found by the import service (it knows the municipalities and areas already stored).
    "unknown_municipality": (
        "municipality %(municipality)s of %(code)s is unknown: add its Gemeente row to the file"
    ),
    "unknown_wijk": "wijk %(wijk)s of buurt %(code)s is unknown",
    "other_municipality": "%(code)s belongs to another municipality",
    "no_year": "no year: add a 'jaar' column or pass --year on the command line",
}


class PopulationCsvError(ValueError):
    """A problem in the file, with the 1-based line number where it was found: a ``code`` of
    ``MESSAGES`` and its ``params``; ``message`` is the English text."""

    def __init__(self, line: int, code: str, /, **params: object):
        self.line = line
        self.code = code
        self.params = params
        self.message = MESSAGES[code] % params
        super().__init__(f"line {line}: {self.message}")


@dataclass(frozen=True)
class RegionRow:
    line: int
    kind: str  # "municipality" | "area" | "neighbourhood"
    code: str
    name: str
    year: int | None
    inhabitants: int | None = None
    households: int | None = None
    age_bands: dict[str, int | None] = field(default_factory=dict)
    need_index: float | None = None

    @property
    def municipality_code(self) -> str:
        return "GM" + self.code[2:6]

    @property
    def area_code(self) -> str:
        return "WK" + self.code[2:8]


def _count(value: str, line: int, column: str, required: bool) -> int | None:
    value = value.strip()
    if value in {"", "."}:
        if required:
            raise PopulationCsvError(line, "empty_count", column=column)
        return None
    try:
        number = parse_int(value, minimum=-INT32_MAX)
    except InvalidNumber:
        raise PopulationCsvError(line, "bad_count", column=column, value=repr(value)) from None
    if number < 0:
        raise PopulationCsvError(line, "negative_count", column=column, number=number)
    return number


def _code_ok(kind: str, code: str) -> bool:
    expected = {"municipality": ("GM", 6), "area": ("WK", 8), "neighbourhood": ("BU", 10)}[kind]
    return code.startswith(expected[0]) and len(code) == expected[1] and is_ascii_digits(code[2:])


def read_population_csv(text: str | Iterable[str]) -> list[RegionRow]:
    """Parse the whole file; raise PopulationCsvError at the first bad line."""
    if isinstance(text, str):
        text = io.StringIO(text)
    lines = list(text)
    if not lines or not lines[0].strip():
        raise PopulationCsvError(1, "empty_file")
    header_line = lines[0].lstrip("\ufeff")
    delimiter = ";" if header_line.count(";") >= header_line.count(",") else ","
    reader = csv.reader([header_line, *lines[1:]], delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader)]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise PopulationCsvError(1, "missing_columns", columns=", ".join(missing))
    index = {name: i for i, name in enumerate(header)}

    rows: list[RegionRow] = []
    seen: dict[str, int] = {}
    for line_no, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise PopulationCsvError(line_no, "wrong_width", expected=len(header), found=len(cells))

        def cell(name: str, cells: list[str] = cells) -> str:
            return cells[index[name]].strip() if name in index else ""

        kind = KINDS.get(cell("recs").lower())
        if kind is None:
            raise PopulationCsvError(line_no, "bad_recs", value=repr(cell("recs")))
        code = cell("gwb_code").upper()
        if not _code_ok(kind, code):
            raise PopulationCsvError(line_no, f"bad_{kind}_code", code=repr(code))
        if code in seen:
            raise PopulationCsvError(line_no, "duplicate_code", code=code, first=seen[code])
        seen[code] = line_no
        name = cell("regio")
        if not name:
            raise PopulationCsvError(line_no, "empty_name")
        year = _count(cell("jaar"), line_no, "jaar", required=False)
        is_area = kind == "area"
        need_raw = cell("need_index")
        need_index = None
        if need_raw not in {"", "."}:
            try:
                need_index = float(need_raw.replace(",", "."))
            except ValueError:
                raise PopulationCsvError(line_no, "bad_need_index", value=repr(need_raw)) from None
        rows.append(
            RegionRow(
                line=line_no,
                kind=kind,
                code=code,
                name=name,
                year=year,
                inhabitants=_count(cell("a_inw"), line_no, "a_inw", required=is_area),
                households=_count(cell("a_hh"), line_no, "a_hh", required=is_area),
                age_bands={
                    field_name: _count(cell(column), line_no, column, required=False)
                    for column, field_name in AGE_COLUMNS.items()
                },
                need_index=need_index,
            )
        )
    if not rows:
        raise PopulationCsvError(len(lines), "no_data_rows")
    return rows
