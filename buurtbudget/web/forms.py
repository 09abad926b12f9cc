"""Helpers shared by the forms of every blueprint."""

from __future__ import annotations

from flask_wtf import FlaskForm

from buurtbudget.services.errors import ServiceError


def attach_error(form: FlaskForm, error: ServiceError) -> None:
    """Show a service's error next to the field it concerns, or above the form."""
    field = form._fields.get(error.field) if error.field else None
    if field is not None:
        field.errors = [*field.errors, error.message]
    else:
        form.form_errors.append(error.message)
