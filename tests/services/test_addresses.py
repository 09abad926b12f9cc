"""Issue 14 item 1: `flask import-addresses` (CBS/BAG layout), house numbers like 12a and 12-2,
and registration taking the area from the address file, never guessing it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from buurtbudget.domain.addresses import (
    AddressFileError,
    HouseNumber,
    InvalidHouseNumber,
    parse_house_number,
    read_address_rows,
)
from buurtbudget.extensions import db
from buurtbudget.models import Address, AuditEntry, Neighbourhood, User
from buurtbudget.services import addresses

HEADER = "postcode;huisnummer;huisletter;toevoeging;buurtcode;wijkcode\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", HouseNumber(12)),
        ("12a", HouseNumber(12, "A")),
        ("12 A", HouseNumber(12, "A")),
        ("12-2", HouseNumber(12, "", "2")),
        ("12a-2", HouseNumber(12, "A", "2")),
        ("12 bis", HouseNumber(12, "", "BIS")),
        ("99999", HouseNumber(99999)),
    ],
)
def test_house_numbers_as_people_write_them(text, expected):
    assert parse_house_number(text) == expected


@pytest.mark.parametrize("text", ["", "0", "a12", "100000", "12-", "12-toolong", "12 a b c"])
def test_bad_house_numbers_are_refused(text):
    with pytest.raises(InvalidHouseNumber):
        parse_house_number(text)


def test_reader_streams_and_reports_the_line_of_a_bad_row():
    lines = iter([HEADER, "2611AA;1;;;BU05032101;WK050321\n", "2611AA;x;;;;WK050321\n"])
    rows = read_address_rows(lines)
    assert next(rows).house == HouseNumber(1)  # the first row comes before line 3 is read
    with pytest.raises(AddressFileError, match="line 3: 'x' is not a valid house number"):
        next(rows)


@pytest.fixture
def delft(make):
    municipality = make.municipality("Delft", cbs_code="GM0503")
    binnenstad = make.area(municipality, "Binnenstad")
    tanthof = make.area(municipality, "Tanthof")
    binnenstad.cbs_code, tanthof.cbs_code = "WK050321", "WK050327"
    db.session.add(Neighbourhood(area=binnenstad, name="Markt", cbs_code="BU05032102"))
    db.session.commit()
    return binnenstad, tanthof


def _write(tmp_path, text: str):
    path = tmp_path / "adressen.csv"
    path.write_text(text, encoding="utf-8")
    return path


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_import_addresses_command_reads_bag_layout_and_is_reimportable(app, delft, tmp_path):
    binnenstad, tanthof = delft
    path = _write(
        tmp_path,
        HEADER
        + "2611 AA;12;a;;BU05032102;WK050321\n"
        + "2611AA;12;;2;;WK050321\n"
        + "2611AA;12;;;;WK050321\n"
        + "2625AB;7;;;;050327\n",
    )
    runner = app.test_cli_runner()
    for _attempt in range(2):  # the same file twice: the same table
        result = runner.invoke(args=["import-addresses", str(path)])
        assert result.exit_code == 0, result.output
        assert _count(Address) == 4
    assert "Imported 4 addresses of 1 municipalities (replacing 4)" in result.output
    found = addresses.lookup("2611aa", "12a")
    assert (found.area_id, found.neighbourhood.name) == (binnenstad.id, "Markt")
    assert addresses.lookup("2611 AA", "12-2").area_id == binnenstad.id
    assert addresses.lookup("2625AB", "7").area_id == tanthof.id
    assert _count(AuditEntry) == 2


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("2611AA;13;;;;WK059999", "line 4: wijk WK059999 is not known"),
        ("2611AB;2;;;;WK050321", "line 4: 2611AB 2 already appeared on line 3"),
        ("26110;13;;;;WK050321", "line 4: '26110' is not a valid Dutch postcode"),
        ("2611AA;13;;;BU05032702;WK050321", "line 4: buurt BU05032702 does not lie in wijk"),
        ("2611AA;13;;;;", "line 4: neither a wijkcode nor a buurtcode"),
    ],
)
def test_a_bad_row_stops_the_import_with_its_line_and_writes_nothing(
    app, delft, tmp_path, row, message
):
    runner = app.test_cli_runner()
    good = HEADER + "2611AA;12;;;;WK050321\n"
    assert runner.invoke(args=["import-addresses", str(_write(tmp_path, good))]).exit_code == 0
    path = _write(tmp_path, HEADER + "2611AB;1;;;;WK050321\n2611AB;2;;;;WK050321\n" + row + "\n")
    result = runner.invoke(args=["import-addresses", str(path)])
    assert result.exit_code != 0
    assert message in result.output and "Nothing was imported" in result.output
    # The earlier table is untouched: not deleted, nothing of the bad file added.
    assert [(a.postcode, a.house_number) for a in db.session.scalars(select(Address))] == [
        ("2611AA", 12)
    ]


def _register(client, **overrides):
    data = {
        "display_name": "Fatima",
        "email": "fatima@example.org",
        "postcode": "2611 aa",
        "house_number": "12a",
        "birth_year": "1990",
        "password": "een lang wachtwoord",
        "confirm": "een lang wachtwoord",
    }
    data.update(overrides)
    return client.post("/account/register", data=data)


def test_registration_takes_the_area_from_the_address_file(app, make, client):
    area = make.area(name="Binnenstad", postcode="2611AA")
    assert _register(client).status_code == 302
    user = db.session.scalar(select(User))
    assert (user.home_area_id, user.house_number, user.house_letter) == (area.id, 12, "A")


@pytest.mark.parametrize(
    ("postcode", "house", "message"),
    [
        ("2611 AA", "41", b"not in the municipality"),
        ("9999 ZZ", "12", b"not in the municipality"),
        ("2611 AA", "12z-", b"not a valid house number"),
    ],
)
def test_an_address_not_in_the_file_is_refused_with_a_clear_message(
    app, make, client, postcode, house, message
):
    make.area(name="Binnenstad", postcode="2611AA")
    response = _register(client, postcode=postcode, house_number=house)
    assert response.status_code == 400
    assert message in response.data
    assert db.session.scalar(select(User)) is None
