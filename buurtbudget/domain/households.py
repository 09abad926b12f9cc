"""Household address lists for issuing cheques (Ede model), as a municipality exports them
from its address register: one household a line, ``postcode;house number;addition``.

Separators ``;``, ``,`` or a tab; the addition may also follow the number ("12B", "12-2").
A first line whose house number is not a number is taken as a header. Pure Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from buurtbudget.domain.postcode import InvalidPostcode, normalise_postcode

MAX_HOUSE_NUMBER = 99_999
MAX_ADDITION = 8
_NUMBER = re.compile(r"^(\d{1,5})\s*[-\s]?\s*([A-Za-z0-9]{0,8})$", re.ASCII)


@dataclass(frozen=True)
class Address:
    postcode: str
    house_number: int
    addition: str = ""


@dataclass(frozen=True)
class LineError:
    line: int
    text: str


class HouseholdListError(ValueError):
    """Lines that are not addresses; ``errors`` lists them (line number, the line)."""

    def __init__(self, errors: list[LineError]):
        super().__init__(f"{len(errors)} lines are not addresses")
        self.errors = errors


def _fields(line: str) -> list[str]:
    return [part.strip() for part in re.split(r"[;,\t]", line)]


def parse_address(line: str) -> Address:
    """One line -> an :class:`Address`; raises ValueError."""
    fields = _fields(line)
    if len(fields) < 2 or len(fields) > 3:
        raise ValueError(line)
    match = _NUMBER.match(fields[1])
    if not match:
        raise ValueError(line)
    addition = (fields[2] if len(fields) == 3 else "") or match.group(2)
    number = int(match.group(1))
    if not 1 <= number <= MAX_HOUSE_NUMBER or len(addition) > MAX_ADDITION:
        raise ValueError(line)
    try:
        postcode = normalise_postcode(fields[0])
    except InvalidPostcode:
        raise ValueError(line) from None
    return Address(postcode, number, addition.upper())


def parse_household_list(text: str, max_errors: int = 20) -> list[Address]:
    """All addresses of ``text`` in order, without duplicates. Raises
    :class:`HouseholdListError` with (at most ``max_errors``) bad lines."""
    addresses: dict[Address, None] = {}
    errors: list[LineError] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            addresses[parse_address(line)] = None
        except ValueError:
            header = number == 1 and not re.match(r"^\s*\d", (_fields(line) + ["", ""])[1])
            if not header:
                errors.append(LineError(number, line.strip()[:80]))
    if errors:
        raise HouseholdListError(errors[:max_errors])
    return list(addresses)


def format_household_list(addresses: list[Address]) -> str:
    """The normalised list, one ``postcode;number;addition`` a line (parse_household_list's
    input format, so a confirmation step can carry it)."""
    return "\n".join(f"{a.postcode};{a.house_number};{a.addition}" for a in addresses)
