"""Stempas letters: a PDF to print (one A4 letter per elector, with a QR code that opens the
stempas page with the code filled in) and a mail-merge CSV for a printing house. Both are
made once, when the codes are issued: the codes exist in clear only in these files."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from urllib.parse import urlencode

import segno
from fpdf import FPDF

from buurtbudget.domain.budget import format_cheque_code
from buurtbudget.domain.spreadsheet import csv_writer
from buurtbudget.services.electorate import Letter

ENCODING = "windows-1252"
MAIL_MERGE_COLUMNS = (
    "volgnummer",
    "straat",
    "huisnummer",
    "postcode",
    "woonplaats",
    "wijk",
    "stempascode",
    "url",
)


def _text(value: object) -> str:
    return str(value).encode(ENCODING, "replace").decode(ENCODING)


def stempas_url(base_url: str, round_id: int, code: str) -> str:
    query = urlencode({"code": format_cheque_code(code)})
    return f"{base_url.rstrip('/')}/rounds/{round_id}/stempas?{query}"


def write_mail_merge(
    letters: Iterable[Letter],
    out: io.TextIOBase,
    round_id: int,
    base_url: str,
    progress: Callable[[int], None] | None = None,
) -> int:
    writer = csv_writer(out, delimiter=";")
    writer.writerow(MAIL_MERGE_COLUMNS)
    count = 0
    for count, letter in enumerate(letters, start=1):
        writer.writerow(
            (
                str(count),
                letter.street,
                letter.house,
                f"{letter.postcode[:4]} {letter.postcode[4:]}",
                letter.city,
                letter.area_name,
                format_cheque_code(letter.code),
                stempas_url(base_url, round_id, letter.code),
            )
        )
        if progress is not None and count % 1000 == 0:
            progress(count)
    return count


def letters_pdf(
    letters: Iterable[Letter],
    round_title: str,
    round_id: int,
    base_url: str,
    progress: Callable[[int], None] | None = None,
) -> bytes:
    """One A4 page per letter: address block, the code in groups of four, the QR code."""
    pdf = FPDF(format="A4")
    pdf.core_fonts_encoding = ENCODING
    pdf.set_creator("Buurtbudget")
    pdf.set_title(_text(f"Stempas - {round_title}"))
    pdf.set_auto_page_break(auto=False)
    for count, letter in enumerate(letters, start=1):
        pdf.add_page()
        pdf.set_font("Helvetica", size=11)
        pdf.set_xy(22, 50)
        street = f"{letter.street} {letter.house}".strip() if letter.street else letter.house
        address = [
            "Aan de bewoner / To the resident",
            street,
            f"{letter.postcode[:4]} {letter.postcode[4:]}  {letter.city}".rstrip(),
        ]
        pdf.multi_cell(100, 6, _text("\n".join(address)), new_x="LMARGIN", new_y="NEXT")
        pdf.set_xy(22, 100)
        pdf.set_font("Helvetica", "B", 16)
        pdf.multi_cell(0, 9, _text(f"Stempas - {round_title}"), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        pdf.set_x(22)
        pdf.multi_cell(
            166,
            6,
            _text(
                f"U mag stemmen in {letter.area_name}. Stem online met deze code, koppel hem"
                " eenmaal aan uw account, of lever deze stempas in met uw stembiljet. U kunt"
                " maar een keer stemmen.\n"
                f"You may vote in {letter.area_name}. Vote online with this code, link it once"
                " to your account, or hand in this pass with your paper ballot. You can vote"
                " only once."
            ),
            new_x="LMARGIN",
            new_y="NEXT",
        )
        pdf.set_xy(22, 150)
        pdf.set_font("Courier", "B", 18)
        pdf.cell(0, 10, format_cheque_code(letter.code))
        image = io.BytesIO()
        segno.make(stempas_url(base_url, round_id, letter.code), error="m").save(
            image, kind="png", scale=4, border=2
        )
        image.seek(0)
        pdf.image(image, x=140, y=170, w=45)
        if progress is not None and count % 1000 == 0:
            progress(count)
    return bytes(pdf.output())
