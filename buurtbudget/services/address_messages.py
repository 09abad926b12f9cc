"""The reasons a line of an address table or register extract is refused, in the reader's
language: the domain (domain/addresses.py) gives a code and its parameters with an English
text for the command line; the screens show the text of the code translated here."""

from __future__ import annotations

from flask_babel import gettext as _

from buurtbudget.domain.addresses import AddressFileError


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark for extraction"
    return message


# domain.addresses.MESSAGES codes -> our message ids (the same English, extracted via N_).
MESSAGES = {
    "empty_file": N_("the file is empty; a header row is needed"),
    "no_data_rows": N_("the file has a header but no data rows"),
    "missing_columns": N_("missing column(s): %(columns)s"),
    "wrong_width": N_("expected %(expected)d columns, found %(found)d"),
    "bad_postcode": N_("'%(value)s' is not a valid Dutch postcode"),
    "bad_house_number": N_("'%(value)s' is not a valid house number"),
    "bad_cbs_code": N_("%(column)s '%(value)s' is not a CBS code like %(prefix)s..."),
    "no_area_code": N_("neither a wijkcode nor a buurtcode"),
    "buurt_outside_wijk": N_("buurt %(buurt)s does not lie in wijk %(wijk)s"),
    "bad_person_key": N_("the person key must be 1 to %(max)d characters"),
    "bad_birth_date": N_("'%(value)s' is not a birth date (1984-05-17) or year"),
    "not_utf8": N_("this line is not UTF-8 text; save the file as UTF-8"),
    "duplicate_address": N_("%(address)s already appeared on line %(first)d"),
    "unknown_buurt": N_("buurt %(buurt)s is not known"),
    "unknown_wijk": N_("wijk %(wijk)s is not known (import it with import-population first)"),
    "duplicate_person": N_("this person key already appeared on line %(first)d"),
    "unknown_address": N_("address %(address)s is not in the address file"),
}


def reason(error: AddressFileError) -> str:
    """Why the line was refused, in the request's language (the English text for a code that
    has no translation here, rather than nothing). A plain str on purpose: Flask-Babel's
    LazyString counts as safe HTML, and the parameters come from the uploaded file."""
    template = MESSAGES.get(error.code)
    return _(template, **error.params) if template else error.message
