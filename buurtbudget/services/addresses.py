"""The address table: importing the CBS/BAG file, and finding the area of an address.

``import_addresses`` streams the file (rows are parsed and written in batches, never held all
at once), in one transaction: any bad row stops the import with its line number and nothing is
written. Importing a file replaces the addresses of every municipality that appears in it, so
a new year's file can be imported over the last one (and the same file twice changes nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, insert, select

from buurtbudget.domain.addresses import (
    AddressFileError,
    HouseNumber,
    InvalidHouseNumber,
    parse_house_number,
    read_address_rows,
)
from buurtbudget.domain.postcode import InvalidPostcode, normalise_postcode
from buurtbudget.extensions import db
from buurtbudget.models import Address, Area, Neighbourhood
from buurtbudget.services import audit
from buurtbudget.services.errors import ValidationFailed

BATCH = 2_000
PROGRESS_EVERY = 10_000


@dataclass
class AddressImport:
    rows: int = 0
    municipalities: int = 0
    replaced: int = 0  # addresses of those municipalities that were there before


def import_addresses(
    lines: Iterable[str], progress: Callable[[int], None] | None = None
) -> AddressImport:
    """Import an address table (domain/addresses.py); raise AddressFileError (nothing written)
    at the first bad line, also when a wijk or buurt code is not known (import the areas with
    ``flask import-population`` first)."""
    areas = {a.cbs_code: a for a in db.session.scalars(select(Area)) if a.cbs_code}
    buurten = {n.cbs_code: n for n in db.session.scalars(select(Neighbourhood)) if n.cbs_code}
    summary = AddressImport()
    seen: dict[tuple, int] = {}
    municipalities: set[int] = set()
    batch: list[dict] = []
    try:
        for row in read_address_rows(lines):
            if row.key in seen:
                raise AddressFileError(
                    row.line,
                    "duplicate_address",
                    address=f"{row.postcode} {row.house}",
                    first=seen[row.key],
                )
            seen[row.key] = row.line
            neighbourhood = None
            if row.buurt_code is not None:
                neighbourhood = buurten.get(row.buurt_code)
                if neighbourhood is None:
                    raise AddressFileError(row.line, "unknown_buurt", buurt=row.buurt_code)
            area = neighbourhood.area if neighbourhood is not None else areas.get(row.wijk_code)
            if area is None or area.cbs_code != row.wijk_code:
                raise AddressFileError(row.line, "unknown_wijk", wijk=row.wijk_code)
            if area.municipality_id not in municipalities:
                municipalities.add(area.municipality_id)
                summary.replaced += db.session.execute(
                    delete(Address).where(Address.municipality_id == area.municipality_id)
                ).rowcount
            batch.append(
                {
                    "postcode": row.postcode,
                    "house_number": row.house.number,
                    "house_letter": row.house.letter,
                    "house_suffix": row.house.suffix,
                    "municipality_id": area.municipality_id,
                    "area_id": area.id,
                    "neighbourhood_id": neighbourhood.id if neighbourhood is not None else None,
                }
            )
            summary.rows += 1
            if len(batch) >= BATCH:
                db.session.execute(insert(Address), batch)
                batch.clear()
            if progress is not None and summary.rows % PROGRESS_EVERY == 0:
                progress(summary.rows)
        if batch:
            db.session.execute(insert(Address), batch)
        summary.municipalities = len(municipalities)
        audit.record(
            None,
            "addresses.imported",
            None,
            rows=summary.rows,
            municipalities=summary.municipalities,
            replaced=summary.replaced,
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return summary


def find_address(postcode: str, house: HouseNumber) -> Address | None:
    """The address row of exactly this postcode, number, letter and suffix, or None."""
    return db.session.scalar(
        select(Address).where(
            Address.postcode == postcode,
            Address.house_number == house.number,
            Address.house_letter == house.letter,
            Address.house_suffix == house.suffix,
        )
    )


def find_house(postcode: str, house_number: int) -> Address | None:
    """An address row of this postcode and house number, whatever its letter or addition (the
    lowest): where a cheque letter, addressed by number alone, goes."""
    return db.session.scalars(
        select(Address)
        .where(Address.postcode == postcode, Address.house_number == house_number)
        .order_by(Address.id)
        .limit(1)
    ).first()


NOT_IN_ADDRESS_FILE = _l(
    "This address is not in the municipality's address file. Check the postcode and house"
    " number (with its letter or addition, e.g. 12a or 12-2)."
)


def lookup(postcode_text: str, house_text: str) -> Address:
    """The address of a form's postcode and house number; ValidationFailed with a clear
    message when either is malformed or the address is not in the address file."""
    try:
        postcode = normalise_postcode(postcode_text or "")
    except InvalidPostcode:
        raise ValidationFailed(
            _l("This is not a valid Dutch postcode (e.g. 2611 AB)."), field="postcode"
        ) from None
    try:
        house = parse_house_number(str(house_text or ""))
    except InvalidHouseNumber:
        raise ValidationFailed(
            _l("This is not a valid house number (e.g. 12, 12a or 12-2)."), field="house_number"
        ) from None
    address = find_address(postcode, house)
    if address is None:
        raise ValidationFailed(NOT_IN_ADDRESS_FILE, field="house_number")
    return address
