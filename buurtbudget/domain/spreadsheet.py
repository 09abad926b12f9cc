"""The one CSV writer of the app: every CSV file a person may open in a spreadsheet (open data,
results, reports, staff exports) is written through :func:`csv_writer`.

Spreadsheets run a cell that begins with ``=``, ``+``, ``-`` or ``@`` as a formula, and tab or
carriage return can smuggle one in (CSV injection: an initiative titled
``=HYPERLINK("http://evil", "Klik")`` becomes a live link in the coordinator's Excel). Such a
cell gets a leading apostrophe, which spreadsheets show as text (OWASP's advice). Numbers stay
numbers: ``-12`` or ``-1234,56`` is a negative amount, not a formula. The ``.pb`` exports are a
data format read by programs, not spreadsheets, and keep their text exactly (domain.pabulib).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any, TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:[.,][0-9]+)?")


def neutralise(cell: Any) -> Any:
    """``cell`` as a spreadsheet must show it: text that a spreadsheet would run as a formula
    gets a leading apostrophe; anything else is returned unchanged."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        if _PLAIN_NUMBER.fullmatch(cell):
            return cell
        return "'" + cell
    return cell


class SafeCsvWriter:
    """csv.writer's ``writerow``/``writerows``, with every cell passed through
    :func:`neutralise`."""

    def __init__(self, out: TextIO, **options: Any) -> None:
        self._writer = csv.writer(out, **options)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([neutralise(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(out: TextIO, *, delimiter: str = ",", lineterminator: str = "\r\n") -> SafeCsvWriter:
    """A writer for a CSV file people open in a spreadsheet (see the module's docstring)."""
    return SafeCsvWriter(out, delimiter=delimiter, lineterminator=lineterminator)
