"""Dutch addresses: house numbers as people write them, and the rows of an address table in
the CBS/BAG layout (postcode + house number + letter + suffix -> buurt / wijk).

A BAG address ("nummeraanduiding") is a postcode, a house number (1-99999), an optional house
letter (one letter: ``12a``) and an optional suffix ("huisnummertoevoeging", up to four letters
or digits: ``12-2``, ``12 bis``, ``12a-3``). CBS publishes per year which buurt and wijk each
postcode + house number lies in. We read the columns below (names as CBS/BAG use them, case
ignored); the separator ``;`` or ``,`` is detected from the header.

===================  =================================================================
column               meaning
===================  =================================================================
postcode (pc6)       ``2611AB`` or ``2611 AB``
huisnummer           1 to 99999; may also carry the letter and suffix (``12a-2``)
huisletter           optional, one letter
toevoeging           optional, up to 4 letters or digits (also ``huisnummertoevoeging``)
buurtcode            optional CBS buurt code, ``BU05032101`` (or the 8 digits)
wijkcode             CBS wijk code, ``WK050321`` (or the 6 digits); may be left out when
                     the buurt code is given
===================  =================================================================

The reader is a generator: a file of millions of rows is read line by line, never whole.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from buurtbudget.domain.postcode import InvalidPostcode, normalise_postcode

# "12", "12a", "12 A", "12-2", "12a-2", "12 bis", "12/3": number, letter, suffix.
_HOUSE = re.compile(
    r"^(?P<number>[0-9]{1,5})"
    r"(?:\s*(?P<letter>[A-Za-z])(?![A-Za-z]))?"
    # A suffix follows a separator, or directly the letter ("12a2").
    r"(?:(?:\s*[-/ ]\s*|(?<=[A-Za-z]))(?P<suffix>[A-Za-z0-9]{1,4}))?$"
)
HEADER_ALIASES = {
    "postcode": ("postcode", "pc6"),
    "huisnummer": ("huisnummer", "huisnr"),
    "huisletter": ("huisletter",),
    "toevoeging": ("toevoeging", "huisnummertoevoeging", "huisnrtoev"),
    "buurtcode": ("buurtcode", "buurt_code", "buurt"),
    "wijkcode": ("wijkcode", "wijk_code", "wijk"),
}


class InvalidHouseNumber(ValueError):
    pass


@dataclass(frozen=True)
class HouseNumber:
    number: int
    letter: str = ""  # upper case, "" when none
    suffix: str = ""  # upper case, "" when none

    def __str__(self) -> str:
        text = f"{self.number}{self.letter.lower()}"
        return f"{text}-{self.suffix}" if self.suffix else text


def parse_house_number(text: str, letter: str = "", suffix: str = "") -> HouseNumber:
    """``"12a-2"`` -> HouseNumber(12, "A", "2"). Letter and suffix may also come separately
    (the BAG columns). Raises InvalidHouseNumber."""
    match = _HOUSE.match((text or "").strip())
    if match is None:
        raise InvalidHouseNumber(text)
    number = int(match["number"])
    if not 1 <= number <= 99999:
        raise InvalidHouseNumber(text)
    found_letter = (match["letter"] or "").upper()
    found_suffix = (match["suffix"] or "").upper()
    letter, suffix = (letter or "").strip().upper(), (suffix or "").strip().upper()
    if letter and found_letter or suffix and found_suffix:
        raise InvalidHouseNumber(text)
    letter, suffix = letter or found_letter, suffix or found_suffix
    if letter and not (len(letter) == 1 and letter.isalpha()):
        raise InvalidHouseNumber(letter)
    if suffix and not (len(suffix) <= 4 and suffix.isalnum()):
        raise InvalidHouseNumber(suffix)
    return HouseNumber(number, letter, suffix)


# What can be wrong with a line, by code: the English text (the command line shows it). The
# screens translate the code instead (services/address_messages.py), so the domain stays free
# of Babel; every code here has a translation there (tests/services/test_address_messages.py).
MESSAGES = {
    "empty_file": "the file is empty; a header row is needed",
    "no_data_rows": "the file has a header but no data rows",
    "missing_columns": "missing column(s): %(columns)s",
    "wrong_width": "expected %(expected)d columns, found %(found)d",
    "bad_postcode": "'%(value)s' is not a valid Dutch postcode",
    "bad_house_number": "'%(value)s' is not a valid house number",
    "bad_cbs_code": "%(column)s '%(value)s' is not a CBS code like %(prefix)s...",
    "no_area_code": "neither a wijkcode nor a buurtcode",
    "buurt_outside_wijk": "buurt %(buurt)s does not lie in wijk %(wijk)s",
    "bad_person_key": "the person key must be 1 to %(max)d characters",
    "bad_birth_date": "'%(value)s' is not a birth date (1984-05-17) or year",
    # Found by the services (they know the address table and the areas).
    "not_utf8": "this line is not UTF-8 text; save the file as UTF-8",
    "duplicate_address": "%(address)s already appeared on line %(first)d",
    "unknown_buurt": "buurt %(buurt)s is not known",
    "unknown_wijk": "wijk %(wijk)s is not known (import it with import-population first)",
    "duplicate_person": "this person key already appeared on line %(first)d",
    "unknown_address": "address %(address)s is not in the address file",
}


class AddressFileError(ValueError):
    """A problem in a file, with the 1-based line number where it was found: a ``code`` of
    ``MESSAGES`` and its ``params``; ``message`` is the English text."""

    def __init__(self, line: int, code: str, **params: object):
        self.line = line
        self.code = code
        self.params = params
        self.message = MESSAGES[code] % params
        super().__init__(f"line {line}: {self.message}")


@dataclass(frozen=True)
class AddressRow:
    line: int
    postcode: str
    house: HouseNumber
    buurt_code: str | None  # "BU05032101"
    wijk_code: str | None  # "WK050321"

    @property
    def key(self) -> tuple[str, int, str, str]:
        return (self.postcode, self.house.number, self.house.letter, self.house.suffix)


def _code(value: str, prefix: str, digits: int, line: int, column: str) -> str | None:
    value = value.strip().upper()
    if not value:
        return None
    if value.isdigit():
        value = prefix + value.zfill(digits)
    if not (value.startswith(prefix) and len(value) == digits + 2 and value[2:].isdigit()):
        raise AddressFileError(line, "bad_cbs_code", column=column, value=value, prefix=prefix)
    return value


def _header(lines: Iterator[str]) -> tuple[str, dict[str, int]]:
    first = next(lines, "")
    header_line = first.lstrip("\ufeff")
    if not header_line.strip():
        raise AddressFileError(1, "empty_file")
    delimiter = ";" if header_line.count(";") >= header_line.count(",") else ","
    names = [h.strip().lower() for h in next(csv.reader([header_line], delimiter=delimiter))]
    return delimiter, {name: i for i, name in enumerate(names)}


def _columns(index: dict[str, int], aliases: dict[str, tuple[str, ...]]) -> dict[str, int]:
    found = {}
    for column, names in aliases.items():
        for name in names:
            if name in index:
                found[column] = index[name]
                break
    return found


Refuse = Callable[[AddressFileError], None]


def _data_rows(
    lines: Iterator[str],
    delimiter: str,
    width: int,
    columns: dict[str, int],
    refuse: Refuse | None = None,
) -> Iterator[tuple[int, Callable[[str], str]]]:
    """The lines after the header, shared by the address table and the register extract:
    (line number, the cell of a column by name, "" for an absent column) for each non-empty
    line; AddressFileError for a line of the wrong width (passed to ``refuse`` and skipped
    when given), and at the end when there was no data line at all."""
    any_rows = False
    line_no = 1
    for line_no, cells in enumerate(csv.reader(lines, delimiter=delimiter), start=2):
        if not any(c.strip() for c in cells):
            continue
        any_rows = True
        if len(cells) != width:
            error = AddressFileError(line_no, "wrong_width", expected=width, found=len(cells))
            if refuse is None:
                raise error
            refuse(error)
            continue

        def cell(name: str, cells: list[str] = cells) -> str:
            return cells[columns[name]].strip() if name in columns else ""

        yield line_no, cell
    if not any_rows:
        raise AddressFileError(line_no, "no_data_rows")


def _postcode(text: str, line_no: int) -> str:
    try:
        return normalise_postcode(text)
    except InvalidPostcode:
        raise AddressFileError(line_no, "bad_postcode", value=text) from None


def read_address_rows(lines: Iterable[str]) -> Iterator[AddressRow]:
    """Yield the rows of an address table one by one; raise AddressFileError at the first
    bad line (with its number). Empty lines are skipped."""
    lines = iter(lines)
    delimiter, index = _header(lines)
    columns = _columns(index, HEADER_ALIASES)
    missing = [c for c in ("postcode", "huisnummer") if c not in columns]
    if "buurtcode" not in columns and "wijkcode" not in columns:
        missing.append("wijkcode or buurtcode")
    if missing:
        raise AddressFileError(1, "missing_columns", columns=", ".join(missing))
    for line_no, cell in _data_rows(lines, delimiter, len(index), columns):
        postcode = _postcode(cell("postcode"), line_no)
        try:
            house = parse_house_number(cell("huisnummer"), cell("huisletter"), cell("toevoeging"))
        except InvalidHouseNumber:
            text = " ".join(
                filter(None, (cell("huisnummer"), cell("huisletter"), cell("toevoeging")))
            )
            raise AddressFileError(line_no, "bad_house_number", value=text) from None
        buurt = _code(cell("buurtcode"), "BU", 8, line_no, "buurtcode")
        wijk = _code(cell("wijkcode"), "WK", 6, line_no, "wijkcode")
        if buurt is None and wijk is None:
            raise AddressFileError(line_no, "no_area_code")
        if buurt is not None and wijk is not None and buurt[2:8] != wijk[2:]:
            raise AddressFileError(line_no, "buurt_outside_wijk", buurt=buurt, wijk=wijk)
        yield AddressRow(line_no, postcode, house, buurt, wijk or "WK" + buurt[2:8])


# The register extract ------------------------------------------------------------------------

EXTRACT_ALIASES = {
    "person_key": ("persoonssleutel", "person_key", "sleutel", "key"),
    "birth": ("geboortedatum", "geboortejaar", "birth_date", "birth_year"),
    "postcode": ("postcode", "pc6"),
    "huisnummer": ("huisnummer", "huisnr"),
    "huisletter": ("huisletter",),
    "toevoeging": ("toevoeging", "huisnummertoevoeging", "huisnrtoev"),
    "straat": ("straat", "straatnaam", "openbareruimtenaam"),
    "woonplaats": ("woonplaats", "woonplaatsnaam"),
}
PERSON_KEY_MAX = 64


@dataclass(frozen=True)
class ExtractRow:
    line: int
    person_key: str
    birth_year: int
    postcode: str
    house: HouseNumber
    street: str
    city: str


def _birth_year(value: str, line: int) -> int:
    """``1984``, ``1984-05-17``, ``19840517`` or ``17-05-1984`` -> 1984."""
    value = value.strip()
    match = re.fullmatch(r"([12][0-9]{3})(?:-?[01][0-9]-?[0-3][0-9])?", value) or re.fullmatch(
        r"[0-3]?[0-9]-[01]?[0-9]-([12][0-9]{3})", value
    )
    if match is None:
        raise AddressFileError(line, "bad_birth_date", value=value)
    return int(match.group(1))


def read_register_extract(
    lines: Iterable[str], refuse: Refuse | None = None
) -> Iterator[ExtractRow]:
    """Yield the rows of a register extract (BRP) one by one: an opaque person key, a birth
    date or year and an address; raise AddressFileError at the first bad line. With
    ``refuse``, a bad data line is passed to it and skipped, so that a preview can list every
    refused line (a bad header still raises: no line of the file can be read then)."""
    lines = iter(lines)
    delimiter, index = _header(lines)
    columns = _columns(index, EXTRACT_ALIASES)
    missing = [c for c in ("person_key", "birth", "postcode", "huisnummer") if c not in columns]
    if missing:
        names = {"person_key": "persoonssleutel", "birth": "geboortedatum"}
        raise AddressFileError(
            1, "missing_columns", columns=", ".join(names.get(c, c) for c in missing)
        )
    for line_no, cell in _data_rows(lines, delimiter, len(index), columns, refuse):
        try:
            row = _extract_row(line_no, cell)
        except AddressFileError as error:
            if refuse is None:
                raise
            refuse(error)
            continue
        yield row


def _extract_row(line_no: int, cell: Callable[[str], str]) -> ExtractRow:
    key = cell("person_key")
    if not key or len(key) > PERSON_KEY_MAX:
        raise AddressFileError(line_no, "bad_person_key", max=PERSON_KEY_MAX)
    postcode = _postcode(cell("postcode"), line_no)
    try:
        house = parse_house_number(cell("huisnummer"), cell("huisletter"), cell("toevoeging"))
    except InvalidHouseNumber:
        raise AddressFileError(line_no, "bad_house_number", value=cell("huisnummer")) from None
    return ExtractRow(
        line_no,
        key,
        _birth_year(cell("birth"), line_no),
        postcode,
        house,
        cell("straat")[:120],
        cell("woonplaats")[:80],
    )
