"""Numbers from requests go through one parser (domain.numbers.parse_int): ASCII digits only,
bounded. Whatever a client puts where a number belongs, the answer is a 4xx, never a 500.

The routes come from the URL map, so a new route is covered without touching this file. A
query parameter counts as "taken" by a route when the route hands its text to the parser (a
spy on parse_int sees it); such a route must then refuse each bad value with a 4xx.
"""

from __future__ import annotations

import sys
from urllib.parse import quote

import pytest
from sqlalchemy import select
from werkzeug.routing import Rule

from buurtbudget.domain import numbers
from buurtbudget.domain.numbers import InvalidNumber, is_ascii_digits, parse_int
from buurtbudget.extensions import db
from buurtbudget.models import User
from tests.voting_world import tanthof_round

# The values issue 19 names: a superscript, Arabic-Indic digits, an exponent, a negative
# number and a number of 40 digits; and a few more of the same kind.
BAD_NUMBERS = ("²", "١٢", "1e9", "-1", "9" * 40, "1_000", "１２", " 1 2 ")
QUERY_NUMBERS = ("page", "per_page", "year", "area", "municipality", "round", "initiative")


@pytest.mark.parametrize("text", BAD_NUMBERS[:-1] + ("", " ", "+1", "0x10", "1.0", "12a"))
def test_parse_int_takes_ascii_digits_only(text):
    with pytest.raises(InvalidNumber):
        parse_int(text)


def test_parse_int_bounds_and_spaces():
    assert parse_int(" 42 ") == 42
    assert parse_int("-3", minimum=-5) == -3
    assert parse_int("2147483647") == numbers.INT32_MAX
    with pytest.raises(InvalidNumber):
        parse_int("2147483648")
    with pytest.raises(InvalidNumber):
        parse_int("2101", minimum=2000, maximum=2100)
    assert is_ascii_digits("0123") and not is_ascii_digits("²") and not is_ascii_digits("")


@pytest.fixture
def world(make):
    world = tanthof_round(make)
    initiative = make.open_initiative(world["area"], title="Speeltuin")
    world["initiative"] = initiative
    return world


def _rules(app) -> list[Rule]:
    return [r for r in app.url_map.iter_rules() if r.endpoint != "static"]


def _url(app, rule: Rule, values: dict) -> str:
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def _int_arguments(rule: Rule) -> list[str]:
    return [a for a in rule.arguments if "Integer" in type(rule._converters[a]).__name__]


def test_bad_numbers_in_the_path_are_4xx(app, world, client):
    """Routing decides before any view or permission check runs, so one visitor suffices."""
    role = "anonymous"
    failures = []
    for rule in _rules(app):
        int_arguments = _int_arguments(rule)
        if not int_arguments:
            continue
        for bad in BAD_NUMBERS:
            values = dict.fromkeys(rule.arguments, 1)
            values.update({a: "x" for a in rule.arguments if a not in int_arguments})
            # Build the URL with a placeholder id, then put the raw text where the id was.
            url = _url(app, rule, {**values, int_arguments[0]: 7654321})
            url = url.replace("7654321", quote(bad), 1)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                if rule.endpoint == "auth.logout":
                    continue
                status = client.open(url, method=method).status_code
                if not 400 <= status < 500:
                    failures.append(f"{method} {url} as {role}: {status}")
    assert failures == []


@pytest.fixture
def parse_int_spy(monkeypatch):
    """Every call of parse_int, wherever a module imported it, with the text it was given."""
    seen: list[str] = []

    def spy(text, **bounds):
        seen.append(text)
        return parse_int(text, **bounds)

    for module in list(sys.modules.values()):
        name = getattr(module, "__name__", "")
        if name.startswith("buurtbudget.") and getattr(module, "parse_int", None) is parse_int:
            monkeypatch.setattr(module, "parse_int", spy)
    return seen


@pytest.mark.parametrize("role", ["anonymous", "admin"])
def test_bad_numbers_in_the_query_string_are_4xx(app, world, client_for, parse_int_spy, role):
    client = client_for(world.get(role))
    failures, taken = [], set()
    ids = {
        "round_id": world["round"].id,
        "initiative_id": world["initiative"].id,
        "area_id": world["area"].id,
        "municipality_id": world["municipality"].id,
    }
    for rule in _rules(app):
        if "GET" not in rule.methods or rule.endpoint == "auth.logout":
            continue
        values = {a: ids.get(a, 1) for a in _int_arguments(rule)}
        values.update({a: "x" for a in rule.arguments if a not in values})
        base = _url(app, rule, values)
        for parameter in QUERY_NUMBERS:
            # A first bad value finds out whether the route reads the parameter; only then
            # are the others tried (the whole sweep stays within seconds).
            for bad in BAD_NUMBERS:
                if bad != BAD_NUMBERS[0] and (rule.endpoint, parameter) not in taken:
                    break
                parse_int_spy.clear()
                separator = "&" if "?" in base else "?"
                url = f"{base}{separator}{parameter}={quote(bad)}"
                status = client.get(url).status_code
                parsed = bad in parse_int_spy
                if parsed:
                    taken.add((rule.endpoint, parameter))
                if status >= 500 or (parsed and not 400 <= status < 500):
                    failures.append(f"GET {url} as {role}: {status}")
    assert failures == []
    # The spy must see the routes that read numbers, or this test would prove nothing.
    assert ("api.initiatives", "page") in taken
    assert ("groups.index", "area") in taken
    if role == "admin":
        assert ("monitoring.municipality", "year") in taken


@pytest.mark.parametrize("bad", BAD_NUMBERS)
def test_a_ballot_with_bad_numbers_is_refused_with_a_400(app, world, client_for, bad):
    client = client_for(world["resident"])
    url = f"/rounds/{world['round'].id}/ballot"
    for field in ({"project": bad}, {"project": [str(world["projects"][0]), bad]}):
        response = client.post(url, data=field)
        assert response.status_code == 400, (bad, field)
        response = client.post(url + "/confirm", data=field)
        assert 400 <= response.status_code < 500, (bad, field)


@pytest.mark.parametrize("bad", ["١٢", "²", "9" * 40])
def test_a_typed_house_number_takes_ascii_digits_only(client, bad):
    response = client.post(
        "/account/register",
        data={
            "email": "nieuw@example.org",
            "display_name": "Nieuw",
            "password": "een-lang-wachtwoord",
            "confirm": "een-lang-wachtwoord",
            "postcode": "2611 AA",
            "house_number": bad,
        },
    )
    assert response.status_code == 400
    if len(bad) < 16:
        assert b"This is not a valid house number" in response.data
    assert db.session.scalar(select(User).where(User.email == "nieuw@example.org")) is None


@pytest.mark.parametrize("language", ["en", "nl"])
def test_an_amount_a_form_shows_is_taken_back_unchanged(app, language):
    """Amounts parse strictly in the Dutch format, so a form shows them that way in every
    language: an English "5,000.00" sent back unchanged would be refused as ambiguous."""
    from buurtbudget.domain.budget import parse_euros
    from buurtbudget.web.forms import EuroField, Form

    class AmountForm(Form):
        amount = EuroField()

    with app.test_request_context(headers={"Accept-Language": language}):
        shown = AmountForm(meta={"csrf": False}, data={"amount": 500_012})["amount"]._value()
    assert shown == "5.000,12"
    assert parse_euros(shown) == 500_012
