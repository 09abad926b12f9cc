"""Numbers in URLs and query strings: one parser (domain.numbers.parse_int) for every route.

A number the app cannot accept is the client's mistake: a 404 in the path (no such page), a
400 with a message in the query string; never a 500 from ``int()`` or a database overflow.
"""

from __future__ import annotations

from flask import abort, request
from flask_babel import gettext as _
from werkzeug.routing import IntegerConverter

from buurtbudget.domain.numbers import INT32_MAX, InvalidNumber, parse_int
from buurtbudget.services.errors import ValidationFailed


class BoundedIntegerConverter(IntegerConverter):
    """``<int:...>`` in a route: ASCII digits only (werkzeug's ``\\d`` also matches "١٢"), and
    at most what an id column holds, so "/rounds/99999999999999999999" is a 404, not an
    overflow in the database."""

    regex = r"[0-9]{1,10}"

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", INT32_MAX)
        super().__init__(map, *args, **kwargs)


def arg_int(
    name: str,
    default: int | None = None,
    *,
    minimum: int = 0,
    maximum: int = INT32_MAX,
    invalid: str | None = None,
) -> int | None:
    """The whole number in query parameter ``name``, ``default`` when it is absent or empty,
    and a 400 that says what is wrong when it is anything else. ``invalid``: the message of a
    ValidationFailed on the field ``name`` instead (pages and the API that show errors by
    field)."""
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return parse_int(raw, minimum=minimum, maximum=maximum)
    except InvalidNumber:
        if invalid is not None:
            raise ValidationFailed(invalid, field=name) from None
        abort(
            400,
            _(
                "%(name)s must be a whole number from %(minimum)s to %(maximum)s.",
                name=name,
                minimum=minimum,
                maximum=maximum,
            ),
        )
