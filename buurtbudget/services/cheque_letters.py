"""Cheque letters: a PDF to print (one A4 letter per household, with a QR code that opens the
redeem page with the code filled in) and a mail-merge CSV for a printing house. Both are made
in the action that issues (or reprints) the codes: the codes exist in clear only in these
files, never in the database (services/cheques.py stores their hashes)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from typing import BinaryIO
from urllib.parse import urlencode

import segno
from fpdf import FPDF

from buurtbudget.domain.spreadsheet import csv_writer
from buurtbudget.models import BudgetPeriod
from buurtbudget.services.cheques import IssuedCheque

ENCODING = "windows-1252"  # the PDF core fonts' encoding (it has the euro sign)
MAIL_MERGE_COLUMNS = (
    "volgnummer",
    "postcode",
    "huisnummer",
    "toevoeging",
    "wijk",
    "waarde",
    "geldig_tot",
    "chequecode",
    "url",
)


def _text(value: object) -> str:
    return str(value).encode(ENCODING, "replace").decode(ENCODING)


def redeem_url(redeem_page: str, code: str) -> str:
    """The QR code's link: the redeem page with the code filled in (it redeems nothing)."""
    return f"{redeem_page}?{urlencode({'code': code})}"


def _euros(cents: int) -> str:
    return f"€ {cents // 100},{cents % 100:02d}"


def _postcode(cheque) -> str:
    return f"{cheque.postcode[:4]} {cheque.postcode[4:]}"


def write_mail_merge(
    issued: Iterable[IssuedCheque],
    out: io.TextIOBase,
    period: BudgetPeriod,
    redeem_page: str,
    progress: Callable[[int], None] | None = None,
    progress_every: int = 1000,
) -> int:
    writer = csv_writer(out, delimiter=";")
    writer.writerow(MAIL_MERGE_COLUMNS)
    count = 0
    for count, item in enumerate(issued, start=1):
        cheque = item.cheque
        writer.writerow(
            (
                str(count),
                _postcode(cheque),
                str(cheque.house_number),
                cheque.house_addition,
                period.area.name,
                _euros(cheque.value_cents),
                cheque.expires_on.strftime("%d-%m-%Y"),
                item.printed_code,
                redeem_url(redeem_page, item.code),
            )
        )
        if progress is not None and count % progress_every == 0:
            progress(count)
    return count


def letters_pdf(
    issued: Iterable[IssuedCheque],
    period: BudgetPeriod,
    redeem_page: str,
    progress: Callable[[int], None] | None = None,
    progress_every: int = 1000,
) -> bytes:
    """One A4 page per cheque: address block, the code in groups of four, the QR code."""
    municipality, area = period.municipality.name, period.area.name
    pdf = FPDF(format="A4")
    pdf.core_fonts_encoding = ENCODING
    pdf.set_creator("Buurtbudget")
    pdf.set_title(_text(f"Buurtcheques {period.label} - {area}"))
    pdf.set_auto_page_break(auto=False)
    wrapped: dict[str, list[str]] = {}
    for count, item in enumerate(issued, start=1):
        cheque = item.cheque
        value = _euros(cheque.value_cents)
        pdf.add_page()
        pdf.set_font("Helvetica", size=11)
        address = (
            "Aan de bewoners van / To the residents of",
            f"{_postcode(cheque)}, {cheque.house_number}{cheque.house_addition}",
        )
        for y, line in zip((50, 56), address, strict=True):
            pdf.set_xy(22, y)
            pdf.cell(100, 6, _text(line))
        pdf.set_xy(22, 100)
        pdf.set_font("Helvetica", "B", 16)
        pdf.cell(166, 9, _text(f"Uw buurtcheque van {value}"))
        pdf.set_font("Helvetica", size=11)
        valid = cheque.expires_on.strftime("%d-%m-%Y")
        body = _text(
            f"De gemeente {municipality} geeft elk huishouden in {area} een cheque van"
            f" {value}. Spaar hem samen met uw buren op een initiatief in uw buurt: scan de"
            f" QR-code of ga naar {redeem_page}, log in en vul de code in. Elke code werkt"
            f" een keer. Geldig tot {valid}.\n"
            f"The municipality of {municipality} gives every household in {area} a cheque"
            f" of {value}. Pool it with your neighbours on an initiative in your"
            f" neighbourhood: scan the QR code or go to {redeem_page}, log in and enter the"
            f" code. Each code works once. Valid until {valid}."
        )
        if body not in wrapped:  # breaking the same text into lines once, not per letter
            lines = pdf.multi_cell(166, 6, body, dry_run=True, output="LINES")
            # fpdf returns the lines already in its internal (latin-1) form: back to text.
            wrapped[body] = [line.encode("latin-1").decode(ENCODING) for line in lines]
        pdf.set_y(112)
        for line in wrapped[body]:
            pdf.set_x(22)
            pdf.cell(166, 6, line, new_x="LMARGIN", new_y="NEXT")
        pdf.set_xy(22, max(170, pdf.get_y() + 8))
        pdf.set_font("Courier", "B", 18)
        pdf.cell(0, 10, item.printed_code)
        image = io.BytesIO()
        segno.make(redeem_url(redeem_page, item.code), error="m").save(
            image, kind="png", scale=4, border=2
        )
        image.seek(0)
        pdf.image(image, x=140, y=190, w=45)
        if progress is not None and count % progress_every == 0:
            progress(count)
    return bytes(pdf.output())


# The letters' formats: a PDF to print, or a mail-merge CSV for a printing house.
LETTER_FORMATS = ("pdf", "csv")
MIMETYPES = {"pdf": "application/pdf", "csv": "text/csv"}


def write_letters(
    issued: Iterable[IssuedCheque],
    out: BinaryIO,
    period: BudgetPeriod,
    redeem_page: str,
    letters: str,
    progress: Callable[[int], None] | None = None,
    progress_every: int = 1000,
) -> None:
    """The letters in format ``letters`` written to ``out``: the PDF, or the mail-merge CSV in
    UTF-8 with a byte order mark (spreadsheets then read it as UTF-8)."""
    if letters == "csv":
        text = io.TextIOWrapper(out, encoding="utf-8", newline="")
        text.write("\ufeff")
        write_mail_merge(issued, text, period, redeem_page, progress, progress_every)
        text.detach()  # flushed; ``out`` stays open
    else:
        out.write(letters_pdf(issued, period, redeem_page, progress, progress_every))


def file_name(period: BudgetPeriod, letters: str) -> str:
    """The letters' file name: the area and the period, in letters, digits and dashes."""
    return re.sub(r"[^A-Za-z0-9-]+", "-", f"cheques-{period.area.name}-{period.label}") + (
        f".{letters}"
    )
