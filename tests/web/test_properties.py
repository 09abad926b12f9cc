"""Property-based tests (hypothesis): whatever a browser sends to any form, the answer is never a
server error; whatever bytes a ``.pb`` file holds, the parser raises PabulibError or nothing.

The POST routes come from the URL map, like the permission matrix, so a new form is covered
without touching this file. Each form's field names are read from its page; values are drawn
from text (unicode, control characters, very long), numbers (negative, huge, not numbers) and
missing fields. The runs are deterministic (hypothesis' derandomize, no example database), so
CI passes or fails the same way on the same commit; inputs that once found a bug are kept as
explicit examples. More, random examples on demand: HYPOTHESIS_PROFILE=thorough pytest ...
"""

from __future__ import annotations

import os
import re
from contextlib import suppress

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from buurtbudget.domain.pabulib import PabulibError, parse_pabulib
from buurtbudget.models import Role

HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
settings.register_profile(
    "deterministic",
    max_examples=20,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=HEALTH,
)
settings.register_profile(
    "thorough", max_examples=300, deadline=None, database=None, suppress_health_check=HEALTH
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "deterministic")

# Inputs that found server errors before (issue 19): every number field gets each of them.
KNOWN_BAD_NUMBERS = ("²", "١٢", "1e9", "-1", "9" * 40)

# Routes whose success ends this client's session or its rights, run last or not at all.
LAST = ("admin.revoke_role",)
SKIPPED = ("auth.logout",)
FALLBACK_FIELDS = ("confirm", "reason", "amount", "memo", "title", "next", "code", "body")
_FIELD = re.compile(r'<(?:input|select|textarea)[^>]*\bname="([^"]+)"', re.IGNORECASE)

odd_values = st.sampled_from(
    [
        "",
        " ",
        "0",
        "-1",
        "1e309",
        "NaN",
        "inf",
        "2026-13-45",
        "31-02-2026",
        "00:00",
        "€ 1.234,56",
        "<script>alert(1)</script>",
        "../../etc/passwd",
        "\x00",
        "\u202e",
        "y",
        "on",
        "None",
    ]
)
field_values = st.one_of(
    odd_values,
    st.text(max_size=80),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1000, max_size=6000),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.lists(st.integers(min_value=-5, max_value=10**12).map(str), max_size=4),
)


def _form_data(fields: tuple[str, ...]):
    return st.dictionaries(st.sampled_from(fields), field_values, max_size=len(fields))


def test_the_pabulib_parser_raises_only_pabulib_errors_for_any_bytes():
    @settings(settings.get_profile(PROFILE), max_examples=200)
    @given(st.one_of(st.binary(max_size=2000), st.text(max_size=2000)))
    def parse_anything(content):
        with suppress(PabulibError):
            parse_pabulib(content)

    parse_anything()


pabulib_rows = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "META",
                "PROJECTS",
                "VOTES",
                "key;value",
                "project_id;cost;name",
                "voter_id;vote;points",
                "budget;1000",
                "vote_type;approval",
                "vote_type;cumulative",
                "num_projects;2",
                "num_votes;1",
            ]
        ),
        st.lists(st.one_of(st.text(max_size=12), st.integers().map(str)), max_size=5).map(";".join),
    ),
    max_size=30,
)


def test_the_pabulib_parser_raises_only_pabulib_errors_for_nearly_valid_files():
    @settings(settings.get_profile(PROFILE), max_examples=300)
    @given(pabulib_rows)
    def parse_nearly_valid(rows):
        with suppress(PabulibError):
            parse_pabulib("\n".join(["META", "key;value", *rows]))

    parse_nearly_valid()


def _world(make):
    """One of everything a URL can name, and a user who may use every form."""
    municipality = make.municipality("Delft")
    area = make.area(municipality, name="Tanthof")
    superuser = make.user(
        area, roles=((Role.ADMINISTRATOR, municipality), (Role.COORDINATOR, area))
    )
    voting_round = make.voting_round(area, costs=(300_00, 500_00), max_projects=2)
    initiative = make.budget_initiative(area, initiator=superuser)
    period = make.budget_period(area)
    group = make.working_group(area, members=(superuser,))
    comment = make.comment(initiative)
    ids = {
        "area_id": area.id,
        "round_id": voting_round.id,
        "initiative_id": initiative.id,
        "period_id": period.id,
        "group_id": group.id,
        "comment_id": comment.id,
        "theme_id": make.theme(municipality).id,
        "user_id": make.resident(area).id,
        "assignment_id": superuser.roles[0].id,
    }
    return superuser, ids


def _post_routes(app):
    rules = [
        rule
        for rule in app.url_map.iter_rules()
        if "POST" in rule.methods and rule.endpoint not in SKIPPED
    ]
    return sorted(rules, key=lambda rule: (rule.endpoint in LAST, rule.endpoint))


def _url(app, rule, ids) -> str:
    from flask import url_for

    values = {
        argument: ids.get(argument, 1) if argument.endswith("_id") else "en"
        for argument in rule.arguments
    }
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


def _poster(client, url: str, fields: tuple[str, ...]):
    @settings(settings.get_profile(PROFILE))
    @given(_form_data(fields))
    def post_anything(data):
        # Testing apps propagate server errors as exceptions; a 500 page would fail too.
        assert client.post(url, data=data).status_code < 500

    for bad in KNOWN_BAD_NUMBERS:
        post_anything = example(dict.fromkeys(fields, bad))(post_anything)
    return post_anything


def test_no_form_answers_any_input_with_a_server_error(app, make, client_for):
    superuser, ids = _world(make)
    client = client_for(superuser)
    anonymous = client_for(None)
    failures: list[str] = []
    for rule in _post_routes(app):
        url = _url(app, rule, ids)
        fields = FALLBACK_FIELDS
        if "GET" in rule.methods:
            # The form as the superuser sees it, else as a visitor (login, register).
            for reader in (client, anonymous):
                page = reader.get(url).get_data(as_text=True)
                found = tuple(sorted(set(_FIELD.findall(page)) - {"csrf_token"}))
                if found:
                    fields = found
                    break

        try:
            _poster(client, url, fields)()
        except Exception as error:  # noqa: BLE001 - hypothesis shrank it; collect, go on
            failures.append(f"POST {url}: {type(error).__name__}: {str(error)[:300]}")
    assert failures == []
