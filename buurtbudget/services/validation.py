"""Input checks shared by services: trimmed text within a length, amounts in cents.

Forms check the same limits for a quick answer; services check again because the command line
and other services call them without a form.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from buurtbudget.services.errors import ValidationFailed

# One million euros: far above any area budget, low enough to catch typing mistakes.
MAX_AMOUNT_CENTS = 100_000_000


def clean_text(value: str | None, maximum: int, field: str, *, required: bool = False) -> str:
    """``value`` stripped; ValidationFailed for ``field`` when empty (if required) or too long."""
    value = (value or "").strip()
    if required and not value:
        raise ValidationFailed(_l("This field is required."), field=field)
    if len(value) > maximum:
        raise ValidationFailed(
            _l("Field cannot be longer than %(max)d characters.", max=maximum), field=field
        )
    return value


def check_amount(value: int | None, field: str, maximum: int = MAX_AMOUNT_CENTS) -> int:
    if value is None or value < 0:
        raise ValidationFailed(_l("The amount cannot be negative."), field=field)
    if value > maximum:
        raise ValidationFailed(_l("This amount is too large."), field=field)
    return value
