"""Whole numbers from text that people type or send: ASCII digits only, bounded.

Python's ``int()`` and ``str.isdigit()`` accept far more than a resident means by a number:
superscripts ("²" passes ``isdigit()`` and then fails in ``int()``), Arabic-Indic digits
("١٢" is 12 to ``int()``), underscores ("1_000") and numbers of any length, which overflow
the database's integer columns. Every number read from a request, a form or an uploaded file
goes through :func:`parse_int`, so all paths accept exactly the same texts.
"""

from __future__ import annotations

import re

# The largest value of a 32-bit integer column (ids, counts, years): also the default bound.
INT32_MAX = 2_147_483_647

_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,19}")


class InvalidNumber(ValueError):
    """Text that is not a whole number within the bounds asked for."""


def parse_int(text: str | None, *, minimum: int = 0, maximum: int = INT32_MAX) -> int:
    """The whole number ``text`` spells in ASCII digits (an optional leading minus, spaces
    around it allowed), within ``minimum`` and ``maximum``; :class:`InvalidNumber` otherwise."""
    if text is None:
        raise InvalidNumber(text)
    cleaned = text.strip()
    if not _WHOLE_NUMBER.fullmatch(cleaned):
        raise InvalidNumber(text)
    value = int(cleaned)
    if not minimum <= value <= maximum:
        raise InvalidNumber(text)
    return value


def is_ascii_digits(text: str) -> bool:
    """True for a non-empty run of the digits 0-9 and nothing else (unlike ``str.isdigit``)."""
    return bool(text) and text.isascii() and text.isdigit()
