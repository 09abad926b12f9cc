"""Template filters for money, numbers and dates in the user's language."""

from __future__ import annotations

from decimal import Decimal

from flask import Flask
from flask_babel import format_currency, format_date, format_datetime, format_decimal


def format_cents(cents: int | None) -> str:
    """Integer cents as a localised euro amount: 123456 -> '€ 1.234,56' (nl)."""
    if cents is None:
        return "–"
    return format_currency(Decimal(cents) / 100, "EUR")


def register(app: Flask) -> None:
    app.jinja_env.filters["money"] = format_cents
    app.jinja_env.filters["number"] = lambda n: "–" if n is None else format_decimal(n)
    app.jinja_env.filters["date"] = lambda d: "" if d is None else format_date(d)
    app.jinja_env.filters["datetime"] = lambda d: "" if d is None else format_datetime(d)
    app.jinja_env.globals["role_label"] = role_label


def role_label(role) -> str:
    from flask_babel import gettext as _

    labels = {
        "council_member": _("Area council member"),
        "coordinator": _("Coordinator"),
        "administrator": _("Administrator"),
    }
    return labels.get(str(role), str(role))
