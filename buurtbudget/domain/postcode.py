"""Dutch postcodes: '2611 AB' -> '2611AB'."""

from __future__ import annotations

import re

_POSTCODE = re.compile(r"^([1-9][0-9]{3})\s?([A-Z]{2})$")
# PostNL never issues these letter pairs.
_UNUSED_LETTERS = {"SA", "SD", "SS"}


class InvalidPostcode(ValueError):
    pass


def normalise_postcode(raw: str) -> str:
    """Return the postcode as 4 digits + 2 capital letters, or raise InvalidPostcode."""
    match = _POSTCODE.match(raw.strip().upper())
    if not match or match.group(2) in _UNUSED_LETTERS:
        raise InvalidPostcode(raw)
    return match.group(1) + match.group(2)
