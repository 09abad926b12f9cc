"""Why an uploaded population CSV or pabulib ``.pb`` file is refused, in the reader's language.

The readers (domain/population_csv.py, domain/pabulib.py) raise an error with a code of their
``MESSAGES``, its parameters and the line; their English text serves the command line and the
logs. The screens and the import job show the text of the code translated here, with the line.
Every code of the domain has a message here (tests/services/test_file_messages.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask_babel import gettext as _

from buurtbudget.domain import ballots as ballot_domain
from buurtbudget.domain.pabulib import PabulibError
from buurtbudget.domain.population_csv import PopulationCsvError
from buurtbudget.services.address_messages import N_  # marks message ids for extraction
from buurtbudget.services.voting.casting import BALLOT_MESSAGES

# domain.population_csv.MESSAGES codes -> our message ids (the same English, extracted via N_).
POPULATION_MESSAGES = {
    "empty_file": N_("the file is empty; a header row is needed"),
    "missing_columns": N_("missing column(s): %(columns)s"),
    "wrong_width": N_("expected %(expected)d columns, found %(found)d"),
    "bad_recs": N_("recs must be Gemeente, Wijk or Buurt, not %(value)s"),
    "bad_municipality_code": N_("%(code)s is not a valid code for a municipality"),
    "bad_area_code": N_("%(code)s is not a valid code for a area"),
    "bad_neighbourhood_code": N_("%(code)s is not a valid code for a neighbourhood"),
    "duplicate_code": N_("%(code)s already appeared on line %(first)d"),
    "empty_name": N_("column regio (name) is empty"),
    "bad_need_index": N_("need_index should be a number, not %(value)s"),
    "empty_count": N_("column %(column)s is empty, a whole number is needed"),
    "bad_count": N_("column %(column)s should be a whole number, not %(value)s"),
    "negative_count": N_("column %(column)s cannot be negative (%(number)d)"),
    "no_data_rows": N_("the file has a header but no data rows"),
    "unknown_municipality": N_(
        "municipality %(municipality)s of %(code)s is unknown: add its Gemeente row to the file"
    ),
    "unknown_wijk": N_("wijk %(wijk)s of buurt %(code)s is unknown"),
    "other_municipality": N_("%(code)s belongs to another municipality"),
    "no_year": N_("no year: add a 'jaar' column or pass --year on the command line"),
}

# domain.pabulib.MESSAGES codes -> our message ids.
PABULIB_MESSAGES = {
    "bad_quoting": N_("badly quoted field (%(detail)s)"),
    "not_utf8": N_("not valid UTF-8 text (byte %(byte)s at column %(column)d)"),
    "control_character": N_("control character %(char)s at column %(column)d"),
    "cannot_read_file": N_("cannot read file: %(detail)s"),
    "cannot_read_line": N_("cannot read this line (%(detail)s)"),
    "empty_file": N_("the file is empty"),
    "no_meta_first": N_("a pabulib file must start with a META section"),
    "missing_section": N_("missing %(section)s section"),
    "wrong_section": N_("expected %(expected)s section, found %(found)s"),
    "unexpected_section": N_("unexpected %(section)s section"),
    "no_header": N_("%(section)s section has no header row"),
    "repeated_column": N_("%(section)s header has a repeated column name"),
    "missing_column": N_("%(section)s header has no %(column)s column"),
    "wrong_width": N_(
        "%(section)s row has %(found)d fields, the header has %(expected)d (%(columns)s)"
    ),
    "meta_row_width": N_("META row must have 2 fields (key;value), found %(found)d"),
    "meta_key_twice": N_("META key %(key)s appears twice"),
    "no_budget": N_("META has no 'budget'"),
    "bad_budget": N_("budget must be a number, got %(value)s (%(reason)s)"),
    "negative_budget": N_("budget must not be negative, got %(value)s"),
    "unsupported_vote_type": N_("vote_type %(value)s is not supported (supported: %(supported)s)"),
    "meta_not_number": N_("META %(key)s must be a number, got %(value)s (%(reason)s)"),
    "meta_negative": N_("META %(key)s must not be negative, got %(value)s"),
    "meta_not_whole": N_("META %(key)s must be a whole number, got %(value)s"),
    "meta_min_above_max": N_("a minimum is larger than its maximum"),
    "empty_project_id": N_("project_id is empty"),
    "duplicate_project": N_("duplicate project_id %(project)s"),
    "bad_cost": N_(
        "cost of project %(project)s must be a whole number, got %(value)s (%(reason)s)"
    ),
    "negative_cost": N_("cost of project %(project)s is negative"),
    "duplicate_voter": N_("duplicate voter_id %(voter)s"),
    "unknown_project": N_("voter %(voter)s votes for unknown project %(project)s"),
    "points_count": N_("voter %(voter)s has %(projects)d projects but %(points)d points"),
    "bad_points": N_("points must be a whole number, got %(value)s (%(reason)s)"),
    "negative_points": N_("points must not be negative"),
    "project_twice": N_("voter %(voter)s lists project %(projects)s more than once"),
    "invalid_ballot": N_("voter %(voter)s: %(problems)s"),
    "no_weight_column": N_("VOTES has no column %(column)s"),
    "bad_weight": N_("weight of voter %(voter)s is not a number: %(value)s"),
    "negative_weight": N_("weight of voter %(voter)s is negative"),
}

# domain.ballots.NUMBER_REASONS codes -> our message ids (the ``reason`` of a number).
NUMBER_REASONS = {
    "not_plain": N_("not a plain number"),
    "too_large": N_("larger than %(maximum)s"),
    "not_whole": N_("not a whole number"),
}


def _translated(messages: Mapping[str, str], code: str, params: Mapping[str, Any]) -> str | None:
    template = messages.get(code)
    if template is None:
        return None
    values = dict(params)
    if "reason" in values:
        reason = NUMBER_REASONS.get(str(values["reason"]))
        english = ballot_domain.NUMBER_REASONS.get(str(values["reason"]), str(values["reason"]))
        values["reason"] = _(reason, **values) if reason else english % values
    if "problems" in values:
        values["problems"] = " ".join(_ballot_problem(p) for p in values["problems"])
    return _(template, **values)


def _ballot_problem(problem: Mapping[str, Any]) -> str:
    template = BALLOT_MESSAGES.get(problem["code"])
    params = problem.get("params") or {}
    return _(template, **params) if template else problem["template"] % params


def _stored(value: object) -> object:
    """A parameter as JSON can keep it (a job stores the failure): ballot problems as dicts."""
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, ballot_domain.BallotError):
        return {
            "code": value.code,
            "template": value.template,
            "params": {k: _stored(v) for k, v in value.params.items()},
        }
    if isinstance(value, list | tuple):
        return [_stored(v) for v in value]
    return str(value)  # a Fraction amount: its English rendering is the same text


def failure(error: PabulibError | PopulationCsvError) -> dict[str, Any]:
    """The error as plain data (JSON): which reader, the code, its parameters and the line."""
    reader = "pabulib" if isinstance(error, PabulibError) else "population"
    return {
        "reader": reader,
        "code": error.code,
        "params": {key: _stored(value) for key, value in error.params.items()},
        "line": error.line,
        "english": error.message,
    }


def reason(failure_data: Mapping[str, Any]) -> str:
    """What is wrong, in the request's language, with its line ("line 12: ..."). The English
    text for a code that has no translation here, rather than nothing. A plain str on purpose:
    Flask-Babel's LazyString counts as safe HTML, and the parameters come from the file."""
    messages = PABULIB_MESSAGES if failure_data["reader"] == "pabulib" else POPULATION_MESSAGES
    text = _translated(messages, failure_data["code"], failure_data["params"])
    if text is None:
        text = failure_data["english"]
    if failure_data.get("line") is None:
        return text
    return _("line %(line)d: %(problem)s", line=failure_data["line"], problem=text)


def not_a_pabulib_file(failure_data: Mapping[str, Any]) -> str:
    return _("This is not a valid pabulib file: %(problem)s", problem=reason(failure_data))


class LazyText:
    """Text made when it is shown (in the language of that moment). Unlike Flask-Babel's
    LazyString it is not safe HTML: templates escape it, as its parameters come from a file."""

    def __init__(self, make: Callable[..., str], *args: object):
        self._make = make
        self._args = args

    def __str__(self) -> str:
        return self._make(*self._args)

    def __repr__(self) -> str:
        return f"LazyText({self._make.__name__})"


__all__ = [
    "NUMBER_REASONS",
    "PABULIB_MESSAGES",
    "POPULATION_MESSAGES",
    "LazyText",
    "failure",
    "not_a_pabulib_file",
    "reason",
]
