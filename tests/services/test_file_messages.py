"""Every reason the population CSV and pabulib readers can give has a message id with the same
English and a Dutch translation; the codes are read from the domain (its MESSAGES, and the codes
its raise sites name), not listed here."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from flask_babel import force_locale

from buurtbudget.domain import ballots, pabulib, population_csv
from buurtbudget.domain.pabulib import PabulibError, parse_pabulib
from buurtbudget.domain.population_csv import PopulationCsvError, read_population_csv
from buurtbudget.services import file_messages

ROOT = Path(__file__).resolve().parents[2] / "buurtbudget"
READERS = [
    (pabulib.MESSAGES, file_messages.PABULIB_MESSAGES, "pabulib"),
    (population_csv.MESSAGES, file_messages.POPULATION_MESSAGES, "population"),
    (ballots.NUMBER_REASONS, file_messages.NUMBER_REASONS, "reason"),
]


def _raised_codes(error_class: str, code_position: int) -> set[str]:  # noqa: C901
    """The code each ``error_class(...)`` in the sources names (an f-string code such as
    ``f"bad_{kind}_code"`` stands for one per value of population_csv.KINDS)."""
    codes: set[str] = set()
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == error_class
            ):
                continue
            argument = node.args[code_position] if len(node.args) > code_position else None
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                codes.add(argument.value)
            elif isinstance(argument, ast.JoinedStr):
                pattern = "".join(
                    part.value if isinstance(part, ast.Constant) else "{}"
                    for part in argument.values
                )
                codes |= {pattern.format(kind) for kind in population_csv.KINDS.values()}
            elif isinstance(argument, ast.Attribute | ast.Name) and "code" in ast.unparse(argument):
                continue  # passes on a code named elsewhere (MetaValueError's, _parse_int's)
            else:
                raise AssertionError(f"{path}: {error_class} without a literal code")
    return codes


def test_the_readers_raise_exactly_the_codes_of_their_messages():
    meta_codes = _raised_codes("MetaValueError", 1)
    assert meta_codes <= pabulib.MESSAGES.keys()
    raised = _raised_codes("PabulibError", 0) | _raised_codes("_parse_int", 1) | meta_codes
    assert raised == pabulib.MESSAGES.keys()
    assert _raised_codes("PopulationCsvError", 1) == population_csv.MESSAGES.keys()
    assert _raised_codes("NumberError", 0) == ballots.NUMBER_REASONS.keys()


@pytest.mark.parametrize(("domain", "service", "name"), READERS, ids=[r[2] for r in READERS])
def test_every_code_has_a_message_id_with_the_same_english(domain, service, name):
    assert service.keys() == domain.keys()
    for code, english in domain.items():
        assert service[code] == english, code  # the English page and the CLI agree


def _params(template: str) -> dict[str, object]:
    return dict.fromkeys(re.findall(r"%\((\w+)\)", template), 1)


@pytest.mark.parametrize(("domain", "service", "name"), READERS, ids=[r[2] for r in READERS])
def test_every_code_has_a_dutch_translation_with_the_same_parameters(app, domain, service, name):
    for code, english in service.items():
        params = _params(english)
        with app.test_request_context(), force_locale("nl"):
            from flask_babel import gettext

            dutch = gettext(english, **params)
        assert dutch != english % params, f"{name} {code} falls back to English in Dutch"


def _failure(content: str) -> dict:
    with pytest.raises(PabulibError) as caught:
        parse_pabulib(content)
    # As the import job stores it.
    return json.loads(json.dumps(file_messages.failure(caught.value)))


HEAD = "META\nkey;value\nbudget;100\nvote_type;{kind}\n{extra}PROJECTS\nproject_id;cost\n"


def test_a_pabulib_problem_is_told_in_the_readers_language_with_its_line(app):
    failure = _failure(
        HEAD.format(kind="approval", extra="") + "a;1\nVOTES\nvoter_id;vote\nx;a\nx;a\n"
    )
    assert failure["code"] == "duplicate_voter" and failure["line"] == 11
    with app.test_request_context(), force_locale("nl"):
        assert file_messages.not_a_pabulib_file(failure) == (
            "Dit is geen geldig pabulib-bestand: regel 11: voter_id 'x' komt twee keer voor"
        )
    with app.test_request_context(), force_locale("en"):
        assert file_messages.not_a_pabulib_file(failure) == (
            "This is not a valid pabulib file: line 11: duplicate voter_id 'x'"
        )


def test_a_numbers_reason_and_a_ballots_problems_are_translated_too(app):
    cost = _failure(HEAD.format(kind="approval", extra="") + "a;1.5\n")
    ballot = _failure(
        HEAD.format(kind="choose-1", extra="") + "a;1\nb;1\nVOTES\nvoter_id;vote\n7;a,b\n"
    )
    with app.test_request_context(), force_locale("nl"):
        assert file_messages.reason(cost) == (
            "regel 7: de kosten van project 'a' moeten een geheel getal zijn, niet '1.5' "
            "(geen geheel getal)"
        )
        assert file_messages.reason(ballot).startswith("regel 11: kiezer '7': Kies ")
    with app.test_request_context(), force_locale("en"):
        # The English of the screen is the reader's own (the command line's).
        assert file_messages.reason(cost) == "line 7: " + cost["english"]
        assert file_messages.reason(ballot) == "line 11: " + ballot["english"]
        assert ballot["english"] == "voter '7': Choose exactly one project."


def test_a_population_problem_is_told_in_the_readers_language(app):
    with pytest.raises(PopulationCsvError) as caught:
        read_population_csv("gwb_code;regio;recs;a_inw;a_hh\nWK050321;Binnenstad;Wijk;-5;10\n")
    assert str(caught.value) == "line 2: column a_inw cannot be negative (-5)"
    failure = file_messages.failure(caught.value)
    with app.test_request_context(), force_locale("nl"):
        assert file_messages.reason(failure) == "regel 2: kolom a_inw mag niet negatief zijn (-5)"
    with app.test_request_context(), force_locale("en"):
        assert file_messages.reason(failure) == str(caught.value)
