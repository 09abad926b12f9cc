"""A route x role matrix generated from the URL map.

Every route must state who may use it (``public``, ``login_required``, ``staff_required`` or
``role_required`` from buurtbudget.web.security), so a new route without a permission decision
fails here; and no route answers any role with a server error, for existing and unknown ids.
"""

from __future__ import annotations

import pytest
from werkzeug.routing import Rule

from buurtbudget.models import Role

ROLES = ("anonymous", "resident", "council_member", "coordinator", "administrator")
STRING_ARGUMENTS = {"lang": "en", "filename": "x.css", "code": "XXXX-XXXX", "token": "x"}


def _rules(app) -> list[Rule]:
    return [r for r in app.url_map.iter_rules() if r.endpoint != "static"]


def test_every_route_declares_who_may_use_it(app):
    undeclared = sorted(
        rule.endpoint
        for rule in _rules(app)
        if not hasattr(app.view_functions[rule.endpoint], "permission")
    )
    assert undeclared == [], "add @public, @login_required, @staff_required or @role_required"


@pytest.fixture
def people(make):
    municipality = make.municipality("Delft")
    area = make.area(municipality, name="Binnenstad")
    return {
        "anonymous": None,
        "resident": make.resident(area),
        "council_member": make.council_member(area),
        "coordinator": make.coordinator(area),
        "administrator": make.administrator(municipality),
    }


def _urls(app, rule: Rule, identifier: int) -> str:
    values = {}
    for argument in rule.arguments:
        converter = rule._converters[argument].__class__.__name__
        values[argument] = (
            identifier if "Integer" in converter else STRING_ARGUMENTS.get(argument, "x")
        )
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def _expected_refusal(permission: str, role: str) -> int | None:
    """The status a role must get from a GET, where the permission alone decides it."""
    if permission == "public":
        return None
    if role == "anonymous":
        return 302
    if permission == "staff" and role in ("resident", "council_member"):
        return 403
    if permission.startswith("roles:"):
        allowed = permission.removeprefix("roles:").split(",")
        holds = {
            "council_member": Role.COUNCIL_MEMBER,
            "coordinator": Role.COORDINATOR,
            "administrator": Role.ADMINISTRATOR,
        }.get(role)
        if holds is None or holds.value not in allowed:
            return 403
    return None


@pytest.mark.parametrize("role", ROLES)
def test_no_route_fails_with_a_server_error_for_any_role(app, people, client_for, role):
    client = client_for(people[role])
    failures = []
    for rule in _rules(app):
        permission = app.view_functions[rule.endpoint].permission
        for identifier in (1, 987654):
            url = _urls(app, rule, identifier)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                if rule.endpoint == "auth.logout":
                    continue  # would end this client's session for the routes after it
                status = client.open(url, method=method).status_code
                expected = _expected_refusal(permission, role)
                if status >= 500 or (method == "GET" and expected and status != expected):
                    failures.append(f"{method} {url} as {role}: {status} (expected {expected})")
    assert failures == []
