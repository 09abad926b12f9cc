"""Helpers shared by the forms of every blueprint."""

from __future__ import annotations

from decimal import Decimal
from functools import cache

from babel import numbers as babel_numbers
from babel.support import Translations
from flask import abort, current_app
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField
from wtforms.i18n import messages_path

from buurtbudget.domain.budget import InvalidAmount, parse_euros
from buurtbudget.domain.numbers import INT32_MAX, InvalidNumber, parse_int
from buurtbudget.services.errors import ServiceError


@cache
def _wtforms_catalogue(locale: str) -> Translations:
    """WTForms' own messages ("This field is required.") in ``locale``, read once per process.
    Flask-WTF reads and parses this catalogue again in every request that builds a form, and
    every page builds the language form: that was a fifth of the CPU of a form post
    (bench/cpu_split.py under py-spy)."""
    return Translations.load(messages_path(), [locale], domain="wtforms")


class _WTFormsMessages:
    """The translations WTForms asks for its messages, in the language of this request."""

    def gettext(self, string: str) -> str:
        return _wtforms_catalogue(str(get_locale())).ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return _wtforms_catalogue(str(get_locale())).ungettext(singular, plural, n)


_WTFORMS_MESSAGES = _WTFormsMessages()


class Form(FlaskForm):
    """The base of every form in the app (tests/web/test_forms.py checks): Flask-WTF's form,
    with WTForms' messages read once per process instead of once per request."""

    # Put before every field's id (not its name): two forms on one page with the same fields
    # need different ids, or a label points to the other form's field.
    id_prefix = ""

    class Meta(FlaskForm.Meta):
        def get_translations(self, form):
            if not current_app.config.get("WTF_I18N_ENABLED", True):
                return super().get_translations(form)
            return _WTFORMS_MESSAGES

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.id_prefix:
            for field in self:
                field.id = f"{self.id_prefix}{field.id}"
                field.label.field_id = field.id


class ConfirmForm(Form):
    """An empty form: its POST carries only the CSRF token, after the user confirmed (or from
    a page whose fields the view reads itself, like the ballot)."""


def require_confirmation() -> None:
    """A 400 unless this is a POST of a :class:`ConfirmForm` with a valid CSRF token: for the
    actions a button on another page confirms."""
    if not ConfirmForm().validate_on_submit():
        abort(400)


def form_status(form: FlaskForm) -> int:
    """The status of a page that shows ``form``: 400 when it comes back with errors."""
    return 400 if form.errors or form.form_errors else 200


def attach_error(form: FlaskForm, error: ServiceError) -> None:
    """Show a service's error next to the field it concerns, or above the form. As a plain str:
    Flask-Babel's LazyString counts as safe HTML, and a message's parameters may come from the
    visitor (a file's META rule was put on the page as markup)."""
    message = str(error.message)
    field = form._fields.get(error.field) if error.field else None
    if field is not None:
        field.errors = [*field.errors, message]
    else:
        form.form_errors.append(message)


class EuroField(StringField):
    """A euro amount typed as people do ("7,50", "1.234,56", "€ 1 000"); ``data`` is in cents.

    Parsing is domain.budget.parse_euros; a minus sign gets its own message, since negative
    amounts are a likely slip rather than a format problem.
    """

    def process_formdata(self, valuelist):
        self.data = None
        text = valuelist[0].strip() if valuelist else ""
        if not text:
            return
        if text.startswith("-"):
            raise ValueError(_l("The amount cannot be negative."))
        try:
            self.data = parse_euros(text)
        except InvalidAmount:
            raise ValueError(_l("Enter an amount in euros, for example 1.250,00.")) from None

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        # Always the Dutch format the parser takes ("5.000,00"), also on English pages: an
        # English "5,000.00" sent back unchanged would be refused as ambiguous.
        return babel_numbers.format_decimal(
            Decimal(self.data) / 100, format="#,##0.00", locale="nl"
        )


def whole_number(value) -> int:
    """``coerce=`` for select fields: a choice's id in ASCII digits (``int`` would also take
    "١٢" or "1_2"); anything else is WTForms' "not a valid choice"."""
    if isinstance(value, int):
        return value
    return parse_int(str(value), minimum=-INT32_MAX)


class WholeNumberField(IntegerField):
    """A whole number typed in ASCII digits, within the bounds of an integer column, through
    the one parser of the app (domain.numbers.parse_int); NumberRange validators add the
    bounds a field has in the domain."""

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        try:
            self.data = parse_int(valuelist[0], minimum=-INT32_MAX)
        except InvalidNumber:
            self.data = None
            raise ValueError(_l("Enter a whole number, for example 12.")) from None
